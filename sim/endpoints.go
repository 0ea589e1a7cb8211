package sim

import (
	"fmt"
	"math/rand/v2"
	"slices"
	"time"

	corev1 "k8s.io/api/core/v1"
	networkingv1 "k8s.io/api/networking/v1"
	"k8s.io/apimachinery/pkg/labels"

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
//
// netWorld is this model as a type: it owns the data planes, the per-pod network state and the
// request counts, handles its own events (Fire), and reaches the rest of the world through its
// netEnv (network.go). Its probes are in probes.go, termination in termination.go, requests in
// traffic.go; it holds the rollouts (rollout.go), whose changes arrive on its handler.
type netWorld struct {
	env    *netEnv
	hid    engine.HandlerID
	path   bool          // the network path is modelled (else only rollouts use this)
	loads  []*loadState  // the world's loads, in netOrder
	planes []*dataPlane  // [0] is kube-proxy, then one per Ingress
	pods   []*netPod     // by pod index, grown on demand
	props  []propagation // pending propagations; free slots listed in free
	free   []int
	rng    *rand.Rand // probe phases of the pods present at the start

	netCounts          // traffic.go
	ro        rollouts // rollout.go
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

// net event kinds (the netWorld's own handler: Fire)
const (
	netEvProp uint32 = iota + 1
	netEvReadiness
	netEvLiveness
	netEvStartup
	netEvExit
	netEvRestarted
	netEvChange
)

// Fire dispatches the network path's events.
func (n *netWorld) Fire(now time.Duration, arg uint32) {
	kind, i := unpack(arg)
	switch kind {
	case netEvProp:
		n.applyPropagation(i)
	case netEvReadiness, netEvLiveness, netEvStartup:
		n.probeFlip(kind, i)
	case netEvExit:
		n.processExit(i)
	case netEvRestarted:
		n.containerRestarted(i)
	case netEvChange:
		n.ro.applyChange(i)
	default:
		panic(fmt.Sprintf("sim: unknown net event kind %d", kind))
	}
}

// buildNet decides whether the network path is modelled and wires loads to data planes. It
// returns nil when neither the network path nor rollouts are modelled, and the loads in the order
// they are served in (netOrder).
func buildNet(env *netEnv, in *Input, loads []*loadState, wls []*workload, streams engine.Streams) (*netWorld, []*loadState) {
	path := false
	var ingresses []*networkingv1.Ingress
	for _, obj := range in.Objects {
		if ing, ok := obj.(*networkingv1.Ingress); ok {
			ingresses = append(ingresses, ing)
			path = true
		}
	}
	for i := range in.Load {
		if in.Load[i].netBehaviour() {
			path = true
		}
	}
	if !path && len(in.Changes) == 0 {
		return nil, loads
	}
	n := &netWorld{env: env, path: path, loads: loads, rng: streams.Stream("net/probe-phase"),
		ro: rollouts{env: env, changes: in.Changes, wls: wls, duration: in.Duration}}
	if !path {
		return n, loads
	}
	n.planes = append(n.planes, &dataPlane{name: "kube-proxy", lag: env.m.Network.KubeProxyLag, rng: streams.Stream("net/kube-proxy")})
	byKey := map[string]*loadState{}
	for _, l := range loads {
		byKey[l.wl.key] = l
		l.net = &netLoad{sigterm: SIGTERMExit}
	}
	for _, ing := range ingresses {
		ns := namespaceOr(ing.Namespace)
		name := "ingress/" + ns + "/" + ing.Name
		pi := len(n.planes)
		n.planes = append(n.planes, &dataPlane{name: name, lag: env.m.Network.IngressLag, rng: streams.Stream("net/" + name), ingress: true, routes: make([]bool, len(wls))})
		for _, svc := range ingressServices(ing) {
			sel := serviceSelector(in, ns, svc) // Validate: there is one
			for _, l := range loads {
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
		p.eps = make([][]int, len(wls))
	}
	for i := range in.Load {
		ld := &in.Load[i]
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
	n.loads = netOrder(loads)
	faulted := faultedWorkloads(in, wls)
	for _, l := range n.loads {
		l.net.faulted = needsAny(l, faulted)
	}
	return n, n.loads
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
func faultedWorkloads(in *Input, wls []*workload) []bool {
	out := make([]bool, len(wls))
	for _, f := range in.Faults {
		if f.Action != PodKill && f.Action != PodFailure && f.Action != CPUStress {
			continue
		}
		for _, wl := range wls {
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
func serviceSelector(in *Input, ns, name string) labels.Selector {
	for _, obj := range in.Objects {
		if svc, ok := obj.(*corev1.Service); ok && svc.Name == name && namespaceOr(svc.Namespace) == ns && len(svc.Spec.Selector) > 0 {
			return labels.SelectorFromSet(svc.Spec.Selector)
		}
	}
	return nil
}

// start registers the network handler on the run's queue (settling replaced the first) and takes
// the settled state as what every data plane believes: the cluster has been running.
func (n *netWorld) start() {
	if n == nil {
		return
	}
	env := n.env
	n.hid = env.q.Register(n)
	for i, c := range n.ro.changes {
		env.q.AtID(c.At, n.hid, pack(netEvChange, i))
	}
	if !n.path {
		return
	}
	for _, p := range env.st.Pods {
		ps := env.pod(p.Index)
		if ps.wl == nil || ps.wl.load == nil {
			continue
		}
		np := n.pod(p.Index)
		n.probesInit(p, np, true)
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
func (n *netWorld) negAttached(pi int) bool {
	wl := n.env.pod(pi).wl.idx
	for _, dp := range n.planes {
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

// tracks reports whether the network path owns pod pi's readiness (a workload pod with a load).
func (n *netWorld) tracks(pi int) bool {
	return n != nil && n.path && pi < len(n.pods) && n.pods[pi].tracked
}

// serving reports whether pod pi's process answers requests now.
func (n *netWorld) serving(pi int) bool {
	p := n.env.st.Pods[pi]
	ps := n.env.pod(pi)
	if (p.Phase != cluster.PodRunning && p.Phase != cluster.PodTerminating) || ps.dead || ps.failed || p.Node == nil || !p.Node.Up {
		return false
	}
	np := n.pod(pi)
	return !np.exited && !np.restarting
}

// afterRates runs after every recomputation of rates: the kubelet's probes see the new
// conditions, changed endpoints are published to the data planes, and rolling updates wake up.
func (n *netWorld) afterRates() {
	if n == nil {
		return
	}
	if n.path {
		now := n.env.q.Now()
		for _, p := range n.env.st.Pods {
			if p.Index >= len(n.pods) || !n.pods[p.Index].tracked {
				continue
			}
			np := n.pods[p.Index]
			n.probesUpdate(p, np, now)
			// the API's Ready condition: the kubelet's readiness result, while the node is
			// believed ready (the node lifecycle controller marks pods of a lost node not ready),
			// and the NEG readiness gate if the pod has one
			cr := p.Phase == cluster.PodRunning && !np.terminate && np.rd.ok && !np.restarting && p.Node != nil && p.Node.Ready
			if np.negGate {
				if cr != np.pubCR {
					np.pubCR = cr
					np.seqCR++
					n.publish(p.Index, np.seqCR, cr, toIngress)
				}
				if cr && !np.gateOK && n.negAttached(p.Index) {
					np.gateOK = true
					emitNet(n.env, trace.ReadinessGate{Pod: p.Name, Condition: negReadinessGate})
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
				n.publish(p.Index, np.seq, ready, to)
			}
		}
	}
	n.ro.poke()
}

// which data planes an endpoint change goes to
const (
	toAll = iota
	toIngress
	toKubeProxy
)

// publish sends one endpoint change to the data planes carrying the pod's workload (all, or only
// the Ingress planes, or only kube-proxy), each with its own lag.
func (n *netWorld) publish(pi int, seq uint32, ready bool, to int) {
	wl := n.env.pod(pi).wl.idx
	emitNet(n.env, trace.EndpointChanged{Pod: n.env.st.Pods[pi].Name, Ready: ready, To: [...]string{"all", "ingress", "kube-proxy"}[to]})
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
		n.env.q.AfterID(dp.lag.draw(dp.rng), n.hid, pack(netEvProp, slot))
	}
}

func (n *netWorld) applyPropagation(slot int) {
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
	wl := n.env.pod(pr.pod).wl
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
	emitNet(n.env, trace.DataPlaneUpdated{Plane: dp.name, Pod: n.env.st.Pods[pr.pod].Name, Ready: pr.ready})
	n.env.cl.touch()
}
