package sim

import (
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	corev1 "k8s.io/api/core/v1"

	"github.com/faultline-dev/faultline/measure"
	"github.com/faultline-dev/faultline/sim/cluster"
	"github.com/faultline-dev/faultline/sim/engine"
	"github.com/faultline-dev/faultline/sim/trace"
)

// fakeNodeCluster is the rest of the world as the node models see it (nodeCluster), recording
// what they ask of it: the models run on their own, with no World.
type fakeNodeCluster struct {
	q        *engine.Queue
	st       *cluster.State
	silent   []bool // per node: its heartbeats do not get through
	touches  int
	armed    []string // auto-repair clocks started
	stopped  []string // auto-repair clocks stopped
	observed []measure.NodeTransition
	deleted  []podDeletion
	moves    int
	panics   int
}

type podDeletion struct {
	pod    string
	at     time.Duration
	reason string
}

func (c *fakeNodeCluster) touch()                                           { c.touches++ }
func (c *fakeNodeCluster) apiReporting(ns *nodeState) bool                  { return !c.silent[ns.n.Index] }
func (c *fakeNodeCluster) repairArm(ns *nodeState)                          { c.armed = append(c.armed, ns.n.Name) }
func (c *fakeNodeCluster) repairCancel(ns *nodeState)                       { c.stopped = append(c.stopped, ns.n.Name) }
func (c *fakeNodeCluster) moveUnschedulable()                               { c.moves++ }
func (c *fakeNodeCluster) countPanic(*nodeState)                            { c.panics++ }
func (c *fakeNodeCluster) podAfter(time.Duration, uint32, int) engine.Timer { return engine.Timer{} }
func (c *fakeNodeCluster) observeNode(name string, to measure.NodeState) {
	c.observed = append(c.observed, measure.NodeTransition{At: c.q.Now(), Node: name, To: to})
}

func (c *fakeNodeCluster) podCancel(ps *podState, t *engine.Timer) {
	if c.q.Cancel(*t) {
		ps.pending--
	}
}

// deletePod deletes the pod at once (off its node).
func (c *fakeNodeCluster) deletePod(pi int, reason string) {
	p := c.st.Pods[pi]
	c.deleted = append(c.deleted, podDeletion{p.Name, c.q.Now(), reason})
	c.st.Release(p)
}

// fakeNodeEnv is a nodeEnv over st's nodes and pods, on its own queue and trace sink (those of
// the control plane's fake, whose cluster it leaves aside), with the node models' handlers
// registered.
func fakeNodeEnv(in *Input, st *cluster.State) (*nodeModels, *fakeNodeCluster, *trace.Recorder) {
	e, _, rec := fakeCPEnv(in, st)
	cl := &fakeNodeCluster{q: e.q, st: st, silent: make([]bool, len(st.Nodes))}
	nm := newNodeModels(&nodeEnv{env: e.env, st: st, pods: e.pods, nodes: e.nodes, acct: &accounting{}, cl: cl})
	nm.start()
	return nm, cl, rec
}

// runningPod adds a Running, Ready pod bound to n with the given tolerations.
func runningPod(st *cluster.State, n *cluster.Node, name string, tol ...corev1.Toleration) *cluster.Pod {
	p := st.AddPod(&cluster.Pod{Name: name, Spec: &corev1.PodSpec{Tolerations: tol}, Phase: cluster.PodRunning, Ready: true})
	st.Bind(p, n)
	return p
}

func unreachableToleration(secs *int64) corev1.Toleration {
	return corev1.Toleration{Key: corev1.TaintNodeUnreachable, Operator: corev1.TolerationOpExists,
		Effect: corev1.TaintEffectNoExecute, TolerationSeconds: secs}
}

func taintsOf(n *cluster.Node) []string {
	var out []string
	for _, t := range n.Taints {
		out = append(out, t.Key+":"+string(t.Effect))
	}
	return out
}

