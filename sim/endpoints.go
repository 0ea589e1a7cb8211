package sim

import (
	"fmt"
	"math/rand/v2"
	"slices"
	"time"

	corev1 "k8s.io/api/core/v1"
	networkingv1 "k8s.io/api/networking/v1"
	"k8s.io/apimachinery/pkg/labels"

	"github.com/faultline-dev/faultline/measure"
	"github.com/faultline-dev/faultline/sim/cluster"
	"github.com/faultline-dev/faultline/sim/engine"
	"github.com/faultline-dev/faultline/sim/trace"
)

// The network path: Services and EndpointSlices, data planes, probes, termination.
//
// Model: a pod's endpoint is ready in its Service's EndpointSlice while the pod is Ready and not
// terminating (pkg/controller/endpointslice; a terminating endpoint is ready=false). Each data
// plane learns of every endpoint change after its own lag (Network): kube-proxy carries the calls
// inside the cluster, each networking.k8s.io/v1 Ingress is a load balancer carrying the external
// requests of the Services it routes to. A data plane spreads requests evenly over the endpoints
// it currently believes ready: a request to a pod whose process no longer answers (it exited,
// hangs, or its node is down) fails as a 502, a request with no believed endpoint as a 503, and
// a request the pod answers fails (an app 5xx) when a dependency call fails after the caller's
// retries or the pod is starved of CPU. Requests are rates integrated between events.
//
// The model is on when the scenario routes traffic through an Ingress or a load sets network
// app behaviour (Load.Readiness, OnSIGTERM, Retry); without either, traffic follows the earlier
// instant-endpoint model (traffic.go) that older scenarios are calibrated on.
//
// Pod readiness feedback (GKE container-native load balancing): a pod whose spec has the
// readiness gate cloud.google.com/load-balancer-neg-ready is Ready only once every Ingress routing
// to it has attached it; until then the Ingress learns of its endpoint from its containers being
// ready, kube-proxy from the pod being Ready. The gate stays true once set, as the NEG controller
// sets it once. So a rolling update waits for the load balancer before it removes the next pod.
//
// Left out: kube-proxy's fallback to serving-terminating endpoints when no ready one is left,
// connection reuse (keep-alive connections pinned to a pod; so connection-close behaves like
// keep-serving here), per-request latency and in-flight requests, probe timeouts, load-balancer
// health checks of their own, topology-aware routing, session affinity.
type netWorld struct {
	hid    engine.HandlerID
	path   bool          // the network path is modelled (else only rollouts use this)
	planes []*dataPlane  // [0] is kube-proxy, then one per Ingress
	pods   []*netPod     // by pod index, grown on demand
	props  []propagation // pending propagations; free slots listed in free
	free   []int
	rng    *rand.Rand // probe phases of the pods present at the start

	// accounting (entry requests, integrated)
	n502, n503, nApp, nCallErr, nRetries, retryWait float64
	collOK, collTotal                               float64
	restarts                                        int
	rollouts                                        []*rollout
	rolloutDone                                     int
	rolloutTime                                     time.Duration
}

// netLoad is a load's network-path state.
type netLoad struct {
	entry    int // data plane its external requests arrive through
	deep     bool
	checks   []*loadState
	sigterm  string
	retry    Retry
	faulted  bool // its requests need a workload a fault acts on
	checksOK bool // a deep check passes now

	kpOK     float64 // share of calls through kube-proxy that succeed (what callers see)
	ok       float64 // share of entry requests that succeed
	e502     float64
	e503     float64
	eApp     float64
	reached  float64 // share of entry requests a running pod answered (and so called dependencies)
	callErr  float64 // failed dependency attempts per answered request
	retries  float64 // retries per answered request
	waitSecs float64 // back-off wait per answered request, seconds
}

// dataPlane is one consumer of EndpointSlices with its own lag.
type dataPlane struct {
	name    string
	lag     Lag
	rng     *rand.Rand
	ingress bool
	routes  []bool   // per workload index: this plane carries its requests
	eps     [][]int  // per workload index: the pod indices it believes ready, in the order learned
	applied []uint32 // per pod index: the sequence of the last change applied
}

// propagation is one endpoint change on its way to one data plane.
type propagation struct {
	plane int
	pod   int
	seq   uint32
	ready bool
}

