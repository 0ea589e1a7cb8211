package stats

import (
	"errors"
	"math"
	"math/rand/v2"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// Hamilton depression scale factor IV for 9 patients at the first (x) and
// second (y) visit, Hollander & Wolfe (1973, p. 29f), the paired example in
// R's ?wilcox.test. R documents
//
//	wilcox.test(x, y, paired = TRUE, alternative = "greater")        V = 40, p-value = 0.01953
//	wilcox.test(y - x, alternative = "less", exact = FALSE,
//	            correct = FALSE)  # H&W large sample                V = 5,  p-value = 0.01908
//
// Both are one-sided; the two-sided exact p-value is twice 0.01953, and
// hand-computed it is 2*10/2^9 = 0.0390625 (10 of the 512 subsets of {1..9}
// sum to 5 or less).
var (
	hwX = []float64{1.83, 0.50, 1.62, 2.48, 1.68, 1.88, 1.55, 3.06, 1.30}
	hwY = []float64{0.878, 0.647, 0.598, 2.05, 1.06, 1.29, 1.06, 3.14, 1.29}
)

// Worked example of Wikipedia's "Wilcoxon signed-rank test" article (the
// 10-pair table, as it stood in the article's revisions through the 2010s):
// x2 - x1 has one zero and one tied pair of |differences| (5, 5); the
// article reports N_r = 9 and W = sum of signed ranks = 9, not significant
// against the two-sided 5% critical value.
var (
	wikiX1 = []float64{110, 122, 125, 120, 140, 124, 123, 137, 135, 145}
	wikiX2 = []float64{125, 115, 130, 140, 140, 115, 140, 125, 140, 135}
)

func TestComparePairedPublishedExamples(t *testing.T) {
	tests := []struct {
		name      string
		baseline  []float64
		variant   []float64
		wantW     float64
		wantNZ    int
		wantP     float64
		pTol      float64
		wantExact bool
	}{
		{
			// R ?wilcox.test (Hollander & Wolfe 1973): V = 40, one-sided 0.01953.
			name: "Hollander-Wolfe x minus y", baseline: hwY, variant: hwX,
			wantW: 40, wantNZ: 9, wantP: 0.0390625, pTol: 1e-12, wantExact: true,
		},
		{
			// Same data the other way round: W+ = 45 - 40 = 5 (R's "V = 5").
			name: "Hollander-Wolfe y minus x", baseline: hwX, variant: hwY,
			wantW: 5, wantNZ: 9, wantP: 0.0390625, pTol: 1e-12, wantExact: true,
		},
		{
			// Wikipedia example. Ranks of |x2-x1| without the zero:
			// 5,5 -> 1.5,1.5; 7->3; 9->4; 10->5; 12->6; 15->7; 17->8; 20->9.
			// Positive: 1.5+1.5+7+8+9 = 27 = W+; negative 3+4+5+6 = 18;
			// W = 27-18 = 9 as the article states.
			// Ties -> normal approximation, hand-computed:
			// mean 9*10/4 = 22.5, var 9*10*19/24 - (2^3-2)/48 = 71.125,
			// z = (27-22.5-0.5)/sqrt(71.125) = 0.474295, p = 2*(1-Phi(z)) = 0.635289.
			name: "Wikipedia worked example", baseline: wikiX1, variant: wikiX2,
			wantW: 27, wantNZ: 9, wantP: 0.635289, pTol: 1e-6, wantExact: false,
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			p, err := ComparePaired(tc.baseline, tc.variant, 0.95, 500, 1)
			require.NoError(t, err)
			assert.Equal(t, len(tc.baseline), p.N)
			assert.Equal(t, tc.wantW, p.WilcoxonW)
			assert.Equal(t, tc.wantNZ, p.NonZero)
			assert.Equal(t, tc.wantExact, p.Exact)
			assert.InDelta(t, tc.wantP, p.PValue, tc.pTol)
		})
	}

	t.Run("Wikipedia W equals W+ minus W-", func(t *testing.T) {
		p, err := ComparePaired(wikiX1, wikiX2, 0.95, 100, 1)
		require.NoError(t, err)
		n := float64(p.NonZero)
		wMinus := n*(n+1)/2 - p.WilcoxonW
		assert.Equal(t, 9.0, p.WilcoxonW-wMinus)
	})

	t.Run("Hollander-Wolfe large-sample approximation without correction", func(t *testing.T) {
		// R: exact = FALSE, correct = FALSE gives one-sided p = 0.01908.
		d := make([]float64, len(hwX))
		for i := range d {
			d[i] = hwX[i] - hwY[i]
		}
		r := signedRank(d, false, false)
		assert.False(t, r.exact)
		assert.InDelta(t, 0.01908, r.p/2, 5e-6)
		// With the continuity correction (our default for ties), hand-computed:
		// z = (40-22.5-0.5)/sqrt(71.25) = 2.013986, two-sided p = 0.044011.
		rc := signedRank(d, false, true)
		assert.InDelta(t, 0.044011, rc.p, 1e-6)
	})
}

