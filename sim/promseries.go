package sim

import (
	"math"
	"slices"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	dto "github.com/prometheus/client_model/go"

	"github.com/faultline-dev/faultline/internal/cronmetrics"
	"github.com/faultline-dev/faultline/sim/cluster"
	"github.com/faultline-dev/faultline/sim/engine"
)

// The run's state as Prometheus series, scraped on the virtual clock (Options.PromSeries).
//
// A scrape every Models.Alerts.ScrapeInterval (30 s by default) reads the models' state and
// records it under the names the real exporters use, so that a PromQL query written for a
// production cluster runs unchanged on a simulated one:
//   - kube-state-metrics: kube_pod_status_phase and kube_pod_status_ready (the Deployments'
//     pods), kube_deployment_spec_replicas and kube_deployment_status_replicas_available,
//     kube_node_status_condition (Ready: true, or unknown once the node lifecycle controller has
//     lost the kubelet), kube_node_spec_unschedulable, kube_cronjob_status_last_schedule_time,
//     kube_cronjob_next_schedule_time (unsuspended CronJobs, as kube-state-metrics),
//     kube_cronjob_spec_suspend, kube_cronjob_status_active, kube_job_status_active and
//     kube_job_status_failed (failed pods of the Jobs still active);
//   - the cron platform's families (package internal/cronmetrics), as its controller serves them;
//   - kube-apiserver: apiserver_request_total by verb, group, resource and code, and
//     apiserver_request_duration_seconds, with the control-plane model;
//   - requests per Service (istio_requests_total by destination_service_name and response_code,
//     for every load with a request rate) and per Ingress (nginx_ingress_controller_requests by
//     ingress, service and status, for loads that enter through one).
//
// Counters integrate the models' rates up to the scrape without changing the models (reading
// never advances an integration, so a run with series gives the same indicators, byte for byte,
// as one without). Where the network path splits failed requests by code (502, 503, 500), the
// split of the failures between two scrapes follows the shares at the scrape; their total is
// exact.
//
// Storage is by change: a series holds the points where its value changed, and a point holds
// from its scrape until the next point; a NaN point is a staleness marker (the object is gone).
// Left out: series per Job after it finished (kube-state-metrics keeps them while the history
// limits keep the Job), the pods of Jobs (tens of thousands of short series in a cron storm),
// and families the models have no state for (container restarts, resource usage).

// PromScrape says what a run's scrapes keep.
type PromScrape struct {
	// Families are the metric names to keep (a histogram's by its _bucket, _sum or _count
	// series, or its family name); empty keeps every family. Like a metric_relabel_configs
	// keep rule, it saves what no query reads.
	Families []string
	// Horizons bounds, per series name, how far back from the latest scrape the run's queries
	// read (promql.Spec.Horizons): older change points of such a series are dropped but the last
	// one before the horizon, so every sample from the horizon on is unchanged and the series'
	// memory stays flat in simulated time. Unlisted series keep their whole history.
	Horizons map[string]time.Duration
}

// PromSeries is a run's series. Every series has a sample at every scrape from its first point
// on, to End, except while its latest point is NaN.
type PromSeries struct {
	Start    time.Time     // virtual time 0 as wall-clock time (the scenario's start)
	Interval time.Duration // the scrape interval
	End      time.Duration // the last scrape
	Series   []PromSeriesData
}

// PromSeriesData is one series: its metric name, its labels and its change points.
type PromSeriesData struct {
	Name   string
	Labels []string // label name, value, name, value, ...
	Points []PromPoint
}

// PromPoint is a value from scrape time T on; NaN marks the series stale from T.
type PromPoint struct {
	T time.Duration
	V float64
}

