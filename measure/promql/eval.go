package promql

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"math"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/prometheus/common/model"
	"github.com/prometheus/prometheus/model/labels"
	"github.com/prometheus/prometheus/model/rulefmt"
	"github.com/prometheus/prometheus/promql"
	"github.com/prometheus/prometheus/promql/parser"
	"github.com/prometheus/prometheus/storage"
)

// Parser is the PromQL parser every expression of a scenario is checked and run with (the
// engine's defaults: no experimental functions).
var Parser = parser.NewParser(parser.Options{})

var (
	engineOnce sync.Once
	engine     *promql.Engine
)

// Engine is the process's query engine: Prometheus' own, with the server's defaults (5 minute
// look-back, the @ modifier and negative offsets on) and no wall-clock time-out beyond a
// generous one, since a query over a long simulated run reads many samples.
func Engine() *promql.Engine {
	engineOnce.Do(func() {
		engine = promql.NewEngine(promql.EngineOpts{
			MaxSamples:           100_000_000,
			Timeout:              10 * time.Minute,
			LookbackDelta:        lookbackDelta,
			EnableAtModifier:     true,
			EnableNegativeOffset: true,
			Parser:               Parser,
		})
	})
	return engine
}

// RangeVar is replaced in an objective's query by the run's length, as Grafana's $__range is by
// a dashboard's: `increase(cron_failure_total[$__range])` counts over the whole run.
const RangeVar = "$__range"

// Expand replaces RangeVar with length in PromQL duration syntax.
func Expand(query string, length time.Duration) string {
	return strings.ReplaceAll(query, RangeVar, model.Duration(length).String())
}

// Check parses query as an objective's query would run (RangeVar replaced by a placeholder
// length); the error is the parser's, with its position.
func Check(query string) error {
	_, err := Parser.ParseExpr(Expand(query, time.Hour))
	return err
}

// lookbackDelta is how far back an instant selector looks for a sample (Prometheus' default).
const lookbackDelta = 5 * time.Minute

// ErrNoValue marks a query that returned no series at the evaluation time.
var ErrNoValue = errors.New("the query returned no series (add `or vector(0)` for a value when nothing matches)")

// Instant evaluates query at virtual time at (from the run's start) and returns its single value:
// a scalar, or a vector of exactly one sample.
func Instant(ctx context.Context, q storage.Queryable, start time.Time, at time.Duration, query string) (float64, error) {
	qry, err := Engine().NewInstantQuery(ctx, q, nil, query, start.Add(at))
	if err != nil {
		return 0, err
	}
	defer qry.Close()
	res := qry.Exec(ctx)
	if res.Err != nil {
		return 0, res.Err
	}
	switch v := res.Value.(type) {
	case promql.Scalar:
		return v.V, nil
	case promql.Vector:
		switch len(v) {
		case 0:
			return 0, ErrNoValue
		case 1:
			return v[0].F, nil
		}
		return 0, fmt.Errorf("the query returned %d series (%s, %s, ...); expected one: aggregate them, e.g. sum(...)", len(v), v[0].Metric, v[1].Metric)
	}
	return 0, fmt.Errorf("the query returned a %s; expected a scalar or an instant vector", res.Value.Type())
}

// Alert is one alerting rule, from a rule file.
type Alert struct {
	Group         string
	Name          string
	Expr          string
	For           time.Duration
	KeepFiringFor time.Duration
	Labels        map[string]string
	Interval      time.Duration // the group's evaluation interval, 0: the caller's default
}

// ParseRules parses a Prometheus rule file with package rulefmt (groups, rules, for,
// keep_firing_for, labels, annotations) and returns its alerting rules in file order. Every
// problem is returned, each naming file and position where rulefmt knows it. Recording rules
// are refused: their series would have to be written back into the run's storage.
func ParseRules(file string, data []byte) ([]Alert, []error) {
	rgs, errs := rulefmt.Parse(data, false, model.UTF8Validation, Parser, slog.New(slog.DiscardHandler))
	if len(errs) > 0 {
		out := make([]error, len(errs))
		for i, e := range errs {
			out[i] = fmt.Errorf("%s: %w", file, e)
		}
		return nil, out
	}
	var alerts []Alert
	var problems []error
	seen := map[string]bool{}
	for gi, g := range rgs.Groups {
		for ri, r := range g.Rules {
			where := fmt.Sprintf("%s: groups[%d] (%s).rules[%d]", file, gi, g.Name, ri)
			if r.Record != "" {
				problems = append(problems, fmt.Errorf("%s.record: %q: recording rules are not evaluated; expected alerting rules (alert, expr, for, labels)", where, r.Record))
				continue
			}
			if seen[r.Alert] {
				problems = append(problems, fmt.Errorf("%s.alert: %q is defined twice; expected one rule per alert name", where, r.Alert))
			}
			seen[r.Alert] = true
			alerts = append(alerts, Alert{Group: g.Name, Name: r.Alert, Expr: r.Expr, For: time.Duration(r.For),
				KeepFiringFor: time.Duration(r.KeepFiringFor), Labels: r.Labels, Interval: time.Duration(g.Interval)})
		}
	}
	return alerts, problems
}

// Firing is one interval in which an alert fired for one label set.
type Firing struct {
	Alert  string            `json:"alert"`
	Labels map[string]string `json:"labels,omitempty"`
	From   time.Duration     `json:"from"` // virtual time the alert went firing
	To     time.Duration     `json:"to"`   // resolved, or the end of the run
	Open   bool              `json:"open,omitempty"`
}

