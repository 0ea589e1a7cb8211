package sim

import (
	"time"

	"github.com/faultline-dev/faultline/sim/cluster"
	"github.com/faultline-dev/faultline/sim/engine"
	"github.com/faultline-dev/faultline/sim/trace"
)

// machines are the nodes' machines and their kubelets: a kernel panic stops a machine at once,
// every container on it with it, and it reboots; a fault stops or resets it; after boot the
// kubelet restarts the containers of the pods still bound to it and its next status has the node
// lifecycle controller (ctl) set it Ready. The control plane learns of a stopped machine only
// through missing heartbeats.
//
// Model: the kubelet posts node status every statusUpdateFrequency on a per-node phase drawn once,
// so the last one before a failure is up to one period old.
type machines struct {
	*nodeEnv
	hid engine.HandlerID
	ctl *nodeLifecycleController
}

// The machines' event kinds, packed with a node index.
const (
	machEvPanic uint32 = iota + 1 // the kernel panic armed when the node saturated
	machEvBoot                    // the machine is back after a panic's reboot
)

var machineEvents = [...]cpEvent[*machines]{
	machEvPanic: {"node-panic", (*machines).kernelPanic},
	machEvBoot:  {"node-boot", (*machines).boot},
}

// Fire runs the machines' events.
func (m *machines) Fire(_ time.Duration, arg uint32) { fireEvent(m, machineEvents[:], arg) }

// armPanic schedules the kernel panic of a saturated node d from now (the CPU model, nodes.go).
func (m *machines) armPanic(ns *nodeState, d time.Duration) {
	ns.panicAt = m.q.AfterID(d, m.hid, pack(machEvPanic, ns.n.Index))
}

// kernelPanic is the kernel panic: the machine stops at once and reboots after RebootTime.
func (m *machines) kernelPanic(i int) {
	ns := m.node(i)
	if !ns.n.Up {
		return
	}
	ns.panics++
	m.cl.countPanic(ns)
	envEmit(m.env, trace.NodePanicked{Node: ns.n.Name, Demand: ns.demand, Pods: len(ns.n.Pods)})
	m.down(ns)
	m.q.AfterID(m.m.KernelPanic.RebootTime.Duration, m.hid, pack(machEvBoot, i))
}

// down stops the machine: its containers die with it and the controller will find the node
// silent since its last status.
func (m *machines) down(ns *nodeState) {
	n := ns.n
	now := m.q.Now()
	n.Up = false
	n.Changed = true
	ns.downSince = now
	ns.saturated = false
	m.q.Cancel(ns.panicAt)
	for _, p := range n.Pods {
		ps := m.pod(p.Index)
		if p.Phase == cluster.PodRunning && !ps.dead {
			m.acct.podsLost++
		}
		ps.dead = true
		m.cl.podCancel(ps, &ps.start)
		m.cl.podCancel(ps, &ps.ready)
	}
	period := m.m.NodeLifecycle.StatusUpdateFrequency.Duration
	phase := time.Duration(n.Index*7919) % period // fixed per node, deterministic
	lastBeat := now - ((now-phase)%period+period)%period
	m.ctl.armNotReady(ns, lastBeat)
	m.cl.touch()
}

// boot brings the machine back. Pods deleted while it was away are confirmed gone; the others
// restart their containers. The control plane sees the node Ready with its next status.
func (m *machines) boot(i int) {
	ns := m.node(i)
	n := ns.n
	if n.Up {
		return
	}
	n.Up = true
	n.Changed = true
	ns.stopped = false
	envEmit(m.env, trace.NodeBooted{Node: n.Name, DownFor: m.q.Now() - ns.downSince})
	released := false
	for j := len(n.Pods) - 1; j >= 0; j-- {
		p := n.Pods[j]
		ps := m.pod(p.Index)
		if p.Phase == cluster.PodTerminating {
			m.st.Release(p)
			released = true
			continue
		}
		ps.dead = false
		p.Phase = cluster.PodPending
		p.Ready = false
		ps.start = m.cl.podAfter(m.m.Pods.ContainerStart.Duration, evContainersStarted, p.Index)
	}
	if n.Ready && m.cl.apiReporting(ns) {
		// back before the controller noticed: nothing to undo in the control plane
		m.q.Cancel(ns.notReady)
	} else if !n.Ready {
		jitter := time.Duration(ns.rng.Int64N(int64(m.m.NodeLifecycle.StatusUpdateFrequency.Duration)))
		m.ctl.reportReadyAt(ns, m.q.Now()+jitter)
	}
	if released {
		m.cl.moveUnschedulable()
	}
	m.cl.touch()
}
