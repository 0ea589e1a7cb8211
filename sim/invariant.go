package sim

import (
	"errors"
	"fmt"
	"math"
	"strconv"
	"time"

	"github.com/faultline-dev/faultline/sim/cluster"
	"github.com/faultline-dev/faultline/sim/engine"
)

// Invariants checked after every event when Options.CheckInvariants is set.
//
// The checker is a second reading of the world's state: it owns no model, only a few shadow
// facts it derives from the events it watches (which nodes auto-repair has deleted, the last
// virtual time, the pods and Jobs still alive), and it stops the run at the first violation. It
// costs nothing when off: World.Run picks the plain event loop once per run, and no model calls
// into it. Checks that a model completes within one instant (endpoints follow readiness through
// the recomputation queued at the same virtual time) run when the instant closes, that is before
// the first event at a later time and at the end of the run; the others run after every event.
const (
	// InvRequestsFit: the requests of the pods bound to a node never exceed its allocatable, and
	// the node's Requested is the sum of its pods' requests.
	InvRequestsFit = "requests-within-allocatable"
	// InvEndpointsRunning: a pod that is Ready (an endpoint the EndpointSlice publishes as
	// ready) is bound and Running; on the network path, the published endpoint follows the pod.
	InvEndpointsRunning = "ready-endpoints-are-running-pods"
	// InvRequestsConserved: per load target, the shares of requests that succeed and that fail
	// (502, 503, app error) add up to the offered requests, and what is counted as succeeded
	// never exceeds what was offered; over the run, succeeded + failed = offered in total.
	InvRequestsConserved = "succeeded-plus-failed-is-offered"
	// InvNoPodOnDeletedNode: no pod is bound to a node whose VM auto-repair deleted, until the
	// fresh node is up; a bound pod is on its node's pod list and is not gone.
	InvNoPodOnDeletedNode = "no-pod-on-deleted-node"
	// InvJobOwned: every Job that exists has its CronJob (it is in the CronJob's active list
	// exactly while it runs) or was collected; a finished Job holds no active pod (one may still
	// be Terminating on an unreachable node, as upstream's would).
	InvJobOwned = "job-has-cronjob-or-was-collected"
	// InvClockMonotonic: virtual time never goes back and never passes the end of the run.
	InvClockMonotonic = "clock-never-goes-back"
	// InvCPUCurrent: after each recomputation, the CPU demand the load model keeps per pod and per
	// node (recomputed only for the nodes marked changed), and each load's share served by its own
	// pods (recomputed only for the loads whose pods changed), equal a full recomputation from the
	// state as it is: a change that forgot to mark its node shows here.
	InvCPUCurrent = "cpu-demand-matches-full-recompute"
)

// ErrInvariant marks a violated invariant; errors.As gives the *InvariantError.
var ErrInvariant = errors.New("invariant violated")

// InvariantError is one violation: which invariant, when, after which event, on which object.
type InvariantError struct {
	Invariant string        // one of the Inv* names
	At        time.Duration // virtual time of the event after which it was found
	Event     string        // the event, e.g. "node-repair[2]"
	Object    string        // the object, e.g. "node/pool-a-3"
	Detail    string        // what was found against what was expected
}

func (e *InvariantError) Error() string {
	return fmt.Sprintf("invariant %s violated at %s after event %s: %s: %s", e.Invariant, FormatVirtual(e.At), e.Event, e.Object, e.Detail)
}

// Unwrap makes errors.Is(err, ErrInvariant) hold.
func (e *InvariantError) Unwrap() error { return ErrInvariant }

// Violation returns the first invariant violation found by Run (nil when none, or when
// Options.CheckInvariants was off). The run stops at the violation; its Result is partial.
func (w *World) Violation() error {
	if w.inv == nil || w.inv.err == nil {
		return nil
	}
	return w.inv.err
}

// invChecker is the checker's shadow state.
type invChecker struct {
	err     error
	last    time.Duration // virtual time of the last event checked
	end     time.Duration // end of the run
	event   string
	deleted []bool // by node index: auto-repair deleted its VM and the fresh one is not up yet
	pods    []int  // indices of pods not yet seen gone (gone is final), compacted as they go
	seen    int    // pods and runs up to here are in pods and runs
	runs    []int  // cron runs not yet seen done
	seenRun int
}