func TestSignedRankExactDistribution(t *testing.T) {
	t.Run("subset counts match brute force", func(t *testing.T) {
		for n := 1; n <= 12; n++ {
			want := make([]float64, n*(n+1)/2+1)
			for mask := 0; mask < 1<<n; mask++ {
				s := 0
				for i := range n {
					if mask&(1<<i) != 0 {
						s += i + 1
					}
				}
				want[s]++
			}
			assert.Equal(t, want, signedRankCounts(n), "n=%d", n)
		}
	})
	t.Run("largest exact n sums to 2^n", func(t *testing.T) {
		c := signedRankCounts(ExactMaxN)
		var total float64
		for _, v := range c {
			total += v
		}
		assert.Equal(t, math.Ldexp(1, ExactMaxN), total)
	})
	t.Run("small table values", func(t *testing.T) {
		// Hand-computed from subset counts: n=8, P(W+ <= 3) = 5/256, so the
		// two-sided p at W+ = 3 is 10/256; at W+ = 4 it is 14/256.
		assert.InDelta(t, 10.0/256, exactSignedRankP(8, 3), tol)
		assert.InDelta(t, 14.0/256, exactSignedRankP(8, 4), tol)
		// n=1: W+ is 0 or 1 with probability 1/2 each; p = 1 either way.
		assert.Equal(t, 1.0, exactSignedRankP(1, 1))
		// Centre of the distribution is capped at 1.
		assert.Equal(t, 1.0, exactSignedRankP(9, 22))
	})
	t.Run("normal approximation agrees with exact at n = 49", func(t *testing.T) {
		d := make([]float64, ExactMaxN)
		for i := range d {
			d[i] = float64(i + 1)
			if i < 30 { // ranks 1..30 negative: W+ = 1225 - 465 = 760
				d[i] = -d[i]
			}
		}
		exact := signedRank(d, true, true)
		approx := signedRank(d, false, true)
		require.True(t, exact.exact)
		require.False(t, approx.exact)
		assert.Equal(t, 760.0, exact.wPlus)
		assert.InDelta(t, exact.p, approx.p, 0.005)
	})
	t.Run("n = 50 uses the approximation", func(t *testing.T) {
		d := make([]float64, ExactMaxN+1)
		for i := range d {
			d[i] = float64(i + 1)
		}
		assert.False(t, signedRank(d, true, true).exact)
	})
}

func bruteCliff(x, y []float64) float64 {
	var s float64
	for _, a := range x {
		for _, b := range y {
			switch {
			case b > a:
				s++
			case b < a:
				s--
			}
		}
	}
	return s / float64(len(x)*len(y))
}

