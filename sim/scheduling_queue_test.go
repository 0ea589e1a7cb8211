package sim

import (
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	corev1 "k8s.io/api/core/v1"

	"github.com/faultline-dev/faultline/sim/cluster"
	"github.com/faultline-dev/faultline/sim/engine"
	"github.com/faultline-dev/faultline/sim/scheduler"
	"github.com/faultline-dev/faultline/sim/trace"
)

// fakeSchedCluster is the rest of the world as the scheduling queue sees it (schedCluster),
// recording the pods handed over once bound.
type fakeSchedCluster struct {
	q        *engine.Queue
	bindings []podBinding
}

type podBinding struct {
	pi   int
	node string
	at   time.Duration
}

func (c *fakeSchedCluster) bound(pi int, n *cluster.Node, now time.Duration) {
	c.bindings = append(c.bindings, podBinding{pi, n.Name, now})
}

func (c *fakeSchedCluster) podCancel(ps *podState, t *engine.Timer) {
	if c.q.Cancel(*t) {
		ps.pending--
	}
}

// fakeSchedulingQueue is a scheduling queue over st, on its own queue and trace sink, with the
// real scheduler and its handler registered.
func fakeSchedulingQueue(in *Input, st *cluster.State) (*schedulingQueue, *fakeSchedCluster, *trace.Recorder) {
	q := engine.NewQueue()
	rec := &trace.Recorder{}
	var pods []*podState
	for _, p := range st.Pods {
		pods = append(pods, &podState{p: p})
	}
	cl := &fakeSchedCluster{q: q}
	streams := engine.NewStreams(1)
	s := &schedulingQueue{env: &env{in: in, m: in.Models, q: q, streams: streams, sink: rec}, st: st,
		pods: &pods, sched: scheduler.New(scheduler.DefaultConfig()), rng: streams.Stream("scheduler"), cl: cl}
	s.hid = q.Register(s)
	return s, cl, rec
}

// unschedulableAt lists the instants at which pod name failed a scheduling attempt.
func unschedulableAt(rec *trace.Recorder, name string) []time.Duration {
	var out []time.Duration
	for _, e := range rec.Events {
		if u, ok := e.Event.(trace.PodUnschedulable); ok && u.Pod == name {
			out = append(out, e.At)
		}
	}
	return out
}

// The scheduling queue alone, on a fake cluster: a pod that does not fit is parked after its
// scheduling cycle; its back-off doubles from 1 s to the 10 s cap; a cluster event before the
// back-off ran out moves it back when it runs out, one after it moves it back at once; with no
// event it is flushed after maxInUnschedulable; once a pod frees the resources, the move binds it.
func TestSchedulingQueueAlone(t *testing.T) {
	in := &Input{Models: DefaultModels()}
	sm := in.Models.Scheduler
	st := &cluster.State{}
	n := st.AddNode(&cluster.Node{Name: "n-1", Up: true, Ready: true,
		Allocatable: cluster.Resources{MilliCPU: 2000, Memory: 4 << 30}})
	hog := st.AddPod(&cluster.Pod{Name: "hog", Spec: &corev1.PodSpec{}, Phase: cluster.PodRunning,
		Requests: cluster.Resources{MilliCPU: 1500}, NonZero: cluster.Resources{MilliCPU: 1500, Memory: 200 << 20}})
	st.Bind(hog, n)
	big := st.AddPod(&cluster.Pod{Name: "big", Spec: &corev1.PodSpec{}, Phase: cluster.PodPending,
		Requests: cluster.Resources{MilliCPU: 1000}, NonZero: cluster.Resources{MilliCPU: 1000, Memory: 200 << 20}})
	s, cl, rec := fakeSchedulingQueue(in, st)
	ps := s.pod(big.Index)
	lat := sm.Latency.Duration

	// upstream's back-off: 1 s doubling per failed attempt, capped at 10 s
	var backoffs []time.Duration
	for a := 1; a <= 6; a++ {
		backoffs = append(backoffs, s.backoff(a))
	}
	assert.Equal(t, []time.Duration{time.Second, 2 * time.Second, 4 * time.Second, 8 * time.Second,
		10 * time.Second, 10 * time.Second}, backoffs)

	// the first cycle fails: the pod is parked, its flush armed after maxInUnschedulable
	s.enqueue(big.Index)
	assert.EqualValues(t, 1, ps.queued)
	s.q.RunUntil(time.Second)
	t1 := lat
	assert.Equal(t, []time.Duration{t1}, unschedulableAt(rec, "big"))
	assert.True(t, ps.parked)
	assert.Equal(t, []int{big.Index}, s.unschedulable)
	assert.EqualValues(t, 0, ps.queued)
	assert.EqualValues(t, 1, ps.pending)
	assert.False(t, s.busy, "the scheduler goes idle with nothing queued")

	// a cluster event within the 1 s back-off: out of the parked pods, retried when it runs out
	s.q.RunUntil(t1 + 500*time.Millisecond)
	s.moveUnschedulable()
	assert.False(t, ps.parked)
	assert.Empty(t, s.unschedulable)
	assert.EqualValues(t, 0, ps.queued, "not queued before its back-off ran out")
	assert.EqualValues(t, 1, ps.pending, "the flush at the back-off's end replaces the one at maxInUnschedulable")
	s.q.RunUntil(t1 + 5*time.Second)
	t2 := t1 + time.Second + lat
	assert.Equal(t, []time.Duration{t1, t2}, unschedulableAt(rec, "big"))
	assert.Equal(t, 2, big.Attempts)
	assert.True(t, ps.parked)

	// a cluster event after the 2 s back-off: queued at once
	s.moveUnschedulable()
	assert.EqualValues(t, 1, ps.queued)
	s.q.RunUntil(t1 + 6*time.Second)
	t3 := t1 + 5*time.Second + lat
	assert.Equal(t, []time.Duration{t1, t2, t3}, unschedulableAt(rec, "big"))

	// no cluster event: flushed back after maxInUnschedulable, and fails again
	t4 := t3 + sm.MaxInUnschedulable.Duration + lat
	s.q.RunUntil(t4 - time.Millisecond)
	assert.Len(t, unschedulableAt(rec, "big"), 3)
	s.q.RunUntil(t4)
	assert.Equal(t, []time.Duration{t1, t2, t3, t4}, unschedulableAt(rec, "big"))
	assert.Equal(t, 4, big.Attempts)
	assert.EqualValues(t, 1, ps.pending)

	// the hog goes; the move after the 8 s back-off binds the pod in the next cycle
	st.Release(hog)
	s.q.RunUntil(t4 + 8*time.Second)
	s.moveUnschedulable()
	s.q.RunUntil(t4 + 9*time.Second)
	require.Len(t, cl.bindings, 1)
	assert.Equal(t, podBinding{big.Index, "n-1", t4 + 8*time.Second + lat}, cl.bindings[0])
	assert.Same(t, n, big.Node)
	assert.False(t, ps.parked)
	assert.Empty(t, s.unschedulable)
	assert.EqualValues(t, 0, ps.pending, "no flush left behind")
	assert.Len(t, unschedulableAt(rec, "big"), 4)
	assert.Equal(t, "flush-unschedulable", kindNames(schedulingQueueEvents[:])[sqEvFlush])
}
