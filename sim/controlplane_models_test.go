package sim

import (
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/runtime"

	"github.com/faultline-dev/faultline/measure"
	"github.com/faultline-dev/faultline/sim/cluster"
	"github.com/faultline-dev/faultline/sim/engine"
	"github.com/faultline-dev/faultline/sim/trace"
)

// fakeCPCluster is the rest of the world as the control-plane models see it (cpCluster),
// recording what they ask of it: the models run on their own, with no World.
type fakeCPCluster struct {
	q        *engine.Queue
	st       *cluster.State
	touches  int
	armed    []string
	deleted  []int
	downs    []string
	boots    []time.Duration
	observed []measure.NodeTransition
}

func (c *fakeCPCluster) touch() { c.touches++ }
func (c *fakeCPCluster) armNotReady(ns *nodeState, _ time.Duration) {
	c.armed = append(c.armed, ns.n.Name)
}
func (c *fakeCPCluster) reportReadyAt(*nodeState, time.Duration) {}
func (c *fakeCPCluster) nodeDown(ns *nodeState) {
	ns.n.Up = false
	c.downs = append(c.downs, ns.n.Name)
}

// nodeBoot brings the fresh VM up, NotReady: its kubelet never gets a heartbeat through.
func (c *fakeCPCluster) nodeBoot(int) { c.boots = append(c.boots, c.q.Now()) }
func (c *fakeCPCluster) observeNode(name string, to measure.NodeState) {
	c.observed = append(c.observed, measure.NodeTransition{At: c.q.Now(), Node: name, To: to})
}

// deletePod deletes the pod at once (off its node).
func (c *fakeCPCluster) deletePod(pi int, _ string) {
	c.deleted = append(c.deleted, pi)
	c.st.Release(c.st.Pods[pi])
}

// fakeCPEnv is a cpEnv over st's nodes, on its own queue and trace sink.
func fakeCPEnv(in *Input, st *cluster.State) (*cpEnv, *fakeCPCluster, *trace.Recorder) {
	q := engine.NewQueue()
	cl := &fakeCPCluster{q: q, st: st}
	rec := &trace.Recorder{}
	var nodes []*nodeState
	for _, n := range st.Nodes {
		nodes = append(nodes, &nodeState{n: n})
	}
	var pods []*podState
	for _, p := range st.Pods {
		pods = append(pods, &podState{p: p})
	}
	e := &cpEnv{env: &env{in: in, m: in.Models, q: q, streams: engine.NewStreams(1), sink: rec},
		st: st, pods: &pods, nodes: &nodes, cl: cl}
	return e, cl, rec
}

// The apiservers and the upgrader alone, on a fake cluster. Without webhooks each instance is
// replaced, starts and passes its client-CA hook in turn. With an unscoped Fail-policy webhook
// whose backend has no endpoint the first new instance's hook is refused at every try: it exits
// at the poll's time-out and crash-loops, the upgrade stops at its first step and its client
// time-out passes; the record says so.
func TestAPIServersAndUpgraderAlone(t *testing.T) {
	run := func(objs ...runtime.Object) (*apiServers, *upgrader, *fakeCPCluster, *trace.Recorder) {
		in := &Input{Models: DefaultModels(), Objects: objs}
		e, cl, rec := fakeCPEnv(in, &cluster.State{})
		srv := newAPIServers(e, newAdmissionChain(e))
		up := &upgrader{cpEnv: e, srv: srv}
		srv.up = up
		srv.hid, up.hid = e.q.Register(srv), e.q.Register(up)
		up.start(&Fault{Name: "up", Action: ControlPlaneUpgrade, Version: "v2", Timeout: 20 * time.Minute})
		e.q.RunUntil(time.Hour)
		return srv, up, cl, rec
	}
	cp := DefaultModels().ControlPlane
	step := cp.UpgradeInstanceTime.Duration + cp.StartTime.Duration + cp.HookPollInterval.Duration + DefaultModels().APIServer.RequestLatency.Duration

	srv, up, cl, rec := run()
	o := up.observe()
	require.NotNil(t, o)
	assert.True(t, o.Done)
	assert.False(t, o.TimedOut)
	assert.Equal(t, 3*step, o.DoneAt, "three instances one after the other")
	require.Len(t, o.Steps, 3)
	for i, st := range o.Steps {
		assert.Equal(t, srv.insts[i].name, st.Instance)
		assert.Equal(t, time.Duration(i)*step, st.Out)
		assert.Equal(t, time.Duration(i+1)*step, st.Ready)
		assert.Equal(t, "v2", srv.insts[i].version)
	}
	assert.Zero(t, srv.exits)
	assert.Equal(t, 3, srv.ready())
	assert.Equal(t, 9, cl.touches, "out, start and ready, per instance")
	assert.Len(t, trace.Of[trace.APIServerReady](rec.Events), 3)

	srv, up, _, rec = run(webhookObjects()...)
	o = up.observe()
	assert.False(t, o.Done)
	assert.True(t, o.TimedOut)
	require.Len(t, o.Steps, 1, "the upgrade never gets past the first instance")
	assert.False(t, o.Steps[0].IsReady)
	require.GreaterOrEqual(t, len(srv.exitObs), 3)
	hookStart := cp.UpgradeInstanceTime.Duration + cp.StartTime.Duration
	assert.Equal(t, hookStart+cp.HookTimeout.Duration, srv.exitObs[0].At, "refused at every try: exits at the time-out")
	assert.Equal(t, clientCAExit, srv.exitObs[0].Reason)
	assert.Equal(t, srv.exits, len(srv.exitObs))
	assert.Equal(t, 2, srv.ready(), "the other two still serve")
	assert.Equal(t, 20*time.Minute, firstAt[trace.UpgradeTimedOut](t, rec.Events, nil))
	fig := measure.ControlPlaneIndicators(&measure.ControlPlaneObservations{Upgrade: o},
		measure.FoldNodes(&measure.Observations{APIServerExits: srv.exitObs}), measure.Window{Length: time.Hour})
	assert.Equal(t, measure.Indicator{Name: "upgrade-completed", Value: 0}, fig[5])
	assert.Equal(t, measure.Indicator{Name: "upgrade-minutes", Value: 60}, fig[6], "to the end of the window")
	assert.Equal(t, float64(len(srv.exitObs)), fig[4].Value)
}

