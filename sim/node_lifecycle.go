package sim

import (
	"time"

	"github.com/go-logr/logr"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/faultline-dev/faultline/measure"
	"github.com/faultline-dev/faultline/sim/cluster"
	"github.com/faultline-dev/faultline/sim/engine"
	"github.com/faultline-dev/faultline/sim/trace"
)

// nodeLifecycleController is the node lifecycle controller (pkg/controller/nodelifecycle) with
// taint-based eviction (pkg/controller/tainteviction).
//
// Model: kubelet posts node status every statusUpdateFrequency; the controller checks every
// monitorPeriod and sets Ready=Unknown once no status arrived for gracePeriod, with the
// unreachable taints; a pod tolerating node.kubernetes.io/unreachable:NoExecute for
// tolerationSeconds is deleted that long after the taint was added (the DefaultTolerationSeconds
// admission plugin gives every pod 300 s unless it has its own toleration; a toleration without
// seconds tolerates forever). When every node is not ready (full disruption) it stops evicting.
// Left out: the node-eviction-rate limit (0.1 nodes/s) and the secondary rate for unhealthy zones.
type nodeLifecycleController struct {
	*nodeEnv
	hid            engine.HandlerID
	fullDisruption bool
}

// The controller's event kinds, packed with a node index (a pod index for nlcEvEvict).
const (
	nlcEvNotReady    uint32 = iota + 1 // the monitor pass that finds the node silent
	nlcEvReadyReport                   // the node's status reaches the API server again
	nlcEvEvict                         // a pod's toleration of the NoExecute taint ran out
)

var nodeLifecycleEvents = [...]cpEvent[*nodeLifecycleController]{
	nlcEvNotReady:    {"node-not-ready", (*nodeLifecycleController).notReady},
	nlcEvReadyReport: {"node-ready-report", (*nodeLifecycleController).readyReport},
	nlcEvEvict:       {"evict", (*nodeLifecycleController).evict},
}

// Fire runs the controller's events.
func (c *nodeLifecycleController) Fire(_ time.Duration, arg uint32) {
	fireEvent(c, nodeLifecycleEvents[:], arg)
}

// armNotReady schedules the monitor pass that finds the node silent since lastBeat.
func (c *nodeLifecycleController) armNotReady(ns *nodeState, lastBeat time.Duration) {
	monitor := c.m.NodeLifecycle.MonitorPeriod.Duration
	due := lastBeat + c.m.NodeLifecycle.GracePeriod.Duration
	due = (due/monitor + 1) * monitor // first monitor pass strictly after the grace expired
	c.q.Cancel(ns.notReady)
	if ns.n.Ready {
		ns.notReady = c.q.AtID(due, c.hid, pack(nlcEvNotReady, ns.n.Index))
	}
}

// reportReadyAt queues the node's Ready status reaching the API server at t.
func (c *nodeLifecycleController) reportReadyAt(ns *nodeState, t time.Duration) {
	c.q.AtID(t, c.hid, pack(nlcEvReadyReport, ns.n.Index))
}

// notReady is the controller noticing the silence: Ready=Unknown, the unreachable taints, and
// every pod on the node marked not ready (MarkPodsNotReady), which takes them out of the Service
// endpoints.
func (c *nodeLifecycleController) notReady(i int) {
	ns := c.node(i)
	n := ns.n
	if (n.Up && c.cl.apiReporting(ns)) || !n.Ready {
		return // a live kubelet whose heartbeats get through
	}
	n.Ready = false
	c.cl.repairArm(ns)
	c.acct.notReadyEvents++
	envEmit(c.env, trace.NodeNotReady{Node: n.Name, SilentFor: c.q.Now() - ns.downSince})
	c.cl.observeNode(n.Name, measure.NodeNotReady)
	c.st.SetTaints(n, append(n.Taints,
		corev1.Taint{Key: corev1.TaintNodeUnreachable, Effect: corev1.TaintEffectNoSchedule},
	))
	for _, p := range n.Pods {
		p.Ready = false
	}
	n.Changed = true
	c.checkDisruption()
	if !c.fullDisruption {
		c.taintForEviction(ns)
	}
	c.cl.touch()
}

