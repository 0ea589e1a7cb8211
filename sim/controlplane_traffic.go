package sim

import (
	"sort"
	"time"

	"github.com/faultline-dev/faultline/measure"
	"github.com/faultline-dev/faultline/sim/engine"
	"github.com/faultline-dev/faultline/sim/trace"
)

// apiTraffic is the API's clients (controlplane.go's model): the request classes of the
// scenario's mix and the kubelets' lease renewals, each with its current fate through the
// apiservers and the admission chain, integrated over time into counts and the apiserver's
// request histograms (cpmetrics.go); the latency quantile of mutating requests and whether the
// API is impaired. No events of its own: it is rederived at every recomputation.
type apiTraffic struct {
	*cpEnv
	adm      *admissionChain
	classes  []*apiClass
	lease    *apiClass   // the kubelets' lease renewals
	all      []*apiClass // classes, then lease: the order of every sum
	hbPath   float64     // chance that a lease renewal gets through admission in time
	last     time.Duration
	anyReady bool
	p99      time.Duration
	impaired bool // some request fails or the quantile is above the threshold

	// the record: the quantile's changes and the impaired spans
	quantiles     []measure.LatencyPoint
	impairedSpans []measure.Span
}

// apiClass is one kind of request with its current fate and its integrated counts.
type apiClass struct {
	r         APIRequest
	matched   []int
	dist      []outcome
	success   float64 // share that succeeds now
	rate      float64 // requests per second now
	ok, total float64
	hist      apiHist
}

var leaseRenewal = APIRequest{Name: "kubelet lease renewal", Operation: "UPDATE", APIGroup: "coordination.k8s.io", APIVersion: "v1", Resource: "leases", Namespace: "kube-node-lease"}

func newAPITraffic(e *cpEnv, adm *admissionChain) *apiTraffic {
	t := &apiTraffic{cpEnv: e, adm: adm, anyReady: true}
	reqs := e.m.ControlPlane.Requests
	if len(reqs) == 0 {
		reqs = DefaultAPIRequests()
	}
	for _, r := range reqs {
		t.classes = append(t.classes, &apiClass{r: r, matched: adm.match(&r)})
	}
	t.lease = &apiClass{r: leaseRenewal, matched: adm.match(&leaseRenewal)}
	t.all = append(append(make([]*apiClass, 0, len(t.classes)+1), t.classes...), t.lease)
	return t
}

// integrate adds the requests of every class from the last integration up to now. Where the
// integration steps fall is part of the figures' float rounding: keep them.
func (t *apiTraffic) integrate(now time.Duration) {
	dt := (now - t.last).Seconds()
	if dt <= 0 {
		return
	}
	for _, c := range t.all {
		r := c.rate * dt
		c.total += r
		c.ok += r * c.success
		if t.anyReady {
			c.hist.observe(c, dt)
		}
	}
	t.last = now
}

// derive sets every class's fate with the apiservers as they are now (anyReady) and reports
// whether the latency alert's condition holds.
func (t *apiTraffic) derive(anyReady bool, now time.Duration) (alert bool) {
	t.anyReady = anyReady
	var lat []outcome // mutating requests' latency, weighted by rate
	bad := false
	for _, c := range t.all {
		c.dist = t.adm.admit(c.matched)
		through := 0.0
		for _, o := range c.dist {
			if o.allowed && (c != t.lease || o.latency < t.m.ControlPlane.HeartbeatTimeout.Duration) {
				through += o.p
			}
		}
		c.success = 0
		if t.anyReady {
			c.success = through
		}
		if c == t.lease {
			t.hbPath = through
		}
		rate := t.classRate(c)
		c.rate = rate
		if rate > 0 && c.success < 1-1e-12 {
			bad = true
		}
		if c.r.mutating() && t.anyReady {
			for _, o := range c.dist {
				lat = append(lat, outcome{o.p * rate, o.latency, true})
			}
		}
	}
	if p99 := latencyQuantile(lat, t.m.ControlPlane.LatencyAlert.Quantile); p99 != t.p99 {
		t.p99 = p99
		t.quantiles = append(t.quantiles, measure.LatencyPoint{At: now, Value: p99})
	}
	alert = t.p99 > t.m.ControlPlane.LatencyAlert.Threshold.Duration
	if (bad || alert) != t.impaired {
		t.impaired = bad || alert
		if t.impaired {
			t.impairedSpans = append(t.impairedSpans, measure.Span{From: now, To: -1})
			envEmit(t.env, trace.APIImpaired{P99: t.p99, AnyAPIServerReady: t.anyReady})
		} else {
			t.impairedSpans[len(t.impairedSpans)-1].To = now
			envEmit(t.env, trace.APIHealthy{})
		}
	}
	return alert
}