// Auto-repair alone, on a fake cluster whose recreated node never reports Ready: the node is
// drained and recreated UnhealthyFor after going NotReady, then again every UnhealthyFor +
// RecreateTime; a node Ready again in time is not repaired.
func TestAutoRepairerAlone(t *testing.T) {
	in := &Input{Models: DefaultModels()}
	in.Models.AutoRepair.Enabled = true
	st := &cluster.State{}
	n := st.AddNode(&cluster.Node{Name: "n-1", Up: true})
	st.AddNode(&cluster.Node{Name: "n-2", Up: true, Ready: true})
	for _, name := range []string{"a", "b"} {
		p := st.AddPod(&cluster.Pod{Name: name, Spec: &corev1.PodSpec{}, Phase: cluster.PodPending})
		st.Bind(p, n)
	}
	e, cl, rec := fakeCPEnv(in, st)
	r := newAutoRepairer(e)
	r.hid = e.q.Register(r)
	ar := in.Models.AutoRepair
	r.arm(0)
	r.arm(0) // already armed: the clock is not restarted
	r.arm(1)
	e.q.RunUntil(time.Minute)
	r.cancel(1) // Ready again
	e.q.RunUntil(2*ar.UnhealthyFor.Duration + ar.RecreateTime.Duration)

	assert.Equal(t, []int{0, 1}, cl.deleted, "the first repair drains both pods")
	assert.Equal(t, []string{"n-1"}, cl.downs, "the VM is deleted once; the fresh one is never up")
	loop := ar.UnhealthyFor.Duration + ar.RecreateTime.Duration
	assert.Equal(t, []measure.NodeTransition{
		{At: ar.UnhealthyFor.Duration, Node: "n-1", To: measure.NodeDeleted},
		{At: loop, Node: "n-1", To: measure.NodeCreated},
		{At: loop + ar.UnhealthyFor.Duration, Node: "n-1", To: measure.NodeDeleted},
	}, cl.observed)
	assert.Equal(t, []time.Duration{loop}, cl.boots)
	assert.Equal(t, 2, r.repairs)
	assert.Equal(t, loop+ar.UnhealthyFor.Duration, r.lastRepair[0])
	assert.Equal(t, time.Duration(-1), r.lastRepair[1], "n-2 was Ready again in time")
	assert.Len(t, trace.Of[trace.NodeRepairStarted](rec.Events), 2)
	f := measure.FoldNodes(&measure.Observations{Nodes: cl.observed})
	assert.Equal(t, 2, f.Recreated)
	assert.Equal(t, loop, f.Cadence, "the loop's cadence, from the record")
}

// The invariant checker follows the auto-repairer's own events: a node is deleted from its
// repair until its fresh VM is up (no pod may be bound to it meanwhile), and the checker names
// the repairer's events.
func TestInvariantCheckerFollowsAutoRepair(t *testing.T) {
	in := webhookInput(10*time.Minute, 0, -1)
	in.Models.AutoRepair.Enabled = true
	_, evs, _ := eventsOf(t, in, 1)
	repairs := trace.Of[trace.NodeRepairStarted](evs)
	require.NotEmpty(t, repairs)
	node := repairs[0].Node
	repair := firstAt(t, evs, func(e trace.NodeRepairStarted) bool { return e.Node == node })
	recreated := firstAt(t, evs, func(e trace.NodeRecreated) bool { return e.Node == node })
	deletedAt := func(until time.Duration) bool {
		w, err := New(in, 1, Options{CheckInvariants: true, Until: until})
		require.NoError(t, err)
		w.Run()
		require.NoError(t, w.Violation())
		for _, ns := range w.nodes {
			if ns.n.Name == node {
				return w.inv.deleted[ns.n.Index]
			}
		}
		t.Fatalf("no node %s", node)
		return false
	}
	assert.False(t, deletedAt(repair-1))
	assert.True(t, deletedAt(repair+1), "deleted by its repair")
	assert.False(t, deletedAt(recreated+1), "up again")

	w, err := New(in, 1, Options{})
	require.NoError(t, err)
	w.Run()
	assert.Equal(t, "node-repair[2]", w.eventName(w.cp.autoRepairer.hid, pack(repairEvStart, 2)))
	assert.Equal(t, "apiserver-hook-try[0]", w.eventName(w.cp.apiServers.hid, pack(apiEvHookTry, 0)))
	assert.Equal(t, "heartbeat[1]", w.eventName(w.cp.leaseHeartbeats.hid, pack(hbEvRenew, 1)))
}