type promRec struct {
	w       *World
	id      engine.HandlerID
	every   time.Duration
	out     PromSeries
	index   map[string]int
	seen    []uint32 // per series: the scrape that last emitted it
	n       uint32   // current scrape, from 1
	live    []int    // the series emitted by the current scrape, in order
	prev    []int    // ... and by the previous one
	pos     []int32  // per series: its position in live when it was last emitted
	cur     int      // the position in prev where the next add is expected
	key     []byte
	want    map[string]bool            // the families kept; nil: all
	fam     promFamilies               // ... per family the scrape records
	cronSrc []cronSource               // the cron families' metrics (cronScrape)
	errs    map[*loadState]*[3]float64 // per network-path load: 502, 503, 500 counts so far
	failed  map[*loadState]float64     // per network-path load: failed requests at the last scrape
	hz      []time.Duration            // per series: its horizon (PromScrape.Horizons); 0: none
	trimAt  []int32                    // per series: the point count at which it is trimmed next
	kv      []string                   // gather's label pairs
	hists   map[string]*histNames      // gather's histogram names, by family
	// last is, per series, the value of its last point (NaN without one): what a sample is
	// compared with, read without touching the series' points
	last []float64
	// cjSeries is, per CronJob family (cjLastFam...) and CronJob index, its series (-1: none yet)
	cjSeries [cjFams][]int32
}

// startPromScrape registers the scraper on the run's queue; it runs after settling (the queue
// settling used is gone by then).
func (w *World) startPromScrape() {
	if w.opts.PromSeries == nil {
		return
	}
	r := &promRec{w: w, every: w.m.Alerts.ScrapeInterval.Duration, index: map[string]int{},
		errs: map[*loadState]*[3]float64{}, failed: map[*loadState]float64{}}
	if fs := w.opts.PromSeries.Families; len(fs) > 0 {
		r.want = map[string]bool{}
		for _, f := range fs {
			r.want[f] = true
			for _, suffix := range []string{"_bucket", "_sum", "_count"} {
				if base, ok := strings.CutSuffix(f, suffix); ok {
					r.want[base] = true
				}
			}
		}
	}
	r.fam = r.families()
	r.out = PromSeries{Start: w.in.Start, Interval: r.every}
	w.prom = r
	r.id = w.q.Register(r)
	w.q.AtID(0, r.id, 0)
}

// promSeries is the recorded series, nil without Options.PromSeries.
func (w *World) promSeries() *PromSeries {
	if w.prom == nil {
		return nil
	}
	return &w.prom.out
}

// Fire is one scrape.
func (r *promRec) Fire(now time.Duration, _ uint32) {
	r.n++
	r.prev, r.live, r.cur = r.live, r.prev[:0], 0
	r.scrape(now)
	for _, i := range r.prev { // gone since the last scrape: a staleness marker
		if r.seen[i] != r.n {
			r.out.Series[i].Points = append(r.out.Series[i].Points, PromPoint{T: now, V: math.NaN()})
			r.last[i] = math.NaN()
		}
	}
	r.out.End = now
	end := r.w.in.Duration
	if u := r.w.opts.Until; u > 0 && u < end {
		end = u
	}
	if next := now + r.every; next <= end {
		r.w.q.AtID(next, r.id, 0)
	}
}

// add records one sample; kv are label name/value pairs in a fixed order per family. It returns
// the series' index.
func (r *promRec) add(now time.Duration, v float64, name string, kv ...string) int {
	// a scrape emits its series in the order of the last one, but for objects that came or
	// went: the expected series is checked first, by its name and labels (the strings are most
	// often the very ones it was created from, which compare without reading their bytes), and
	// the key is built and looked up in the index only on a miss
	if r.cur < len(r.prev) && r.out.Series[r.prev[r.cur]].is(name, kv) {
		i := r.prev[r.cur]
		r.cur++
		r.sample(now, v, i)
		return i
	}
	r.key = append(r.key[:0], name...)
	for _, s := range kv {
		r.key = append(r.key, 0xff)
		r.key = append(r.key, s...)
	}
	i, ok := r.index[string(r.key)]
	if ok {
		if r.seen[i] == r.n-1 {
			r.cur = int(r.pos[i]) + 1
		}
	} else {
		i = len(r.out.Series)
		r.index[string(r.key)] = i
		r.out.Series = append(r.out.Series, PromSeriesData{Name: name, Labels: append([]string(nil), kv...)})
		r.seen = append(r.seen, 0)
		r.pos = append(r.pos, 0)
		r.hz = append(r.hz, r.w.opts.PromSeries.Horizons[name])
		r.trimAt = append(r.trimAt, trimMin)
		r.last = append(r.last, math.NaN())
	}
	r.sample(now, v, i)
	return i
}

