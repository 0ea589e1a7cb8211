package promql

import (
	"context"
	"fmt"
	"slices"
	"time"

	"github.com/prometheus/prometheus/model/labels"
	"github.com/prometheus/prometheus/promql/parser"

	"github.com/faultline-dev/faultline/measure"
	"github.com/faultline-dev/faultline/sim"
)

// Objective is a PromQL objective: its name and its query.
type Objective struct {
	Name  string
	Query string
}

// Spec is what a scenario evaluates on each run's series.
type Spec struct {
	Objectives []Objective
	Alerts     []Alert
	// Interval is the rules' evaluation interval where a group sets none.
	Interval time.Duration
	// Since is where time to detect starts: the first fault, or 0.
	Since time.Duration
}

// Empty reports whether there is nothing to evaluate (and so no need for series).
func (s *Spec) Empty() bool { return s == nil || len(s.Objectives) == 0 && len(s.Alerts) == 0 }

// ObjectiveIndicator is the indicator a PromQL objective's value is reported as.
func ObjectiveIndicator(name string) string { return "promql/" + name }

// AlertIndicators are the indicators of an alert: time to detect and time firing, in minutes.
func AlertIndicators(alert string) (detect, firing string) {
	return "alert/" + alert + "/detect-minutes", "alert/" + alert + "/firing-minutes"
}

// Families are the metric names spec's expressions read, sorted; nil when one selects by
// something else than a fixed name (then every family must be kept).
func (s *Spec) Families() []string {
	var exprs []string
	for _, o := range s.Objectives {
		exprs = append(exprs, Expand(o.Query, time.Hour))
	}
	for _, a := range s.Alerts {
		exprs = append(exprs, a.Expr)
	}
	seen := map[string]bool{}
	for _, e := range exprs {
		names, all, err := ExprFamilies(e)
		if err != nil || all {
			return nil
		}
		for _, n := range names {
			seen[n] = true
		}
	}
	out := make([]string, 0, len(seen))
	for n := range seen {
		out = append(out, n)
	}
	slices.Sort(out)
	return out
}

// Horizons says, per family, how far back from the run's end spec's queries read it, where that
// is bounded: a family that only objectives read (instant queries at the end) through plain
// selectors (no range, subquery, offset or @) needs no more than the engine's lookback; a family
// an alert, a range or a subquery reads needs its whole history and is not listed. The
// simulator's scrape drops older change points of a listed family (sim.PromScrape.Horizons), so
// a year of such a family costs what five minutes do, and every figure stays the same.
func (s *Spec) Horizons() map[string]time.Duration {
	if s.Empty() {
		return nil
	}
	bounded, unbounded := map[string]bool{}, map[string]bool{}
	mark := func(expr string, plain bool) bool {
		names, all, err := ExprFamilies(expr)
		if err != nil || all {
			return false
		}
		for _, n := range names {
			if plain {
				bounded[n] = true
			} else {
				unbounded[n] = true
			}
		}
		return true
	}
	for _, o := range s.Objectives {
		e, err := Parser.ParseExpr(Expand(o.Query, time.Hour))
		if err != nil {
			return nil
		}
		if !mark(Expand(o.Query, time.Hour), plainInstant(e)) {
			return nil
		}
	}
	for _, a := range s.Alerts {
		if !mark(a.Expr, false) {
			return nil
		}
	}
	out := map[string]time.Duration{}
	for n := range bounded {
		if !unbounded[n] {
			out[n] = lookbackDelta
		}
	}
	return out
}

// plainInstant reports whether e, evaluated at one instant, reads no sample older than the
// engine's lookback: no range selector, no subquery, no offset, no @.
func plainInstant(e parser.Expr) bool {
	plain := true
	parser.Inspect(e, func(n parser.Node, _ []parser.Node) error {
		switch n := n.(type) {
		case *parser.MatrixSelector, *parser.SubqueryExpr:
			plain = false
		case *parser.VectorSelector:
			if n.OriginalOffset != 0 || n.Timestamp != nil || n.StartOrEnd != 0 {
				plain = false
			}
		}
		return nil
	})
	return plain
}

// parserSelectors yields the metric name of every vector selector of e ("" for one that names
// none).
func parserSelectors(e parser.Expr) func(yield func(string) bool) {
	return func(yield func(string) bool) {
		stop := false
		parser.Inspect(e, func(n parser.Node, _ []parser.Node) error {
			vs, ok := n.(*parser.VectorSelector)
			if !ok || stop {
				return nil
			}
			name := vs.Name
			for _, m := range vs.LabelMatchers {
				if m.Name == labels.MetricName && m.Type == labels.MatchEqual {
					name = m.Value
				}
			}
			stop = !yield(name)
			return nil
		})
	}
}

// Evaluate runs spec over one run's series (start and length are the run's) and returns the
// indicators, in spec order, and every alert's timeline.
func Evaluate(ctx context.Context, spec *Spec, ps *sim.PromSeries, length time.Duration) ([]measure.Indicator, []Timeline, error) {
	if ps == nil {
		return nil, nil, fmt.Errorf("no series recorded (sim.Options.PromSeries is off)")
	}
	st := NewStore(ps)
	end := ps.End
	var ins []measure.Indicator
	for _, o := range spec.Objectives {
		v, err := Instant(ctx, st, ps.Start, end, Expand(o.Query, length))
		if err != nil {
			return nil, nil, fmt.Errorf("objective %s: promql %q: %w", o.Name, o.Query, err)
		}
		ins = append(ins, measure.Indicator{Name: ObjectiveIndicator(o.Name), Value: v})
	}
	iv := spec.Interval
	if iv <= 0 {
		iv = ps.Interval
	}
	var tls []Timeline
	for _, a := range spec.Alerts {
		tl, err := EvalAlert(ctx, st, ps.Start, end, iv, a)
		if err != nil {
			return nil, nil, fmt.Errorf("alert %s (group %s): %w", a.Name, a.Group, err)
		}
		d, f := AlertIndicators(a.Name)
		ins = append(ins, measure.Indicator{Name: d, Value: tl.DetectMinutes(spec.Since, end)},
			measure.Indicator{Name: f, Value: tl.FiringTime.Minutes()})
		tls = append(tls, tl)
	}
	return ins, tls, nil
}
