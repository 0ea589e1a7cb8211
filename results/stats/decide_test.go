package stats

import (
	"math"
	"math/rand/v2"
	"sort"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestHolm(t *testing.T) {
	nan := math.NaN()
	tests := []struct {
		name string
		p    []float64
		want []float64
	}{
		{
			// Wikipedia "Holm–Bonferroni method", example: H1..H4 with
			// p = 0.01, 0.04, 0.03, 0.005 at alpha = 0.05; H1 and H4 are
			// rejected, H2 and H3 are not. Adjusted values hand-computed:
			// sorted 0.005, 0.01, 0.03, 0.04 -> 4*0.005 = 0.02, 3*0.01 = 0.03,
			// 2*0.03 = 0.06, max(1*0.04, 0.06) = 0.06.
			name: "Wikipedia example",
			p:    []float64{0.01, 0.04, 0.03, 0.005},
			want: []float64{0.03, 0.06, 0.06, 0.02},
		},
		{
			// Hand-computed: 5*.01, 4*.02, 3*.03, max(2*.04, .09), max(.05, .09).
			name: "running maximum",
			p:    []float64{0.05, 0.04, 0.03, 0.02, 0.01},
			want: []float64{0.09, 0.09, 0.09, 0.08, 0.05},
		},
		{
			name: "capped at one",
			p:    []float64{0.5, 0.9, 0.2},
			want: []float64{1, 1, 0.6},
		},
		{
			name: "ties",
			p:    []float64{0.01, 0.01, 0.04},
			want: []float64{0.03, 0.03, 0.04},
		},
		{
			// NaN stays NaN and does not count towards m (m = 2 here).
			name: "NaN excluded",
			p:    []float64{0.02, nan, 0.01},
			want: []float64{0.02, nan, 0.02},
		},
		{name: "single", p: []float64{0.03}, want: []float64{0.03}},
		{name: "empty", p: []float64{}, want: []float64{}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got := Holm(tc.p)
			require.Len(t, got, len(tc.want))
			for i := range tc.want {
				if math.IsNaN(tc.want[i]) {
					assert.True(t, math.IsNaN(got[i]), "index %d", i)
					continue
				}
				assert.InDelta(t, tc.want[i], got[i], tol, "index %d", i)
			}
		})
	}

	t.Run("Wikipedia example rejections at 0.05", func(t *testing.T) {
		adj := Holm([]float64{0.01, 0.04, 0.03, 0.005})
		rejected := make([]bool, len(adj))
		for i, a := range adj {
			rejected[i] = a < 0.05
		}
		assert.Equal(t, []bool{true, false, false, true}, rejected)
	})

	t.Run("input not modified", func(t *testing.T) {
		p := []float64{0.3, 0.1, 0.2}
		Holm(p)
		assert.Equal(t, []float64{0.3, 0.1, 0.2}, p)
	})

	t.Run("properties on random p-values", func(t *testing.T) {
		r := rand.New(rand.NewPCG(3, 3))
		for range 200 {
			p := make([]float64, 1+r.IntN(20))
			for i := range p {
				p[i] = r.Float64() * r.Float64()
			}
			adj := Holm(p)
			order := make([]int, len(p))
			for i := range order {
				order[i] = i
			}
			sort.SliceStable(order, func(a, b int) bool { return p[order[a]] < p[order[b]] })
			for k, i := range order {
				assert.GreaterOrEqual(t, adj[i], p[i])
				assert.LessOrEqual(t, adj[i], 1.0)
				if k > 0 {
					assert.GreaterOrEqual(t, adj[i], adj[order[k-1]])
				}
			}
		}
	})
}

