package sim

import (
	"math"
	"math/rand/v2"
	"time"

	"github.com/faultline-dev/faultline/sim/engine"
	"github.com/faultline-dev/faultline/sim/trace"
)

// leaseHeartbeats are the kubelets' lease renewals through the API (controlplane.go's model):
// each node's heartbeat path from the renewals' chance of getting through admission in time.
// Losing it has the node lifecycle controller find the node silent (node_lifecycle.go armNotReady);
// regaining it lets the kubelet report the node Ready. With no apiserver ready the renewals fail
// too, but the node lifecycle controller, which reads through the same apiservers, is as blind as
// the kubelets and marks nothing NotReady (upstream restarts its grace clocks when it can observe
// again); so only admission decides here.
type leaseHeartbeats struct {
	*cpEnv
	hid engine.HandlerID
	hb  []hbState // per node
	p   float64   // chance that one try of a renewal gets through admission in time
}

// hbState is a node's heartbeat path through the API.
type hbState struct {
	reporting bool // lease renewals get through (the machine's own state aside)
	mixed     bool // renewals succeed only sometimes: drawn beat by beat
	lastOK    time.Duration
	phase     time.Duration
	timer     engine.Timer
	rng       *rand.Rand
}

// leaseHeartbeats' only event kind: a lease renewal drawn while renewals succeed only sometimes
const hbEvRenew uint32 = 1

var heartbeatEvents = [...]cpEvent[*leaseHeartbeats]{hbEvRenew: {"heartbeat", (*leaseHeartbeats).renew}}

func newLeaseHeartbeats(e *cpEnv) *leaseHeartbeats {
	nodes := *e.nodes
	h := &leaseHeartbeats{cpEnv: e, hb: make([]hbState, len(nodes))}
	period := e.m.NodeLifecycle.StatusUpdateFrequency.Duration
	for i, ns := range nodes {
		rng := e.streams.Stream("heartbeat/" + ns.n.Name)
		h.hb[i] = hbState{reporting: true, rng: rng, phase: time.Duration(rng.Int64N(int64(period)))}
	}
	return h
}

// Fire runs the renewals' events.
func (h *leaseHeartbeats) Fire(_ time.Duration, arg uint32) { fireEvent(h, heartbeatEvents[:], arg) }

// refresh sets each node's heartbeat path from p, the chance that a renewal gets through
// admission in time.
func (h *leaseHeartbeats) refresh(p float64, now time.Duration) {
	h.p = p
	for i, ns := range *h.nodes {
		hb := &h.hb[i]
		switch {
		case p >= 1-1e-12:
			hb.mixed = false
			h.q.Cancel(hb.timer)
			h.setReporting(ns, true, now)
		case p <= 1e-12:
			hb.mixed = false
			h.q.Cancel(hb.timer)
			h.setReporting(ns, false, now)
		case !hb.mixed:
			hb.mixed = true
			if hb.reporting {
				hb.lastOK = h.lastBeat(ns, now)
			}
			hb.timer = h.q.AtID(h.nextBeat(ns, now), h.hid, pack(hbEvRenew, i))
		}
	}
}

// lastBeat is the node's last lease renewal at or before now. Renewals are a period apart on a
// phase drawn once per node: which kubelets catch a short window in which the API lets them
// through depends on it.
func (h *leaseHeartbeats) lastBeat(ns *nodeState, now time.Duration) time.Duration {
	period := h.m.NodeLifecycle.StatusUpdateFrequency.Duration
	phase := h.hb[ns.n.Index].phase
	return now - ((now-phase)%period+period)%period
}

func (h *leaseHeartbeats) nextBeat(ns *nodeState, now time.Duration) time.Duration {
	return h.lastBeat(ns, now) + h.m.NodeLifecycle.StatusUpdateFrequency.Duration
}

// leaseRetries is the kubelet lease controller's maxUpdateRetries: a renewal is retried at once
// up to 5 times before the controller waits for the next interval (pkg/kubelet/nodelease).
const leaseRetries = 5

// renew is one lease renewal (with its immediate retries) drawn while renewals succeed only
// sometimes. The retries' own time (a timed-out try takes the client's 10 s) is left out.
func (h *leaseHeartbeats) renew(i int) {
	hb := &h.hb[i]
	if !hb.mixed {
		return
	}
	now := h.q.Now()
	ns := (*h.nodes)[i]
	ok := hb.rng.Float64() < 1-math.Pow(1-h.p, leaseRetries)
	if ok {
		hb.lastOK = now
	}
	h.setReporting(ns, ok, now)
	hb.timer = h.q.AfterID(h.m.NodeLifecycle.StatusUpdateFrequency.Duration, h.hid, pack(hbEvRenew, i))
}

// setReporting changes a node's heartbeat path. Losing it arms NotReady from the last renewal
// that got through; regaining it lets the next renewal report the node Ready.
func (h *leaseHeartbeats) setReporting(ns *nodeState, ok bool, now time.Duration) {
	hb := &h.hb[ns.n.Index]
	if ok == hb.reporting {
		return
	}
	hb.reporting = ok
	n := ns.n
	if !n.Up {
		return // the machine's own state drives the node (nodeDown, nodeBoot)
	}
	if !ok {
		last := h.lastBeat(ns, now)
		if hb.mixed && hb.lastOK < last {
			last = hb.lastOK
		}
		ns.downSince = now
		envEmit(h.env, trace.HeartbeatsFailing{Node: n.Name})
		h.cl.armNotReady(ns, last)
		return
	}
	envEmit(h.env, trace.HeartbeatsThrough{Node: n.Name})
	if n.Ready {
		h.q.Cancel(ns.notReady)
		return
	}
	at := now
	if !hb.mixed {
		at = h.nextBeat(ns, now)
	}
	h.cl.reportReadyAt(ns, at)
}