// netPod is a pod's network-path state: its published endpoint, its process and its probes.
type netPod struct {
	tracked    bool   // set up (a workload pod with a load)
	pub        bool   // endpoint ready as last published
	seq        uint32 // changes published
	negGate    bool   // has the NEG readiness gate
	gateOK     bool   // the gate condition is true (latched)
	pubCR      bool   // containers ready as last published to the Ingress planes (with negGate)
	seqCR      uint32
	started    bool // startup probe passed (or none)
	restarting bool // the container is being restarted: the process is down
	exited     bool // the process exited after SIGTERM
	terminate  bool // deletion in progress (preStop, SIGTERM, grace)
	restarts   int
	rd, lv, su probe
}

// net event kinds (the netWorld's own handler)
const (
	netEvProp uint32 = iota + 1
	netEvReadiness
	netEvLiveness
	netEvStartup
	netEvExit
	netEvRestarted
	netEvChange
)

type netHandler struct{ w *World }

func (h netHandler) Fire(now time.Duration, arg uint32) {
	w := h.w
	kind, i := unpack(arg)
	switch kind {
	case netEvProp:
		w.applyPropagation(i)
	case netEvReadiness, netEvLiveness, netEvStartup:
		w.probeFlip(kind, i, now)
	case netEvExit:
		w.processExit(i)
	case netEvRestarted:
		w.containerRestarted(i)
	case netEvChange:
		w.applyChange(i)
	default:
		panic(fmt.Sprintf("sim: unknown net event kind %d", kind))
	}
}

// buildNet decides whether the network path is modelled and wires loads to data planes.
func (w *World) buildNet() {
	path := false
	var ingresses []*networkingv1.Ingress
	for _, obj := range w.in.Objects {
		if ing, ok := obj.(*networkingv1.Ingress); ok {
			ingresses = append(ingresses, ing)
			path = true
		}
	}
	for i := range w.in.Load {
		if w.in.Load[i].netBehaviour() {
			path = true
		}
	}
	if !path && len(w.in.Changes) == 0 {
		return
	}
	n := &netWorld{path: path, rng: w.streams.Stream("net/probe-phase")}
	w.net = n
	if !path {
		return
	}
	n.planes = append(n.planes, &dataPlane{name: "kube-proxy", lag: w.m.Network.KubeProxyLag, rng: w.streams.Stream("net/kube-proxy")})
	byKey := map[string]*loadState{}
	for _, l := range w.loads {
		byKey[l.wl.key] = l
		l.net = &netLoad{sigterm: SIGTERMExit}
	}
	for _, ing := range ingresses {
		ns := namespaceOr(ing.Namespace)
		name := "ingress/" + ns + "/" + ing.Name
		pi := len(n.planes)
		n.planes = append(n.planes, &dataPlane{name: name, lag: w.m.Network.IngressLag, rng: w.streams.Stream("net/" + name), ingress: true, routes: make([]bool, len(w.wls))})
		for _, svc := range ingressServices(ing) {
			sel := w.serviceSelector(ns, svc) // Validate: there is one
			for _, l := range w.loads {
				if l.wl.ns == ns && sel.Matches(labels.Set(l.wl.labels)) {
					n.planes[pi].routes[l.wl.idx] = true
					if l.net.entry == 0 {
						l.net.entry = pi
					}
				}
			}
		}
	}
	for _, p := range n.planes {
		p.eps = make([][]int, len(w.wls))
	}
	for i := range w.in.Load {
		ld := &w.in.Load[i]
		key, _ := targetKey(ld.Target)
		l := byKey[key]
		switch ld.Readiness {
		case "", ReadinessShallow:
		case ReadinessDeep:
			l.net.deep = true
		}
		checks := ld.ReadinessChecks // used only when deep: a variant can switch the mode alone
		if len(checks) == 0 {
			checks = ld.DependsOn
		}
		for _, c := range checks { // Validate: loads, no cycle
			ck, _ := targetKey(c)
			l.net.checks = append(l.net.checks, byKey[ck])
		}
		if ld.OnSIGTERM != "" {
			l.net.sigterm = ld.OnSIGTERM
		}
		l.net.retry = Retry{Attempts: 1}
		if r := ld.Retry; r != nil {
			l.net.retry = *r
		}
	}
	// the checks may add edges the dependency order does not have: order loads so that every
	// dependency and every checked load comes first
	w.loads = netOrder(w.loads)
	faulted := w.faultedWorkloads()
	for _, l := range w.loads {
		l.net.faulted = needsAny(l, faulted)
	}
}