// classRate is the requests per second of a class now (lease renewals: one per live node per
// status period).
func (t *apiTraffic) classRate(c *apiClass) float64 {
	if c != t.lease {
		return c.r.RatePerSecond
	}
	up := 0
	for _, ns := range *t.nodes {
		if ns.n.Up {
			up++
		}
	}
	return float64(up) / t.m.NodeLifecycle.StatusUpdateFrequency.Duration.Seconds()
}

// latencyQuantile is the smallest latency with at least q of the weight at or below it; 0 without weight.
func latencyQuantile(d []outcome, q float64) time.Duration {
	total := 0.0
	for _, o := range d {
		total += o.p
	}
	if total == 0 {
		return 0
	}
	sort.SliceStable(d, func(i, j int) bool { return d[i].latency < d[j].latency })
	acc := 0.0
	for _, o := range d {
		acc += o.p
		if acc >= q*total-1e-12 {
			return o.latency
		}
	}
	return d[len(d)-1].latency
}

// latencyAlert is the Prometheus alert on the latency quantile (KubeAPILatencyHigh), following
// Prometheus's rule evaluation: the alert becomes pending at the first evaluation that sees the
// condition and fires at the first evaluation at least For later if the condition held
// throughout.
type latencyAlert struct {
	*cpEnv
	hid     engine.HandlerID
	t       *apiTraffic // integrated up to the firing
	on      bool        // condition true
	timer   engine.Timer
	firing  bool
	firings []time.Duration // for the record
}

// latencyAlert's only event kind: the for-duration has passed
const alertEvFire uint32 = 1

var alertEvents = [...]cpEvent[*latencyAlert]{alertEvFire: {"latency-alert", func(a *latencyAlert, _ int) { a.fires(a.q.Now()) }}}

// Fire runs the alert's events.
func (a *latencyAlert) Fire(_ time.Duration, arg uint32) { fireEvent(a, alertEvents[:], arg) }

// set follows the alert's condition.
func (a *latencyAlert) set(on bool, now time.Duration) {
	if on == a.on {
		return
	}
	a.on = on
	al := a.m.ControlPlane.LatencyAlert
	iv := al.EvaluationInterval.Duration
	if on {
		pending := ceilTo(now, iv)
		a.timer = a.q.AtID(ceilTo(pending+al.For.Duration, iv), a.hid, pack(alertEvFire, 0))
		return
	}
	a.q.Cancel(a.timer)
	if a.firing {
		a.firing = false
		envEmit(a.env, trace.AlertResolved{Alert: "KubeAPILatencyHigh"})
	}
}

func ceilTo(t, step time.Duration) time.Duration {
	if r := t % step; r != 0 {
		return t + step - r
	}
	return t
}

func (a *latencyAlert) fires(now time.Duration) {
	if !a.on || a.firing {
		return
	}
	a.t.integrate(now)
	a.firing = true
	a.firings = append(a.firings, now)
	envEmit(a.env, trace.AlertFiring{Alert: "KubeAPILatencyHigh", P99: a.t.p99})
}
