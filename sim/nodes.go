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
			w.nm.cpu.node(ns)
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

// podChanged marks p's node for the next recomputation: something podDemand reads of p (its
// phase, readiness, failure, stress) changed outside cluster.State.
func podChanged(p *cluster.Pod) {
	if p.Node != nil {
		p.Node.Changed = true
	}
}

// podDemand is the CPU model's demand of a pod (the invariant checker's full recomputation).
func (w *World) podDemand(ps *podState) float64 { return w.nm.cpu.podDemand(ps) }
