package runner_test

import (
	"context"
	"runtime"
	"runtime/metrics"
	"syscall"
	"testing"

	"github.com/faultline-dev/faultline/scenarios"
	"github.com/faultline-dev/faultline/scenarios/runner"
)

// BenchmarkP4Replays is what `faultline bench --only P4` times, on one worker: 100 seeds of the
// first four variants of the kernel-panic replay at 72 h through runner.Run. It reports the heap
// allocation per replay (bytes and objects), which drives the garbage collector's share of a
// core, and the CPU time per replay: the process's (getrusage, as faultline bench counts it) and
// the garbage collector's share of it (runtime/metrics), which hold up better than wall times on
// a loaded host. cores is the process's CPU time over the wall time: what P4 reports as "cores
// busy" for one worker.
// bench/p4-alloc-20261203.txt keeps a before/after.
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
	gcCPU := []metrics.Sample{{Name: "/cpu/classes/gc/total:cpu-seconds"}}
	runtime.GC()
	metrics.Read(gcCPU)
	gc0, cpu0 := gcCPU[0].Value.Float64(), processCPU()
	runtime.ReadMemStats(&m0)
	n := 0
	for b.Loop() {
		if _, err := runner.Run(context.Background(), sc, runner.Config{Variants: variants, Seeds: runner.SeedRange(1, seeds), Workers: 1}); err != nil {
			b.Fatal(err)
		}
		n++
	}
	runtime.ReadMemStats(&m1)
	metrics.Read(gcCPU)
	gc, cpu := gcCPU[0].Value.Float64()-gc0, processCPU()-cpu0
	replays := float64(n * seeds * len(variants))
	b.ReportMetric(float64(m1.TotalAlloc-m0.TotalAlloc)/replays, "B/replay")
	b.ReportMetric(float64(m1.Mallocs-m0.Mallocs)/replays, "allocs/replay")
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/replays, "ns/replay")
	b.ReportMetric(1e6*cpu/replays, "cpu-µs/replay")
	b.ReportMetric(1e6*gc/replays, "gc-µs/replay")
	b.ReportMetric(cpu/b.Elapsed().Seconds(), "cores")
	b.ReportMetric(float64(m1.NumGC-m0.NumGC)/replays*1000, "GCs/1000replays")
}

// processCPU is the process's user and system CPU time so far, in seconds.
func processCPU() float64 {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return float64(ru.Utime.Nano()+ru.Stime.Nano()) / 1e9
}
