package sim

import (
	"fmt"
	"time"
)

// Indicator is one measured figure of a run. Objectives in a scenario name indicators.
type Indicator struct {
	Name  string  `json:"name"`
	Value float64 `json:"value"`
}

// Result is what one run of one seed measured.
type Result struct {
	Seed       uint64      `json:"seed"`
	Indicators []Indicator `json:"indicators"`
	Events     uint64      `json:"events"`
	Series     *Series     `json:"series,omitempty"`
	// Metrics is the run's Prometheus families (the cron platform metrics, the apiserver's
	// request metrics) as OpenMetrics text, nil when the scenario has neither.
	Metrics []byte `json:"-"`
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

// IndicatorDoc describes an indicator for --help, validation and reports.
type IndicatorDoc struct {
	Name, Unit, Doc string
	HigherIsBetter  bool
}

// Indicators lists the indicators every run reports, in report order. Per-load success ratios
// follow as request-success-ratio/<target>.
var Indicators = []IndicatorDoc{
	{"request-success-ratio", "ratio", "share of all requests that succeeded, weighted by rate", true},
	{"node-panics", "count", "kernel panics over the run", false},
	{"nodes-panicked", "count", "distinct nodes that panicked at least once", false},
	{"cascade", "0/1", "1 when panics hit two or more distinct nodes", false},
	{"time-to-first-panic", "hours", "from the start to the first panic; the run's length when none (censored)", true},
	{"pods-lost", "count", "running pods killed by a node going down", false},
	{"evictions", "count", "pods deleted by taint-based eviction", false},
	{"max-replicas-per-node", "count", "most replicas of one multi-replica Deployment ever bound to one node", false},
	{"full-outage-minutes", "minutes", "time with under 1 % of requests succeeding", false},
	{"degraded-minutes", "minutes", "time with under 99 % of requests succeeding", false},
	// cron indicators: reported only by scenarios with CronJobs
	{"cron-runs-started", "count", "cron runs whose app container started", true},
	{"start-delay-p50-seconds", "seconds", "median start delay T2 - T1 (scheduled time to app container running)", false},
	{"start-delay-p99-seconds", "seconds", "99th percentile start delay T2 - T1", false},
	{"start-delay-max-seconds", "seconds", "largest start delay T2 - T1", false},
	{"job-create-delay-p50-seconds", "seconds", "median Job-creation delay: scheduled time T1 to the Job object existing (the CronJob controller's share of the start delay)", false},
	{"job-create-delay-p99-seconds", "seconds", "99th percentile Job-creation delay", false},
	{"job-create-delay-max-seconds", "seconds", "largest Job-creation delay", false},
	{"pod-create-delay-p50-seconds", "seconds", "median time from a started run's Job to its pod (the Job controller's share of the start delay)", false},
	{"pod-create-delay-p99-seconds", "seconds", "99th percentile time from Job to pod", false},
	{"pod-bind-delay-p50-seconds", "seconds", "median time from a started run's pod to its binding to a node (admission and scheduling)", false},
	{"pod-bind-delay-p99-seconds", "seconds", "99th percentile time from pod to binding", false},
	{"pod-run-delay-p50-seconds", "seconds", "median time from binding to the app container running (the kubelet: image pull, sidecars, app start)", false},
	{"pod-run-delay-p99-seconds", "seconds", "99th percentile time from binding to app running", false},
	{"skipped-runs", "count", "skip decisions (concurrencyPolicy, missedDeadline, error), once per CronJob and scheduled time", false},
	{"missed-schedules", "count", "scheduled times that never got a Job (skipped or stalled), up to 10 minutes before the end", false},
	{"failed-runs", "count", "Jobs that failed (backoffLimit exceeded or activeDeadlineSeconds)", false},
	{"failed-attempts", "count", "failed pods of cron Jobs, retries included (what per-attempt alerting would see)", false},
	{"stalled-cronjobs", "count", "CronJobs stuck for good after more than 100 missed starts (v1 without startingDeadlineSeconds)", false},
	{"time-to-detect-minutes", "minutes", "from the first failed or skipped run to the first alert on a watched CronJob; to the end of the run when none fired; 0 without failures", false},
	{"failure-span-hours", "hours", "from the scheduled time of the first failed run to the end of the last failed run; 0 without failures", false},
	{"controller-throttle-seconds", "seconds", "mean client-side rate-limit wait per CronJob controller request", false},
	// network-path indicators: reported only by scenarios on the network path (endpoints.go)
	{"requests-502", "count", "requests a data plane sent to a pod whose process no longer answered (exited, hung, node down)", false},
	{"requests-503", "count", "requests a data plane had no ready endpoint for", false},
	{"error-ratio-502", "ratio", "share of all requests that failed as 502", false},
	{"error-ratio-503", "ratio", "share of all requests that failed as 503", false},
	{"error-ratio-app", "ratio", "share of all requests a pod answered with an error (a dependency call failed after retries, or CPU starvation)", false},
	{"collateral-loss-ratio", "ratio", "failed share of the requests that need no workload a pod fault acts on (the traffic that did not need what failed)", false},
	{"dependency-call-errors", "count", "failed dependency call attempts, retries included (what a caller's error counter counts)", false},
	{"retries", "count", "dependency call retries", false},
	{"retry-wait-seconds", "seconds", "mean back-off wait per request", false},
	{"container-restarts", "count", "containers restarted after failed liveness or startup probes", false},
	// rollout indicators: reported only by scenarios with spec.changes
	{"rollout-minutes", "minutes", "mean time from a template change to the rollout completing (to the end of the run when it did not)", false},
	{"rollouts-incomplete", "count", "rollouts not complete at the end of the run", false},
	// control-plane indicators: reported only by scenarios with webhooks, an upgrade or auto-repair
	{"api-availability", "ratio", "share of API requests (client mix and kubelet lease renewals) that succeeded, weighted by rate", true},
	{"api-write-availability", "ratio", "share of mutating API requests that succeeded", true},
	{"api-latency-p99-max-seconds", "seconds", "highest latency quantile (latencyAlert.quantile) of mutating requests at any instant", false},
	{"latency-alert-detect-minutes", "minutes", "time the API was impaired (a request failing, or the latency quantile above the alert threshold) before the latency alert first fired: the time to detect of one continuous impairment; all impaired time when it never fired", false},
	{"apiserver-exits", "count", "apiserver exits because the client-CA post-start hook could not write its ConfigMap", false},
	{"upgrade-completed", "0/1", "1 when the control-plane upgrade completed before its time-out (1 without an upgrade)", true},
	{"upgrade-minutes", "minutes", "from the upgrade's start to its completion; to the end of the run when it never completed", false},
	{"nodes-recreated", "count", "nodes recreated by auto-repair", false},
	{"repair-cadence-minutes", "minutes", "mean time between successive recreations of the same node; 0 when no node was recreated twice", false},
}

// IndicatorByName returns the documentation of a named indicator, including per-load ones.
func IndicatorByName(name string) (IndicatorDoc, bool) {
	for _, d := range Indicators {
		if d.Name == name {
			return d, true
		}
	}
	const pre = "request-success-ratio/"
	if len(name) > len(pre) && name[:len(pre)] == pre {
		return IndicatorDoc{Name: name, Unit: "ratio", Doc: "share of this load's requests that succeeded", HigherIsBetter: true}, true
	}
	return IndicatorDoc{}, false
}

func (w *World) result() Result {
	a := &w.acct
	var ok, total float64
	for _, l := range w.loads {
		ok += l.ok
		total += l.total
	}
	ratio := func(ok, total float64) float64 {
		if total == 0 {
			return 1
		}
		return ok / total
	}
	distinct := 0
	for _, p := range a.panicked {
		if p {
			distinct++
		}
	}
	first := w.in.Duration
	if a.panics > 0 {
		first = a.firstPanic
	}
	cascade := 0.0
	if distinct >= 2 {
		cascade = 1
	}
	r := Result{
		Seed:   w.seed,
		Events: w.q.Fired(),
		Series: w.series,
		Indicators: []Indicator{
			{"request-success-ratio", ratio(ok, total)},
			{"node-panics", float64(a.panics)},
			{"nodes-panicked", float64(distinct)},
			{"cascade", cascade},
			{"time-to-first-panic", first.Hours()},
			{"pods-lost", float64(a.podsLost)},
			{"evictions", float64(a.evictions)},
			{"max-replicas-per-node", float64(a.maxColocated)},
			{"full-outage-minutes", a.outage.Minutes()},
			{"degraded-minutes", a.degraded.Minutes()},
		},
	}
	if w.cron != nil {
		r.Indicators = append(r.Indicators, w.cronIndicators()...)
		r.Metrics = w.cron.met.openMetrics()
	}
	if w.net != nil && w.net.path {
		r.Indicators = append(r.Indicators, w.netIndicators()...)
	}
	if len(w.in.Changes) > 0 {
		r.Indicators = append(r.Indicators, w.rolloutIndicators()...)
	}
	if w.cp != nil {
		r.Indicators = append(r.Indicators, w.controlPlaneIndicators()...)
		r.Metrics = w.controlPlaneMetrics()
	}
	for _, l := range w.inputOrderLoads() {
		if l.l.RequestsPerSecond > 0 {
			r.Indicators = append(r.Indicators, Indicator{"request-success-ratio/" + l.l.Target, ratio(l.ok, l.total)})
		}
	}
	return r
}

// inputOrderLoads returns the loads in the order the scenario lists them.
func (w *World) inputOrderLoads() []*loadState {
	out := make([]*loadState, 0, len(w.loads))
	for i := range w.in.Load {
		for _, l := range w.loads {
			if l.l == &w.in.Load[i] {
				out = append(out, l)
			}
		}
	}
	return out
}

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
			row = w.controlPlaneRow(row)
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
