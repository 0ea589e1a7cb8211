package scenarios

import (
	"fmt"

	"github.com/faultline-dev/faultline/sim"
)

// checkChanges validates spec.changes against the objects as written: the target exists, the
// patch applies and gives a valid object, and the time is inside the run. Variants re-check
// through the simulator (compileChanges), since their patches may change the target.
func (s *Scenario) checkChanges() error {
	for i, c := range s.Spec.Spec.Changes {
		fp := fmt.Sprintf("spec.changes[%d]", i)
		if c.At.Duration < 0 || c.At.Duration > s.Spec.Spec.Duration.Duration {
			return s.at(fp+".at", "%v is outside the run; expected a time from 0 to spec.duration (%v)", c.At.Duration, s.Spec.Spec.Duration.Duration)
		}
		idx, err := findObject(s.Objects, c.Target)
		if err != nil {
			return s.at(fp+".target", "%v", err)
		}
		if len(c.Patch.Patch) == 0 {
			return s.at(fp+".patch", "missing; expected the patch document")
		}
		if _, err := patchObject(s.Objects[idx], c.Patch); err != nil {
			return s.at(fp+".patch", "%v", err)
		}
	}
	return nil
}

// compileChanges patches the variant's objects for spec.changes. A change that cannot be built
// carries the reason, which the simulator reports when the variant is checked.
func compileChanges(v *Variant) []sim.Change {
	var out []sim.Change
	for _, c := range v.Spec.Changes {
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
			sc.Problem = err.Error()
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
