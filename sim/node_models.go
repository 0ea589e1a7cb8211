package sim

import (
	"time"

	"github.com/faultline-dev/faultline/measure"
	"github.com/faultline-dev/faultline/sim/cluster"
	"github.com/faultline-dev/faultline/sim/engine"
)

// The nodes, split as upstream splits them into model types that own their state and register
// their own engine handlers for their own event kinds, sharing a nodeEnv and reaching the rest of
// the world through the narrow nodeCluster interface rather than World:
//   - nodeLifecycleController (node_lifecycle.go): the node lifecycle controller of
//     kube-controller-manager (pkg/controller/nodelifecycle and tainteviction): NotReady after
//     the grace period without status, the unreachable taints, taint-based eviction and the
//     full-disruption rule, and the node's status reaching it again (Ready);
//   - machines (node_machine.go): the machines and their kubelets: kernel panic, stop, boot and
//     the timing of the kubelet's last status before a stop and first after a boot;
//   - cpuModel (node_cpu.go): the nodes' CPU demand, contention and saturation, which arms the
//     kernel panics; the world's recomputation (nodes.go recompute) runs it.

// nodeEnv is what the node models share: the env (queue, trace sink, parameters), the cluster
// state, the pods' and nodes' states, the run's counters and the rest of the world to act on.
type nodeEnv struct {
	*env
	st    *cluster.State
	pods  *[]*podState  // the world's pod states by pod index (World.pods, which grows)
	nodes *[]*nodeState // the world's node states by node index
	acct  *accounting   // the counters the node models add to (pods lost, NotReady, evictions)
	cl    nodeCluster
}

// nodeCluster is what the node models need to ask of the rest of the world: the control plane's
// heartbeat path and auto-repair clock, pod deletion, the pods' container starts, the
// scheduler's parked pods and the recomputation of rates. World implements it.
type nodeCluster interface {
	// touch asks for a recomputation of rates at the current instant (World.touch).
	touch()
	// apiReporting reports whether the node's lease renewals get through the API.
	apiReporting(ns *nodeState) bool
	// repairArm and repairCancel start and stop the node's auto-repair clock.
	repairArm(ns *nodeState)
	repairCancel(ns *nodeState)
	observeNode(name string, to measure.NodeState)
	deletePod(pi int, reason string)
	// podAfter queues one of the world's pod events (a container start), podCancel cancels one.
	podAfter(d time.Duration, kind uint32, pi int) engine.Timer
	podCancel(ps *podState, t *engine.Timer)
	// moveUnschedulable moves the parked pods back to the scheduling queue.
	moveUnschedulable()
	// countPanic records a kernel panic of the node in the run's counters.
	countPanic(ns *nodeState)
}

// nodeModels groups the node models; built with the world, started at time 0 after settling.
type nodeModels struct {
	*nodeEnv
	ctl  *nodeLifecycleController
	mach *machines
	cpu  *cpuModel
}

func newNodeModels(e *nodeEnv) *nodeModels {
	p := &worldParts{nenv: *e}
	return p.nodeModels()
}

// nodeModels builds the node models on p.nenv in p's own structs.
func (p *worldParts) nodeModels() *nodeModels {
	e := &p.nenv
	p.ctl = nodeLifecycleController{nodeEnv: e}
	p.mach = machines{nodeEnv: e, ctl: &p.ctl}
	p.cpu = cpuModel{nodeEnv: e, mach: &p.mach}
	p.nm = nodeModels{nodeEnv: e, ctl: &p.ctl, mach: &p.mach, cpu: &p.cpu}
	return &p.nm
}

// start registers the models' handlers on the run's queue (settling replaced the queue).
func (nm *nodeModels) start() {
	nm.ctl.hid = nm.q.Register(nm.ctl)
	nm.mach.hid = nm.q.Register(nm.mach)
}

// eventNames names the event kinds of the node model registered as hid (for the invariant
// checker's violations); nil for another handler.
func (nm *nodeModels) eventNames(hid engine.HandlerID) []string {
	switch hid {
	case nm.ctl.hid:
		return kindNames(nodeLifecycleEvents[:])
	case nm.mach.hid:
		return kindNames(machineEvents[:])
	}
	return nil
}

func (e *nodeEnv) node(i int) *nodeState { return (*e.nodes)[i] }
func (e *nodeEnv) pod(pi int) *podState  { return (*e.pods)[pi] }

// The World's side of nodeCluster beyond the methods it has anyway, and its hooks into the node
// models for the files that call them (faults.go, the control plane through cpCluster, World.Fire).

func (w *World) countPanic(ns *nodeState) { w.acct.panic(w, ns) }

// nodeDown stops the machine (faults, auto-repair).
func (w *World) nodeDown(ns *nodeState) { w.nm.mach.down(ns) }

// nodeBoot brings the machine back (faults, auto-repair).
func (w *World) nodeBoot(i int) { w.nm.mach.boot(i) }

// armNotReady has the node lifecycle controller find the node silent since lastBeat (cpCluster).
func (w *World) armNotReady(ns *nodeState, lastBeat time.Duration) {
	w.nm.ctl.armNotReady(ns, lastBeat)
}
