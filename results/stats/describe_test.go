package stats

import (
	"math"
	"math/rand/v2"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

const tol = 1e-12

func TestDescribe(t *testing.T) {
	nan := math.NaN()
	tests := []struct {
		name                   string
		x                      []float64
		n                      int
		mean, median, p5, p95  float64
		std                    float64
		degenerateCI, nanAbove bool
	}{
		{
			// 1..20 shuffled, with NaNs that must be skipped. Hand-computed:
			// mean = 21/2; median = (10+11)/2; type-1 quantiles
			// P5 = x(ceil(20*0.05)) = x(1) = 1, P95 = x(ceil(20*0.95)) = x(19) = 19;
			// sample variance of 1..n is n(n+1)/12 = 35.
			name: "one to twenty shuffled with NaN",
			x:    []float64{7, 20, nan, 1, 14, 3, 18, 9, 12, 5, 16, 2, nan, 11, 19, 4, 13, 8, 17, 6, 15, 10},
			n:    20, mean: 10.5, median: 10.5, p5: 1, p95: 19, std: math.Sqrt(35),
		},
		{
			// Hand-computed: P5 = x(ceil(0.15)) = x(1), P95 = x(ceil(2.85)) = x(3);
			// mean 2, sd 1.
			name: "three values",
			x:    []float64{3, 1, 2},
			n:    3, mean: 2, median: 2, p5: 1, p95: 3, std: 1,
		},
		{
			name: "single value",
			x:    []float64{7},
			n:    1, mean: 7, median: 7, p5: 7, p95: 7, std: 0, degenerateCI: true,
		},
		{
			name: "all equal",
			x:    []float64{4, 4, 4, 4, 4},
			n:    5, mean: 4, median: 4, p5: 4, p95: 4, std: 0, degenerateCI: true,
		},
		{
			name: "only NaN", x: []float64{nan, nan}, nanAbove: true,
		},
		{
			name: "empty", x: nil, nanAbove: true,
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			s := Describe(tc.x, 0.95, 1000, 42)
			assert.Equal(t, tc.n, s.N)
			assert.Equal(t, 0.95, s.MeanCI.Level)
			if tc.nanAbove {
				for _, v := range []float64{s.Mean, s.Median, s.P5, s.P95, s.StdDev, s.MeanCI.Lo, s.MeanCI.Hi} {
					assert.True(t, math.IsNaN(v))
				}
				return
			}
			assert.InDelta(t, tc.mean, s.Mean, tol)
			assert.InDelta(t, tc.median, s.Median, tol)
			assert.InDelta(t, tc.p5, s.P5, tol)
			assert.InDelta(t, tc.p95, s.P95, tol)
			assert.InDelta(t, tc.std, s.StdDev, 1e-9)
			assert.LessOrEqual(t, s.MeanCI.Lo, s.Mean)
			assert.GreaterOrEqual(t, s.MeanCI.Hi, s.Mean)
			if tc.degenerateCI {
				assert.InDelta(t, tc.mean, s.MeanCI.Lo, tol)
				assert.InDelta(t, tc.mean, s.MeanCI.Hi, tol)
			} else {
				assert.Less(t, s.MeanCI.Lo, s.MeanCI.Hi)
			}
		})
	}
}

func TestDescribeDoesNotModifyInput(t *testing.T) {
	x := []float64{3, math.NaN(), 1, 2}
	_ = Describe(x, 0.9, 100, 1)
	assert.Equal(t, 3.0, x[0])
	assert.True(t, math.IsNaN(x[1]))
	assert.Equal(t, []float64{1, 2}, x[2:])
}

func TestMedian(t *testing.T) {
	tests := []struct {
		name string
		x    []float64
		want float64
	}{
		{"odd", []float64{5, 1, 3}, 3},
		{"even averages the middle pair", []float64{4, 1, 3, 2}, 2.5},
		{"even with opposite signs", []float64{-1, 1}, 0},
		{"single", []float64{-2}, -2},
		{"huge values do not overflow", []float64{math.MaxFloat64, math.MaxFloat64}, math.MaxFloat64},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			assert.Equal(t, tc.want, Median(tc.x))
		})
	}
	t.Run("empty and NaN give NaN", func(t *testing.T) {
		assert.True(t, math.IsNaN(Median(nil)))
		assert.True(t, math.IsNaN(Median([]float64{1, math.NaN()})))
	})
	t.Run("input untouched", func(t *testing.T) {
		x := []float64{3, 1, 2}
		Median(x)
		assert.Equal(t, []float64{3, 1, 2}, x)
	})
}

