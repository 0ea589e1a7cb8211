package results

import (
	"encoding/json"
	"fmt"
	"math"
	"os"

	"github.com/faultline-dev/faultline/results/stats"
)

// Finding is one (variant, objective) compared with a stored baseline summary.
type Finding struct {
	Variant   string  `json:"variant"`
	Objective string  `json:"objective"`
	Baseline  float64 `json:"baselineMean"`
	Current   float64 `json:"mean"`
	Lo        float64 `json:"baselineLo"` // the stored mean's confidence interval
	Hi        float64 `json:"baselineHi"`
	// Method is how the two builds were compared: "paired" (seed by seed, Wilcoxon signed-rank,
	// Holm across the check's comparisons) when both summaries hold per-seed values for the same
	// seeds, else "interval" (the current mean against the stored mean's interval).
	Method string `json:"method"`
	// Pairs, MedianDiff (current minus stored, over the seeds both finished), PHolm, Verdict and
	// NeedsSeeds are set by the paired method.
	Pairs      int           `json:"pairs,omitempty"`
	Changed    int           `json:"changedSeeds,omitempty"` // seeds whose value differs
	MedianDiff float64       `json:"medianDiff,omitempty"`
	P          float64       `json:"p,omitempty"`
	PHolm      float64       `json:"pHolm,omitempty"`
	Verdict    stats.Verdict `json:"verdict,omitempty"`
	NeedsSeeds int           `json:"needsSeeds,omitempty"`
	Worse      bool          `json:"worse"`
	Note       string        `json:"note,omitempty"`

	paired *stats.Paired
}

// CheckReport is the outcome of Check.
type CheckReport struct {
	Scenario string    `json:"scenario"`
	Findings []Finding `json:"findings"`
	// Warnings are differences that do not fail the check (a changed scenario digest, a variant or
	// objective missing on one side).
	Warnings []string `json:"warnings"`
	// Alpha is the family-wise error rate of the paired verdicts.
	Alpha float64 `json:"alpha"`
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

// Check compares a run with a stored baseline summary, per variant and objective.
//
// When both summaries hold per-seed values over the same seeds (summary.json does since the
// values were added), the comparison is paired: each seed's value in this run against the same
// seed's stored value. Runs are deterministic, so an unchanged model reproduces every seed and
// the finding is "unchanged". Otherwise the differences go through the Wilcoxon signed-rank test,
// Holm-adjusted across every comparison of the check, and the verdict is stats.Decide's with the
// objective's direction: "worse" fails the check; "better" and "no detectable difference" do not;
// "inconclusive: needs at least N seeds" says the seed count could not reach significance at all.
//
// Without per-seed values (an older baseline) it falls back to the interval rule: an objective
// regressed when the current mean is worse than the stored mean beyond the stored 95 % interval.
func Check(stored, current *Summary) *CheckReport {
	rep := &CheckReport{Scenario: current.Scenario, Alpha: stored.Alpha}
	if rep.Alpha == 0 {
		rep.Alpha = 0.05
	}
	if stored.Scenario != current.Scenario {
		rep.Warnings = append(rep.Warnings, fmt.Sprintf("scenario %q compared with a baseline of %q", current.Scenario, stored.Scenario))
	}
	if stored.Digest != current.Digest {
		w := fmt.Sprintf("the scenario changed since the baseline was stored (digest %s, baseline %s)", shortDigest(current.Digest), shortDigest(stored.Digest))
		if len(current.Sets) > 0 || len(stored.Sets) > 0 {
			w += fmt.Sprintf("; --set overrides %q, baseline %q", current.Sets, stored.Sets)
		}
		rep.Warnings = append(rep.Warnings, w)
	}
	sameSeeds := fmt.Sprint(stored.Seeds) == fmt.Sprint(current.Seeds)
	if !sameSeeds {
		rep.Warnings = append(rep.Warnings, fmt.Sprintf("different seeds: %s (baseline %s); compared by interval, not seed by seed", seedSpan(current.Seeds), seedSpan(stored.Seeds)))
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
			if sameSeeds && len(so.Values) == len(stored.Seeds) && len(co.Values) == len(current.Seeds) && len(so.Values) > 0 {
				pairSeeds(&f, so.Values, co.Values)
			} else {
				intervalRule(&f, &so, co, dir[so.Name])
			}
			rep.Findings = append(rep.Findings, f)
		}
	}
	// Holm across the paired comparisons that changed; verdicts need the adjusted p-values
	var idx []int
	var pvals []float64
	for i, f := range rep.Findings {
		if f.paired != nil {
			idx, pvals = append(idx, i), append(pvals, f.P)
		}
	}
	adj := stats.Holm(pvals)
	for j, i := range idx {
		f := &rep.Findings[i]
		f.PHolm = adj[j]
		f.Verdict = stats.Decide(*f.paired, f.PHolm, rep.Alpha, dir[f.Objective])
		if f.Verdict == stats.NoDifference && !stats.Reachable(f.Pairs, len(pvals), rep.Alpha) {
			f.Verdict, f.NeedsSeeds = stats.Inconclusive, stats.SeedsNeeded(len(pvals), rep.Alpha)
		}
		f.Worse = f.Verdict == stats.Worse
		f.Note = fmt.Sprintf("%d of %d seeds changed, median change %+.4g, p (Holm) %.4g: %s", f.Changed, f.Pairs, f.MedianDiff, f.PHolm, f.VerdictText())
	}
	return rep
}

// VerdictText is the finding's verdict as people read it.
func (f *Finding) VerdictText() string {
	c := Comparison{Verdict: f.Verdict, NeedsSeeds: f.NeedsSeeds}
	return c.VerdictText()
}

// unchanged is the verdict of a paired finding whose every seed reproduced the stored value.
const unchanged stats.Verdict = "unchanged"

// pairSeeds compares the per-seed values of the two builds; the verdict is set by Check.
func pairSeeds(f *Finding, stored, current []*float64) {
	f.Method = "paired"
	var x, y []float64
	missing := 0
	for i := range stored {
		switch {
		case stored[i] != nil && current[i] != nil:
			x, y = append(x, *stored[i]), append(y, *current[i])
			if *stored[i] != *current[i] {
				f.Changed++
			}
		case stored[i] != nil:
			missing++
		}
	}
	f.Pairs = len(x)
	switch {
	case len(x) == 0:
		f.Worse, f.Note = missing > 0, "no seed to pair"
		return
	case f.Changed == 0:
		f.Verdict, f.Note = unchanged, fmt.Sprintf("all %d seeds reproduce the baseline", f.Pairs)
		if missing > 0 {
			f.Note += fmt.Sprintf("; %d baseline seeds did not finish in this run", missing)
		}
		return
	}
	p, err := stats.ComparePaired(x, y, level, resamples, bootSeed)
	if err != nil {
		f.Note = err.Error()
		return
	}
	f.MedianDiff, f.P, f.paired = p.MedianDiff, p.PValue, &p
}

// intervalRule is the comparison without per-seed values: the current mean against the stored
// mean's interval.
func intervalRule(f *Finding, so, co *ObjectiveSummary, higher bool) {
	f.Method = "interval"
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
