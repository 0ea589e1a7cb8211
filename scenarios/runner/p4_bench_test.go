package runner_test

import (
	"context"
	"runtime"
	"testing"

	"github.com/faultline-dev/faultline/scenarios"
	"github.com/faultline-dev/faultline/scenarios/runner"
)

// BenchmarkP4Replays is what `faultline bench --only P4` times, on one worker: 100 seeds of the
// first four variants of the kernel-panic replay at 72 h through runner.Run. It reports the heap
// allocation per replay (bytes and objects), which drives the garbage collector's share of a
// core. bench/p4-alloc-20261203.txt keeps a before/after.
func BenchmarkP4Replays(b *testing.B) {
	sc, err := scenarios.Open("../kernel-panic-stacking")
	if err != nil {
		b.Fatal(err)
	}
	if sc, err = sc.Set("spec.duration", "72h"); err != nil {
		b.Fatal(err)
	}
	variants := sc.VariantNames()[:4]
	const seeds = 100
	var m0, m1 runtime.MemStats
	runtime.ReadMemStats(&m0)
	n := 0
	for b.Loop() {
		if _, err := runner.Run(context.Background(), sc, runner.Config{Variants: variants, Seeds: runner.SeedRange(1, seeds), Workers: 1}); err != nil {
			b.Fatal(err)
		}
		n++
	}
	runtime.ReadMemStats(&m1)
	replays := float64(n * seeds * len(variants))
	b.ReportMetric(float64(m1.TotalAlloc-m0.TotalAlloc)/replays, "B/replay")
	b.ReportMetric(float64(m1.Mallocs-m0.Mallocs)/replays, "allocs/replay")
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/replays, "ns/replay")
}