// runChecked is Run's event loop with the checker after every event.
func (w *World) runChecked(end time.Duration) {
	c := &invChecker{deleted: make([]bool, len(w.nodes)), last: w.q.Now(), end: end}
	w.inv = c
	c.event = "start"
	if w.checkStep(c) || w.checkInstant(c) {
		return
	}
	for {
		at, hid, arg, ok := w.q.Peek()
		if !ok || at > end {
			break
		}
		if at > c.last && w.checkInstant(c) {
			return // the previous instant is complete
		}
		w.q.Step()
		c.event = w.eventName(hid, arg)
		w.shadow(c, hid, arg)
		if c.err != nil || w.checkStep(c) { // the event itself may have found one (checkRetired)
			return
		}
	}
	c.event = "end"
	if !w.checkInstant(c) {
		w.q.RunUntil(end) // no event is due by end: this only sets the clock to end, as Run does
	}
}

// fail records the first violation; it reports true so that callers can stop.
func (c *invChecker) fail(w *World, inv, object, format string, args ...any) bool {
	if c.err == nil {
		c.err = &InvariantError{Invariant: inv, At: w.q.Now(), Event: c.event, Object: object, Detail: fmt.Sprintf(format, args...)}
	}
	return true
}

// shadow updates what the checker derives from the event that just fired.
func (w *World) shadow(c *invChecker, hid engine.HandlerID, arg uint32) {
	if w.cp == nil || hid != w.cp.autoRepairer.hid {
		return
	}
	switch kind, i := unpack(arg); kind {
	case repairEvStart:
		// the repair returns early for a node that became Ready; otherwise it stamps the repair
		if i < len(w.cp.lastRepair) && w.cp.lastRepair[i] == w.q.Now() && !w.nodes[i].n.Ready {
			c.deleted[i] = true
		}
	case repairEvRecreated:
		c.deleted[i] = false
	}
}

// checkStep runs the invariants that hold after every event. It reports a violation.
func (w *World) checkStep(c *invChecker) bool {
	now := w.q.Now()
	if now < c.last {
		return c.fail(w, InvClockMonotonic, "clock", "virtual time %s after %s", FormatVirtual(now), FormatVirtual(c.last))
	}
	if now > c.end {
		return c.fail(w, InvClockMonotonic, "clock", "virtual time %s after the end of the run %s", FormatVirtual(now), FormatVirtual(c.end))
	}
	c.last = now
	for _, n := range w.st.Nodes {
		var sum cluster.Resources
		for _, p := range n.Pods {
			sum = sum.Add(p.Requests)
			if p.Node != n {
				return c.fail(w, InvNoPodOnDeletedNode, "pod/"+p.Name, "on the pod list of node %s but bound to %s", n.Name, nodeName(p.Node))
			}
			if p.Phase == cluster.PodGone {
				return c.fail(w, InvNoPodOnDeletedNode, "pod/"+p.Name, "gone but still bound to node %s", n.Name)
			}
			if c.deleted[n.Index] {
				return c.fail(w, InvNoPodOnDeletedNode, "pod/"+p.Name, "%s, bound to node %s whose VM auto-repair deleted (the fresh node is not up yet)", p.Phase, n.Name)
			}
		}
		if sum != n.Requested {
			return c.fail(w, InvRequestsFit, "node/"+n.Name, "requested %s, but its pods request %s", fmtRes(n.Requested), fmtRes(sum))
		}
		if !n.Requested.Fits(n.Allocatable) {
			return c.fail(w, InvRequestsFit, "node/"+n.Name, "requests %s exceed allocatable %s", fmtRes(n.Requested), fmtRes(n.Allocatable))
		}
	}
	return w.checkRequests(c) || w.checkJobs(c)
}

// checkInstant runs the invariants a model completes within one virtual instant.
func (w *World) checkInstant(c *invChecker) bool {
	for ; c.seen < len(w.st.Pods); c.seen++ {
		c.pods = append(c.pods, c.seen)
	}
	kept := c.pods[:0]
	for _, pi := range c.pods {
		p := w.st.Pods[pi]
		if p.Phase == cluster.PodGone {
			if p.Ready {
				return c.fail(w, InvEndpointsRunning, "pod/"+p.Name, "Ready but gone")
			}
			if w.net != nil && w.net.path && pi < len(w.net.pods) && w.net.pods[pi].pub {
				return c.fail(w, InvEndpointsRunning, "pod/"+p.Name, "gone but published as a ready endpoint")
			}
			continue
		}
		kept = append(kept, pi)
		if p.Ready && (p.Phase != cluster.PodRunning || p.Node == nil) {
			return c.fail(w, InvEndpointsRunning, "pod/"+p.Name, "Ready while %s on node %s", p.Phase, nodeName(p.Node))
		}
		if w.net != nil && w.net.path && pi < len(w.net.pods) {
			if np := w.net.pods[pi]; np.tracked && np.pub != p.Ready {
				return c.fail(w, InvEndpointsRunning, "pod/"+p.Name, "endpoint published ready=%t, pod Ready=%t", np.pub, p.Ready)
			}
		}
		// a finished Job's pod may still be Terminating on an unreachable node, never active
		if r := w.pods[pi].run; r != nil && r.done && p.Phase != cluster.PodTerminating {
			return c.fail(w, InvJobOwned, "pod/"+p.Name, "%s, but its Job %s finished", p.Phase, r.name)
		}
	}
	c.pods = kept
	return w.checkShares(c)
}

