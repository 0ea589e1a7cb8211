package sim

import (
	"fmt"
	"math"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/faultline-dev/faultline/measure"
	"github.com/faultline-dev/faultline/sim/cluster"
)

// loadState is a Load bound to its workload.
//
// Model: a Service spreads requests evenly over its Ready endpoints, as kube-proxy does (random
// or round-robin); the endpoints are the pods whose Ready condition the API shows, so a pod on a
// node that died keeps receiving (and failing) requests until the node lifecycle controller marks
// it not ready. A request fails when it reaches a pod that is not running or a dependency fails;
// a pod starved of CPU serves only the share of its requests its CPU allows (the rest time out).
// With no Ready endpoint every request fails (503). Load is a rate that changes only at events
// and profile steps, integrated exactly between them.
// Left out here: data-plane propagation delays (endpoints take effect at once), retries,
// connection reuse, per-request latency; the network path (endpoints.go) models the first two
// when a scenario asks for it.
type loadState struct {
	l       *Load
	wl      *workload
	deps    []*loadState
	mult    float64 // profile multiplier now
	ready   int     // Ready endpoints now
	success float64 // fraction of requests that succeed now, including dependencies
	own     float64 // fraction the workload's own pods serve
	ok      float64 // integrated successful requests
	total   float64 // integrated requests
	idle    float64
	perRep  float64
	net     *netLoad // the network path's state (endpoints.go); nil when it is off
	// stale: an input of serve changed since it last ran (the ready count, or a node holding one
	// of the workload's pods was recomputed); changed: serve's success share changed on the last
	// recomputation, so the loads that depend on this one serve again.
	stale, changed bool
	// counted: ready holds the count of the workload's Ready pods. recompute clears it for the
	// workloads with a pod on a changed node or a pod unbound since (a pod's readiness changes
	// only with its node marked changed, or when it is released), so that refresh recounts only
	// those instead of every pod of every workload each time.
	counted bool
}

func (w *World) buildLoads() {
	p := w.prep
	loads := w.inLoads[:0]
	for i := range w.in.Load {
		l := &w.in.Load[i]
		wl := w.wls[p.loadWl[i]]  // Validate: a Deployment's, once
		ls := w.slab.loads.take() // as the last world left it: keep its deps' backing array
		*ls = loadState{deps: clearSlice(ls.deps), l: l, wl: wl, idle: l.CPUIdle.AsApproximateFloat64(), perRep: l.CPUPerReplica.AsApproximateFloat64(), stale: true}
		wl.load = ls
		loads = append(loads, ls)
	}
	w.inLoads = loads
	for i, ls := range loads {
		for _, d := range p.loadDeps[i] {
			ls.deps = append(ls.deps, loads[d])
		}
	}
	// dependencies form a DAG (Validate): evaluate in an order where dependencies come first
	for _, i := range p.loadOrder {
		w.loads = append(w.loads, loads[i])
	}
}

// targetKey turns "deployment/web" or "deployment/ns/web" into "deployment/ns/web".
func targetKey(t string) (string, error) {
	parts := strings.Split(t, "/")
	switch {
	case len(parts) == 2 && parts[0] == "deployment" && parts[1] != "":
		return "deployment/" + defaultWorkloadNamespace + "/" + parts[1], nil
	case len(parts) == 3 && parts[0] == "deployment" && parts[1] != "" && parts[2] != "":
		return t, nil
	}
	return "", fmt.Errorf("%q: expected deployment/NAME or deployment/NAMESPACE/NAME", t)
}

// loadOrder orders the loads, given each one's dependencies by index, so that every dependency
// comes first; Validate refused cycles.
func loadOrder(deps [][]int) []int {
	done := make([]bool, len(deps))
	out := make([]int, 0, len(deps))
	var visit func(i int)
	visit = func(i int) {
		if done[i] {
			return
		}
		done[i] = true
		for _, d := range deps[i] {
			visit(d)
		}
		out = append(out, i)
	}
	for i := range deps { // input order: deterministic
		visit(i)
	}
	return out
}