// netOrder is a stable order where a load's dependencies and checks precede it.
func netOrder(ls []*loadState) []*loadState {
	out := make([]*loadState, 0, len(ls))
	done := make(map[*loadState]bool, len(ls))
	var visit func(l *loadState)
	visit = func(l *loadState) {
		if done[l] {
			return
		}
		done[l] = true
		for _, d := range l.deps {
			visit(d)
		}
		for _, d := range l.net.checks {
			visit(d)
		}
		out = append(out, l)
	}
	for _, l := range ls {
		visit(l)
	}
	return out
}

func needsAny(l *loadState, faulted []bool) bool {
	if faulted[l.wl.idx] {
		return true
	}
	for _, d := range l.deps {
		if needsAny(d, faulted) {
			return true
		}
	}
	return false
}

// faultedWorkloads marks the workloads whose pods a pod fault's selector matches.
func (w *World) faultedWorkloads() []bool {
	out := make([]bool, len(w.wls))
	for _, f := range w.in.Faults {
		if f.Action != PodKill && f.Action != PodFailure && f.Action != CPUStress {
			continue
		}
		for _, wl := range w.wls {
			if len(f.Pods.Namespaces) > 0 && !slices.Contains(f.Pods.Namespaces, wl.ns) {
				continue
			}
			if f.Pods.Labels == nil || f.Pods.Labels.Matches(labels.Set(wl.labels)) {
				out[wl.idx] = true
			}
		}
	}
	return out
}

// ingressServices lists the Service names an Ingress routes to, default backend first.
func ingressServices(ing *networkingv1.Ingress) []string {
	var out []string
	add := func(b *networkingv1.IngressBackend) {
		if b != nil && b.Service != nil && !slices.Contains(out, b.Service.Name) {
			out = append(out, b.Service.Name)
		}
	}
	add(ing.Spec.DefaultBackend)
	for _, r := range ing.Spec.Rules {
		if r.HTTP == nil {
			continue
		}
		for i := range r.HTTP.Paths {
			add(&r.HTTP.Paths[i].Backend)
		}
	}
	return out
}

// serviceSelector returns the selector of Service ns/name among the objects, or nil.
func (w *World) serviceSelector(ns, name string) labels.Selector {
	for _, obj := range w.in.Objects {
		if svc, ok := obj.(*corev1.Service); ok && svc.Name == name && namespaceOr(svc.Namespace) == ns && len(svc.Spec.Selector) > 0 {
			return labels.SelectorFromSet(svc.Spec.Selector)
		}
	}
	return nil
}

// startNet registers the network handler on the (reset) queue and takes the settled state as
// what every data plane believes: the cluster has been running.
func (w *World) startNet() {
	n := w.net
	if n == nil {
		return
	}
	n.hid = w.q.Register(netHandler{w})
	for i, c := range w.in.Changes {
		w.q.AtID(c.At, n.hid, pack(netEvChange, i))
	}
	if !n.path {
		return
	}
	for _, p := range w.st.Pods {
		ps := w.pods[p.Index]
		if ps.wl == nil || ps.wl.load == nil {
			continue
		}
		np := n.pod(p.Index)
		w.probesInit(p, np, true)
		if p.Ready {
			np.pub, np.pubCR, np.gateOK = true, true, true
			for _, dp := range n.planes {
				if dp.carries(ps.wl.idx) {
					dp.eps[ps.wl.idx] = append(dp.eps[ps.wl.idx], p.Index)
				}
			}
		}
	}
}

func (dp *dataPlane) carries(wl int) bool { return !dp.ingress || dp.routes[wl] }

// negReadinessGate is the condition GKE's NEG controller sets when the load balancer has the pod.
const negReadinessGate = "cloud.google.com/load-balancer-neg-ready"

// negAttached reports whether every Ingress plane carrying pod pi's workload believes it ready.
func (w *World) negAttached(pi int) bool {
	wl := w.pods[pi].wl.idx
	for _, dp := range w.net.planes {
		if dp.carries(wl) && dp.ingress && !slices.Contains(dp.eps[wl], pi) {
			return false
		}
	}
	return true
}