func TestDecide(t *testing.T) {
	up := Paired{MedianDiffCI: Interval{Lo: 0.2, Hi: 1.5, Level: 0.95}}
	down := Paired{MedianDiffCI: Interval{Lo: -1.5, Hi: -0.2, Level: 0.95}}
	straddle := Paired{MedianDiffCI: Interval{Lo: -0.1, Hi: 1.5, Level: 0.95}}
	touching := Paired{MedianDiffCI: Interval{Lo: 0, Hi: 1.5, Level: 0.95}}
	nanCI := Paired{MedianDiffCI: Interval{Lo: math.NaN(), Hi: math.NaN(), Level: 0.95}}
	tests := []struct {
		name           string
		p              Paired
		adjP           float64
		higherIsBetter bool
		want           Verdict
	}{
		{"up significant, higher better", up, 0.01, true, Better},
		{"up significant, lower better", up, 0.01, false, Worse},
		{"down significant, higher better", down, 0.01, true, Worse},
		{"down significant, lower better", down, 0.01, false, Better},
		{"up but p not below alpha", up, 0.05, true, NoDifference},
		{"CI straddles zero", straddle, 0.001, true, NoDifference},
		{"CI touches zero", touching, 0.001, true, NoDifference},
		{"NaN p", up, math.NaN(), true, NoDifference},
		{"NaN CI", nanCI, 0.001, true, NoDifference},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			assert.Equal(t, tc.want, Decide(tc.p, tc.adjP, 0.05, tc.higherIsBetter))
		})
	}
}

func TestWilson(t *testing.T) {
	// Newcombe RG (1998) "Two-sided confidence intervals for the single
	// proportion: comparison of seven methods", Statistics in Medicine
	// 17:857-872, Table I, method 3 (score interval without continuity
	// correction), 95%, published to 4 decimals.
	tests := []struct {
		name      string
		x, n      int
		lo, hi    float64
		exactEdge bool
	}{
		{name: "81/263", x: 81, n: 263, lo: 0.2553, hi: 0.3662},
		{name: "15/148", x: 15, n: 148, lo: 0.0624, hi: 0.1605},
		{name: "0/20", x: 0, n: 20, lo: 0, hi: 0.1611, exactEdge: true},
		{name: "1/29", x: 1, n: 29, lo: 0.0061, hi: 0.1718},
		{name: "29/29", x: 29, n: 29, lo: 0.8830, hi: 1, exactEdge: true},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			ci := Wilson(tc.x, tc.n, 0.95)
			assert.InDelta(t, tc.lo, ci.Lo, 5e-5)
			assert.InDelta(t, tc.hi, ci.Hi, 5e-5)
			assert.Equal(t, 0.95, ci.Level)
			if tc.exactEdge {
				if tc.x == 0 {
					assert.Equal(t, 0.0, ci.Lo)
				} else {
					assert.Equal(t, 1.0, ci.Hi)
				}
			}
		})
	}
	t.Run("zero trials is uninformative", func(t *testing.T) {
		assert.Equal(t, Interval{Lo: 0, Hi: 1, Level: 0.95}, Wilson(0, 0, 0.95))
	})
	t.Run("lower level is narrower and nested", func(t *testing.T) {
		a := Wilson(81, 263, 0.95)
		b := Wilson(81, 263, 0.80)
		assert.Greater(t, b.Lo, a.Lo)
		assert.Less(t, b.Hi, a.Hi)
	})
	t.Run("contains the observed proportion", func(t *testing.T) {
		for n := 1; n <= 40; n++ {
			for x := 0; x <= n; x++ {
				ci := Wilson(x, n, 0.95)
				assert.True(t, ci.Contains(float64(x)/float64(n)), "%d/%d", x, n)
				assert.GreaterOrEqual(t, ci.Lo, 0.0)
				assert.LessOrEqual(t, ci.Hi, 1.0)
			}
		}
	})
	t.Run("impossible counts panic", func(t *testing.T) {
		assert.Panics(t, func() { Wilson(3, 2, 0.95) })
		assert.Panics(t, func() { Wilson(-1, 2, 0.95) })
		assert.Panics(t, func() { Wilson(1, 2, 1) })
	})
}