// podReader is what the Service traffic model reads of the world: its pods. World implements it.
type podReader interface {
	State() *cluster.State
	podStates() []*podState
}

// refresh counts Ready endpoints (unless counted) and the profile multiplier; CPU per pod depends
// on both.
func (l *loadState) refresh(c podReader, wall time.Time) {
	l.mult = l.l.Profile.At(wall)
	if !l.counted {
		l.ready, l.counted = l.countReady(c), true
	}
}

// countReady counts the workload's Ready pods.
func (l *loadState) countReady(c podReader) int {
	ready := 0
	pods := c.State().Pods
	for _, pi := range l.wl.pods {
		if pods[pi].Ready {
			ready++
		}
	}
	return ready
}

// podCPU is the real CPU one running pod of the workload uses now.
func (l *loadState) podCPU(p *cluster.Pod) float64 {
	if l.l.RequestsPerSecond == 0 {
		return l.idle + l.perRep*l.mult // a worker: busy whether or not it is an endpoint
	}
	if !p.Ready || l.ready == 0 {
		return l.idle
	}
	return l.idle + l.perRep*l.mult*float64(l.wl.replicas)/float64(l.ready)
}

// markChanged marks the nodes of the workload's pods whose podCPU changed with the profile
// multiplier (mult) or the Ready count or replicas (count), for the next CPU recomputation. A
// worker's podCPU reads neither count, and a serving load's pod that is not Ready uses l.idle
// whatever the multiplier and counts, so those pods are left unmarked: their demand is the same.
func (l *loadState) markChanged(pods []*cluster.Pod, mult, count bool) {
	switch {
	case !mult && !count:
	case l.l.RequestsPerSecond == 0:
		if mult {
			for _, pi := range l.wl.pods {
				podChanged(pods[pi])
			}
		}
	default:
		for _, pi := range l.wl.pods {
			if p := pods[pi]; p.Ready {
				podChanged(p)
			}
		}
	}
}

func (l *loadState) depsChanged() bool {
	for _, d := range l.deps {
		if d.changed {
			return true
		}
	}
	return false
}

// serve computes the fraction of requests that succeed now. Loads are in dependency order.
func (l *loadState) serve(c podReader) {
	l.own = l.ownShare(c)
	l.success = l.own
	for _, d := range l.deps {
		l.success *= d.success
	}
}

// ownShare is the fraction of requests the workload's own pods serve now.
func (l *loadState) ownShare(c podReader) float64 {
	own := 0.0
	if l.ready > 0 {
		pods, states := c.State().Pods, c.podStates()
		for _, pi := range l.wl.pods {
			p := pods[pi]
			if !p.Ready {
				continue
			}
			ps := states[pi]
			if p.Phase == cluster.PodRunning && !ps.dead && !ps.failed && p.Node != nil && p.Node.Up {
				own += ps.served
			}
		}
		own /= float64(l.ready)
	}
	return own
}

// accounting integrates the indicators over virtual time.
type accounting struct {
	last           time.Duration
	okRate, rate   float64 // requests/s now, overall
	outage         time.Duration
	degraded       time.Duration
	panics         int
	firstPanic     time.Duration
	panicked       []bool
	podsLost       int
	evictions      int
	saturations    int
	notReadyEvents int
	faults         int
	maxColocated   int
	colo           *colocation // live pods per owner and node, for observeColocation; nil until a bind
}

func (a *accounting) integrate(w *World, now time.Duration) {
	dt := now - a.last
	if dt <= 0 {
		return
	}
	secs := dt.Seconds()
	for _, l := range w.loads {
		r := l.l.RequestsPerSecond * l.mult
		l.total += r * secs
		l.ok += r * l.success * secs
	}
	w.net.integrate(secs)
	if a.rate > 0 {
		frac := a.okRate / a.rate
		if frac < 0.01 {
			a.outage += dt
		}
		if frac < 0.99 {
			a.degraded += dt
		}
	}
	a.last = now
}

