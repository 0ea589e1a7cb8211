package report

import (
	"fmt"
	"html/template"
	"math"
	"strings"

	"github.com/faultline-dev/faultline/results"
	"github.com/faultline-dev/faultline/results/stats"
)

// view is what report.md and report.html show, already formatted, so that both say the same.
type view struct {
	Scenario    string
	Digest      string
	Faultline   string
	Baseline    string
	Seeds       string // "1..50 (50 seeds)"
	Alpha       string
	Resamples   int
	Interrupted bool
	Sets        []string // --set overrides the run applied
	Incomplete  []string // "cpu-limits: 31 of 50 seeds"

	Glance glance
	// Inconclusive is the seed count every comparison needed when some were inconclusive, else 0
	Inconclusive int
	GlanceNote   string
	Objectives   []objView
	Resilience   []resRow
	HasTargets   bool
	Series       []seriesView
	HasAlerts    bool
	Alerts       []alertRow
	HowTo        []string
}

type glance struct {
	Heads []string // objective names
	Rows  []glanceRow
}

type glanceRow struct {
	Variant    string
	Baseline   bool
	Complete   string
	Resilience string
	// ResilienceValue is the score without its interval, for the narrow glance table (the
	// Resilience section has the interval)
	ResilienceValue string
	Cells           []cell
}

type cell struct {
	Text  string
	Class string // better, worse, same, base
}

type objView struct {
	Name      string
	Indicator string
	Unit      string
	Target    string // ">= 0.999" or ""
	Direction string // "higher is better"
	Weight    string
	Rows      []objRow
	// Censored explains the "≥" marks: the seeds whose value is a bound, not a measurement
	Censored string

	// filled by the HTML renderer: trusted SVG made by gonum/plot, whose text it escapes
	DistSVG, ForestSVG template.HTML
}

type objRow struct {
	Variant  string
	Baseline bool
	N        string
	Mean     string // "0.9719 [0.9698, 0.9738]"
	Median   string
	P5P95    string
	Missed   string // "10% [4.3, 21]" or "-"
	Diff     string // "(baseline)" or "0.0266 [0.0248, 0.0288]"
	PHolm    string
	A12      string
	Verdict  string
	Class    string
}

type resRow struct {
	Variant string
	Score   string
}

type seriesView struct {
	Variant string
	Seed    uint64
	File    string
	Why     string
	SVG     template.HTML
}