// The node lifecycle controller alone, on a fake cluster: a node whose heartbeats stop getting
// through goes NotReady at the first monitor pass after the grace period, gets the unreachable
// taints, and its pods are evicted after their toleration of the NoExecute taint (the default
// 300 s, their own 60 s, never for a toleration without seconds); a node that keeps reporting is
// untouched and, with one node Ready, there is no full disruption.
func TestNodeLifecycleControllerAlone(t *testing.T) {
	in := &Input{Models: DefaultModels()}
	nl := in.Models.NodeLifecycle
	st := &cluster.State{}
	silent := st.AddNode(&cluster.Node{Name: "n-1", Up: true, Ready: true})
	other := st.AddNode(&cluster.Node{Name: "n-2", Up: true, Ready: true})
	sixty := int64(60)
	runningPod(st, silent, "default")
	runningPod(st, silent, "short", unreachableToleration(&sixty))
	runningPod(st, silent, "forever", unreachableToleration(nil))
	runningPod(st, other, "elsewhere")
	nm, cl, rec := fakeNodeEnv(in, st)
	ctl := nm.ctl

	// the kubelet's last status got through at 7 s; at 12 s its heartbeats stop getting through
	lastBeat := 7 * time.Second
	nm.q.RunUntil(12 * time.Second)
	cl.silent[0] = true
	nm.node(0).downSince = 12 * time.Second
	ctl.armNotReady(nm.node(0), lastBeat)
	ctl.armNotReady(nm.node(1), lastBeat) // reporting: the monitor pass finds it alive

	monitor := nl.MonitorPeriod.Duration
	notReadyAt := ((lastBeat+nl.GracePeriod.Duration)/monitor + 1) * monitor
	require.Equal(t, 50*time.Second, notReadyAt, "the first monitor pass after 7 s + 40 s")
	nm.q.RunUntil(notReadyAt - 1)
	assert.True(t, silent.Ready, "within the grace period")
	assert.Empty(t, silent.Taints)

	nm.q.RunUntil(notReadyAt)
	assert.False(t, silent.Ready)
	assert.True(t, other.Ready)
	assert.Equal(t, []string{"node.kubernetes.io/unreachable:NoSchedule", "node.kubernetes.io/unreachable:NoExecute"}, taintsOf(silent))
	require.NotNil(t, silent.Taints[1].TimeAdded)
	assert.Equal(t, in.Start.Add(notReadyAt), silent.Taints[1].TimeAdded.Time)
	assert.Empty(t, taintsOf(other))
	for _, p := range silent.Pods {
		assert.False(t, p.Ready, "MarkPodsNotReady: %s", p.Name)
	}
	assert.True(t, other.Pods[0].Ready)
	assert.Equal(t, []string{"n-1"}, cl.armed, "the auto-repair clock starts")
	assert.Equal(t, []measure.NodeTransition{{At: notReadyAt, Node: "n-1", To: measure.NodeNotReady}}, cl.observed)
	nr := trace.Of[trace.NodeNotReady](rec.Events)
	require.Len(t, nr, 1)
	assert.Equal(t, notReadyAt-12*time.Second, nr[0].SilentFor)
	assert.Equal(t, int32(1), nm.pod(0).pending, "the eviction is the pod's pending event")
	assert.False(t, ctl.fullDisruption)

	nm.q.RunUntil(time.Hour)
	assert.Equal(t, []podDeletion{
		{"short", notReadyAt + 60*time.Second, "taint eviction"},
		{"default", notReadyAt + time.Duration(nl.DefaultTolerationSeconds)*time.Second, "taint eviction"},
	}, cl.deleted, "evicted after their toleration; the pod tolerating forever stays")
	assert.Equal(t, 2, nm.acct.evictions)
	assert.Equal(t, 1, nm.acct.notReadyEvents)
	for pi := range st.Pods {
		assert.Zero(t, nm.pod(pi).pending, "no event left naming pod %d", pi)
	}
	assert.Equal(t, []string{"forever"}, podNames(silent))
	assert.Empty(t, trace.Of[trace.FullDisruption](rec.Events))
}

func podNames(n *cluster.Node) []string {
	var out []string
	for _, p := range n.Pods {
		out = append(out, p.Name)
	}
	return out
}

