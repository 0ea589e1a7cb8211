package scenarios

import (
	"fmt"

	"k8s.io/apimachinery/pkg/runtime"

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
	return in
}

// compileChanges patches the variant's objects for spec.changes. A change that cannot be built
// carries the reason, which the simulator reports when the variant is checked.
func compileChanges(v *Variant) []sim.Change {
	var out []sim.Change
	for i, c := range v.Spec.Changes {
		sc := sim.Change{Name: c.Target, At: c.At.Duration}
		idx, err := findObject(v.Objects, c.Target)
		if err == nil && len(c.Patch.Patch) == 0 {
			err = fmt.Errorf("patch: missing; expected the patch document")
		}
		if err == nil {
			var o Object
			if o, err = patchObject(v.Objects[idx], c.Patch); err == nil {
				sc.Name, sc.Object = o.Ref(), o.Obj
			}
		}
		if err != nil {
			sc.Problem = fmt.Sprintf("spec.changes[%d]: %v", i, err)
		}
		out = append(out, sc)
	}
	return out
}

// Seeds is the number of seeds the file asks for, or DefaultSeeds.
func (s *Scenario) Seeds() int {
	if s.Spec.Spec.Seeds > 0 {
		return s.Spec.Spec.Seeds
	}
	return DefaultSeeds
}