func (n *netWorld) pod(pi int) *netPod {
	for len(n.pods) <= pi {
		n.pods = append(n.pods, &netPod{})
	}
	return n.pods[pi]
}

// serving reports whether pod pi's process answers requests now.
func (w *World) serving(pi int) bool {
	p := w.st.Pods[pi]
	ps := w.pods[pi]
	if (p.Phase != cluster.PodRunning && p.Phase != cluster.PodTerminating) || ps.dead || ps.failed || p.Node == nil || !p.Node.Up {
		return false
	}
	np := w.net.pod(pi)
	return !np.exited && !np.restarting
}

// netServe computes a load's routeShares shares at its entry and through kube-proxy. Loads are
// served in an order where dependencies and checked loads come first.
func (w *World) netServe(l *loadState) {
	nl := l.net
	dep := 1.0
	nl.callErr, nl.retries, nl.waitSecs = 0, 0, 0
	for _, d := range l.deps {
		s := d.net.kpOK
		fail := 1 - s
		pf := 1.0 // probability that attempt k happens
		for k := 1; k <= nl.retry.Attempts; k++ {
			if k > 1 {
				nl.retries += pf
				nl.waitSecs += pf * nl.retry.wait(k-1).Seconds()
			}
			nl.callErr += pf * fail
			pf *= fail
		}
		dep *= 1 - pf
	}
	kp := w.route(l, 0, dep)
	nl.kpOK = kp.ok
	ent := kp
	if nl.entry != 0 {
		ent = w.route(l, nl.entry, dep)
	}
	nl.ok, nl.e502, nl.e503, nl.eApp, nl.reached = ent.ok, ent.e502, ent.e503, ent.eApp, ent.reached
	l.own = ent.reached
	l.success = ent.ok
	nl.checksOK = true
	for _, c := range nl.checks {
		if nl.deep && c.net.kpOK < w.m.Network.DeepCheckBelow {
			nl.checksOK = false
		}
	}
}

// wait is the back-off before retry k (1-based).
func (r Retry) wait(k int) time.Duration {
	b := r.Backoff.Duration
	for i := 1; i < k; i++ {
		b *= 2
		if r.MaxBackoff.Duration > 0 && b >= r.MaxBackoff.Duration {
			return r.MaxBackoff.Duration
		}
	}
	return b
}

// routeShares is how requests routed by one data plane end: the shares served, failed as 502, 503
// or by the app, and the share that reached a pod.
type routeShares struct{ ok, e502, e503, eApp, reached float64 }

// route spreads requests of l over the endpoints data plane pl believes ready.
func (w *World) route(l *loadState, pl int, dep float64) routeShares {
	eps := w.net.planes[pl].eps[l.wl.idx]
	if len(eps) == 0 {
		return routeShares{e503: 1}
	}
	var o routeShares
	for _, pi := range eps {
		if !w.serving(pi) {
			o.e502++
			continue
		}
		sv := w.pods[pi].served
		o.reached++
		o.ok += sv * dep
		o.eApp += 1 - sv*dep
	}
	n := float64(len(eps))
	o.ok /= n
	o.e502 /= n
	o.eApp /= n
	o.reached /= n
	return o
}

// netIntegrate adds secs seconds at the current rates to the network counters.
func (w *World) netIntegrate(secs float64) {
	n := w.net
	if n == nil || !n.path {
		return
	}
	for _, l := range w.loads {
		r := l.l.RequestsPerSecond * l.mult * secs
		if r == 0 {
			continue
		}
		nl := l.net
		n.n502 += r * nl.e502
		n.n503 += r * nl.e503
		n.nApp += r * nl.eApp
		n.nCallErr += r * nl.reached * nl.callErr
		n.nRetries += r * nl.reached * nl.retries
		n.retryWait += r * nl.reached * nl.waitSecs
		if !nl.faulted {
			n.collTotal += r
			n.collOK += r * nl.ok
		}
	}
}

