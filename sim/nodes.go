package sim

import (
	"math"
	"time"

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
	}
	w.acct.setRates(w)
	if w.inv != nil {
		w.checkServe(w.inv)
	}
	w.nm.ctl.checkDisruption()
	w.unreach.sync()
	w.controlPlaneRecompute(now)
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
			w.nm.mach.armPanic(ns, time.Duration(t))
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
