package promql

import (
	"context"
	"fmt"
	"math"
	"slices"
	"strings"
	"time"

	v1 "github.com/prometheus/client_golang/api/prometheus/v1"
	"github.com/prometheus/common/model"
	"github.com/prometheus/prometheus/model/labels"

	"github.com/faultline-dev/faultline/measure"
)

// A real run evaluates the same Spec against a Prometheus server that scraped the real cluster,
// through its HTTP API (package client_golang's api/prometheus/v1): an objective is an instant
// query at the run's end, with $__range the run's wall-clock length; an alert is its expression
// as a query_range over the run's window at the rule's evaluation interval, and its states come
// from AlertTimeline, the same code the simulator's alerts go through. The rule file is not
// loaded into the server: its rule manager would evaluate at instants of its own choosing and
// keep no history of pending states, whereas one range query gives every evaluation the run had.

// Window is a real run's time as the server saw it.
type Window struct {
	Start  time.Time     // the wall-clock instant of virtual time 0
	Length time.Duration // the run's wall-clock length
	// Scale is wall-clock time per virtual time (a compressed run's time scale, 1 when not):
	// times read off the server are divided by it, so indicators are in the scenario's time as
	// the rest of a real run's are. PromQL ranges and for durations are not scaled.
	Scale float64
	// Interval is the evaluation interval of rule groups that set none (the scrape interval).
	Interval time.Duration
}

// Unmeasurable says why a family cannot be measured in a world, "" when it can.
type Unmeasurable func(family string) string

// ExprFamilies are the metric names an expression selects, sorted; all is set when a selector
// names none (it may read any family).
func ExprFamilies(expr string) (names []string, all bool, err error) {
	e, err := Parser.ParseExpr(expr)
	if err != nil {
		return nil, false, err
	}
	seen := map[string]bool{}
	for n := range parserSelectors(e) {
		if n == "" {
			all = true
			continue
		}
		seen[n] = true
	}
	for n := range seen {
		names = append(names, n)
	}
	slices.Sort(names)
	return names, all, nil
}

// unmeasured is why an expression cannot be evaluated in a world: its first family that cannot
// be measured, "" when every one can.
func unmeasured(expr string, why Unmeasurable) string {
	names, _, err := ExprFamilies(expr)
	if err != nil || why == nil {
		return ""
	}
	for _, n := range names {
		if r := why(n); r != "" {
			return n + ": " + r
		}
	}
	return ""
}

// EvaluateAPI evaluates spec against a Prometheus server's API over a real run's window. It
// returns the indicators (in spec order, with the alerts' minutes in the scenario's time), the
// alert timelines, and, as "indicator: why", what could not be measured: an objective or alert
// reading a family that why says this world does not serve is left out, never given a value.
func EvaluateAPI(ctx context.Context, spec *Spec, api v1.API, w Window, why Unmeasurable) ([]measure.Indicator, []Timeline, []string, error) {
	scale := w.Scale
	if scale <= 0 {
		scale = 1
	}
	end := w.Start.Add(w.Length)
	var ins []measure.Indicator
	var tls []Timeline
	var skipped []string
	for _, o := range spec.Objectives {
		name := ObjectiveIndicator(o.Name)
		if r := unmeasured(o.Query, why); r != "" {
			skipped = append(skipped, name+": reads "+r)
			continue
		}
		v, err := apiInstant(ctx, api, Expand(o.Query, w.Length), end)
		if err != nil {
			return nil, nil, nil, fmt.Errorf("objective %s: promql %q: %w", o.Name, o.Query, err)
		}
		ins = append(ins, measure.Indicator{Name: name, Value: v})
	}
	since := time.Duration(float64(spec.Since) * scale)
	for _, a := range spec.Alerts {
		d, f := AlertIndicators(a.Name)
		if r := unmeasured(a.Expr, why); r != "" {
			skipped = append(skipped, d+": reads "+r, f+": reads "+r)
			continue
		}
		iv := w.Interval
		if a.Interval > 0 {
			iv = time.Duration(float64(a.Interval) * scale)
		}
		iv = max(iv, time.Second)
		series, err := apiRange(ctx, api, a.Expr, w.Start, end, iv)
		if err != nil {
			return nil, nil, nil, fmt.Errorf("alert %s (group %s): %w", a.Name, a.Group, err)
		}
		tl := AlertTimeline(a, series, w.Start, w.Length, iv)
		detect := tl.DetectMinutes(since, w.Length) / scale
		tl = tl.scaled(1 / scale)
		ins = append(ins, measure.Indicator{Name: d, Value: detect}, measure.Indicator{Name: f, Value: tl.FiringTime.Minutes()})
		tls = append(tls, tl)
	}
	return ins, tls, skipped, nil
}

// scaled multiplies the timeline's times by k.
func (tl Timeline) scaled(k float64) Timeline {
	if k == 1 {
		return tl
	}
	m := func(d time.Duration) time.Duration { return time.Duration(math.Round(float64(d) * k)) }
	out := tl
	out.FirstFire, out.FiringTime = m(tl.FirstFire), m(tl.FiringTime)
	out.Firings = slices.Clone(tl.Firings)
	for i := range out.Firings {
		out.Firings[i].From, out.Firings[i].To = m(tl.Firings[i].From), m(tl.Firings[i].To)
	}
	return out
}

// apiInstant is an instant query's single value, with Instant's rules: a scalar or a vector of
// exactly one sample.
func apiInstant(ctx context.Context, api v1.API, query string, at time.Time) (float64, error) {
	v, _, _, err := api.Query(ctx, query, at)
	if err != nil {
		return 0, err
	}
	switch v := v.(type) {
	case *model.Scalar:
		return float64(v.Value), nil
	case model.Vector:
		switch len(v) {
		case 0:
			return 0, ErrNoValue
		case 1:
			return float64(v[0].Value), nil
		}
		return 0, fmt.Errorf("the query returned %d series (%s, %s, ...); expected one: aggregate them, e.g. sum(...)", len(v), v[0].Metric, v[1].Metric)
	}
	return 0, fmt.Errorf("the query returned a %s; expected a scalar or an instant vector", v.Type())
}

// apiRange is a range query's series as AlertTimeline reads them.
func apiRange(ctx context.Context, api v1.API, query string, start, end time.Time, step time.Duration) ([]Sampled, error) {
	v, _, _, err := api.QueryRange(ctx, query, v1.Range{Start: start, End: end, Step: step})
	if err != nil {
		return nil, err
	}
	mat, ok := v.(model.Matrix)
	if !ok {
		return nil, fmt.Errorf("the expression gives a %s; expected an instant vector", v.Type())
	}
	out := make([]Sampled, len(mat))
	for i, s := range mat {
		m := make(map[string]string, len(s.Metric))
		for k, v := range s.Metric {
			m[string(k)] = string(v)
		}
		ts := make([]int64, len(s.Values))
		for j, p := range s.Values {
			ts[j] = int64(p.Timestamp)
		}
		out[i] = Sampled{Metric: labels.FromMap(m), T: ts}
	}
	return out, nil
}

// FamilyPrefix is the start of a family's name that says which exporter serves it.
func FamilyPrefix(family string) string {
	for _, p := range []string{"apiserver_", "cron_", "kube_", "istio_", "nginx_ingress_controller_", "faultline_"} {
		if strings.HasPrefix(family, p) {
			return p
		}
	}
	return ""
}
