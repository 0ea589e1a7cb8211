package sim

import (
	"math"
	"time"

	"github.com/go-logr/logr"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/faultline-dev/faultline/measure"
	"github.com/faultline-dev/faultline/sim/cluster"
	"github.com/faultline-dev/faultline/sim/trace"
)

// --- CPU: demand, contention, saturation, kernel panic -----------------------------------------

// Model: a node's CPU is shared by its running pods. Real use comes from the scenario's Load (not
// from requests: requests only drive placement). A CPU limit caps a pod's use (CFS quota). When
// the sum exceeds allocatable CPU, the node grants CPU in proportion to requests (cpu.shares,
// which the kubelet sets from requests; at least 2 shares), redistributing what capped pods do
// not use (water-filling), and a pod serves the fraction of its demand it gets.
// Left out: the 100 ms CFS period effects (throttling bursts), system-reserved use, memory
// pressure and OOM, hyper-threading.

// recompute integrates traffic up to now with the rates in force, then derives CPU demand,
// contention, saturation (arming or disarming kernel panics) and traffic success for the state
// as it is now.
func (w *World) recompute(now time.Duration) {
	w.dirty = false
	w.acct.integrate(w, now)
	wall := w.clock.Now()
	// the workloads whose Ready count may have changed: a pod on a changed node (every change
	// of a pod's readiness marks its node) or unbound since the last recomputation
	w.st.Observe((*unbindWatch)(w))
	for _, ns := range w.nodes {
		if ns.n.Changed {
			for _, p := range ns.n.Pods {
				(*unbindWatch)(w).recount(p)
			}
		}
	}
	for _, l := range w.loads {
		mult, ready, replicas := l.mult, l.ready, l.wl.replicas
		l.refresh(w, wall)
		if l.ready != ready {
			l.stale = true
		}
		if l.mult != mult || l.ready != ready || l.wl.replicas != replicas {
			// podCPU of every pod of the workload changed
			for _, pi := range l.wl.pods {
				podChanged(w.st.Pods[pi])
			}
		}
	}
	// Only the nodes whose inputs changed (cluster.Node.Changed) are recomputed, in node order as
	// a full pass would: an unchanged node's demand, shares and saturation come out the same, so
	// skipping it is exact (checkCPU proves it under Options.CheckInvariants).
	for _, ns := range w.nodes {
		if ns.n.Changed {
			ns.n.Changed = false
			w.nodeCPU(ns)
		}
	}
	if w.inv != nil {
		w.checkCPU(w.inv)
		w.checkReadyCounts(w.inv)
	}
	w.acct.setRates(w)
	if w.inv != nil {
		w.checkServe(w.inv)
	}
	w.checkDisruption()
	w.unreach.sync()
	w.controlPlaneRecompute(now)
}

// unbindWatch is the World as a cluster.Observer: a pod released from its node (Release makes it
// not Ready, off its node's pod list) has its workload's Ready count recounted.
type unbindWatch World

func (u *unbindWatch) recount(p *cluster.Pod) {
	if p.Index < len(u.pods) {
		if ps := u.pods[p.Index]; ps.p == p && ps.wl != nil && ps.wl.load != nil {
			ps.wl.load.counted = false
		}
	}
}

func (u *unbindWatch) PodBound(p *cluster.Pod)                            { u.recount(p) }
func (u *unbindWatch) PodUnbound(p *cluster.Pod)                          { u.recount(p) }
func (u *unbindWatch) PodPhaseChanged(p *cluster.Pod, _ cluster.PodPhase) { u.recount(p) }

// checkReadyCounts compares each load's Ready count, which refresh recounts only for the
// workloads whose pods changed, with a full count.
func (w *World) checkReadyCounts(c *invChecker) {
	for _, l := range w.loads {
		if n := l.countReady(w); n != l.ready {
			c.fail(w, InvCPUCurrent, "workload/"+l.wl.key, "Ready pods counted %d, a full count gives %d (a readiness change without its node marked)", l.ready, n)
			return
		}
	}
}

// podDemand is the real CPU a pod wants now, in cores, before contention.
func (w *World) podDemand(ps *podState) float64 {
	p := ps.p
	if p.Phase != cluster.PodRunning || ps.dead || ps.failed || p.Node == nil || !p.Node.Up {
		return 0
	}
	d := ps.stress
	if ps.wl != nil && ps.wl.load != nil {
		d += ps.wl.load.podCPU(p)
	}
	if p.LimitCPU > 0 {
		d = math.Min(d, float64(p.LimitCPU)/1000)
	}
	return d
}

