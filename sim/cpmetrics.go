package sim

import (
	"bytes"
	"sort"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/common/expfmt"
)

// apiserverBuckets are apiserver_request_duration_seconds' buckets (k8s.io/apiserver
// endpoints/metrics).
var apiserverBuckets = []float64{0.005, 0.025, 0.05, 0.1, 0.2, 0.4, 0.6, 0.8, 1.0, 1.25, 1.5, 2, 3, 4, 5, 6, 8, 10, 15, 20, 30, 45, 60}

// apiHist is one request class's integrated latency histogram and response counts. Requests are a
// rate, so the counts are integrated request numbers, rounded when the families are written.
type apiHist struct {
	buckets []float64 // per bucket (not cumulative); the last entry is +Inf
	sum     float64
	count   float64
	ok, bad float64 // admitted / rejected
}

// observe adds what the class served during dt seconds: the apiserver records every request it
// answered, rejected ones included, with its duration.
func (h *apiHist) observe(c *apiClass, dt float64) {
	if h.buckets == nil {
		h.buckets = make([]float64, len(apiserverBuckets)+1)
	}
	for _, o := range c.dist {
		n := c.rate * o.p * dt
		if n == 0 {
			continue
		}
		s := o.latency.Seconds()
		h.buckets[sort.SearchFloat64s(apiserverBuckets, s)] += n
		h.sum += n * s
		h.count += n
		if o.allowed {
			h.ok += n
		} else {
			h.bad += n
		}
	}
}

// verb is the apiserver's metric verb for an admission operation.
func verb(op string) string {
	switch op {
	case "CREATE":
		return "POST"
	case "UPDATE":
		return "PUT"
	}
	return op
}

type constCollector []prometheus.Metric

func (c constCollector) Describe(ch chan<- *prometheus.Desc) { prometheus.DescribeByCollect(c, ch) }
func (c constCollector) Collect(ch chan<- prometheus.Metric) {
	for _, m := range c {
		ch <- m
	}
}

var (
	descDuration = prometheus.NewDesc("apiserver_request_duration_seconds",
		"Response latency distribution in seconds for each verb, group, resource and subresource (requests the apiserver answered, rejected ones included).",
		[]string{"verb", "group", "resource", "subresource", "scope"}, nil)
	descTotal = prometheus.NewDesc("apiserver_request_total",
		"Counter of apiserver requests by verb, resource and HTTP response code (500: a webhook call failed under failurePolicy Fail).",
		[]string{"verb", "group", "resource", "code"}, nil)
	descExits = prometheus.NewDesc("faultline_apiserver_exits_total",
		"Apiserver exits because the client-CA post-start hook could not write its ConfigMap.", nil, nil)
	descRepairs = prometheus.NewDesc("faultline_node_auto_repairs_total",
		"Nodes recreated by auto-repair.", nil, nil)
)

// apiKey is the label set of the apiserver's request families.
type apiKey struct{ verb, group, resource, sub, scope string }

// aggregateAPI adds up the request classes' histograms (histOf gives each class's) by the labels
// the apiserver's families carry: classes with the same labels (leases in kube-system and
// kube-node-lease, say) add up. Keys come in first-seen order.
func aggregateAPI(cp *controlPlane, histOf func(*apiClass) *apiHist) ([]apiKey, map[apiKey]*apiHist) {
	agg := map[apiKey]*apiHist{}
	var keys []apiKey
	for _, c := range cp.all {
		h := histOf(c)
		if h.count == 0 {
			continue
		}
		k := apiKey{verb(c.r.Operation), c.r.APIGroup, c.r.Resource, c.r.Subresource, "namespace"}
		if c.r.Namespace == "" {
			k.scope = "cluster"
		}
		a := agg[k]
		if a == nil {
			a = &apiHist{buckets: make([]float64, len(h.buckets))}
			agg[k] = a
			keys = append(keys, k)
		}
		for i := range h.buckets {
			a.buckets[i] += h.buckets[i]
		}
		a.sum += h.sum
		a.count += h.count
		a.ok += h.ok
		a.bad += h.bad
	}
	return keys, agg
}

// openMetrics writes the apiserver's families (and the cron families, when the run has them:
// cron non-nil) as OpenMetrics text.
func (cp *controlPlane) openMetrics(cron *cronWorld) []byte {
	keys, agg := aggregateAPI(cp, func(c *apiClass) *apiHist { return &c.hist })
	var ms constCollector
	for _, k := range keys { // first-seen order; Gather sorts the output anyway
		h := agg[k]
		cum := map[float64]uint64{}
		acc := 0.0
		for i, b := range apiserverBuckets {
			acc += h.buckets[i]
			cum[b] = uint64(acc + 0.5)
		}
		ms = append(ms, prometheus.MustNewConstHistogram(descDuration, uint64(h.count+0.5), h.sum, cum,
			k.verb, k.group, k.resource, k.sub, k.scope))
		ms = append(ms, prometheus.MustNewConstMetric(descTotal, prometheus.CounterValue, float64(uint64(h.ok+0.5)),
			k.verb, k.group, k.resource, "200"))
		if h.bad > 0 {
			ms = append(ms, prometheus.MustNewConstMetric(descTotal, prometheus.CounterValue, float64(uint64(h.bad+0.5)),
				k.verb, k.group, k.resource, "500"))
		}
	}
	ms = append(ms, prometheus.MustNewConstMetric(descExits, prometheus.CounterValue, float64(cp.exits)))
	ms = append(ms, prometheus.MustNewConstMetric(descRepairs, prometheus.CounterValue, float64(cp.repairs)))
	reg := prometheus.NewRegistry()
	reg.MustRegister(ms)
	gatherers := prometheus.Gatherers{reg}
	if cron != nil {
		gatherers = append(gatherers, cron.met.reg)
	}
	mfs, err := gatherers.Gather()
	if err != nil {
		panic("sim: gather control-plane metrics: " + err.Error())
	}
	var b bytes.Buffer
	enc := expfmt.NewEncoder(&b, expfmt.NewFormat(expfmt.TypeOpenMetrics))
	for _, mf := range mfs {
		if err := enc.Encode(mf); err != nil {
			panic("sim: encode control-plane metrics: " + err.Error())
		}
	}
	if c, ok := enc.(expfmt.Closer); ok {
		_ = c.Close()
	}
	return b.Bytes()
}

// controlPlaneColumns are sampled into the run's Series: the latency quantile now, ready
// apiserver instances and Ready nodes.
var controlPlaneColumns = []string{"api/p99-seconds", "api/instances-ready", "nodes/ready"}

func (cp *controlPlane) sampleRow(row []float64) []float64 {
	nodes := 0
	for _, ns := range *cp.nodes {
		if ns.n.Ready {
			nodes++
		}
	}
	return append(row, cp.p99.Seconds(), float64(cp.ready()), float64(nodes))
}
