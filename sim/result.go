package sim

import (
	"fmt"
	"slices"
	"time"

	"github.com/faultline-dev/faultline/measure"
)

// Indicator is one measured figure of a run (package measure's). Objectives in a scenario name
// indicators.
type Indicator = measure.Indicator

// Result is what one run of one seed measured.
type Result struct {
	Seed       uint64      `json:"seed"`
	Indicators []Indicator `json:"indicators"`
	Events     uint64      `json:"events"`
	Series     *Series     `json:"series,omitempty"`
	// Metrics is the run's Prometheus families (the cron platform metrics, the apiserver's
	// request metrics) as OpenMetrics text, nil when the scenario has neither.
	Metrics []byte `json:"-"`
	// Prom is the run's state as Prometheus series, with Options.PromSeries (promseries.go).
	Prom *PromSeries `json:"-"`
}

// Get returns the value of the named indicator.
func (r Result) Get(name string) (float64, bool) {
	for _, in := range r.Indicators {
		if in.Name == name {
			return in.Value, true
		}
	}
	return 0, false
}

// IndicatorDoc describes an indicator: an entry of package measure's registry.
type IndicatorDoc = measure.Doc

// Indicators lists the indicators a run can report, in report order: package measure's
// registry. Per-load success ratios follow as request-success-ratio/<target>.
var Indicators = measure.Indicators

// IndicatorByName returns the documentation of a named indicator, including per-load ones.
func IndicatorByName(name string) (IndicatorDoc, bool) { return measure.Lookup(name) }

func (w *World) result() Result {
	obs, win := w.Observations()
	r := Result{Seed: w.seed, Events: w.q.Fired(), Series: w.series, Prom: w.promSeries()}
	// computed in the world's buffer (which a Scratch keeps), kept in a copy of the exact length
	w.parts.indicators, _ = measure.ComputeAppend(w.parts.indicators[:0], obs, win)
	r.Indicators = slices.Clone(w.parts.indicators)
	if w.cron != nil {
		r.Metrics = w.cron.met.openMetrics()
	}
	if w.cp != nil {
		r.Metrics = w.cp.openMetrics(w.cron)
	}
	return r
}

// Observations is what the run observed, in package measure's record, and the window it spans;
// measure.Compute turns them into the run's indicators. Call it after Run. The record is the
// world's own: each call rebuilds it.
func (w *World) Observations() (*measure.Observations, measure.Window) {
	a := &w.acct
	o := &w.obs
	*o = measure.Observations{
		World: measure.Simulated, Panics: a.panics, FirstPanic: a.firstPanic, PodsLost: a.podsLost,
		Evictions: a.evictions, MaxColocated: a.maxColocated, Outage: a.outage, Degraded: a.degraded,
		Requests: measure.Requests{PerTarget: clearSlice(o.Requests.PerTarget)},
	}
	for _, l := range w.loads {
		o.Requests.Succeeded += l.ok
		o.Requests.Offered += l.total
	}
	for _, p := range a.panicked {
		if p {
			o.NodesPanicked++
		}
	}
	if w.cron != nil {
		o.Scopes |= measure.Cron
		o.Cron = w.cron.observations()
	}
	if w.net != nil && w.net.path {
		o.Scopes |= measure.Network
		o.Net = w.net.observe()
	}
	if len(w.in.Changes) > 0 {
		o.Scopes |= measure.Rollout
		o.Rollouts = w.net.ro.observe()
	}
	o.Nodes = w.obsNodes
	if w.cp != nil {
		o.Scopes |= measure.ControlPlane
		o.ControlPlane, o.APIServerExits = w.cp.observe(), w.cp.exitObs
	}
	for i, l := range w.inputOrderLoads() {
		if l.l.RequestsPerSecond > 0 {
			o.Requests.PerTarget = append(o.Requests.PerTarget, measure.TargetRequests{Target: l.l.Target, Offered: l.total, Succeeded: l.ok,
				Indicator: w.prep.loadIndicators[i]})
		}
	}
	if len(o.Requests.PerTarget) == 0 {
		o.Requests.PerTarget = nil // as without a record to rebuild
	}
	return o, w.window()
}

// inputOrderLoads returns the loads in the order the scenario lists them (World.loads has every
// dependency first).
func (w *World) inputOrderLoads() []*loadState { return w.inLoads }

// Series is a time series sampled at a fixed virtual interval: one row per sample, the first
// column the time in hours.
type Series struct {
	Columns []string    `json:"columns"`
	Rows    [][]float64 `json:"rows"`
}

func (w *World) sample(now time.Duration) {
	if w.dirty {
		w.recompute(now)
	}
	if w.series != nil {
		if w.series.Columns == nil {
			w.series.Columns = append(w.series.Columns, "hours", "success")
			for _, ns := range w.nodes {
				w.series.Columns = append(w.series.Columns, "cpu/"+ns.n.Name)
			}
			for _, l := range w.inputOrderLoads() {
				w.series.Columns = append(w.series.Columns, "ready/"+l.l.Target)
			}
			if w.cron != nil {
				w.series.Columns = append(w.series.Columns, cronColumns...)
			}
			if w.cp != nil {
				w.series.Columns = append(w.series.Columns, controlPlaneColumns...)
			}
		}
		row := make([]float64, 0, len(w.series.Columns))
		frac := 1.0
		if w.acct.rate > 0 {
			frac = w.acct.okRate / w.acct.rate
		}
		row = append(row, now.Hours(), frac)
		for _, ns := range w.nodes {
			u := 0.0
			if ns.n.Up {
				u = ns.demand / (float64(ns.n.Allocatable.MilliCPU) / 1000)
			}
			row = append(row, u)
		}
		for _, l := range w.inputOrderLoads() {
			row = append(row, float64(l.ready))
		}
		if w.cron != nil {
			row = w.cron.sampleRow(row)
		}
		if w.cp != nil {
			row = w.cp.sampleRow(row)
		}
		w.series.Rows = append(w.series.Rows, row)
	}
	if next := now + w.m.Sampling.Interval.Duration; next <= w.in.Duration && w.series != nil {
		w.q.AtID(next, w.hid, pack(evSample, 0))
	}
}

// Run is a convenience: build the world for in and seed and run it.
func Run(in *Input, seed uint64, opts Options) (Result, error) {
	w, err := New(in, seed, opts)
	if err != nil {
		return Result{}, err
	}
	return w.Run(), w.Violation()
}

// String prints the indicators on one line.
func (r Result) String() string {
	s := fmt.Sprintf("seed=%d", r.Seed)
	for _, in := range r.Indicators {
		s += fmt.Sprintf(" %s=%s", in.Name, formatFloat(in.Value, 4))
	}
	return s
}