// podChanged marks p's node for the next recomputation: something podDemand reads of p (its
// phase, readiness, failure, stress) changed outside cluster.State.
func podChanged(p *cluster.Pod) {
	if p.Node != nil {
		p.Node.Changed = true
	}
}

func (w *World) nodeCPU(ns *nodeState) {
	n := ns.n
	capacity := float64(n.Allocatable.MilliCPU) / 1000
	total := 0.0
	for _, p := range n.Pods {
		ps := w.pods[p.Index]
		ps.demand = w.podDemand(ps)
		total += ps.demand
	}
	ns.demand = total
	if total <= capacity || total == 0 {
		for _, p := range n.Pods {
			w.pods[p.Index].served = 1
		}
	} else {
		w.waterFill(n, capacity)
	}
	for _, p := range n.Pods {
		// what the pod adds to its load's own share (loadState.ownShare): when that changed,
		// the load serves again
		ps := w.pods[p.Index]
		if ps.wl == nil || ps.wl.load == nil {
			continue
		}
		share := 0.0
		if p.Ready && p.Phase == cluster.PodRunning && !ps.dead && !ps.failed && p.Node.Up {
			share = ps.served
		}
		if math.Float64bits(share) != math.Float64bits(ps.share) {
			ps.share = share
			ps.wl.load.stale = true
		}
	}
	sat := n.Up && total/capacity >= w.m.KernelPanic.SaturationAbove
	switch {
	case sat && !ns.saturated:
		ns.saturated = true
		w.acct.saturations++
		emit(w, trace.NodeSaturated{Node: n.Name, Demand: total, Allocatable: capacity})
		if w.m.KernelPanic.On() {
			// cumulative Weibull hazard (t/λ)^k crosses a unit exponential E at t = λ·E^(1/k)
			e := ns.rng.ExpFloat64()
			k := w.m.KernelPanic.Shape
			t := weibullScale(w.m.KernelPanic.MeanTimeToPanic.Duration, k) * math.Pow(e, 1/k)
			ns.panicAt = w.q.AfterID(time.Duration(t), w.hid, pack(evNodePanic, n.Index))
		}
	case !sat && ns.saturated:
		ns.saturated = false
		w.q.Cancel(ns.panicAt)
		emit(w, trace.NodeSaturationOver{Node: n.Name, Demand: total})
	}
}

// waterFill grants capacity in proportion to CPU requests (shares), capping each pod at its demand.
func (w *World) waterFill(n *cluster.Node, capacity float64) {
	left := capacity
	open := 0
	for _, p := range n.Pods {
		ps := w.pods[p.Index]
		ps.served = -1 // not yet settled
		if ps.demand > 0 {
			open++
		} else {
			ps.served = 1
		}
	}
	for open > 0 && left > 1e-12 {
		shares := 0.0
		for _, p := range n.Pods {
			if w.pods[p.Index].served < 0 {
				shares += podShares(p)
			}
		}
		settled := false
		for _, p := range n.Pods {
			ps := w.pods[p.Index]
			if ps.served >= 0 {
				continue
			}
			if grant := left * podShares(p) / shares; grant >= ps.demand {
				ps.served = 1
				left -= ps.demand
				open--
				settled = true
			}
		}
		if !settled {
			for _, p := range n.Pods {
				ps := w.pods[p.Index]
				if ps.served < 0 {
					ps.served = left * podShares(p) / shares / ps.demand
				}
			}
			return
		}
	}
	for _, p := range n.Pods {
		if ps := w.pods[p.Index]; ps.served < 0 {
			ps.served = 0
		}
	}
}

func podShares(p *cluster.Pod) float64 { return math.Max(float64(p.Requests.MilliCPU), 2) }

// --- node failure and node lifecycle ----------------------------------------------------------

// nodePanic is the kernel panic: the machine stops at once, every container on it with it.
func (w *World) nodePanic(i int) {
	ns := w.nodes[i]
	if !ns.n.Up {
		return
	}
	ns.panics++
	w.acct.panic(w, ns)
	emit(w, trace.NodePanicked{Node: ns.n.Name, Demand: ns.demand, Pods: len(ns.n.Pods)})
	w.nodeDown(ns)
	w.q.AfterID(w.m.KernelPanic.RebootTime.Duration, w.hid, pack(evNodeBoot, i))
}