func TestCliffsDelta(t *testing.T) {
	tests := []struct {
		name              string
		baseline, variant []float64
		want, wantA       float64
	}{
		{
			// R package effsize, tests/testthat/testCliff.R "Small differences":
			// cliff.delta(treatment, control) -> delta estimate -0.25.
			// Hand check: treatment above control in 17 of 60 pairs, below in 32,
			// tied in 11: (17-32)/60 = -0.25; A = (17 + 11/2)/60 = 0.375.
			name:     "effsize small differences",
			baseline: []float64{10, 20, 30, 40, 40, 50},
			variant:  []float64{10, 10, 20, 20, 20, 30, 30, 30, 40, 50},
			want:     -0.25, wantA: 0.375,
		},
		{
			// effsize "Negligible differences": estimate -0.06666.
			// Hand check: 23 above, 27 below of 60: -4/60; A = 28/60.
			name:     "effsize negligible differences",
			baseline: []float64{10, 20, 30, 40, 40, 50},
			variant:  []float64{10, 20, 20, 20, 30, 30, 30, 40, 50, 100},
			want:     -4.0 / 60, wantA: 28.0 / 60,
		},
		{
			name:     "complete dominance up",
			baseline: []float64{1, 2, 3},
			variant:  []float64{4, 5},
			want:     1, wantA: 1,
		},
		{
			name:     "complete dominance down",
			baseline: []float64{4, 5},
			variant:  []float64{1, 2, 3},
			want:     -1, wantA: 0,
		},
		{
			name:     "identical",
			baseline: []float64{1, 2, 3},
			variant:  []float64{1, 2, 3},
			want:     0, wantA: 0.5,
		},
		{
			name:     "NaN skipped",
			baseline: []float64{1, math.NaN(), 2, 3},
			variant:  []float64{4, math.NaN(), 5},
			want:     1, wantA: 1,
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			assert.InDelta(t, tc.want, CliffsDelta(tc.baseline, tc.variant), tol)
			assert.InDelta(t, tc.wantA, VarghaDelaneyA(tc.baseline, tc.variant), tol)
		})
	}
	t.Run("empty gives NaN", func(t *testing.T) {
		assert.True(t, math.IsNaN(CliffsDelta(nil, []float64{1})))
		assert.True(t, math.IsNaN(CliffsDelta([]float64{1}, []float64{math.NaN()})))
	})
	t.Run("matches brute force with ties", func(t *testing.T) {
		r := rand.New(rand.NewPCG(5, 5))
		for range 50 {
			x := make([]float64, 1+r.IntN(30))
			y := make([]float64, 1+r.IntN(30))
			for i := range x {
				x[i] = float64(r.IntN(8))
			}
			for i := range y {
				y[i] = float64(r.IntN(8))
			}
			assert.InDelta(t, bruteCliff(x, y), CliffsDelta(x, y), tol)
		}
	})
}

func TestComparePairedErrorsAndEdges(t *testing.T) {
	t.Run("length mismatch", func(t *testing.T) {
		_, err := ComparePaired([]float64{1, 2}, []float64{1}, 0.95, 10, 1)
		assert.True(t, errors.Is(err, ErrLengthMismatch))
	})
	t.Run("empty", func(t *testing.T) {
		_, err := ComparePaired(nil, nil, 0.95, 10, 1)
		assert.True(t, errors.Is(err, ErrNoData))
	})
	t.Run("all pairs NaN", func(t *testing.T) {
		nan := math.NaN()
		_, err := ComparePaired([]float64{nan, 1}, []float64{2, nan}, 0.95, 10, 1)
		assert.True(t, errors.Is(err, ErrNoData))
	})
	t.Run("bad level and resamples are errors", func(t *testing.T) {
		_, err := ComparePaired([]float64{1}, []float64{2}, 1.5, 10, 1)
		assert.Error(t, err)
		_, err = ComparePaired([]float64{1}, []float64{2}, 0.95, 0, 1)
		assert.Error(t, err)
	})
	t.Run("NaN pairs skipped", func(t *testing.T) {
		nan := math.NaN()
		inf := math.Inf(1)
		with, err := ComparePaired(
			append(append([]float64{}, hwY...), nan, 1, inf),
			append(append([]float64{}, hwX...), 1, nan, inf),
			0.95, 300, 4)
		require.NoError(t, err)
		without, err := ComparePaired(hwY, hwX, 0.95, 300, 4)
		require.NoError(t, err)
		assert.Equal(t, without, with)
		assert.Equal(t, 9, with.N)
	})
	t.Run("single pair", func(t *testing.T) {
		p, err := ComparePaired([]float64{1}, []float64{3}, 0.95, 200, 1)
		require.NoError(t, err)
		assert.Equal(t, 1, p.N)
		assert.Equal(t, 2.0, p.MedianDiff)
		assert.Equal(t, 2.0, p.MeanDiff)
		assert.Equal(t, Interval{Lo: 2, Hi: 2, Level: 0.95}, p.MedianDiffCI)
		assert.Equal(t, 1.0, p.PValue)
		assert.Equal(t, 1.0, p.CliffsDelta)
		assert.Equal(t, NoDifference, Decide(p, p.PValue, 0.05, true))
	})
}