// taintForEviction adds the unreachable NoExecute taint and arms each pod's eviction after its
// toleration.
func (c *nodeLifecycleController) taintForEviction(ns *nodeState) {
	n := ns.n
	for _, t := range n.Taints {
		if t.Key == corev1.TaintNodeUnreachable && t.Effect == corev1.TaintEffectNoExecute {
			return
		}
	}
	ns.evictTaintAdded = metav1.NewTime(c.wall(c.q.Now()))
	taint := corev1.Taint{Key: corev1.TaintNodeUnreachable, Effect: corev1.TaintEffectNoExecute, TimeAdded: &ns.evictTaintAdded}
	c.st.SetTaints(n, append(n.Taints, taint))
	for _, p := range n.Pods {
		if p.Phase == cluster.PodTerminating || p.Phase == cluster.PodGone {
			continue
		}
		secs, forever := c.tolerationFor(p, &taint)
		if forever {
			continue
		}
		ps := c.pod(p.Index)
		c.cl.podCancel(ps, &ps.eviction)
		// an event naming the pod, counted in its pending events as the world's are
		ps.pending++
		ps.eviction = c.q.AfterID(time.Duration(secs)*time.Second, c.hid, pack(nlcEvEvict, p.Index))
	}
}

func (c *nodeLifecycleController) tolerationFor(p *cluster.Pod, taint *corev1.Taint) (secs int64, forever bool) {
	for i := range p.Spec.Tolerations {
		t := &p.Spec.Tolerations[i]
		if t.ToleratesTaint(logr.Discard(), taint, false) {
			if t.TolerationSeconds == nil {
				return 0, true
			}
			return max(*t.TolerationSeconds, 0), false
		}
	}
	return c.m.NodeLifecycle.DefaultTolerationSeconds, false
}

// evict deletes a pod whose toleration ran out.
func (c *nodeLifecycleController) evict(pi int) {
	c.pod(pi).pending--
	p := c.st.Pods[pi]
	if p.Phase == cluster.PodGone || p.Phase == cluster.PodTerminating {
		return
	}
	c.acct.evictions++
	c.cl.deletePod(pi, "taint eviction")
}

// checkDisruption follows the controller's full-disruption rule: when every node is not ready,
// it assumes the control plane lost the nodes rather than the nodes failing, stops evicting and
// removes the NoExecute taints; when a node is ready again, it taints the nodes that are still
// not ready, which arms evictions afresh.
func (c *nodeLifecycleController) checkDisruption() {
	nodes := *c.nodes
	all := true
	for _, ns := range nodes {
		if ns.n.Ready {
			all = false
			break
		}
	}
	if all == c.fullDisruption {
		return
	}
	c.fullDisruption = all
	if all {
		envEmit(c.env, trace.FullDisruption{})
		for _, ns := range nodes {
			removeTaint(c.st, ns.n, corev1.TaintNodeUnreachable, corev1.TaintEffectNoExecute)
			for _, p := range ns.n.Pods {
				ps := c.pod(p.Index)
				c.cl.podCancel(ps, &ps.eviction)
			}
		}
		return
	}
	envEmit(c.env, trace.FullDisruptionOver{})
	for _, ns := range nodes {
		if !ns.n.Ready {
			c.taintForEviction(ns)
		}
	}
}

// removeTaint drops n's taints of key and effect through the cluster state, which tells the
// scheduler's copy of the node.
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

// readyReport: the node's status reaches the API server; the controller sets Ready, removes the
// unreachable taints (cancelling pending evictions) and parked pods move.
func (c *nodeLifecycleController) readyReport(i int) {
	ns := c.node(i)
	n := ns.n
	if !n.Up || n.Ready || !c.cl.apiReporting(ns) {
		return
	}
	n.Ready = true
	c.cl.repairCancel(ns)
	removeTaint(c.st, n, corev1.TaintNodeUnreachable, corev1.TaintEffectNoSchedule)
	removeTaint(c.st, n, corev1.TaintNodeUnreachable, corev1.TaintEffectNoExecute)
	now := c.q.Now()
	for _, p := range n.Pods {
		ps := c.pod(p.Index)
		c.cl.podCancel(ps, &ps.eviction)
		if p.Phase == cluster.PodRunning && !ps.dead && !ps.failed && p.Started+ps.readyWait <= now {
			p.Ready = true
			n.Changed = true
		}
	}
	envEmit(c.env, trace.NodeReady{Node: n.Name})
	c.cl.observeNode(n.Name, measure.NodeReady)
	c.checkDisruption()
	c.cl.moveUnschedulable()
	c.cl.touch()
}