func normalSample(seed uint64, n int, mu, sigma float64) []float64 {
	r := rand.New(rand.NewPCG(seed, 7))
	x := make([]float64, n)
	for i := range x {
		x[i] = mu + sigma*r.NormFloat64()
	}
	return x
}

func TestBootstrapCI(t *testing.T) {
	x := normalSample(1, 60, 5, 2)

	t.Run("same seed same interval", func(t *testing.T) {
		a := BootstrapCI(x, meanOf, 0.95, 500, 99)
		b := BootstrapCI(x, meanOf, 0.95, 500, 99)
		assert.Equal(t, a, b)
	})
	t.Run("different seed different interval", func(t *testing.T) {
		a := BootstrapCI(x, meanOf, 0.95, 500, 99)
		b := BootstrapCI(x, meanOf, 0.95, 500, 100)
		assert.NotEqual(t, a, b)
	})
	t.Run("brackets the estimate and narrows with level", func(t *testing.T) {
		m := meanOf(x)
		ci95 := BootstrapCI(x, meanOf, 0.95, 2000, 3)
		ci50 := BootstrapCI(x, meanOf, 0.50, 2000, 3)
		assert.True(t, ci95.Contains(m))
		assert.Less(t, ci50.HalfWidth(), ci95.HalfWidth())
		// The bootstrap SE of the mean is about sd/sqrt(n) = 2/sqrt(60) ~ 0.26,
		// so the 95% half-width should be near 1.96*0.26 ~ 0.5.
		assert.InDelta(t, 0.5, ci95.HalfWidth(), 0.15)
	})
	t.Run("median statistic", func(t *testing.T) {
		ci := BootstrapCI(x, Median, 0.95, 1000, 3)
		assert.True(t, ci.Contains(Median(x)))
	})
	t.Run("empty gives NaN", func(t *testing.T) {
		ci := BootstrapCI(nil, meanOf, 0.95, 10, 1)
		assert.True(t, math.IsNaN(ci.Lo))
		assert.True(t, math.IsNaN(ci.Hi))
	})
	t.Run("NaN replicates are dropped", func(t *testing.T) {
		ci := BootstrapCI([]float64{1, 2, 3}, func([]float64) float64 { return math.NaN() }, 0.95, 10, 1)
		assert.True(t, math.IsNaN(ci.Lo))
	})
	t.Run("invalid parameters panic", func(t *testing.T) {
		assert.Panics(t, func() { BootstrapCI(x, meanOf, 0, 10, 1) })
		assert.Panics(t, func() { BootstrapCI(x, meanOf, 1, 10, 1) })
		assert.Panics(t, func() { BootstrapCI(x, meanOf, math.NaN(), 10, 1) })
		assert.Panics(t, func() { BootstrapCI(x, meanOf, 0.95, 0, 1) })
	})
	t.Run("coverage of the mean is near nominal", func(t *testing.T) {
		// 200 samples of n=40 from N(0,1); percentile-bootstrap 90% CIs of the
		// mean should cover 0 roughly 90% of the time (slightly less at this n).
		const trials = 200
		covered := 0
		for i := range trials {
			s := normalSample(uint64(1000+i), 40, 0, 1)
			if BootstrapCI(s, meanOf, 0.90, 400, uint64(i)).Contains(0) {
				covered++
			}
		}
		rate := float64(covered) / trials
		assert.Greater(t, rate, 0.80)
		assert.Less(t, rate, 0.97)
	})
}

func TestRelativeHalfWidth(t *testing.T) {
	tests := []struct {
		name string
		ci   Interval
		mean float64
		want float64
	}{
		{"ten percent", Interval{Lo: 9, Hi: 11, Level: 0.95}, 10, 0.1},
		{"negative mean uses magnitude", Interval{Lo: -11, Hi: -9, Level: 0.95}, -10, 0.1},
		{"degenerate", Interval{Lo: 3, Hi: 3, Level: 0.95}, 3, 0},
		{"zero mean", Interval{Lo: -1, Hi: 1, Level: 0.95}, 0, math.Inf(1)},
		{"zero mean degenerate", Interval{Lo: 0, Hi: 0, Level: 0.95}, 0, math.Inf(1)},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got := RelativeHalfWidth(tc.ci, tc.mean)
			if math.IsInf(tc.want, 1) {
				assert.True(t, math.IsInf(got, 1), "got %v", got)
				return
			}
			assert.InDelta(t, tc.want, got, tol)
		})
	}
	t.Run("NaN interval", func(t *testing.T) {
		require.True(t, math.IsNaN(RelativeHalfWidth(Interval{Lo: math.NaN(), Hi: math.NaN()}, 1)))
	})
}
