package stats

import (
	"math"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestMinSignedRankP(t *testing.T) {
	// exact range: all 2^n sign patterns are equally likely; only all-positive and all-negative
	// reach the extreme, so the two-sided p is 2/2^n
	for _, n := range []int{1, 5, 10, 20, ExactMaxN} {
		assert.InDelta(t, 2/math.Pow(2, float64(n)), MinSignedRankP(n), 1e-18, "n=%d", n)
	}
	assert.Equal(t, 1.0, MinSignedRankP(0))
	// it is the p-value ComparePaired gives a variant that wins on every seed
	base := make([]float64, 12)
	vari := make([]float64, 12)
	for i := range base {
		vari[i] = float64(i + 1)
	}
	p, err := ComparePaired(base, vari, 0.95, 10, 1)
	require.NoError(t, err)
	assert.Equal(t, p.PValue, MinSignedRankP(12))
}

func TestSeedsNeeded(t *testing.T) {
	for _, tc := range []struct {
		name  string
		m     int
		alpha float64
		want  int
	}{
		// one comparison: 2/2^n < 0.05 first at n = 6 (2/64 = 0.031; n = 5 gives 0.0625)
		{"one comparison", 1, 0.05, 6},
		// 30 comparisons: 30*2/2^n < 0.05 needs 2^n > 1200, n = 11 (n = 10: 30*2/1024 = 0.059)
		{"thirty comparisons", 30, 0.05, 11},
		{"no comparison", 0, 0.05, 0},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got := SeedsNeeded(tc.m, tc.alpha)
			assert.Equal(t, tc.want, got)
			if got > 1 {
				assert.True(t, Reachable(got, tc.m, tc.alpha))
				assert.False(t, Reachable(got-1, tc.m, tc.alpha))
			}
		})
	}
	// beyond the exact range the normal approximation decides, still the first reachable n
	n := SeedsNeeded(1e15, 0.05)
	require.Greater(t, n, ExactMaxN)
	assert.True(t, Reachable(n, 1e15, 0.05))
	assert.False(t, Reachable(n-1, 1e15, 0.05))
}