// checkShares: per target, the shares of requests that succeed and fail add up to one. The
// rates are recomputed once per instant (after every change at that time), so this runs when the
// instant closes, before requests are integrated at those rates.
func (w *World) checkShares(c *invChecker) bool {
	const eps = 1e-9
	for _, l := range w.loads {
		nl := l.net
		if nl == nil || l.l.RequestsPerSecond*l.mult == 0 {
			continue
		}
		shares := nl.ok + nl.e502 + nl.e503 + nl.eApp
		if math.Abs(shares-1) > eps {
			return c.fail(w, InvRequestsConserved, l.l.Target, "shares ok %.6g + 502 %.6g + 503 %.6g + app %.6g = %.9g, want 1", nl.ok, nl.e502, nl.e503, nl.eApp, shares)
		}
		if nl.ok != l.success {
			return c.fail(w, InvRequestsConserved, l.l.Target, "success share %.6g, the network path says %.6g", l.success, nl.ok)
		}
	}
	return false
}

// checkRequests: per target, succeeded + failed = offered.
func (w *World) checkRequests(c *invChecker) bool {
	const eps = 1e-9
	var offered, counted float64
	for _, l := range w.loads {
		t := l.l.Target
		if l.success < -eps || l.success > 1+eps || math.IsNaN(l.success) {
			return c.fail(w, InvRequestsConserved, t, "success share %v outside [0, 1]", l.success)
		}
		if l.ok > l.total*(1+eps)+eps {
			return c.fail(w, InvRequestsConserved, t, "succeeded %.6g > offered %.6g", l.ok, l.total)
		}
		offered += l.total
		counted += l.ok
	}
	if n := w.net; n != nil && n.path {
		counted += n.n502 + n.n503 + n.nApp
		if math.Abs(counted-offered) > eps*max(1, offered) {
			return c.fail(w, InvRequestsConserved, "all targets", "succeeded + 502 + 503 + app errors = %.9g, offered %.9g", counted, offered)
		}
	}
	return false
}

// checkJobs: every running Job is its CronJob's (in its active list exactly once) and every
// finished one is out of the active list and holds no pod.
func (w *World) checkJobs(c *invChecker) bool {
	cw := w.cron
	if cw == nil {
		return false
	}
	for ; c.seenRun < cw.runBase+len(cw.runs); c.seenRun++ {
		c.runs = append(c.runs, c.seenRun)
	}
	kept := c.runs[:0]
	for _, ri := range c.runs {
		r := cw.run(ri)
		if r == nil {
			continue // retired: checked as done when it was (checkRetired)
		}
		cj := r.cj
		if cj == nil || cj.idx >= len(cw.cjs) || cw.cjs[cj.idx] != cj {
			return c.fail(w, InvJobOwned, "job/"+r.name, "its CronJob is not in the cluster")
		}
		n := 0
		for _, a := range cj.active {
			if a == ri {
				n++
			}
		}
		if r.done {
			if c.doneFail(w, r, n) {
				return true
			}
			continue
		}
		kept = append(kept, ri)
		if n != 1 {
			return c.fail(w, InvJobOwned, "job/"+r.name, "running, listed %d times in CronJob %s's active list, want 1", n, cj.key)
		}
	}
	c.runs = kept
	for _, cj := range cw.cjs {
		if cj.pendingDel < 0 {
			return c.fail(w, InvJobOwned, "cronjob/"+cj.key, "%d Jobs to collect", cj.pendingDel)
		}
		for _, a := range cj.active {
			if r := cw.run(a); r == nil || r.cj != cj {
				return c.fail(w, InvJobOwned, "cronjob/"+cj.key, "active list names run %d, not one of its Jobs", a)
			}
			if r := cw.run(a); r.done {
				return c.fail(w, InvJobOwned, "job/"+r.name, "finished but still in CronJob %s's active list", cj.key)
			}
		}
	}
	return false
}

// doneFail checks a finished run, listed n times in its CronJob's active list.
func (c *invChecker) doneFail(w *World, r *cronRun, n int) bool {
	if n != 0 {
		return c.fail(w, InvJobOwned, "job/"+r.name, "finished but still in CronJob %s's active list", r.cj.key)
	}
	if r.pod >= 0 {
		return c.fail(w, InvJobOwned, "job/"+r.name, "finished but holds pod %s", w.st.Pods[r.pod].Name)
	}
	return false
}

