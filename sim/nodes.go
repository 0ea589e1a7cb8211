package sim

import (
	"time"

	"github.com/faultline-dev/faultline/sim/cluster"
)

// recompute integrates traffic up to now with the rates in force, then derives CPU demand,
// contention, saturation (arming or disarming kernel panics: the CPU model, node_cpu.go) and
// traffic success for the state as it is now.
func (w *World) recompute(now time.Duration) {
	w.dirty = false
	w.acct.integrate(w, now)
	wall := w.clock.Now()
	// the workloads whose Ready count may have changed: a pod on a changed node (every change
	// of a pod's readiness marks its node) or unbound since the last recomputation
	w.st.Observe((*unbindWatch)(w))
	for _, n := range w.st.Nodes { // parallel to w.nodes, one pointer less per node
		if n.Changed {
			for _, p := range n.Pods {
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
		l.markChanged(w.st.Pods, l.mult != mult, l.ready != ready || l.wl.replicas != replicas)
	}
	// Only the nodes whose inputs changed (cluster.Node.Changed) are recomputed, in node order as
	// a full pass would: an unchanged node's demand, shares and saturation come out the same, so
	// skipping it is exact (checkCPU proves it under Options.CheckInvariants).
	for i, n := range w.st.Nodes {
		if n.Changed {
			n.Changed = false
			w.nm.cpu.node(w.nodes[i])
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
	w.nm.ctl.checkDisruption()
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

// podChanged marks p's node for the next recomputation: something podDemand reads of p (its
// phase, readiness, failure, stress) changed outside cluster.State.
func podChanged(p *cluster.Pod) {
	if p.Node != nil {
		p.Node.Changed = true
	}
}

// podDemand is the CPU model's demand of a pod (the invariant checker's full recomputation).
func (w *World) podDemand(ps *podState) float64 { return w.nm.cpu.podDemand(ps) }
