package runner

import (
	"slices"

	"github.com/faultline-dev/faultline/results"
)

// Scores turns the outcome into the plain numbers package results scores. version is the
// faultline version recorded in the summary.
func (out *Outcome) Scores(version string) results.Input {
	sc := out.Scenario
	in := results.Input{
		Scenario: sc.Name(), Digest: sc.Digest, Version: version, Baseline: sc.Baseline(),
		Variants: out.Variants, Seeds: out.Seeds, Done: out.Done, Interrupted: out.Interrupted,
	}
	if !slices.Contains(in.Variants, in.Baseline) {
		in.Baseline = in.Variants[0]
	}
	// indicator names: the union, in first-seen order (every run of a scenario reports the same)
	seen := map[string]bool{}
	for v := range out.Results {
		for i := range out.Results[v] {
			if !out.Done[v][i] {
				continue
			}
			for _, ind := range out.Results[v][i].Indicators {
				if !seen[ind.Name] {
					seen[ind.Name] = true
					in.Indicators = append(in.Indicators, ind.Name)
				}
			}
		}
	}
	in.Values = make([][][]float64, len(out.Variants))
	for v := range out.Results {
		in.Values[v] = make([][]float64, len(out.Seeds))
		for i, r := range out.Results[v] {
			row := make([]float64, len(in.Indicators))
			for k, name := range in.Indicators {
				row[k], _ = r.Get(name)
			}
			in.Values[v][i] = row
		}
	}
	for _, o := range sc.Objectives() {
		ro := results.Objective{Name: o.Name, Indicator: o.Indicator, Unit: o.Unit, HigherIsBetter: o.HigherIsBetter, Weight: o.Weight}
		if o.Target != nil {
			v := o.Target.Value
			ro.TargetOp, ro.TargetValue = o.Target.Op, &v
		}
		in.Objectives = append(in.Objectives, ro)
	}
	return in
}

// Series returns the kept time series (the first seed of each variant).
func (out *Outcome) Series() []results.Series {
	var s []results.Series
	for v, name := range out.Variants {
		if len(out.Done[v]) > 0 && out.Done[v][0] && out.Results[v][0].Series != nil {
			se := out.Results[v][0].Series
			s = append(s, results.Series{Variant: name, Seed: out.Seeds[0], Columns: se.Columns, Rows: se.Rows})
		}
	}
	return s
}

// Metrics returns the OpenMetrics text of the first seed of each variant, where the run produced
// metrics (scenarios with CronJobs).
func (out *Outcome) Metrics() []results.MetricsText {
	var m []results.MetricsText
	for v, name := range out.Variants {
		if len(out.Done[v]) > 0 && out.Done[v][0] && len(out.Results[v][0].Metrics) > 0 {
			m = append(m, results.MetricsText{Variant: name, Seed: out.Seeds[0], Text: out.Results[v][0].Metrics})
		}
	}
	return m
}