func TestResilienceScore(t *testing.T) {
	t.Run("Harness/Litmus worked example", func(t *testing.T) {
		// Harness Chaos Engineering docs, "How resilience score is
		// calculated": faults with weights 2, 4, 8 and probe success 0/1,
		// 2/2 and 3/4 give sum(weight*success) = 0 + 400% + 600% = 1000% over
		// sum(weights) = 14, i.e. 1000/14 = 71.43%. Encoded here as one
		// objective per probe carrying weight/probes (2 | 2,2 | 2,2,2,2).
		weights := []float64{2, 2, 2, 2, 2, 2, 2}
		passes := [][]bool{{false, true, true, true, true, true, false}}
		scores, err := ResilienceScores(passes, weights)
		require.NoError(t, err)
		require.Len(t, scores, 1)
		assert.InDelta(t, 1000.0/14, scores[0], tol)

		score, ci := ResilienceScore(passes, weights, 0.95, 100, 1)
		assert.InDelta(t, 1000.0/14, score, tol)
		assert.InDelta(t, 1000.0/14, ci.Lo, tol)
		assert.InDelta(t, 1000.0/14, ci.Hi, tol)
	})

	tests := []struct {
		name    string
		passes  [][]bool
		weights []float64
		want    []float64
	}{
		{
			// Hand-computed: (3*1 + 1*0)/4 = 75%, (3*0 + 1*1)/4 = 25%.
			name:    "weighted",
			passes:  [][]bool{{true, false}, {false, true}},
			weights: []float64{3, 1},
			want:    []float64{75, 25},
		},
		{
			name:    "nil weights are equal weights",
			passes:  [][]bool{{true, false, true, true}, {false, false, false, false}},
			weights: nil,
			want:    []float64{75, 0},
		},
		{
			name:    "zero weight objective ignored",
			passes:  [][]bool{{true, false}},
			weights: []float64{1, 0},
			want:    []float64{100},
		},
		{name: "no seeds", passes: nil, weights: []float64{1}, want: []float64{}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got, err := ResilienceScores(tc.passes, tc.weights)
			require.NoError(t, err)
			assert.InDeltaSlice(t, tc.want, got, tol)
		})
	}

	errCases := []struct {
		name    string
		passes  [][]bool
		weights []float64
	}{
		{"row length mismatch", [][]bool{{true}, {true, false}}, []float64{1, 1}},
		{"ragged rows with nil weights", [][]bool{{true, true}, {true}}, nil},
		{"no objectives", [][]bool{{}}, nil},
		{"negative weight", [][]bool{{true, true}}, []float64{1, -1}},
		{"NaN weight", [][]bool{{true}}, []float64{math.NaN()}},
		{"weights sum to zero", [][]bool{{true}}, []float64{0}},
	}
	for _, tc := range errCases {
		t.Run("error "+tc.name, func(t *testing.T) {
			_, err := ResilienceScores(tc.passes, tc.weights)
			assert.Error(t, err)
			assert.Panics(t, func() { ResilienceScore(tc.passes, tc.weights, 0.95, 10, 1) })
		})
	}

	t.Run("no seeds gives NaN", func(t *testing.T) {
		score, ci := ResilienceScore(nil, []float64{1}, 0.95, 10, 1)
		assert.True(t, math.IsNaN(score))
		assert.True(t, math.IsNaN(ci.Lo))
		assert.True(t, math.IsNaN(ci.Hi))
	})

	t.Run("mean over seeds with deterministic CI", func(t *testing.T) {
		r := rand.New(rand.NewPCG(9, 9))
		passes := make([][]bool, 100)
		for s := range passes {
			passes[s] = []bool{r.Float64() < 0.9, r.Float64() < 0.5, r.Float64() < 0.7}
		}
		weights := []float64{5, 1, 2}
		scores, err := ResilienceScores(passes, weights)
		require.NoError(t, err)
		score, ci := ResilienceScore(passes, weights, 0.95, 1000, 4)
		score2, ci2 := ResilienceScore(passes, weights, 0.95, 1000, 4)
		assert.Equal(t, score, score2)
		assert.Equal(t, ci, ci2)
		assert.InDelta(t, meanOf(scores), score, tol)
		assert.True(t, ci.Contains(score))
		assert.Less(t, ci.Lo, ci.Hi)
		assert.GreaterOrEqual(t, ci.Lo, 0.0)
		assert.LessOrEqual(t, ci.Hi, 100.0)
	})
}
