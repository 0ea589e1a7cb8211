package scenarios

import (
	"fmt"
	"math"
	"strconv"
	"strings"

	"github.com/faultline-dev/faultline/sim"
)

// Target is a parsed objective target such as ">= 0.999".
type Target struct {
	Op    string // >=, >, <=, <, ==
	Value float64
}

// ParseTarget parses "OP NUMBER".
func ParseTarget(s string) (Target, error) {
	s = strings.TrimSpace(s)
	for _, op := range []string{">=", "<=", "==", ">", "<"} {
		if rest, ok := strings.CutPrefix(s, op); ok {
			v, err := strconv.ParseFloat(strings.TrimSpace(rest), 64)
			if err != nil || math.IsNaN(v) || math.IsInf(v, 0) {
				return Target{}, fmt.Errorf("%q: expected a finite number after %s", s, op)
			}
			return Target{Op: op, Value: v}, nil
		}
	}
	return Target{}, fmt.Errorf("%q: expected OP NUMBER with OP one of >=, >, <=, <, ==", s)
}

// Met reports whether v meets the target.
func (t Target) Met(v float64) bool {
	switch t.Op {
	case ">=":
		return v >= t.Value
	case ">":
		return v > t.Value
	case "<=":
		return v <= t.Value
	case "<":
		return v < t.Value
	default:
		return v == t.Value
	}
}

func (t Target) String() string { return t.Op + " " + strconv.FormatFloat(t.Value, 'g', -1, 64) }

// ResolvedObjective is an objective with its defaults applied.
type ResolvedObjective struct {
	Name           string
	Indicator      string
	Target         *Target
	HigherIsBetter bool
	Weight         float64
	Unit           string
}

// Objectives returns the scenario's objectives with defaults; a scenario without objectives is
// scored on request success and node panics.
func (s *Scenario) Objectives() []ResolvedObjective {
	objs := s.Spec.Spec.Objectives
	if len(objs) == 0 {
		objs = []Objective{{Name: "availability", Indicator: "request-success-ratio"}, {Name: "node-panics", Indicator: "node-panics"}}
	}
	out := make([]ResolvedObjective, 0, len(objs))
	for _, o := range objs {
		doc, _ := sim.IndicatorByName(o.Indicator)
		r := ResolvedObjective{Name: o.Name, Indicator: o.Indicator, HigherIsBetter: doc.HigherIsBetter, Weight: o.Weight, Unit: doc.Unit}
		if o.Better != "" {
			r.HigherIsBetter = o.Better == "higher"
		}
		if r.Weight == 0 {
			r.Weight = 1
		}
		if o.Target != "" {
			t, _ := ParseTarget(o.Target)
			r.Target = &t
		}
		out = append(out, r)
	}
	return out
}

func (s *Scenario) checkObjectives() error {
	// spec.changes are checked here too: this runs for a loaded file and for every Set copy
	if err := s.checkChanges(); err != nil {
		return err
	}
	return s.checkObjectiveList()
}

// checkObjectiveList checks spec.objectives and returns every problem.
func (s *Scenario) checkObjectiveList() error {
	var errs []error
	seen := map[string]bool{}
	for i, o := range s.Spec.Spec.Objectives {
		fp := fmt.Sprintf("spec.objectives[%d]", i)
		if o.Name == "" {
			errs = append(errs, s.at(fp+".name", "missing; expected an objective name"))
		} else if seen[o.Name] {
			errs = append(errs, s.at(fp+".name", "objective %q is defined twice", o.Name))
		}
		seen[o.Name] = true
		if _, ok := sim.IndicatorByName(o.Indicator); !ok {
			var names []string
			for _, d := range sim.Indicators {
				names = append(names, d.Name)
			}
			errs = append(errs, s.at(fp+".indicator", "unknown indicator %q; expected one of %s, or request-success-ratio/<load target>", o.Indicator, strings.Join(names, ", ")))
		}
		if o.Target != "" {
			if _, err := ParseTarget(o.Target); err != nil {
				errs = append(errs, s.at(fp+".target", "%v", err))
			}
		}
		if o.Better != "" && o.Better != "higher" && o.Better != "lower" {
			errs = append(errs, s.at(fp+".better", "%q; expected higher or lower", o.Better))
		}
		if o.Weight < 0 {
			errs = append(errs, s.at(fp+".weight", "negative; expected a weight >= 0"))
		}
	}
	return joinErrors(errs)
}