// afterRates runs after every recomputation of rates: the kubelet's probes see the new
// conditions, changed endpoints are published to the data planes, and rolling updates wake up.
func (w *World) afterRates() {
	n := w.net
	if n == nil {
		return
	}
	if n.path {
		now := w.q.Now()
		for _, p := range w.st.Pods {
			if p.Index >= len(n.pods) || !n.pods[p.Index].tracked {
				continue
			}
			np := n.pods[p.Index]
			w.probesUpdate(p, np, now)
			// the API's Ready condition: the kubelet's readiness result, while the node is
			// believed ready (the node lifecycle controller marks pods of a lost node not ready),
			// and the NEG readiness gate if the pod has one
			cr := p.Phase == cluster.PodRunning && !np.terminate && np.rd.ok && !np.restarting && p.Node != nil && p.Node.Ready
			if np.negGate {
				if cr != np.pubCR {
					np.pubCR = cr
					np.seqCR++
					w.publish(p.Index, np.seqCR, cr, toIngress)
				}
				if cr && !np.gateOK && w.negAttached(p.Index) {
					np.gateOK = true
					emit(w, trace.ReadinessGate{Pod: p.Name, Condition: negReadinessGate})
				}
			}
			if was := p.Ready; was != (cr && (!np.negGate || np.gateOK)) {
				p.Ready = !was
				podChanged(p)
			}
			if ready := p.Ready; ready != np.pub {
				np.pub = ready
				np.seq++
				to := toAll
				if np.negGate {
					to = toKubeProxy
				}
				w.publish(p.Index, np.seq, ready, to)
			}
		}
	}
	w.pokeRollouts()
}

// which data planes an endpoint change goes to
const (
	toAll = iota
	toIngress
	toKubeProxy
)

// publish sends one endpoint change to the data planes carrying the pod's workload (all, or only
// the Ingress planes, or only kube-proxy), each with its own lag.
func (w *World) publish(pi int, seq uint32, ready bool, to int) {
	n := w.net
	wl := w.pods[pi].wl.idx
	emit(w, trace.EndpointChanged{Pod: w.st.Pods[pi].Name, Ready: ready, To: [...]string{"all", "ingress", "kube-proxy"}[to]})
	for i, dp := range n.planes {
		if !dp.carries(wl) || (to == toIngress && !dp.ingress) || (to == toKubeProxy && dp.ingress) {
			continue
		}
		var slot int
		if k := len(n.free); k > 0 {
			slot = n.free[k-1]
			n.free = n.free[:k-1]
		} else {
			slot = len(n.props)
			n.props = append(n.props, propagation{})
		}
		n.props[slot] = propagation{plane: i, pod: pi, seq: seq, ready: ready}
		w.q.AfterID(dp.lag.draw(dp.rng), n.hid, pack(netEvProp, slot))
	}
}

func (w *World) applyPropagation(slot int) {
	n := w.net
	pr := n.props[slot]
	n.free = append(n.free, slot)
	dp := n.planes[pr.plane]
	for len(dp.applied) <= pr.pod {
		dp.applied = append(dp.applied, 0)
	}
	if pr.seq <= dp.applied[pr.pod] {
		return // a later change got there first
	}
	dp.applied[pr.pod] = pr.seq
	wl := w.pods[pr.pod].wl
	eps := dp.eps[wl.idx]
	at := slices.Index(eps, pr.pod)
	switch {
	case pr.ready && at < 0:
		dp.eps[wl.idx] = append(eps, pr.pod)
	case !pr.ready && at >= 0:
		dp.eps[wl.idx] = slices.Delete(eps, at, at+1)
	default:
		return
	}
	emit(w, trace.DataPlaneUpdated{Plane: dp.name, Pod: w.st.Pods[pr.pod].Name, Ready: pr.ready})
	w.touch()
}

// netIndicators are reported by scenarios on the network path.
func (w *World) netIndicators() []Indicator {
	n := w.net
	var total float64
	for _, l := range w.loads {
		total += l.total
	}
	// the same arithmetic as a real run's counts (measure.NetworkCounts), so both worlds agree
	return measure.NetworkCounts{Total: total, E502: n.n502, E503: n.n503, App: n.nApp, CollTotal: n.collTotal,
		CollOK: n.collOK, CallErrors: n.nCallErr, Retries: n.nRetries, RetryWaitSecs: n.retryWait, Restarts: n.restarts}.Indicators()
}