// Timeline is what an alert did over a run.
type Timeline struct {
	Alert      string
	FirstFire  time.Duration // when it first fired; valid when Fired
	Fired      bool
	FiringTime time.Duration // total time some label set fired
	Firings    []Firing
}

// EvalAlert evaluates one alerting rule over [0, end] of a run at its evaluation interval (every
// evaluation is an instant query at that time, as Prometheus' rule manager runs them; one range
// query computes them all) and follows Prometheus' alert states (AlertTimeline).
func EvalAlert(ctx context.Context, q storage.Queryable, start time.Time, end, interval time.Duration, a Alert) (Timeline, error) {
	if a.Interval > 0 {
		interval = a.Interval
	}
	qry, err := Engine().NewRangeQuery(ctx, q, nil, a.Expr, start, start.Add(end), interval)
	if err != nil {
		return Timeline{Alert: a.Name}, err
	}
	defer qry.Close()
	res := qry.Exec(ctx)
	if res.Err != nil {
		return Timeline{Alert: a.Name}, res.Err
	}
	mat, ok := res.Value.(promql.Matrix)
	if !ok {
		return Timeline{Alert: a.Name}, fmt.Errorf("the expression gives a %s; expected an instant vector", res.Value.Type())
	}
	sampled := make([]Sampled, len(mat))
	for i, s := range mat {
		ts := make([]int64, len(s.Floats))
		for j, p := range s.Floats {
			ts[j] = p.T
		}
		sampled[i] = Sampled{Metric: s.Metric, T: ts}
	}
	return AlertTimeline(a, sampled, start, end, interval), nil
}

// Sampled is one series of a range query's result: its labels and the times (milliseconds since
// the epoch) at which it had a value.
type Sampled struct {
	Metric labels.Labels
	T      []int64
}

// AlertTimeline follows Prometheus' alert states over the evaluations of a rule's expression at
// start + k·interval, k = 0 .. end/interval (series: the range query's result): a label set
// becomes pending at the first evaluation that returns it, fires once it has been returned for
// For, and resolves at the first evaluation without it (or KeepFiringFor after it, when set).
// Both worlds use it: the simulator with the engine over its series, a real run with a
// Prometheus server's query_range.
func AlertTimeline(a Alert, series []Sampled, start time.Time, end, interval time.Duration) Timeline {
	tl := Timeline{Alert: a.Name}
	steps := int(end/interval) + 1
	type state struct {
		labels      map[string]string
		present     []bool
		activeSince time.Duration
		active      bool
		firing      bool
		lastSeen    time.Duration
		from        time.Duration
	}
	var sets []*state
	for _, s := range series {
		ls := labels.NewBuilder(s.Metric).Del(labels.MetricName)
		for k, v := range a.Labels {
			ls.Set(k, v)
		}
		st := &state{labels: ls.Labels().Map(), present: make([]bool, steps)}
		for _, t := range s.T {
			i := int((time.Duration(t-start.UnixMilli()) * time.Millisecond) / interval)
			if i >= 0 && i < steps {
				st.present[i] = true
			}
		}
		sets = append(sets, st)
	}
	for i := range steps {
		now := time.Duration(i) * interval
		for _, st := range sets {
			if st.present[i] {
				if !st.active {
					st.active, st.activeSince = true, now
				}
				st.lastSeen = now
				if !st.firing && now-st.activeSince >= a.For {
					st.firing, st.from = true, now
					if !tl.Fired || now < tl.FirstFire {
						tl.Fired, tl.FirstFire = true, now
					}
				}
				continue
			}
			if st.firing && a.KeepFiringFor > 0 && now-st.lastSeen < a.KeepFiringFor {
				continue
			}
			if st.firing {
				tl.Firings = append(tl.Firings, Firing{Alert: a.Name, Labels: st.labels, From: st.from, To: now})
			}
			st.active, st.firing = false, false
		}
	}
	for _, st := range sets {
		if st.firing {
			tl.Firings = append(tl.Firings, Firing{Alert: a.Name, Labels: st.labels, From: st.from, To: end, Open: true})
		}
	}
	sort.SliceStable(tl.Firings, func(i, j int) bool { return tl.Firings[i].From < tl.Firings[j].From })
	tl.FiringTime = unionLength(tl.Firings)
	return tl
}

// unionLength is the time covered by at least one firing.
func unionLength(fs []Firing) time.Duration {
	var total, curFrom, curTo time.Duration
	have := false
	for _, f := range fs { // sorted by From
		if !have || f.From > curTo {
			if have {
				total += curTo - curFrom
			}
			curFrom, curTo, have = f.From, f.To, true
			continue
		}
		curTo = max(curTo, f.To)
	}
	if have {
		total += curTo - curFrom
	}
	return total
}

// DetectMinutes is an alert's time to detect: from since (the first fault, or the start of the
// run) to its first firing at or after since, in minutes; the rest of the run when it never
// fired after since (censored, as the cron time-to-detect indicator is).
func (tl Timeline) DetectMinutes(since, end time.Duration) float64 {
	for _, f := range tl.Firings {
		if f.To > since || f.Open {
			at := max(f.From, since)
			return (at - since).Minutes()
		}
	}
	return math.Max(0, (end - since).Minutes())
}