func (a *accounting) setRates(w *World) {
	a.rate, a.okRate = 0, 0
	for _, l := range w.loads {
		if l.net != nil {
			w.net.serve(l)
			l.changed = true
		} else if l.stale || l.depsChanged() {
			// unchanged inputs give the same shares: serving again is skipped (checkServe
			// proves it under Options.CheckInvariants)
			old := l.success
			l.serve(w)
			l.stale = false
			l.changed = math.Float64bits(l.success) != math.Float64bits(old)
		} else {
			l.changed = false
		}
		r := l.l.RequestsPerSecond * l.mult
		a.rate += r
		a.okRate += r * l.success
	}
	w.net.afterRates()
}

func (a *accounting) panic(w *World, ns *nodeState) {
	if len(a.panicked) == 0 { // nil, or the emptied list a Scratch lends
		a.panicked = slices.Grow(a.panicked, len(w.nodes))[:len(w.nodes)]
		clear(a.panicked)
	}
	if a.panics == 0 {
		a.firstPanic = w.q.Now()
	}
	a.panics++
	a.panicked[ns.n.Index] = true
}

// observeColocation tracks the most replicas of one multi-replica workload ever bound to one node.
// It reads the live pods per owner that colocation keeps for n (O(owners on n)), not every
// workload of the world (which made a placement of many workloads quadratic) nor every pod on n.
// Only an owner with more live pods on n than the maximum so far can raise it, so only those
// are looked up.
func (a *accounting) observeColocation(w *World, n *cluster.Node) {
	if len(w.prep.wlByKey) == 0 || len(n.Pods) <= a.maxColocated {
		return // no owner can have more live pods on n than n has pods
	}
	if a.colo == nil {
		a.colo = w.parts.colo.start(&w.st)
	}
	for _, e := range a.colo.node(n.Index) {
		if int(e.live) > a.maxColocated && w.multiReplica(a.colo.names[e.owner]) {
			a.maxColocated = int(e.live)
		}
	}
}

// colocation counts the live (not Terminating) pods of each owner on each node, kept up to date
// as a cluster.Observer from the state it starts with. It lives in the World's parts, and a
// Scratch empties it for the next world (reset) rather than building another.
type colocation struct {
	ids   map[string]int32
	names []string
	// by node Index: the owners with live pods there, in no particular order; past len, up to
	// cap, the emptied lists of an earlier world
	nodes [][]ownerPods
}

type ownerPods struct{ owner, live int32 }

// start counts the pods bound in st and observes it; c is empty (zero or reset).
func (c *colocation) start(st *cluster.State) *colocation {
	if c.ids == nil {
		c.ids = map[string]int32{}
	}
	for _, n := range st.Nodes {
		for _, p := range n.Pods {
			c.PodBound(p)
		}
	}
	st.Observe(c)
	return c
}

// reset empties c for another world, keeping its tables unless a large world left them large.
func (c *colocation) reset() {
	if len(c.names) > keepItems || cap(c.nodes) > keepItems {
		*c = colocation{}
		return
	}
	clear(c.ids)
	clear(c.names)
	c.names = c.names[:0]
	for i := range c.nodes {
		c.nodes[i] = c.nodes[i][:0]
	}
	c.nodes = c.nodes[:0]
}

func (c *colocation) node(i int) []ownerPods {
	if i < len(c.nodes) {
		return c.nodes[i]
	}
	return nil
}

// add adds d to the live pods of p's owner on p's node.
func (c *colocation) add(p *cluster.Pod, d int32) {
	id, ok := c.ids[p.Owner]
	if !ok {
		id = int32(len(c.names))
		c.ids[p.Owner] = id
		c.names = append(c.names, p.Owner)
	}
	i := p.Node.Index
	for i >= len(c.nodes) {
		if len(c.nodes) < cap(c.nodes) {
			c.nodes = c.nodes[:len(c.nodes)+1] // an emptied list of an earlier world
		} else {
			c.nodes = append(c.nodes, nil)
		}
	}
	es := c.nodes[i]
	for k := range es {
		if es[k].owner == id {
			if es[k].live += d; es[k].live == 0 {
				es[k] = es[len(es)-1]
				c.nodes[i] = es[:len(es)-1]
			}
			return
		}
	}
	c.nodes[i] = append(es, ownerPods{owner: id, live: d})
}