// checkRetired checks a run about to be retired (retireRun) as checkJobs checks a finished one:
// after retirement checkJobs no longer sees it. It reports a violation like the checks do (the
// run then stops at the end of the event).
func (w *World) checkRetired(r *cronRun) bool {
	c := w.inv
	if c.err != nil {
		return true
	}
	n := 0
	for _, a := range r.cj.active {
		if a == r.idx {
			n++
		}
	}
	if !r.done {
		return c.fail(w, InvJobOwned, "job/"+r.name, "retired while running")
	}
	return c.doneFail(w, r, n)
}

func nodeName(n *cluster.Node) string {
	if n == nil {
		return "<none>"
	}
	return n.Name
}

func fmtRes(r cluster.Resources) string {
	return fmt.Sprintf("cpu=%dm memory=%d", r.MilliCPU, r.Memory)
}

// eventName names an event for a violation: its kind and the index it is about.
func (w *World) eventName(hid engine.HandlerID, arg uint32) string {
	kind, i := unpack(arg)
	var names []string
	switch {
	case hid == w.hid:
		names = worldEventNames[:]
	case hid == w.sq.hid:
		names = kindNames(schedulingQueueEvents[:])
	case hid == w.wc.hid:
		names = kindNames(workloadControllerEvents[:])
	case w.net != nil && hid == w.net.hid:
		names = netEventNames[:]
	case w.cron != nil && w.cron.eventNames(hid) != nil:
		names = w.cron.eventNames(hid)
	case w.unreach.live && hid == w.unreach.hid:
		names = unreachEventNames[:]
	case w.nm.eventNames(hid) != nil:
		names = w.nm.eventNames(hid)
	case w.cp != nil && w.cp.eventNames(hid) != nil:
		names = w.cp.eventNames(hid)
	default:
		return "handler" + strconv.Itoa(int(hid)) + "[" + strconv.FormatUint(uint64(arg), 10) + "]"
	}
	name := "kind" + strconv.Itoa(int(kind))
	if int(kind) < len(names) && names[kind] != "" {
		name = names[kind]
	}
	return name + "[" + strconv.Itoa(i) + "]"
}

// worldEventNames and netEventNames name the event kinds of world.go and endpoints.go.
var worldEventNames = [...]string{
	evRecompute: "recompute", evContainersStarted: "containers-started",
	evPodReady: "pod-ready", evNodeBoot: "node-boot", evProfileStep: "profile-step",
	evFaultStart: "fault-start", evFaultEnd: "fault-end", evSample: "sample",
	evCMUp: "controller-manager-up",
}

var netEventNames = [...]string{
	netEvProp: "endpoint-propagation", netEvReadiness: "readiness-probe", netEvLiveness: "liveness-probe",
	netEvStartup: "startup-probe", netEvExit: "process-exit", netEvRestarted: "container-restarted",
	netEvChange: "change",
}

var unreachEventNames = [...]string{unreachEvProbeFail: "probe-fail"}

// checkCPU recomputes every node's CPU demand from scratch, without side effects, and compares it
// bit for bit with what the incremental recomputation kept (recompute calls it when the checker
// is on).
func (w *World) checkCPU(c *invChecker) {
	for _, ns := range w.nodes {
		total := 0.0
		for _, p := range ns.n.Pods {
			ps := w.pods[p.Index]
			d := w.podDemand(ps)
			if math.Float64bits(d) != math.Float64bits(ps.demand) {
				c.fail(w, InvCPUCurrent, "pod/"+p.Name, "CPU demand kept %v, a full recomputation gives %v (node %s not marked changed)", ps.demand, d, ns.n.Name)
				return
			}
			total += d
		}
		if math.Float64bits(total) != math.Float64bits(ns.demand) {
			c.fail(w, InvCPUCurrent, "node/"+ns.n.Name, "CPU demand kept %v, a full recomputation gives %v", ns.demand, total)
			return
		}
	}
}

// checkServe compares each load's own share, which setRates recomputes only for the loads whose
// inputs changed, with a full recomputation (recompute calls it when the checker is on).
func (w *World) checkServe(c *invChecker) {
	for _, l := range w.loads {
		if l.net != nil {
			continue // served on every recomputation
		}
		if own := l.ownShare(w); math.Float64bits(own) != math.Float64bits(l.own) {
			c.fail(w, InvCPUCurrent, l.l.Target, "own share kept %v, a full recomputation gives %v", l.own, own)
			return
		}
	}
}
