package sim

import (
	"time"

	"github.com/faultline-dev/faultline/measure"
	"github.com/faultline-dev/faultline/sim/engine"
	"github.com/faultline-dev/faultline/sim/trace"
)

// autoRepairer is node auto-repair, as GKE does it: a node whose Ready condition has been false
// (or unknown) for about 10 minutes is repaired: drained (its pods deleted, their owners replace
// them elsewhere), its VM deleted and a fresh one created under the same name. The fresh node
// comes up empty; it is Ready once its kubelet's heartbeat gets through. The repair clock starts
// again when the fresh node is up, so a node that can never report is recreated every
// UnhealthyFor + RecreateTime: the loop of scenarios/webhook-blocked-upgrade/README.md.
//
// Left out: the cap on concurrent repairs in a pool, PodDisruptionBudgets during the drain, the
// drain's own time, the provider's back-off between repeated repairs of one node.
type autoRepairer struct {
	*cpEnv
	hid        engine.HandlerID
	repairs    int
	lastRepair []time.Duration // per node, -1 none
	repairT    []engine.Timer
}

// The repairs' event kinds, packed with a node index.
const (
	repairEvStart     uint32 = iota + 1 // the node has been NotReady long enough
	repairEvRecreated                   // the fresh VM is up
)

var repairEvents = [...]cpEvent[*autoRepairer]{
	repairEvStart:     {"node-repair", (*autoRepairer).repair},
	repairEvRecreated: {"node-recreated", (*autoRepairer).recreated},
}

func newAutoRepairer(e *cpEnv) *autoRepairer {
	n := len(*e.nodes)
	r := &autoRepairer{cpEnv: e, lastRepair: make([]time.Duration, n), repairT: make([]engine.Timer, n)}
	for i := range r.lastRepair {
		r.lastRepair[i] = -1
	}
	return r
}

// Fire runs the repairs' events.
func (r *autoRepairer) Fire(_ time.Duration, arg uint32) { fireEvent(r, repairEvents[:], arg) }

// arm starts node i's repair clock when it goes NotReady.
func (r *autoRepairer) arm(i int) {
	if !r.m.AutoRepair.Enabled || r.q.IsPending(r.repairT[i]) {
		return
	}
	r.repairT[i] = r.q.AfterID(r.m.AutoRepair.UnhealthyFor.Duration, r.hid, pack(repairEvStart, i))
}

// cancel stops it when the node is Ready again.
func (r *autoRepairer) cancel(i int) { r.q.Cancel(r.repairT[i]) }

func (r *autoRepairer) repair(i int) {
	ns := (*r.nodes)[i]
	n := ns.n
	if n.Ready {
		return
	}
	now := r.q.Now()
	r.repairs++
	r.lastRepair[i] = now
	envEmit(r.env, trace.NodeRepairStarted{Node: n.Name, Pods: len(n.Pods)})
	r.cl.observeNode(n.Name, measure.NodeDeleted)
	pods := make([]int, 0, len(n.Pods))
	for _, p := range n.Pods {
		pods = append(pods, p.Index)
	}
	for _, pi := range pods {
		r.cl.deletePod(pi, "auto-repair drain")
	}
	if n.Up {
		r.cl.nodeDown(ns)
	}
	r.q.AfterID(r.m.AutoRepair.RecreateTime.Duration, r.hid, pack(repairEvRecreated, i))
}

func (r *autoRepairer) recreated(i int) {
	ns := (*r.nodes)[i]
	envEmit(r.env, trace.NodeRecreated{Node: ns.n.Name})
	r.cl.observeNode(ns.n.Name, measure.NodeCreated)
	r.cl.nodeBoot(i)
	if !ns.n.Ready {
		r.q.Cancel(r.repairT[i])
		r.repairT[i] = r.q.AfterID(r.m.AutoRepair.UnhealthyFor.Duration, r.hid, pack(repairEvStart, i))
	}
}
