package results

import (
	"encoding/json"
	"fmt"
	"math"
	"os"
)

// Finding is one (variant, objective) compared with a stored baseline summary.
type Finding struct {
	Variant, Objective string
	Baseline, Current  float64 // means
	Lo, Hi             float64 // the stored mean's confidence interval
	Worse              bool
	Note               string
}

// CheckReport is the outcome of Check.
type CheckReport struct {
	Findings []Finding
	// Warnings are differences that do not fail the check (a changed scenario digest, a variant or
	// objective missing on one side).
	Warnings []string
}

// Regressed reports whether any objective got worse.
func (r *CheckReport) Regressed() bool {
	for _, f := range r.Findings {
		if f.Worse {
			return true
		}
	}
	return false
}

// Check compares a run with a stored baseline summary. An objective regressed when the current
// mean is worse than the stored mean by more than the stored confidence interval allows: below
// its lower bound when higher is better, above its upper bound when lower is better. Runs are
// deterministic, so with the same seeds an unchanged model reproduces the stored means exactly;
// the interval is the tolerance for deliberate model changes that move figures within noise.
func Check(stored, current *Summary) *CheckReport {
	rep := &CheckReport{}
	if stored.Scenario != current.Scenario {
		rep.Warnings = append(rep.Warnings, fmt.Sprintf("scenario %q compared with a baseline of %q", current.Scenario, stored.Scenario))
	}
	if stored.Digest != current.Digest {
		rep.Warnings = append(rep.Warnings, fmt.Sprintf("the scenario changed since the baseline was stored (digest %s, baseline %s)", shortDigest(current.Digest), shortDigest(stored.Digest)))
	}
	if fmt.Sprint(stored.Seeds) != fmt.Sprint(current.Seeds) {
		rep.Warnings = append(rep.Warnings, fmt.Sprintf("different seeds: %s (baseline %s)", seedSpan(current.Seeds), seedSpan(stored.Seeds)))
	}
	dir := map[string]bool{}
	for _, o := range stored.Objectives {
		dir[o.Name] = o.HigherIsBetter
	}
	for _, sv := range stored.Variants {
		cv := findVariant(current, sv.Name)
		if cv == nil {
			rep.Warnings = append(rep.Warnings, fmt.Sprintf("variant %s is in the baseline but not in this run", sv.Name))
			continue
		}
		for _, so := range sv.Objectives {
			co := findObjective(cv, so.Name)
			if co == nil {
				rep.Warnings = append(rep.Warnings, fmt.Sprintf("objective %s/%s is in the baseline but not in this run", sv.Name, so.Name))
				continue
			}
			f := Finding{Variant: sv.Name, Objective: so.Name, Baseline: so.Mean, Current: co.Mean, Lo: so.MeanCI.Lo, Hi: so.MeanCI.Hi}
			higher := dir[so.Name]
			const eps = 1e-12
			switch {
			case math.IsNaN(co.Mean) && !math.IsNaN(so.Mean):
				f.Worse, f.Note = true, "no value"
			case higher && co.Mean < so.MeanCI.Lo-eps:
				f.Worse, f.Note = true, "below the baseline's interval"
			case !higher && co.Mean > so.MeanCI.Hi+eps:
				f.Worse, f.Note = true, "above the baseline's interval"
			case co.Mean != so.Mean:
				f.Note = "changed within the interval"
			}
			rep.Findings = append(rep.Findings, f)
		}
	}
	return rep
}

func findVariant(s *Summary, name string) *VariantSummary {
	for i := range s.Variants {
		if s.Variants[i].Name == name {
			return &s.Variants[i]
		}
	}
	return nil
}

func findObjective(v *VariantSummary, name string) *ObjectiveSummary {
	for i := range v.Objectives {
		if v.Objectives[i].Name == name {
			return &v.Objectives[i]
		}
	}
	return nil
}

// ReadSummary reads a summary.json, checking its schema version.
func ReadSummary(path string) (*Summary, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	var s Summary
	if err := json.Unmarshal(b, &s); err != nil {
		return nil, fmt.Errorf("%s: not a faultline summary: %v", path, err)
	}
	if s.Schema != SchemaVersion {
		return nil, fmt.Errorf("%s: summary schema %d; this faultline reads schema %d", path, s.Schema, SchemaVersion)
	}
	return &s, nil
}