// nodeDown stops the machine. The control plane learns of it only through missing heartbeats.
//
// Model: kubelet posts node status every statusUpdateFrequency; the node lifecycle controller
// (pkg/controller/nodelifecycle) checks every monitorPeriod and sets Ready=Unknown once no status
// arrived for gracePeriod. Heartbeats are on a per-node phase drawn once, so the last one before a
// failure is up to one period old.
func (w *World) nodeDown(ns *nodeState) {
	n := ns.n
	now := w.q.Now()
	n.Up = false
	n.Changed = true
	ns.downSince = now
	ns.saturated = false
	w.q.Cancel(ns.panicAt)
	for _, p := range n.Pods {
		ps := w.pods[p.Index]
		if p.Phase == cluster.PodRunning && !ps.dead {
			w.acct.podsLost++
		}
		ps.dead = true
		w.podCancel(ps, &ps.start)
		w.podCancel(ps, &ps.ready)
	}
	period := w.m.NodeLifecycle.StatusUpdateFrequency.Duration
	phase := time.Duration(n.Index*7919) % period // fixed per node, deterministic
	lastBeat := now - ((now-phase)%period+period)%period
	w.armNotReady(ns, lastBeat)
	w.touch()
}

// armNotReady schedules the monitor pass that finds the node silent since lastBeat.
func (w *World) armNotReady(ns *nodeState, lastBeat time.Duration) {
	monitor := w.m.NodeLifecycle.MonitorPeriod.Duration
	due := lastBeat + w.m.NodeLifecycle.GracePeriod.Duration
	due = (due/monitor + 1) * monitor // first monitor pass strictly after the grace expired
	w.q.Cancel(ns.notReady)
	if ns.n.Ready {
		ns.notReady = w.q.AtID(due, w.hid, pack(evNodeNotReady, ns.n.Index))
	}
}

// nodeNotReady is the node lifecycle controller noticing the silence: Ready=Unknown, the
// unreachable taints, and every pod on the node marked not ready (MarkPodsNotReady), which takes
// them out of the Service endpoints.
func (w *World) nodeNotReady(i int) {
	ns := w.nodes[i]
	n := ns.n
	if (n.Up && w.apiReporting(ns)) || !n.Ready {
		return // a live kubelet whose heartbeats get through
	}
	n.Ready = false
	w.repairArm(ns)
	w.acct.notReadyEvents++
	emit(w, trace.NodeNotReady{Node: n.Name, SilentFor: w.q.Now() - ns.downSince})
	w.observeNode(n.Name, measure.NodeNotReady)
	w.st.SetTaints(n, append(n.Taints,
		corev1.Taint{Key: corev1.TaintNodeUnreachable, Effect: corev1.TaintEffectNoSchedule},
	))
	for _, p := range n.Pods {
		p.Ready = false
	}
	n.Changed = true
	w.checkDisruption()
	if !w.fullDisruption {
		w.taintForEviction(ns)
	}
	w.touch()
}

// taintForEviction adds the unreachable NoExecute taint and arms each pod's eviction after its
// toleration.
//
// Model: taint-based eviction (pkg/controller/tainteviction): a pod tolerating
// node.kubernetes.io/unreachable:NoExecute for tolerationSeconds is deleted that long after the
// taint was added; the DefaultTolerationSeconds admission plugin gives every pod 300 s unless it
// has its own toleration; a toleration without seconds tolerates forever.
// Left out: the node-eviction-rate limit (0.1 nodes/s) and the secondary rate for unhealthy zones.
func (w *World) taintForEviction(ns *nodeState) {
	n := ns.n
	for _, t := range n.Taints {
		if t.Key == corev1.TaintNodeUnreachable && t.Effect == corev1.TaintEffectNoExecute {
			return
		}
	}
	added := metav1.NewTime(w.clock.Now())
	taint := corev1.Taint{Key: corev1.TaintNodeUnreachable, Effect: corev1.TaintEffectNoExecute, TimeAdded: &added}
	w.st.SetTaints(n, append(n.Taints, taint))
	for _, p := range n.Pods {
		if p.Phase == cluster.PodTerminating || p.Phase == cluster.PodGone {
			continue
		}
		secs, forever := w.tolerationFor(p, &taint)
		if forever {
			continue
		}
		ps := w.pods[p.Index]
		w.podCancel(ps, &ps.eviction)
		ps.eviction = w.podAfter(time.Duration(secs)*time.Second, evEvict, p.Index)
	}
}