// addAt records one sample of series i, known to the caller, as add does with its name and
// labels: the order bookkeeping is add's for a series found in the index (a series emitted by the
// last scrape sits at pos in prev; when it is the one expected, pos is cur).
func (r *promRec) addAt(now time.Duration, v float64, i int) {
	if r.cur < len(r.prev) && r.prev[r.cur] == i {
		r.cur++
	} else if r.seen[i] == r.n-1 {
		r.cur = int(r.pos[i]) + 1
	}
	r.sample(now, v, i)
}

// sample records value v of series i at now, once per scrape.
func (r *promRec) sample(now time.Duration, v float64, i int) {
	if r.seen[i] == r.n {
		return // a family emitted twice in one scrape keeps the first value
	}
	r.seen[i] = r.n
	r.pos[i] = int32(len(r.live))
	r.live = append(r.live, i)
	if r.last[i] == v {
		return // unchanged (never true while the series has no point or a NaN one)
	}
	r.last[i] = v
	s := &r.out.Series[i]
	s.Points = append(s.Points, PromPoint{T: now, V: v})
	if r.hz[i] > 0 && len(s.Points) >= int(r.trimAt[i]) {
		n := trimPoints(s, now-r.hz[i])
		r.trimAt[i] = int32(max(2*n, trimMin))
	}
}

// Per-CronJob families, whose series addCronJob keeps by CronJob.
const (
	cjLastFam = iota
	cjSuspendFam
	cjActiveFam
	cjNextFam
	cjFams
)

// addCronJob records family f's sample of CronJob cj (labels namespace and cronjob): the first
// time through add, then by the series' index, which is the CronJob's for the whole run (a scrape
// of 500 CronJobs made most of a year's run cost).
func (r *promRec) addCronJob(now time.Duration, v float64, f int, name string, cj *cronJob) {
	c := r.cjSeries[f]
	if cj.idx < len(c) && c[cj.idx] >= 0 {
		r.addAt(now, v, int(c[cj.idx]))
		return
	}
	i := r.add(now, v, name, "namespace", cj.ns, "cronjob", cj.name)
	for cj.idx >= len(c) {
		c = append(c, -1)
	}
	c[cj.idx] = int32(i)
	r.cjSeries[f] = c
}

// is reports whether s is the series of name and label pairs kv: the same as comparing their keys
// in promRec.index, since no name or label holds the separator 0xff (a string of valid UTF-8
// never does).
func (s *PromSeriesData) is(name string, kv []string) bool {
	if s.Name != name || len(s.Labels) != len(kv) {
		return false
	}
	for j, l := range s.Labels {
		if l != kv[j] {
			return false
		}
	}
	return true
}

// trimMin is the fewest points a bounded series holds before it is trimmed: trimming is amortised
// (the next one waits until the kept points have doubled).
const trimMin = 64

// trimPoints drops the change points of s before cut but the last one (the value from cut on)
// and returns how many are kept.
func trimPoints(s *PromSeriesData, cut time.Duration) int {
	j := sort.Search(len(s.Points), func(k int) bool { return s.Points[k].T >= cut })
	if j > 1 {
		s.Points = s.Points[:copy(s.Points, s.Points[j-1:])]
	}
	return len(s.Points)
}

// on reports whether any of the families is kept.
func (r *promRec) on(names ...string) bool {
	if r.want == nil {
		return true
	}
	for _, n := range names {
		if r.want[n] {
			return true
		}
	}
	return false
}

func b01(b bool) float64 {
	if b {
		return 1
	}
	return 0
}

var podPhases = [...]string{"Pending", "Running", "Succeeded", "Failed", "Unknown"}

