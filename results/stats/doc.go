// Package stats owns the statistics faultline uses to compare a mitigation
// (the variant) with the baseline over the same random seeds.
//
// Every simulation seed is run once with the baseline and once with the
// variant (common random numbers), so results arrive as paired samples:
// baseline[i] and variant[i] come from seed i. The package provides
//
//   - Describe and BootstrapCI: one-sample summaries (mean, median, 5th and
//     95th percentiles, standard deviation) and percentile-bootstrap
//     confidence intervals;
//   - ComparePaired: the paired comparison (median and mean paired
//     difference, bootstrap CI of the median difference, two-sided Wilcoxon
//     signed-rank test, Cliff's delta and the Vargha–Delaney A12);
//   - Holm and Decide: Holm–Bonferroni adjustment across the mitigations of
//     one study and the better / worse / no-detectable-difference verdict;
//   - Wilson: the Wilson score interval for a pass rate;
//   - ResilienceScore: the Litmus-style weighted objective pass rate per
//     seed, averaged over seeds, with a bootstrap CI;
//   - RelativeHalfWidth: the precision criterion used to grow the number of
//     seeds adaptively.
//
// gonum (stat, stat/distuv, floats) supplies means, variances, quantiles
// and the normal distribution. What gonum lacks is written here by hand and
// marked as such in the doc comment of the function concerned: the
// conventional median, the bootstrap, the Wilcoxon signed-rank test (exact
// null distribution and normal approximation), Cliff's delta, Holm's
// adjustment and the Wilson interval.
//
// Determinism: all randomness (the bootstrap) comes from a caller-supplied
// seed through math/rand/v2 rand.New(rand.NewPCG(seed, pcgStream)). Nothing
// reads the global generator or the clock, nothing starts goroutines and no
// result depends on map iteration order, so the same inputs and seed give
// bit-identical results.
//
// Missing values: NaN marks a missing observation. Describe skips NaN
// values and ComparePaired skips any pair in which either value (or their
// difference) is NaN; N always reports how many observations were used.
//
// Argument errors: functions that return an error report invalid arguments
// through it; the others panic on invalid parameters (a confidence level
// outside (0,1), a non-positive resample count, impossible Wilson counts,
// resilience weights or pass matrices of the wrong shape), which are
// programming errors; sample values themselves (NaN, ties, n = 1, all equal)
// never cause a panic.
package stats
