package scenarios

import (
	"k8s.io/apimachinery/pkg/runtime"

	"github.com/faultline-dev/faultline/platform/simadapter"
	"github.com/faultline-dev/faultline/sim"
)

// Compile turns a variant into the simulator's input.
func (s *Scenario) Compile(v *Variant) *sim.Input { return s.compile(v) }

func (s *Scenario) compile(v *Variant) *sim.Input {
	start := DefaultStart
	if v.Spec.Start != nil {
		start = v.Spec.Start.UTC()
	}
	in := &sim.Input{
		Name:     s.Name() + "/" + v.Name,
		Start:    start,
		Duration: v.Spec.Duration.Duration,
		Pools:    v.Spec.Cluster.NodePools,
		Load:     v.Spec.Load,
		Models:   v.Models,
	}
	in.Objects = make([]runtime.Object, len(v.Objects))
	for i := range v.Objects {
		in.Objects[i] = v.Objects[i].Obj
	}
	for _, f := range v.Faults {
		in.Faults = append(in.Faults, f.Sim)
	}
	in.Changes = compileChanges(v)
	if v.Spec.Platform.Enabled() {
		in.Extensions = append(in.Extensions, simadapter.Factory(*v.Spec.Platform))
	}
	return in
}