func (r *promRec) scrape(now time.Duration) {
	w := r.w
	f := &r.fam
	if f.nodeReady || f.nodeUnsched {
		for _, ns := range w.nodes {
			n := ns.n
			if f.nodeReady {
				r.add(now, b01(n.Ready), "kube_node_status_condition", "node", n.Name, "condition", "Ready", "status", "true")
				r.add(now, 0, "kube_node_status_condition", "node", n.Name, "condition", "Ready", "status", "false")
				r.add(now, b01(!n.Ready), "kube_node_status_condition", "node", n.Name, "condition", "Ready", "status", "unknown")
			}
			if f.nodeUnsched {
				r.add(now, b01(n.Unschedulable), "kube_node_spec_unschedulable", "node", n.Name)
			}
		}
	}
	if f.depSpec || f.depAvail || f.podPhase || f.podReady {
		for _, wl := range w.wls {
			avail := 0
			for _, pi := range wl.pods {
				p := w.st.Pods[pi]
				if p.Phase == cluster.PodRunning && p.Ready {
					avail++
				}
				r.pod(now, p)
			}
			if f.depSpec {
				r.add(now, float64(wl.replicas), "kube_deployment_spec_replicas", "namespace", wl.ns, "deployment", wl.name)
			}
			if f.depAvail {
				r.add(now, float64(avail), "kube_deployment_status_replicas_available", "namespace", wl.ns, "deployment", wl.name)
			}
		}
	}
	if c := w.cron; c != nil {
		if f.cjLast || f.cjSuspend || f.cjActive || f.cjNext || f.jobActive || f.jobFailed {
			for _, cj := range c.cjs {
				if f.cjLast {
					r.addCronJob(now, float64(cj.lastSched.Unix()), cjLastFam, "kube_cronjob_status_last_schedule_time", cj)
				}
				if f.cjSuspend {
					r.addCronJob(now, b01(cj.suspend), cjSuspendFam, "kube_cronjob_spec_suspend", cj)
				}
				if f.cjActive {
					r.addCronJob(now, float64(len(cj.active)), cjActiveFam, "kube_cronjob_status_active", cj)
				}
				if f.cjNext && !cj.suspend {
					// kube-state-metrics' next schedule time after lastScheduleTime: the
					// CronJob keeps it (nextAfter), lastSched being in its location
					if next := cj.nextAfter; !next.IsZero() {
						r.addCronJob(now, float64(next.Unix()), cjNextFam, "kube_cronjob_next_schedule_time", cj)
					}
				}
				if !f.jobActive && !f.jobFailed {
					continue
				}
				for _, ri := range cj.active {
					run := c.run(ri)
					if run == nil {
						continue
					}
					if f.jobActive {
						r.add(now, 1, "kube_job_status_active", "namespace", cj.ns, "job_name", run.name)
					}
					if f.jobFailed {
						r.add(now, float64(run.podFails), "kube_job_status_failed", "namespace", cj.ns, "job_name", run.name)
					}
				}
			}
		}
		if f.cron {
			r.cronScrape(now)
		}
	}
	if f.requests {
		r.requests(now)
	}
	if w.cp != nil && f.apiserver {
		r.apiserver(now)
	}
}

// promFamilies says which families a scrape records, decided once (a keep rule is per family:
// a scrape of 500 CronJobs asks it 500 times per family otherwise).
type promFamilies struct {
	nodeReady, nodeUnsched                                    bool
	depSpec, depAvail, podPhase, podReady                     bool
	cjLast, cjSuspend, cjActive, cjNext, jobActive, jobFailed bool
	cron, requests, apiserver                                 bool
}

func (r *promRec) families() promFamilies {
	return promFamilies{
		nodeReady: r.on("kube_node_status_condition"), nodeUnsched: r.on("kube_node_spec_unschedulable"),
		depSpec: r.on("kube_deployment_spec_replicas"), depAvail: r.on("kube_deployment_status_replicas_available"),
		podPhase: r.on("kube_pod_status_phase"), podReady: r.on("kube_pod_status_ready"),
		cjLast: r.on("kube_cronjob_status_last_schedule_time"), cjSuspend: r.on("kube_cronjob_spec_suspend"),
		cjActive: r.on("kube_cronjob_status_active"), cjNext: r.on("kube_cronjob_next_schedule_time"),
		jobActive: r.on("kube_job_status_active"), jobFailed: r.on("kube_job_status_failed"),
		cron:      r.on(cronFamilies...),
		requests:  r.on("istio_requests_total", "nginx_ingress_controller_requests"),
		apiserver: r.on("apiserver_request_total", "apiserver_request_duration_seconds", "faultline_apiserver_exits_total", "faultline_node_auto_repairs_total"),
	}
}

