package stats

import (
	"errors"
	"fmt"
	"math"

	"gonum.org/v1/gonum/floats"
	"gonum.org/v1/gonum/stat"
	"gonum.org/v1/gonum/stat/distuv"
)

// Wilson returns the Wilson score interval (Wilson 1927; Newcombe 1998,
// method 3) for a proportion with the given successes out of n trials:
//
//	(p + z²/2n ± z*sqrt(p(1-p)/n + z²/4n²)) / (1 + z²/n),  p = successes/n
//
// with z the 1-(1-level)/2 quantile of the standard normal (gonum
// distuv.UnitNormal). No continuity correction. Bounds are clamped to [0,1]
// and are exactly 0 (1) when successes is 0 (n). With n == 0 it returns the
// uninformative [0, 1]. Written by hand: gonum has no proportion intervals.
// It panics if level is not in (0,1) or the counts are impossible
// (n < 0, successes < 0 or successes > n).
func Wilson(successes, n int, level float64) Interval {
	mustLevel(level)
	if n < 0 || successes < 0 || successes > n {
		panic(fmt.Sprintf("stats: Wilson: impossible counts %d of %d", successes, n))
	}
	if n == 0 {
		return Interval{Lo: 0, Hi: 1, Level: level}
	}
	z := distuv.UnitNormal.Quantile(1 - (1-level)/2)
	nf := float64(n)
	ph := float64(successes) / nf
	z2 := z * z
	denom := 1 + z2/nf
	center := (ph + z2/(2*nf)) / denom
	half := z / denom * math.Sqrt(ph*(1-ph)/nf+z2/(4*nf*nf))
	lo := math.Max(0, center-half)
	hi := math.Min(1, center+half)
	if successes == 0 {
		lo = 0
	}
	if successes == n {
		hi = 1
	}
	return Interval{Lo: lo, Hi: hi, Level: level}
}

// ResilienceScores returns the per-seed resilience score, in percent:
//
//	score[s] = 100 * sum_k(weights[k] * passes[s][k]) / sum_k(weights[k])
//
// where passes[s][k] reports whether objective k held on seed s. This is the
// Litmus / Harness Chaos Engineering resilience score (sum of weight times
// probe success, divided by the sum of weights) with one boolean probe per
// objective; an objective checked by several probes can be given one entry
// per probe, each with weight/probes. A nil weights means weight 1 for every
// objective. It returns an error if weights is empty, has a negative,
// NaN or infinite entry, sums to zero, or if a row's length differs from
// len(weights) (or, with nil weights, from the first row's length).
func ResilienceScores(passes [][]bool, weights []float64) ([]float64, error) {
	if weights == nil && len(passes) > 0 {
		weights = make([]float64, len(passes[0]))
		for k := range weights {
			weights[k] = 1
		}
	}
	if len(passes) == 0 {
		return []float64{}, nil
	}
	if len(weights) == 0 {
		return nil, errors.New("stats: resilience score needs at least one objective")
	}
	for k, w := range weights {
		if math.IsNaN(w) || math.IsInf(w, 0) || w < 0 {
			return nil, fmt.Errorf("stats: objective %d has invalid weight %v", k, w)
		}
	}
	total := floats.Sum(weights)
	if total <= 0 {
		return nil, errors.New("stats: objective weights sum to zero")
	}
	scores := make([]float64, len(passes))
	for s, row := range passes {
		if len(row) != len(weights) {
			return nil, fmt.Errorf("stats: seed %d has %d objectives, want %d", s, len(row), len(weights))
		}
		var got float64
		for k, ok := range row {
			if ok {
				got += weights[k]
			}
		}
		scores[s] = 100 * got / total
	}
	return scores, nil
}

// ResilienceScore returns the mean over seeds of ResilienceScores(passes,
// weights) (a percentage in [0,100]) and the percentile bootstrap CI of that
// mean over seeds (BootstrapCI with level, resamples and seed). With no
// seeds both are NaN. It panics on the invalid inputs for which
// ResilienceScores returns an error (call that first to validate), or if
// level is not in (0,1) or resamples < 1.
func ResilienceScore(passes [][]bool, weights []float64, level float64, resamples int, seed uint64) (score float64, ci Interval) {
	mustLevel(level)
	mustResamples(resamples)
	scores, err := ResilienceScores(passes, weights)
	if err != nil {
		panic(err)
	}
	if len(scores) == 0 {
		return math.NaN(), Interval{Lo: math.NaN(), Hi: math.NaN(), Level: level}
	}
	return stat.Mean(scores, nil), BootstrapCI(scores, meanOf, level, resamples, seed)
}

// RelativeHalfWidth returns the half-width of ci divided by |mean|, the
// precision criterion for adaptive seed counts (keep adding seeds while it
// exceeds the target). It is +Inf whenever mean is 0, even for a degenerate
// interval, so a metric that is identically 0 never meets a relative target:
// callers should also accept a small absolute half-width. NaN inputs give NaN.
func RelativeHalfWidth(ci Interval, mean float64) float64 {
	if mean == 0 {
		return math.Inf(1)
	}
	return ci.HalfWidth() / math.Abs(mean)
}
