// Package results scores runs: per-seed indicator values become per-variant distributions and
// paired comparisons against the baseline (over the same seeds: common random numbers), with
// bootstrap confidence intervals, Wilcoxon signed-rank tests with Holm correction, effect sizes,
// violation rates with Wilson intervals and a verdict per objective (package stats). It writes the
// run directory (summary.json, seeds.csv, series CSVs) and prints the terminal table.
//
// It knows nothing of how a run was made: its input is plain numbers, so simulated and real runs
// are scored the same way.
package results