func (w *World) tolerationFor(p *cluster.Pod, taint *corev1.Taint) (secs int64, forever bool) {
	for i := range p.Spec.Tolerations {
		t := &p.Spec.Tolerations[i]
		if t.ToleratesTaint(logr.Discard(), taint, false) {
			if t.TolerationSeconds == nil {
				return 0, true
			}
			return max(*t.TolerationSeconds, 0), false
		}
	}
	return w.m.NodeLifecycle.DefaultTolerationSeconds, false
}

func (w *World) evict(pi int) {
	p := w.st.Pods[pi]
	if p.Phase == cluster.PodGone || p.Phase == cluster.PodTerminating {
		return
	}
	w.acct.evictions++
	w.deletePod(pi, "taint eviction")
}

// checkDisruption follows the node lifecycle controller's full-disruption rule: when every node
// is not ready, it assumes the control plane lost the nodes rather than the nodes failing, stops
// evicting and removes the NoExecute taints; when a node is ready again, it taints the nodes that
// are still not ready, which arms evictions afresh.
func (w *World) checkDisruption() {
	all := true
	for _, ns := range w.nodes {
		if ns.n.Ready {
			all = false
			break
		}
	}
	if all == w.fullDisruption {
		return
	}
	w.fullDisruption = all
	if all {
		emit(w, trace.FullDisruption{})
		for _, ns := range w.nodes {
			removeTaint(&w.st, ns.n, corev1.TaintNodeUnreachable, corev1.TaintEffectNoExecute)
			for _, p := range ns.n.Pods {
				w.podCancel(w.pods[p.Index], &w.pods[p.Index].eviction)
			}
		}
		return
	}
	emit(w, trace.FullDisruptionOver{})
	for _, ns := range w.nodes {
		if !ns.n.Ready {
			w.taintForEviction(ns)
		}
	}
}

func removeTaint(st *cluster.State, n *cluster.Node, key string, effect corev1.TaintEffect) {
	kept := n.Taints[:0]
	for _, t := range n.Taints {
		if t.Key == key && t.Effect == effect {
			continue
		}
		kept = append(kept, t)
	}
	st.SetTaints(n, kept)
}

// nodeBoot brings the machine back. Pods deleted while it was away are confirmed gone; the
// others restart their containers. The control plane sees the node Ready with its next status.
func (w *World) nodeBoot(i int) {
	ns := w.nodes[i]
	n := ns.n
	if n.Up {
		return
	}
	n.Up = true
	n.Changed = true
	ns.stopped = false
	emit(w, trace.NodeBooted{Node: n.Name, DownFor: w.q.Now() - ns.downSince})
	released := false
	for j := len(n.Pods) - 1; j >= 0; j-- {
		p := n.Pods[j]
		ps := w.pods[p.Index]
		if p.Phase == cluster.PodTerminating {
			w.st.Release(p)
			released = true
			continue
		}
		ps.dead = false
		p.Phase = cluster.PodPending
		p.Ready = false
		ps.start = w.podAfter(w.m.Pods.ContainerStart.Duration, evContainersStarted, p.Index)
	}
	if n.Ready && w.apiReporting(ns) {
		// back before the controller noticed: nothing to undo in the control plane
		w.q.Cancel(ns.notReady)
	} else if !n.Ready {
		jitter := time.Duration(ns.rng.Int64N(int64(w.m.NodeLifecycle.StatusUpdateFrequency.Duration)))
		w.q.AfterID(jitter, w.hid, pack(evNodeReadyReport, i))
	}
	if released {
		w.moveUnschedulable()
	}
	w.touch()
}

// nodeReadyReport: the first status after boot reaches the API server; the controller sets
// Ready, removes the unreachable taints (cancelling pending evictions) and parked pods move.
func (w *World) nodeReadyReport(i int) {
	ns := w.nodes[i]
	n := ns.n
	if !n.Up || n.Ready || !w.apiReporting(ns) {
		return
	}
	n.Ready = true
	w.repairCancel(ns)
	removeTaint(&w.st, n, corev1.TaintNodeUnreachable, corev1.TaintEffectNoSchedule)
	removeTaint(&w.st, n, corev1.TaintNodeUnreachable, corev1.TaintEffectNoExecute)
	now := w.q.Now()
	for _, p := range n.Pods {
		ps := w.pods[p.Index]
		w.podCancel(ps, &ps.eviction)
		if p.Phase == cluster.PodRunning && !ps.dead && !ps.failed && p.Started+ps.readyWait <= now {
			p.Ready = true
			n.Changed = true
		}
	}
	emit(w, trace.NodeReady{Node: n.Name})
	w.observeNode(n.Name, measure.NodeReady)
	w.checkDisruption()
	w.moveUnschedulable()
	w.touch()
}