// cronScrape records the cron platform's families as gather would record their registry's
// Gather (families by name, a family's metrics by label values), but straight from the metrics:
// Gather collects through goroutines and channels, which cost a scrape of the cron storm more
// than the rest of it together; and the histograms from their mirrors (histMirror), since their
// Write builds a dto histogram each time. TestCronScrapeIsGather holds the two equal.
func (r *promRec) cronScrape(now time.Duration) {
	if r.cronSrc == nil {
		met := r.w.cron.met
		m := met.Families
		counter, hist := dto.MetricType_COUNTER, dto.MetricType_HISTOGRAM
		r.cronSrc = []cronSource{
			{"cron_app_container_duration_seconds", hist, nil, &met.appDuration, nil},
			{"cron_attempt_failure_total", counter, []prometheus.Metric{m.AttemptFail}, nil, nil},
			{"cron_failure_total", counter, []prometheus.Metric{m.Failure}, nil, nil},
			{"cron_scheduling_decision_total", counter, append([]prometheus.Metric{m.Invoke}, sortedSkips(m)...), nil, nil},
			{"cron_start_delay_seconds", hist, nil, &met.startDelay, nil},
			{"cron_started_total", counter, []prometheus.Metric{m.Started}, nil, nil},
			{"cron_success_total", counter, []prometheus.Metric{m.Success}, nil, nil},
		}
	}
	for i := range r.cronSrc {
		src := &r.cronSrc[i]
		if !r.on(src.name) {
			continue
		}
		if h := src.hist; h != nil {
			var cum uint64
			r.addHist(now, r.histNames(src.name), r.kv[:0], len(h.bounds), func(i int) (float64, uint64) { cum += h.counts[i]; return h.bounds[i], cum },
				h.count, h.sum)
			continue
		}
		if src.dto == nil {
			src.dto = make([]*dto.Metric, len(src.metrics))
			for j := range src.dto {
				src.dto[j] = &dto.Metric{}
			}
		}
		mf := dto.MetricFamily{Name: &src.name, Type: &src.typ, Metric: src.dto}
		for j, m := range src.metrics {
			d := src.dto[j]
			d.Reset()
			if err := m.Write(d); err != nil {
				panic("sim: read cron metrics: " + err.Error())
			}
		}
		r.addFamily(now, &mf)
	}
}

// cronSource is one cron family: its counters in Gather's order, or its histogram's mirror.
type cronSource struct {
	name    string
	typ     dto.MetricType
	metrics []prometheus.Metric
	hist    *histMirror
	dto     []*dto.Metric // the metrics written, reused by every scrape (addFamily keeps none)
}

// sortedSkips are the skip counters ordered by their reason label, as Gather orders them.
func sortedSkips(m *cronmetrics.Families) []prometheus.Metric {
	idx := make([]int, len(cronmetrics.Reasons))
	for i := range idx {
		idx[i] = i
	}
	slices.SortFunc(idx, func(a, b int) int { return strings.Compare(cronmetrics.Reasons[a], cronmetrics.Reasons[b]) })
	out := make([]prometheus.Metric, len(idx))
	for i, j := range idx {
		out[i] = m.Skip[j]
	}
	return out
}

// cronFamilies are the cron platform's family names (package internal/cronmetrics).
var cronFamilies = []string{"cron_started_total", "cron_success_total", "cron_failure_total", "cron_attempt_failure_total",
	"cron_scheduling_decision_total", "cron_start_delay_seconds", "cron_app_container_duration_seconds"}

// pod records kube-state-metrics' phase and ready families of a pod that exists.
func (r *promRec) pod(now time.Duration, p *cluster.Pod) {
	if p.Phase == cluster.PodGone {
		return
	}
	phase := "Pending"
	if p.Phase == cluster.PodRunning || p.Phase == cluster.PodTerminating {
		phase = "Running"
	}
	if r.fam.podPhase {
		for _, ph := range podPhases {
			r.add(now, b01(ph == phase), "kube_pod_status_phase", "namespace", p.Namespace, "pod", p.Name, "phase", ph)
		}
	}
	if r.fam.podReady {
		r.add(now, b01(p.Ready), "kube_pod_status_ready", "namespace", p.Namespace, "pod", p.Name, "condition", "true")
		r.add(now, b01(!p.Ready), "kube_pod_status_ready", "namespace", p.Namespace, "pod", p.Name, "condition", "false")
	}
}

