package stats

import (
	"fmt"
	"math"
	"math/rand/v2"
	"sort"

	"gonum.org/v1/gonum/floats"
	"gonum.org/v1/gonum/stat"
)

// DefaultLevel is the confidence level used throughout faultline's reports.
const DefaultLevel = 0.95

// DefaultResamples is a reasonable bootstrap resample count: enough for
// stable 95% percentile bounds, small enough to run for every mitigation.
const DefaultResamples = 2000

// pcgStream is the fixed second PCG word. The caller's seed is the first
// word, so one seed always yields the same stream.
const pcgStream uint64 = 0x6661756c746c696e // "faultlin"

// newRNG returns the package's only source of randomness.
func newRNG(seed uint64) *rand.Rand {
	return rand.New(rand.NewPCG(seed, pcgStream))
}

// Interval is a two-sided confidence interval [Lo, Hi] at confidence Level
// (for example 0.95). Lo and Hi are NaN when there was no data.
type Interval struct {
	Lo, Hi float64
	Level  float64
}

// Contains reports whether v lies in the closed interval [Lo, Hi].
func (i Interval) Contains(v float64) bool { return i.Lo <= v && v <= i.Hi }

// HalfWidth returns (Hi-Lo)/2.
func (i Interval) HalfWidth() float64 { return (i.Hi - i.Lo) / 2 }

// Summary describes one sample.
type Summary struct {
	N      int     // observations used (NaN values are skipped)
	Mean   float64 // arithmetic mean
	Median float64 // conventional median, see Median
	P5     float64 // 5th percentile, gonum stat.Empirical (see Describe)
	P95    float64 // 95th percentile, gonum stat.Empirical (see Describe)
	StdDev float64 // sample standard deviation (n-1 denominator); 0 when N == 1
	MeanCI Interval
}

// Describe summarises x, skipping NaN values (±Inf are kept).
//
// Mean and StdDev come from gonum stat.MeanStdDev (the unbiased, n-1,
// standard deviation); for a single observation, where that is undefined,
// StdDev is reported as 0.
//
// P5 and P95 are gonum stat.Quantile(p, stat.Empirical, sorted, nil): the
// inverse of the empirical CDF, i.e. the smallest observation x(k) with
// k/n >= p, k = ceil(n*p) (Hyndman & Fan 1996 "type 1"; no interpolation,
// always an observed value). For n = 20 that is P5 = x(1) and P95 = x(19).
//
// Median is NOT the type-1 quantile at 0.5 (which would be the lower of the
// two middle values for even n) but the conventional median, the mean of the
// two middle order statistics for even n; see Median.
//
// MeanCI is the percentile bootstrap interval of the mean (BootstrapCI with
// the given level, resamples and seed). With N == 0 every float field is NaN;
// with N == 1 or all-equal data the interval is degenerate (Lo == Hi).
// Describe panics if level is not in (0,1) or resamples < 1.
func Describe(x []float64, level float64, resamples int, seed uint64) Summary {
	mustLevel(level)
	mustResamples(resamples)
	clean := dropNaN(x)
	n := len(clean)
	if n == 0 {
		nan := math.NaN()
		return Summary{Mean: nan, Median: nan, P5: nan, P95: nan, StdDev: nan,
			MeanCI: Interval{Lo: nan, Hi: nan, Level: level}}
	}
	sort.Float64s(clean)
	mean, std := stat.MeanStdDev(clean, nil)
	if n == 1 {
		std = 0
	}
	return Summary{
		N:      n,
		Mean:   mean,
		Median: medianSorted(clean),
		P5:     stat.Quantile(0.05, stat.Empirical, clean, nil),
		P95:    stat.Quantile(0.95, stat.Empirical, clean, nil),
		StdDev: std,
		MeanCI: BootstrapCI(clean, meanOf, level, resamples, seed),
	}
}