// The full-disruption rule alone: when the last Ready node goes NotReady the controller stops
// evicting (the NoExecute taints go, pending evictions are cancelled); when a node reports Ready
// again, the nodes still NotReady are tainted afresh and their pods' evictions are armed from then.
func TestNodeLifecycleControllerFullDisruption(t *testing.T) {
	in := &Input{Models: DefaultModels()}
	st := &cluster.State{}
	a := st.AddNode(&cluster.Node{Name: "n-1", Up: true, Ready: true})
	b := st.AddNode(&cluster.Node{Name: "n-2", Up: true, Ready: true})
	runningPod(st, a, "on-a")
	runningPod(st, b, "on-b")
	nm, cl, rec := fakeNodeEnv(in, st)
	ctl := nm.ctl
	cl.silent[0], cl.silent[1] = true, true
	ctl.armNotReady(nm.node(0), 0)
	ctl.armNotReady(nm.node(1), 20*time.Second)
	nm.q.RunUntil(45 * time.Second)
	assert.False(t, a.Ready)
	assert.True(t, b.Ready)
	assert.Equal(t, int32(1), nm.pod(0).pending, "on-a's eviction is armed")

	nm.q.RunUntil(65 * time.Second) // b NotReady at 65 s: every node NotReady
	assert.False(t, b.Ready)
	assert.True(t, ctl.fullDisruption)
	assert.Len(t, trace.Of[trace.FullDisruption](rec.Events), 1)
	assert.Equal(t, []string{"node.kubernetes.io/unreachable:NoSchedule"}, taintsOf(a), "NoExecute removed")
	assert.Equal(t, []string{"node.kubernetes.io/unreachable:NoSchedule"}, taintsOf(b), "never tainted NoExecute")
	assert.Zero(t, nm.pod(0).pending, "on-a's eviction cancelled")

	// a's kubelet gets through again and reports Ready at 100 s
	cl.silent[0] = false
	ctl.reportReadyAt(nm.node(0), 100*time.Second)
	nm.q.RunUntil(100 * time.Second)
	assert.True(t, a.Ready)
	assert.Empty(t, a.Taints)
	assert.True(t, st.Pods[0].Ready, "Running and past its readiness delay")
	assert.False(t, ctl.fullDisruption)
	assert.Len(t, trace.Of[trace.FullDisruptionOver](rec.Events), 1)
	assert.Equal(t, []string{"node.kubernetes.io/unreachable:NoSchedule", "node.kubernetes.io/unreachable:NoExecute"}, taintsOf(b))
	assert.Equal(t, []string{"n-1"}, cl.stopped, "a's auto-repair clock stops")
	assert.Equal(t, 1, cl.moves, "parked pods move when a node is Ready")

	nm.q.RunUntil(time.Hour)
	assert.Equal(t, []podDeletion{{"on-b", 100*time.Second + 300*time.Second, "taint eviction"}}, cl.deleted,
		"on-b evicted 300 s after the fresh taint, on-a never")
}

// The machines alone, on a fake cluster, with the controller beside them: a kernel panic stops
// the machine (its running pods lost, their containers dead), the controller finds the node
// silent from the kubelet's last status before the panic, and the machine boots after the reboot
// time, restarting its pods' containers and reporting Ready with its next status.
func TestMachinesAlone(t *testing.T) {
	in := &Input{Models: DefaultModels()}
	in.Models.KernelPanic.RebootTime.Duration = 2 * time.Minute // back before any eviction
	m := in.Models
	st := &cluster.State{}
	n := st.AddNode(&cluster.Node{Name: "n-1", Up: true, Ready: true})
	st.AddNode(&cluster.Node{Name: "n-2", Up: true, Ready: true})
	runningPod(st, n, "a")
	runningPod(st, n, "b")
	nm, cl, rec := fakeNodeEnv(in, st)
	ns := nm.node(0)
	ns.rng = nm.streams.Stream("node/n-1")
	nm.mach.armPanic(ns, 33*time.Second)
	nm.q.RunUntil(33 * time.Second)
	cl.silent[0] = true // a stopped kubelet reports nothing

	assert.False(t, n.Up)
	assert.Equal(t, 1, cl.panics)
	assert.Equal(t, 2, nm.acct.podsLost)
	assert.True(t, nm.pod(0).dead && nm.pod(1).dead)
	// node index 0: status phase 0, every 10 s; the last one before 33 s was at 30 s
	notReadyAt := ((30*time.Second+m.NodeLifecycle.GracePeriod.Duration)/m.NodeLifecycle.MonitorPeriod.Duration + 1) * m.NodeLifecycle.MonitorPeriod.Duration
	nm.q.RunUntil(notReadyAt)
	assert.False(t, n.Ready)
	assert.Equal(t, []measure.NodeTransition{{At: notReadyAt, Node: "n-1", To: measure.NodeNotReady}}, cl.observed)

	bootAt := 33*time.Second + m.KernelPanic.RebootTime.Duration
	nm.q.RunUntil(bootAt)
	assert.True(t, n.Up)
	assert.False(t, nm.pod(0).dead)
	assert.Equal(t, cluster.PodPending, st.Pods[0].Phase, "containers restarting")
	booted := trace.Of[trace.NodeBooted](rec.Events)
	require.Len(t, booted, 1)
	assert.Equal(t, m.KernelPanic.RebootTime.Duration, booted[0].DownFor)

	cl.silent[0] = false
	nm.q.RunUntil(bootAt + m.NodeLifecycle.StatusUpdateFrequency.Duration)
	assert.True(t, n.Ready, "Ready with the first status after boot, within one period")
	assert.Equal(t, measure.NodeReady, cl.observed[len(cl.observed)-1].To)
	assert.Empty(t, cl.deleted)
	assert.Equal(t, "node-panic", nm.eventNames(nm.mach.hid)[machEvPanic])
	assert.Equal(t, "evict", nm.eventNames(nm.ctl.hid)[nlcEvEvict])
}