// gather records the families of a client_golang registry (counters, gauges, histograms).
func (r *promRec) gather(now time.Duration, gather func() ([]*dto.MetricFamily, error)) {
	mfs, err := gather()
	if err != nil {
		panic("sim: gather metrics: " + err.Error())
	}
	for _, mf := range mfs {
		if r.on(mf.GetName()) {
			r.addFamily(now, mf)
		}
	}
}

// addFamily records the metrics of one family.
func (r *promRec) addFamily(now time.Duration, mf *dto.MetricFamily) {
	name := mf.GetName()
	var hn *histNames
	if mf.GetType() == dto.MetricType_HISTOGRAM {
		hn = r.histNames(name)
	}
	for _, m := range mf.GetMetric() {
		kv := r.kv[:0]
		for _, lp := range m.GetLabel() {
			kv = append(kv, lp.GetName(), lp.GetValue())
		}
		r.kv = kv
		switch mf.GetType() {
		case dto.MetricType_COUNTER:
			r.add(now, m.GetCounter().GetValue(), name, kv...)
		case dto.MetricType_GAUGE:
			r.add(now, m.GetGauge().GetValue(), name, kv...)
		case dto.MetricType_HISTOGRAM:
			h := m.GetHistogram()
			bs := h.GetBucket()
			r.addHist(now, hn, kv, len(bs), func(i int) (float64, uint64) { return bs[i].GetUpperBound(), bs[i].GetCumulativeCount() },
				h.GetSampleCount(), h.GetSampleSum())
		}
	}
}

// addHist records a histogram's series with labels kv: its n buckets (bucket(i) is the i-th
// upper bound and cumulative count, asked in order), +Inf, the sum and the count.
func (r *promRec) addHist(now time.Duration, hn *histNames, kv []string, n int, bucket func(i int) (le float64, cum uint64), count uint64, sum float64) {
	for i := range n {
		le, cum := bucket(i)
		r.add(now, float64(cum), hn.bucket, append(kv, "le", hn.le(le))...)
	}
	r.add(now, float64(count), hn.bucket, append(kv, "le", "+Inf")...)
	r.add(now, sum, hn.sum, kv...)
	r.add(now, float64(count), hn.count, kv...)
}

// histNames are a histogram family's series names and its buckets' le labels, built once per
// run rather than once per scrape and bucket.
type histNames struct {
	bucket, sum, count string
	les                map[float64]string
}

func (r *promRec) histNames(name string) *histNames {
	if h, ok := r.hists[name]; ok {
		return h
	}
	if r.hists == nil {
		r.hists = map[string]*histNames{}
	}
	h := &histNames{bucket: name + "_bucket", sum: name + "_sum", count: name + "_count", les: map[float64]string{}}
	r.hists[name] = h
	return h
}

// le is formatLe(v), kept.
func (h *histNames) le(v float64) string {
	s, ok := h.les[v]
	if !ok {
		s = formatLe(v)
		h.les[v] = s
	}
	return s
}

func formatLe(v float64) string {
	if math.IsInf(v, 1) {
		return "+Inf"
	}
	return strconv.FormatFloat(v, 'g', -1, 64)
}