func buildView(r *Run) *view {
	s := r.Summary
	v := &view{
		Scenario: s.Scenario, Digest: s.Digest, Faultline: s.Faultline, Baseline: s.Baseline,
		Seeds:     fmt.Sprintf("%s (%d seeds)", seedSpan(s.Seeds), len(s.Seeds)),
		Alpha:     fmt.Sprintf("%g", s.Alpha),
		Resamples: s.Resamples, Interrupted: s.Interrupted, Sets: s.Sets,
	}
	for _, vs := range s.Variants {
		if vs.Complete != len(s.Seeds) {
			v.Incomplete = append(v.Incomplete, fmt.Sprintf("%s: %d of %d seeds", vs.Name, vs.Complete, len(s.Seeds)))
		}
	}
	for _, o := range s.Objectives {
		v.Glance.Heads = append(v.Glance.Heads, o.Name)
		if o.TargetValue != nil {
			v.HasTargets = true
		}
	}
	for _, vs := range s.Variants {
		g := glanceRow{Variant: vs.Name, Baseline: vs.Name == s.Baseline, Complete: fmt.Sprint(vs.Complete), Resilience: "-", ResilienceValue: "-"}
		if r := vs.Resilience; r != nil {
			g.Resilience = fmt.Sprintf("%.1f%% [%.1f, %.1f]", r.Value, r.Lo, r.Hi)
			g.ResilienceValue = fmt.Sprintf("%.1f%%", r.Value)
			v.Resilience = append(v.Resilience, resRow{vs.Name, g.Resilience})
		}
		for oi := range s.Objectives {
			os := vs.Objectives[oi]
			c := cell{Class: "base"}
			var parts []string
			if g.Baseline {
				parts = append(parts, "baseline")
			} else if os.Comparison != nil {
				c.Class = verdictClass(os.Comparison.Verdict)
				parts = append(parts, shortVerdict(os.Comparison.Verdict))
				if os.Comparison.Verdict == stats.Inconclusive {
					v.Inconclusive = os.Comparison.NeedsSeeds
				}
			} else {
				parts = append(parts, "not compared")
				c.Class = "same"
			}
			if vi := os.Violations; vi != nil {
				parts = append(parts, fmt.Sprintf("missed %s", pct(vi.Rate)))
			}
			c.Text = strings.Join(parts, ", ")
			g.Cells = append(g.Cells, c)
		}
		v.Glance.Rows = append(v.Glance.Rows, g)
	}
	for oi, o := range s.Objectives {
		ov := objView{Name: o.Name, Indicator: o.Indicator, Unit: o.Unit, Target: o.Target(),
			Direction: direction(o), Weight: fmt.Sprintf("%g", o.Weight)}
		for _, vs := range s.Variants {
			os := vs.Objectives[oi]
			row := objRow{Variant: vs.Name, Baseline: vs.Name == s.Baseline, N: fmt.Sprint(len(r.PerSeed[variantIndex(s, vs.Name)][oi])),
				Mean:   fmt.Sprintf("%s%s [%s, %s]", results.CensorMark(os.Censored), num(os.Mean), num(os.MeanCI.Lo), num(os.MeanCI.Hi)),
				Median: num(os.Median), P5P95: num(os.P5) + " / " + num(os.P95),
				Missed: "-", Diff: "(baseline)", PHolm: "", A12: "", Verdict: "", Class: "base"}
			if vs.Complete == 0 {
				row.Mean, row.Median, row.P5P95 = "n/a", "n/a", "n/a"
			}
			if vi := os.Violations; vi != nil {
				row.Missed = fmt.Sprintf("%s [%s, %s] (%d)", pct(vi.Rate), pct(vi.CI.Lo), pct(vi.CI.Hi), vi.Count)
			}
			if c := os.Comparison; c != nil {
				row.Diff = fmt.Sprintf("%s [%s, %s]", signed(c.MedianDiff), signed(c.MedianDiffCI.Lo), signed(c.MedianDiffCI.Hi))
				row.PHolm = pval(c.PHolm)
				row.A12 = fmt.Sprintf("%.2f", c.A12)
				row.Verdict = c.VerdictText()
				row.Class = verdictClass(c.Verdict)
			} else if !row.Baseline {
				row.Diff, row.Verdict, row.Class = "n/a (no common seeds)", "not compared", "same"
			}
			ov.Rows = append(ov.Rows, row)
		}
		ov.Censored = results.CensorNote(s, oi)
		v.Objectives = append(v.Objectives, ov)
	}
	for _, se := range r.Series {
		v.Series = append(v.Series, seriesView{Variant: se.Variant, Seed: se.Seed, File: se.File, Why: se.Why})
	}
	v.HasAlerts, v.Alerts = r.HasAlerts, alertRows(r.Alerts)
	v.HowTo = howTo(s)
	if v.Inconclusive > 0 {
		v.GlanceNote = fmt.Sprintf("inconclusive: with %d seeds no comparison of this run can reach significance (the smallest attainable Holm-adjusted p-value is at least alpha); rerun with at least %d seeds.", len(s.Seeds), v.Inconclusive)
	}
	return v
}