func (c *colocation) PodBound(p *cluster.Pod) {
	if p.Phase != cluster.PodTerminating {
		c.add(p, 1)
	}
}

func (c *colocation) PodUnbound(p *cluster.Pod) {
	if p.Phase != cluster.PodTerminating {
		c.add(p, -1)
	}
}

func (c *colocation) PodPhaseChanged(p *cluster.Pod, _ cluster.PodPhase) {
	if p.Phase == cluster.PodTerminating {
		c.add(p, -1)
	} else {
		c.add(p, 1)
	}
}

// multiReplica: some workload keyed owner has at least 2 replicas now.
func (w *World) multiReplica(owner string) bool {
	for _, i := range w.prep.wlByKey[owner] {
		if w.wls[i].replicas >= 2 {
			return true
		}
	}
	return false
}

func formatFloat(v float64, prec int) string {
	if math.IsNaN(v) || math.IsInf(v, 0) {
		return strconv.FormatFloat(v, 'f', -1, 64)
	}
	return strconv.FormatFloat(v, 'f', prec, 64)
}

// netCounts is the network path's request accounting: entry requests by outcome and the
// dependency calls, integrated over rates (netWorld.integrate).
type netCounts struct {
	n502, n503, nApp, nCallErr, nRetries, retryWait float64
	collOK, collTotal                               float64
	restarts                                        int // containers restarted after failed probes
}

// serve computes a load's routeShares shares at its entry and through kube-proxy. Loads are
// served in an order where dependencies and checked loads come first.
func (n *netWorld) serve(l *loadState) {
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
	kp := n.route(l, 0, dep)
	nl.kpOK = kp.ok
	ent := kp
	if nl.entry != 0 {
		ent = n.route(l, nl.entry, dep)
	}
	nl.ok, nl.e502, nl.e503, nl.eApp, nl.reached = ent.ok, ent.e502, ent.e503, ent.eApp, ent.reached
	l.own = ent.reached
	l.success = ent.ok
	nl.checksOK = true
	for _, c := range nl.checks {
		if nl.deep && c.net.kpOK < n.env.m.Network.DeepCheckBelow {
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
func (n *netWorld) route(l *loadState, pl int, dep float64) routeShares {
	eps := n.planes[pl].eps[l.wl.idx]
	if len(eps) == 0 {
		return routeShares{e503: 1}
	}
	var o routeShares
	for _, pi := range eps {
		if !n.serving(pi) {
			o.e502++
			continue
		}
		sv := n.env.pod(pi).served
		o.reached++
		o.ok += sv * dep
		o.eApp += 1 - sv*dep
	}
	k := float64(len(eps))
	o.ok /= k
	o.e502 /= k
	o.eApp /= k
	o.reached /= k
	return o
}

// integrate adds secs seconds at the current rates to the network counters.
func (n *netWorld) integrate(secs float64) {
	if n == nil || !n.path {
		return
	}
	for _, l := range n.loads {
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

// observe is what the network path counted, for the observation record: measure turns it into
// the Network indicators as it does a real run's counts, so both worlds agree.
func (n *netWorld) observe() *measure.NetworkCounts {
	var total float64
	for _, l := range n.loads {
		total += l.total
	}
	return &measure.NetworkCounts{Total: total, E502: n.n502, E503: n.n503, App: n.nApp, CollTotal: n.collTotal,
		CollOK: n.collOK, CallErrors: n.nCallErr, Retries: n.nRetries, RetryWaitSecs: n.retryWait, Restarts: n.restarts}
}