// requests records the request counters of every load with a rate, integrated up to now.
func (r *promRec) requests(now time.Duration) {
	w := r.w
	secs := (now - w.acct.last).Seconds()
	for _, l := range w.inputOrderLoads() {
		if l.l.RequestsPerSecond <= 0 {
			continue
		}
		rate := l.l.RequestsPerSecond * l.mult
		total := l.total + rate*secs
		ok := l.ok + rate*l.success*secs
		if secs <= 0 {
			total, ok = l.total, l.ok
		}
		codes := [...]string{"502", "503", "500"}
		var errs [3]float64
		if l.net != nil && w.net != nil && w.net.path {
			// the failures since the last scrape, split by the shares now
			e := r.errs[l]
			if e == nil {
				e = &[3]float64{}
				r.errs[l] = e
			}
			nl := l.net
			d := (total - ok) - r.failed[l]
			if sum := nl.e502 + nl.e503 + nl.eApp; d > 0 {
				if sum > 0 {
					e[0] += d * nl.e502 / sum
					e[1] += d * nl.e503 / sum
					e[2] += d * nl.eApp / sum
				} else {
					e[1] += d
				}
			}
			r.failed[l] = total - ok
			errs = *e
		} else {
			errs[1] = total - ok
		}
		ns, name := defaultWorkloadNamespace, l.l.Target
		if parts := strings.Split(l.l.Target, "/"); len(parts) == 3 {
			ns, name = parts[1], parts[2]
		} else if len(parts) == 2 {
			name = parts[1]
		}
		r.add(now, math.Round(ok), "istio_requests_total", "destination_service_namespace", ns, "destination_service_name", name, "response_code", "200")
		for i, c := range codes {
			if errs[i] > 0 || r.has("istio_requests_total", ns, name, c) {
				r.add(now, math.Round(errs[i]), "istio_requests_total", "destination_service_namespace", ns, "destination_service_name", name, "response_code", c)
			}
		}
		if l.net != nil && w.net != nil && w.net.path && l.net.entry > 0 {
			ing := strings.TrimPrefix(w.net.planes[l.net.entry].name, "ingress/"+ns+"/")
			r.add(now, math.Round(ok), "nginx_ingress_controller_requests", "namespace", ns, "ingress", ing, "service", name, "status", "200")
			for i, c := range codes {
				if errs[i] > 0 {
					r.add(now, math.Round(errs[i]), "nginx_ingress_controller_requests", "namespace", ns, "ingress", ing, "service", name, "status", c)
				}
			}
		}
	}
}

// has reports whether istio_requests_total has a series for the code already (a counter keeps
// its series once it exists).
func (r *promRec) has(name, ns, svc, code string) bool {
	r.key = append(r.key[:0], name...)
	for _, s := range []string{"destination_service_namespace", ns, "destination_service_name", svc, "response_code", code} {
		r.key = append(r.key, 0xff)
		r.key = append(r.key, s...)
	}
	_, ok := r.index[string(r.key)]
	return ok
}

// apiserver records the apiserver's request families, integrated up to now without advancing
// the control plane's own integration.
func (r *promRec) apiserver(now time.Duration) {
	cp := r.w.cp
	dt := (now - cp.last).Seconds()
	keys, agg := aggregateAPI(cp, func(c *apiClass) *apiHist {
		h := c.hist // a copy, brought up to now without touching the run's own
		h.buckets = append([]float64(nil), c.hist.buckets...)
		if dt > 0 && cp.anyReady {
			h.observe(c, dt)
		}
		return &h
	})
	for _, k := range keys {
		h := agg[k]
		r.add(now, math.Round(h.ok), "apiserver_request_total", "verb", k.verb, "group", k.group, "resource", k.resource, "code", "200")
		if h.bad > 0 {
			r.add(now, math.Round(h.bad), "apiserver_request_total", "verb", k.verb, "group", k.group, "resource", k.resource, "code", "500")
		}
		acc := 0.0
		for i, b := range apiserverBuckets {
			acc += h.buckets[i]
			r.add(now, math.Round(acc), "apiserver_request_duration_seconds_bucket", "verb", k.verb, "group", k.group, "resource", k.resource, "subresource", k.sub, "scope", k.scope, "le", formatLe(b))
		}
		r.add(now, math.Round(h.count), "apiserver_request_duration_seconds_bucket", "verb", k.verb, "group", k.group, "resource", k.resource, "subresource", k.sub, "scope", k.scope, "le", "+Inf")
		r.add(now, h.sum, "apiserver_request_duration_seconds_sum", "verb", k.verb, "group", k.group, "resource", k.resource, "subresource", k.sub, "scope", k.scope)
		r.add(now, math.Round(h.count), "apiserver_request_duration_seconds_count", "verb", k.verb, "group", k.group, "resource", k.resource, "subresource", k.sub, "scope", k.scope)
	}
	r.add(now, float64(cp.exits), "faultline_apiserver_exits_total")
	r.add(now, float64(cp.repairs), "faultline_node_auto_repairs_total")
}
