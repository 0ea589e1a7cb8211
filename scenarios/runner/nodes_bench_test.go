package runner_test

import (
	"testing"

	"github.com/faultline-dev/faultline/scenarios"
	"github.com/faultline-dev/faultline/sim"
)

// BenchmarkKernelPanicReplay is one seed of every variant of the 72 h kernel-panic replay, run
// one after the other on one core: the node models' hot paths (CPU recomputation, panics,
// NotReady, evictions). bench/models-nodes-20261203.txt keeps a before/after.
func BenchmarkKernelPanicReplay(b *testing.B) {
	sc, err := scenarios.Open("../kernel-panic-stacking")
	if err != nil {
		b.Fatal(err)
	}
	var inputs []*sim.Input
	for _, n := range sc.VariantNames() {
		v, err := sc.Variant(n)
		if err != nil {
			b.Fatal(err)
		}
		inputs = append(inputs, sc.Compile(v))
	}
	for i := 0; b.Loop(); i++ {
		for _, in := range inputs {
			w, err := sim.New(in, uint64(i%50+1), sim.Options{})
			if err != nil {
				b.Fatal(err)
			}
			w.Run()
		}
	}
}
