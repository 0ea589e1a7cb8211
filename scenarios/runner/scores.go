package runner

import (
	"fmt"
	"math"
	"slices"

	"github.com/faultline-dev/faultline/measure/promql"
	"github.com/faultline-dev/faultline/results"
	"github.com/faultline-dev/faultline/results/report"
	"github.com/faultline-dev/faultline/sim"
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

// KeepRepresentative picks, for each variant, the finished seed whose value of indicator is
// closest to the variant's median over the finished seeds (ties: the earlier seed), and replays
// it with its time series kept. Reports then show a typical run of each variant rather than
// whichever seed came first. A replay is deterministic, so the series belongs to exactly the run
// that was scored; a replay whose indicators differ from the scored run is a determinism bug and
// is reported as an error.
func (out *Outcome) KeepRepresentative(indicator string) error {
	out.Rep = make([]int, len(out.Variants))
	for v, name := range out.Variants {
		out.Rep[v] = -1
		var vals []float64
		var idx []int
		for i, d := range out.Done[v] {
			if !d {
				continue
			}
			x, ok := out.Results[v][i].Get(indicator)
			if !ok {
				return fmt.Errorf("representative seed: variant %s has no indicator %q", name, indicator)
			}
			vals, idx = append(vals, x), append(idx, i)
		}
		if len(vals) == 0 {
			continue
		}
		i := idx[results.MedianIndex(vals)]
		vr, err := out.Scenario.Variant(name)
		if err != nil {
			return err
		}
		in := out.Scenario.Compile(vr)
		r, tls, err := RunSeed(in, out.Scenario.PromQL(in), out.Seeds[i], sim.Options{Series: true})
		if err != nil {
			return fmt.Errorf("replay variant %s seed %d: %w", name, out.Seeds[i], err)
		}
		if !sameIndicators(r.Indicators, out.Results[v][i].Indicators) {
			return fmt.Errorf("replay variant %s seed %d: indicators differ from the scored run: the simulation is not deterministic", name, out.Seeds[i])
		}
		out.Results[v][i] = r
		out.Rep[v] = i
		if out.Alerts == nil {
			out.Alerts = make([][]promql.Timeline, len(out.Variants))
		}
		out.Alerts[v] = tls
	}
	return nil
}

// rep is the index of the seed whose series and metrics represent variant v: the one
// KeepRepresentative chose, else the first seed.
func (out *Outcome) rep(v int) int {
	if v < len(out.Rep) {
		return out.Rep[v]
	}
	return 0
}

// Series returns the kept time series, one per variant (see KeepRepresentative).
func (out *Outcome) Series() []results.Series {
	var s []results.Series
	for v, name := range out.Variants {
		i := out.rep(v)
		if i >= 0 && i < len(out.Done[v]) && out.Done[v][i] && out.Results[v][i].Series != nil {
			se := out.Results[v][i].Series
			s = append(s, results.Series{Variant: name, Seed: out.Seeds[i], Columns: se.Columns, Rows: se.Rows})
		}
	}
	return s
}

// Metrics returns the OpenMetrics text of each variant's representative seed, where the run
// produced metrics (scenarios with CronJobs).
func (out *Outcome) Metrics() []results.MetricsText {
	var m []results.MetricsText
	for v, name := range out.Variants {
		i := out.rep(v)
		if i >= 0 && i < len(out.Done[v]) && out.Done[v][i] && len(out.Results[v][i].Metrics) > 0 {
			m = append(m, results.MetricsText{Variant: name, Seed: out.Seeds[i], Text: out.Results[v][i].Metrics})
		}
	}
	return m
}

func sameIndicators(a, b []sim.Indicator) bool {
	return slices.EqualFunc(a, b, func(x, y sim.Indicator) bool {
		return x.Name == y.Name && (x.Value == y.Value || math.IsNaN(x.Value) && math.IsNaN(y.Value))
	})
}

// AlertFirings is the alert timeline of each variant's representative seed (see
// KeepRepresentative), for report.WriteAlerts; nil when the scenario has no rule files.
func (out *Outcome) AlertFirings() []report.AlertFiring {
	if len(out.Scenario.Alerts) == 0 {
		return nil
	}
	fs := []report.AlertFiring{}
	for v, name := range out.Variants {
		i := out.rep(v)
		if v >= len(out.Alerts) || i < 0 {
			continue
		}
		fs = append(fs, Firings(name, out.Seeds[i], out.Alerts[v])...)
	}
	return fs
}

// Firings are one seed's alert timelines as the report's rows (a run's representative seed, or
// the same seed replayed by a merge).
func Firings(variant string, seed uint64, tls []promql.Timeline) []report.AlertFiring {
	var fs []report.AlertFiring
	for _, tl := range tls {
		for _, f := range tl.Firings {
			fs = append(fs, report.AlertFiring{Variant: variant, Seed: seed, Alert: f.Alert, Labels: f.Labels, From: f.From, To: f.To, Open: f.Open})
		}
	}
	return fs
}
