package sim

import (
	"fmt"
	"math"
	"strconv"
	"strings"
	"time"

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
}

func (w *World) buildLoads() {
	byKey := map[string]*loadState{}
	for i := range w.in.Load {
		l := &w.in.Load[i]
		key, _ := targetKey(l.Target) // Validate: a Deployment's, once
		var wl *workload
		for _, c := range w.wls {
			if c.key == key {
				wl = c
			}
		}
		ls := &loadState{l: l, wl: wl, idle: l.CPUIdle.AsApproximateFloat64(), perRep: l.CPUPerReplica.AsApproximateFloat64(), stale: true}
		wl.load = ls
		byKey[key] = ls
		w.loads = append(w.loads, ls)
	}
	for _, ls := range w.loads {
		for _, d := range ls.l.DependsOn {
			key, _ := targetKey(d)
			ls.deps = append(ls.deps, byKey[key])
		}
	}
	// dependencies form a DAG (Validate): evaluate in an order where dependencies come first
	w.loads = topoOrder(w.loads)
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

// topoOrder orders loads so that every dependency comes first; Validate refused cycles.
func topoOrder(ls []*loadState) []*loadState {
	done := make(map[*loadState]bool, len(ls))
	var out []*loadState
	var visit func(l *loadState)
	visit = func(l *loadState) {
		if done[l] {
			return
		}
		done[l] = true
		for _, d := range l.deps {
			visit(d)
		}
		out = append(out, l)
	}
	for _, l := range ls { // slice order: deterministic
		visit(l)
	}
	return out
}

// refresh counts Ready endpoints and the profile multiplier; CPU per pod depends on both.
func (l *loadState) refresh(w *World, wall time.Time) {
	l.mult = l.l.Profile.At(wall)
	l.ready = 0
	for _, pi := range l.wl.pods {
		if w.st.Pods[pi].Ready {
			l.ready++
		}
	}
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

func (l *loadState) depsChanged() bool {
	for _, d := range l.deps {
		if d.changed {
			return true
		}
	}
	return false
}

// serve computes the fraction of requests that succeed now. Loads are in dependency order.
func (l *loadState) serve(w *World) {
	l.own = l.ownShare(w)
	l.success = l.own
	for _, d := range l.deps {
		l.success *= d.success
	}
}

// ownShare is the fraction of requests the workload's own pods serve now.
func (l *loadState) ownShare(w *World) float64 {
	own := 0.0
	if l.ready > 0 {
		for _, pi := range l.wl.pods {
			p := w.st.Pods[pi]
			if !p.Ready {
				continue
			}
			ps := w.pods[pi]
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
	wlByKey        map[string][]*workload // workloads by key, for observeColocation
	wlByKeyOf      int                    // len(World.wls) when wlByKey was built
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
	w.netIntegrate(secs)
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
			w.netServe(l)
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
	w.afterRates()
}

func (a *accounting) panic(w *World, ns *nodeState) {
	if a.panicked == nil {
		a.panicked = make([]bool, len(w.nodes))
	}
	if a.panics == 0 {
		a.firstPanic = w.q.Now()
	}
	a.panics++
	a.panicked[ns.n.Index] = true
}

// observeColocation tracks the most replicas of one multi-replica workload ever bound to one node.
// It counts per owner among n's pods (O(pods on n)), not per workload of the world: visiting
// every workload on every bind made a placement of many workloads quadratic.
func (a *accounting) observeColocation(w *World, n *cluster.Node) {
	if a.wlByKey == nil || a.wlByKeyOf != len(w.wls) {
		a.wlByKey = make(map[string][]*workload, len(w.wls))
		for _, wl := range w.wls {
			a.wlByKey[wl.key] = append(a.wlByKey[wl.key], wl)
		}
		a.wlByKeyOf = len(w.wls)
	}
	if len(a.wlByKey) == 0 {
		return
	}
	pods := n.Pods
next:
	for i, p := range pods {
		if p.Phase == cluster.PodTerminating || !a.multiReplica(p.Owner) {
			continue
		}
		for _, q := range pods[:i] {
			if q.Owner == p.Owner && q.Phase != cluster.PodTerminating {
				continue next // counted at the owner's first live pod on n
			}
		}
		c := 1
		for _, q := range pods[i+1:] {
			if q.Owner == p.Owner && q.Phase != cluster.PodTerminating {
				c++
			}
		}
		if c > a.maxColocated {
			a.maxColocated = c
		}
	}
}

// multiReplica: some workload keyed owner has at least 2 replicas now.
func (a *accounting) multiReplica(owner string) bool {
	for _, wl := range a.wlByKey[owner] {
		if wl.replicas >= 2 {
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
