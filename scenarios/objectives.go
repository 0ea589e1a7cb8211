package scenarios

import (
	"fmt"
	"io/fs"
	"math"
	"path"
	"strconv"
	"strings"
	"time"

	"github.com/faultline-dev/faultline/measure/promql"
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
		doc, _ := s.indicatorDoc(o.Indicator)
		r := ResolvedObjective{Name: o.Name, Indicator: o.Indicator, HigherIsBetter: doc.HigherIsBetter, Weight: o.Weight, Unit: doc.Unit}
		if o.PromQL != "" {
			r.Indicator, r.Unit = promql.ObjectiveIndicator(o.Name), ""
			// without better: a target that asks for at least a value means higher is better
			t, _ := ParseTarget(o.Target)
			r.HigherIsBetter = t.Op == ">=" || t.Op == ">"
		}
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
		switch {
		case o.PromQL != "" && o.Indicator != "":
			errs = append(errs, s.at(fp+".promql", "set with indicator %q; expected one of indicator or promql", o.Indicator))
		case o.PromQL != "":
			if err := promql.Check(o.PromQL); err != nil {
				errs = append(errs, s.at(fp+".promql", "%s; expected a PromQL expression giving one value ($__range: the run's length)", strings.Join(strings.Fields(err.Error()), " ")))
			}
			if t, err := ParseTarget(o.Target); o.Better == "" && (o.Target == "" || err == nil && t.Op == "==") {
				errs = append(errs, s.at(fp+".better", "missing; expected higher or lower (a PromQL objective has no indicator to take it from), or a target with <, <=, > or >="))
			}
		default:
			if _, ok := s.indicatorDoc(o.Indicator); !ok {
				var names []string
				for _, d := range sim.Indicators {
					names = append(names, d.Name)
				}
				for _, a := range s.Alerts {
					d, f := promql.AlertIndicators(a.Name)
					names = append(names, d, f)
				}
				errs = append(errs, s.at(fp+".indicator", "unknown indicator %q; expected one of %s, or request-success-ratio/<load target>, or a promql query", o.Indicator, strings.Join(names, ", ")))
			}
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

// indicatorDoc documents an indicator of the registry or of one of the scenario's alerts.
func (s *Scenario) indicatorDoc(name string) (sim.IndicatorDoc, bool) {
	if d, ok := sim.IndicatorByName(name); ok {
		return d, true
	}
	for _, a := range s.Alerts {
		d, f := promql.AlertIndicators(a.Name)
		switch name {
		case d:
			return sim.IndicatorDoc{Name: d, Unit: "minutes", Doc: "time from the first fault (or the run's start) to alert " + a.Name + " firing; the rest of the run when it did not fire"}, true
		case f:
			return sim.IndicatorDoc{Name: f, Unit: "minutes", Doc: "time alert " + a.Name + " was firing"}, true
		}
	}
	return sim.IndicatorDoc{}, false
}

// loadRules reads spec.ruleFiles (Prometheus rule files next to the scenario) into s.Alerts and
// folds them into the digest; every problem of every file is returned.
func (s *Scenario) loadRules(dir, display string, h interface{ Write([]byte) (int, error) }) error {
	var errs []error
	seen := map[string]string{}
	for i, f := range s.Spec.Spec.RuleFiles {
		fp := fmt.Sprintf("spec.ruleFiles[%d]", i)
		data, err := fs.ReadFile(s.fsys, path.Join(dir, f))
		if err != nil {
			errs = append(errs, s.at(fp, "%q: no such file next to the scenario; expected a Prometheus rule file", f))
			continue
		}
		_, _ = h.Write([]byte("\x00" + f + "\x00"))
		_, _ = h.Write(data)
		file := path.Join(path.Dir(display), f)
		alerts, problems := promql.ParseRules(file, data)
		errs = append(errs, problems...)
		for _, a := range alerts {
			if prev, ok := seen[a.Name]; ok {
				errs = append(errs, fmt.Errorf("%s: alert %q: defined in %s too; expected one rule per alert name", file, a.Name, prev))
				continue
			}
			seen[a.Name] = file
			s.Alerts = append(s.Alerts, a)
		}
	}
	return joinErrors(errs)
}

// PromQL is what the scenario evaluates on each run's series (its PromQL objectives and alerting
// rules) for a compiled variant; nil when it has neither, and the runs need no series.
func (s *Scenario) PromQL(in *sim.Input) *promql.Spec {
	sp := &promql.Spec{Alerts: s.Alerts}
	for _, o := range s.Spec.Spec.Objectives {
		if o.PromQL != "" {
			sp.Objectives = append(sp.Objectives, promql.Objective{Name: o.Name, Query: o.PromQL})
		}
	}
	if sp.Empty() {
		return nil
	}
	first := time.Duration(-1)
	for _, f := range in.Faults {
		if first < 0 || f.At < first {
			first = f.At
		}
	}
	sp.Since = max(0, first)
	return sp
}