// BootstrapCI returns the percentile bootstrap confidence interval of
// statistic(x) (Efron & Tibshirani 1993, ch. 13). Written by hand: gonum has
// no bootstrap.
//
// It draws resamples samples of len(x) with replacement from x using
// rand.New(rand.NewPCG(seed, pcgStream)), evaluates statistic on each, drops
// NaN replicates, sorts the rest and returns their alpha/2 and 1-alpha/2
// quantiles (alpha = 1-level) using gonum stat.Quantile with stat.Empirical,
// so both bounds are replicate values. The same x, statistic, level,
// resamples and seed always give the same interval.
//
// statistic receives a scratch slice owned by BootstrapCI: it may reorder it
// but must not retain it. x is used as given (no NaN filtering). An empty x
// or all-NaN replicates give NaN bounds. BootstrapCI panics if level is not
// in (0,1) or resamples < 1.
func BootstrapCI(x []float64, statistic func([]float64) float64, level float64, resamples int, seed uint64) Interval {
	mustLevel(level)
	mustResamples(resamples)
	n := len(x)
	if n == 0 {
		return Interval{Lo: math.NaN(), Hi: math.NaN(), Level: level}
	}
	rng := newRNG(seed)
	buf := make([]float64, n)
	reps := make([]float64, 0, resamples)
	for range resamples {
		for i := range buf {
			buf[i] = x[rng.IntN(n)]
		}
		if v := statistic(buf); !math.IsNaN(v) {
			reps = append(reps, v)
		}
	}
	if len(reps) == 0 {
		return Interval{Lo: math.NaN(), Hi: math.NaN(), Level: level}
	}
	sort.Float64s(reps)
	alpha := 1 - level
	return Interval{
		Lo:    stat.Quantile(alpha/2, stat.Empirical, reps, nil),
		Hi:    stat.Quantile(1-alpha/2, stat.Empirical, reps, nil),
		Level: level,
	}
}

// Median returns the conventional sample median of x: the middle order
// statistic for odd n, the mean of the two middle ones for even n. It does
// not modify x. It returns NaN for an empty x or if x contains NaN. Written
// by hand because gonum's stat.Quantile(0.5, stat.Empirical, ...) returns
// the lower middle value for even n and stat.LinInterp is not the usual
// median either. Median is suitable as a BootstrapCI statistic.
func Median(x []float64) float64 {
	if len(x) == 0 || floats.HasNaN(x) {
		return math.NaN()
	}
	s := append([]float64(nil), x...)
	sort.Float64s(s)
	return medianSorted(s)
}

// medianInPlace sorts x and returns its median; used for bootstrap scratch
// buffers, which may be reordered.
func medianInPlace(x []float64) float64 {
	if len(x) == 0 || floats.HasNaN(x) {
		return math.NaN()
	}
	sort.Float64s(x)
	return medianSorted(x)
}

// medianSorted returns the median of an already sorted, NaN-free, non-empty slice.
func medianSorted(s []float64) float64 {
	n := len(s)
	if n%2 == 1 {
		return s[n/2]
	}
	a, b := s[n/2-1], s[n/2]
	if a == b {
		return a
	}
	return a + (b-a)/2
}

// meanOf is stat.Mean without weights, as a BootstrapCI statistic.
func meanOf(x []float64) float64 { return stat.Mean(x, nil) }

// dropNaN returns a fresh slice holding the non-NaN values of x in order.
func dropNaN(x []float64) []float64 {
	out := make([]float64, 0, len(x))
	for _, v := range x {
		if !math.IsNaN(v) {
			out = append(out, v)
		}
	}
	return out
}

func validLevel(level float64) bool { return level > 0 && level < 1 }

func mustLevel(level float64) {
	if !validLevel(level) {
		panic(fmt.Sprintf("stats: confidence level %v not in (0,1)", level))
	}
}

func mustResamples(resamples int) {
	if resamples < 1 {
		panic(fmt.Sprintf("stats: resamples %d < 1", resamples))
	}
}