func TestComparePairedProperties(t *testing.T) {
	t.Run("identical samples", func(t *testing.T) {
		x := normalSample(11, 50, 100, 15)
		p, err := ComparePaired(x, x, 0.95, 1000, 2)
		require.NoError(t, err)
		assert.Equal(t, 50, p.N)
		assert.Equal(t, 1.0, p.PValue)
		assert.Equal(t, 0.0, p.WilcoxonW)
		assert.Equal(t, 0, p.NonZero)
		assert.Equal(t, 0.0, p.MedianDiff)
		assert.Equal(t, 0.0, p.MeanDiff)
		assert.Equal(t, Interval{Lo: 0, Hi: 0, Level: 0.95}, p.MedianDiffCI)
		assert.Equal(t, 0.0, p.CliffsDelta)
		assert.Equal(t, 0.5, p.A12)
		assert.Equal(t, NoDifference, Decide(p, Holm([]float64{p.PValue})[0], 0.05, true))
		assert.Equal(t, NoDifference, Decide(p, p.PValue, 0.05, false))
	})

	// y = x + shift + noise, n = 200, seeded.
	shifted := func(shift float64) (x, y []float64) {
		x = normalSample(21, 200, 10, 3)
		noise := normalSample(22, 200, 0, 0.5)
		y = make([]float64, len(x))
		for i := range x {
			y[i] = x[i] + shift + noise[i]
		}
		return x, y
	}
	tests := []struct {
		name           string
		shift          float64
		higherIsBetter bool
		want           Verdict
	}{
		{"up, higher is better", 1, true, Better},
		{"up, lower is better", 1, false, Worse},
		{"down, higher is better", -1, true, Worse},
		{"down, lower is better", -1, false, Better},
	}
	for _, tc := range tests {
		t.Run("clear shift "+tc.name, func(t *testing.T) {
			x, y := shifted(tc.shift)
			p, err := ComparePaired(x, y, 0.95, 1000, 3)
			require.NoError(t, err)
			assert.False(t, p.Exact)
			assert.Less(t, p.PValue, 1e-10)
			assert.InDelta(t, tc.shift, p.MedianDiff, 0.15)
			assert.InDelta(t, tc.shift, p.MeanDiff, 0.15)
			assert.False(t, p.MedianDiffCI.Contains(0))
			assert.Equal(t, tc.shift > 0, p.CliffsDelta > 0)
			assert.InDelta(t, (p.CliffsDelta+1)/2, p.A12, tol)
			assert.Equal(t, tc.want, Decide(p, p.PValue, 0.05, tc.higherIsBetter))
		})
	}

	t.Run("pure noise is not detected", func(t *testing.T) {
		x := normalSample(31, 200, 10, 3)
		y := normalSample(32, 200, 10, 3)
		p, err := ComparePaired(x, y, 0.95, 1000, 3)
		require.NoError(t, err)
		assert.Greater(t, p.PValue, 0.05)
		assert.Equal(t, NoDifference, Decide(p, p.PValue, 0.05, true))
	})

	t.Run("deterministic for a seed, different across seeds", func(t *testing.T) {
		x, y := shifted(0.05)
		a, err := ComparePaired(x, y, 0.95, 500, 7)
		require.NoError(t, err)
		b, err := ComparePaired(x, y, 0.95, 500, 7)
		require.NoError(t, err)
		c, err := ComparePaired(x, y, 0.95, 500, 8)
		require.NoError(t, err)
		assert.Equal(t, a, b)
		assert.NotEqual(t, a.MedianDiffCI, c.MedianDiffCI)
		// Only the bootstrap depends on the seed.
		assert.Equal(t, a.PValue, c.PValue)
		assert.Equal(t, a.MedianDiff, c.MedianDiff)
	})
}
