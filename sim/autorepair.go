package sim

import (
	"github.com/faultline-dev/faultline/measure"
	"github.com/faultline-dev/faultline/sim/trace"
)

// Node auto-repair, as GKE does it: a node whose Ready condition has been false (or unknown) for
// about 10 minutes is repaired: drained (its pods deleted, their owners replace them elsewhere),
// its VM deleted and a fresh one created under the same name. The fresh node comes up empty; it
// is Ready once its kubelet's heartbeat gets through. The repair clock starts again when the
// fresh node is up, so a node that can never report is recreated every UnhealthyFor +
// RecreateTime: the loop of scenarios/webhook-blocked-upgrade/README.md.
//
// Left out: the cap on concurrent repairs in a pool, PodDisruptionBudgets during the drain, the
// drain's own time, the provider's back-off between repeated repairs of one node.

// repairArm starts a node's repair clock when it goes NotReady (nodes.go nodeNotReady).
func (w *World) repairArm(ns *nodeState) {
	if w.cp == nil || !w.m.AutoRepair.Enabled {
		return
	}
	i := ns.n.Index
	if w.q.IsPending(w.cp.repairT[i]) {
		return
	}
	w.cp.repairT[i] = w.q.AfterID(w.m.AutoRepair.UnhealthyFor.Duration, w.hid, pack(evNodeRepair, i))
}

// repairCancel stops it when the node is Ready again (nodes.go nodeReadyReport).
func (w *World) repairCancel(ns *nodeState) {
	if w.cp == nil {
		return
	}
	w.q.Cancel(w.cp.repairT[ns.n.Index])
}

func (w *World) nodeRepair(i int) {
	ns := w.nodes[i]
	n := ns.n
	if n.Ready {
		return
	}
	cp := w.cp
	now := w.q.Now()
	cp.repairs++
	cp.lastRepair[i] = now
	emit(w, trace.NodeRepairStarted{Node: n.Name, Pods: len(n.Pods)})
	w.observeNode(n.Name, measure.NodeDeleted)
	pods := make([]int, 0, len(n.Pods))
	for _, p := range n.Pods {
		pods = append(pods, p.Index)
	}
	for _, pi := range pods {
		w.deletePod(pi, "auto-repair drain")
	}
	if n.Up {
		w.nodeDown(ns)
	}
	w.q.AfterID(w.m.AutoRepair.RecreateTime.Duration, w.hid, pack(evNodeRecreated, i))
}

func (w *World) nodeRecreated(i int) {
	ns := w.nodes[i]
	emit(w, trace.NodeRecreated{Node: ns.n.Name})
	w.observeNode(ns.n.Name, measure.NodeCreated)
	w.nodeBoot(i)
	if !ns.n.Ready {
		w.q.Cancel(w.cp.repairT[i])
		w.cp.repairT[i] = w.q.AfterID(w.m.AutoRepair.UnhealthyFor.Duration, w.hid, pack(evNodeRepair, i))
	}
}