func howTo(s *results.Summary) []string {
	return []string{
		"Common random numbers: every variant replays the same seeds as the baseline, so each comparison is paired seed by seed over the seeds both finished.",
		"mean [95% CI]: the mean over seeds with a percentile-bootstrap interval (" + fmt.Sprint(s.Resamples) + " resamples, fixed bootstrap seed: re-rendering gives the same numbers). p5 / p95: the 5th and 95th percentiles over seeds.",
		"missed target: the share of seeds on which the objective missed its target (count in brackets), with a Wilson 95% interval. \"-\" means the objective has no target.",
		"Δ median vs baseline: the median over seeds of (variant − baseline) with a bootstrap 95% CI. Its sign is the direction of the raw indicator; the objective's direction (higher or lower is better) decides whether that is good.",
		"p (Holm): two-sided Wilcoxon signed-rank test of the paired differences, Holm-adjusted across every (variant, objective) comparison in this run.",
		"A12 (Vargha–Delaney): the probability that a random seed of the variant scores higher than a random seed of the baseline; 0.5 means no effect, 0 or 1 means the two never overlap.",
		"Verdict: \"better\" or \"worse\" only when p (Holm) < alpha = " + fmt.Sprintf("%g", s.Alpha) + " AND the Δ median CI excludes 0; otherwise \"no detectable difference\", which is not proof that there is none (more seeds may detect a small effect). \"inconclusive: needs at least N seeds\" means the run had too few seeds for any comparison to reach significance: even a variant that wins on every seed would get p (Holm) >= alpha.",
		"≥ marks a figure that includes censored seeds: the indicator times an event that never happened in that seed, so the value is the run's length, a lower bound.",
		"Resilience score: per seed, the weighted share of objectives met (Litmus definition; an objective without a target counts as met), averaged over seeds, in %, with a bootstrap 95% CI.",
	}
}

func variantIndex(s *results.Summary, name string) int {
	for i, v := range s.Variants {
		if v.Name == name {
			return i
		}
	}
	return -1
}

func direction(o results.Objective) string {
	if o.HigherIsBetter {
		return "higher is better"
	}
	return "lower is better"
}

func verdictClass(v stats.Verdict) string {
	switch v {
	case stats.Better:
		return "better"
	case stats.Worse:
		return "worse"
	}
	return "same"
}

func shortVerdict(v stats.Verdict) string {
	if v == stats.NoDifference {
		return "no difference"
	}
	return string(v)
}

// num prints a figure with about four significant digits (as the terminal table does).
func num(v float64) string {
	switch {
	case math.IsNaN(v):
		return "n/a"
	case math.IsInf(v, 0):
		if v > 0 {
			return "+Inf"
		}
		return "-Inf"
	case v == 0:
		return "0"
	case v == math.Trunc(v) && math.Abs(v) < 1e5:
		return fmt.Sprintf("%.0f", v)
	case math.Abs(v) >= 1e5 || math.Abs(v) < 0.001:
		return fmt.Sprintf("%.3g", v)
	case math.Abs(v) >= 10:
		return fmt.Sprintf("%.1f", v)
	default:
		return fmt.Sprintf("%.4g", v)
	}
}

// signed is num with a leading + for positive differences.
func signed(v float64) string {
	if v > 0 {
		return "+" + num(v)
	}
	return num(v)
}

func pval(p float64) string {
	if math.IsNaN(p) {
		return "n/a"
	}
	if p < 0.0001 {
		return "<0.0001"
	}
	return fmt.Sprintf("%.4f", p)
}

func pct(x float64) string {
	if math.IsNaN(x) {
		return "n/a"
	}
	v := 100 * x
	if v == math.Trunc(v) {
		return fmt.Sprintf("%.0f%%", v)
	}
	return fmt.Sprintf("%.1f%%", v)
}

func seedSpan(s []uint64) string {
	switch len(s) {
	case 0:
		return "-"
	case 1:
		return fmt.Sprint(s[0])
	}
	contiguous := true
	for i := 1; i < len(s); i++ {
		if s[i] != s[i-1]+1 {
			contiguous = false
			break
		}
	}
	if contiguous {
		return fmt.Sprintf("%d..%d", s[0], s[len(s)-1])
	}
	parts := make([]string, 0, len(s))
	for i, x := range s {
		if i == 8 {
			parts = append(parts, "…")
			break
		}
		parts = append(parts, fmt.Sprint(x))
	}
	return strings.Join(parts, ", ")
}
