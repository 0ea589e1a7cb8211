package sim

import (
	"math/rand/v2"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	corev1 "k8s.io/api/core/v1"

	"github.com/faultline-dev/faultline/sim/cluster"
	"github.com/faultline-dev/faultline/sim/engine"
	"github.com/faultline-dev/faultline/sim/trace"
)

// fakeCluster is the rest of the world as the network models see it (netCluster), recording what
// they ask of it: the models run on their own, with no World.
type fakeCluster struct {
	pods      []*podState
	touches   int
	podEvents []uint32 // kinds given to podAfter
}

func (c *fakeCluster) touch()                                   { c.touches++ }
func (c *fakeCluster) reconcileSoon(*workload)                  {}
func (c *fakeCluster) moveUnschedulable()                       {}
func (c *fakeCluster) deletePod(int, string)                    {}
func (c *fakeCluster) createWorkloadPod(*workload) *cluster.Pod { panic("not used") }
func (c *fakeCluster) podCancel(_ *podState, t *engine.Timer)   { *t = engine.Timer{} }
func (c *fakeCluster) podAfter(_ time.Duration, kind uint32, _ int) engine.Timer {
	c.podEvents = append(c.podEvents, kind)
	return engine.Timer{}
}

type recordSink struct{ events []trace.Event }

func (s *recordSink) Emit(_ time.Duration, e trace.Event) { s.events = append(s.events, e) }

// A pod under a PodUnreachable fault leaves the endpoints when its readiness probe has failed
// failureThreshold times (within one period of phase, plus the time-out), and is a candidate for
// readiness again when the fault ends: the unreachable model alone, on a fake cluster.
func TestUnreachableModelAlone(t *testing.T) {
	st := &cluster.State{}
	n := st.AddNode(&cluster.Node{Name: "n1", Up: true, Ready: true})
	spec := &corev1.PodSpec{Containers: []corev1.Container{{Name: "app", ReadinessProbe: &corev1.Probe{PeriodSeconds: 5, FailureThreshold: 2, TimeoutSeconds: 1}}}}
	p := st.AddPod(&cluster.Pod{Name: "web-1", Spec: spec, Phase: cluster.PodPending})
	st.Bind(p, n)
	p.Phase, p.Ready = cluster.PodRunning, true
	cl := &fakeCluster{pods: []*podState{{p: p, readyWait: time.Second}}}
	rec := &recordSink{}
	env := &netEnv{env: &env{q: engine.NewQueue(), sink: rec}, st: st, pods: &cl.pods, cl: cl}
	u := &unreachable{env: env}

	fs := &faultState{f: &Fault{Name: "loss"}, rng: rand.New(rand.NewPCG(1, 2)), pods: []int{0}}
	u.start(0, fs)
	require.True(t, u.holds(0))
	assert.True(t, cl.pods[0].failed, "the pod serves nothing")
	env.q.RunUntil(5*time.Second + time.Second - 1)
	assert.True(t, p.Ready, "two failures take at least one period and the time-out")
	env.q.RunUntil(2*5*time.Second + time.Second)
	assert.False(t, p.Ready, "two failures take at most two periods and the time-out")
	assert.Equal(t, 1, cl.touches)
	require.Len(t, rec.events, 2)
	assert.Equal(t, trace.PodUnreachable{Pod: "web-1"}, rec.events[0])
	assert.Equal(t, trace.ReadinessFailed{Pod: "web-1"}, rec.events[1])

	u.sync()
	assert.False(t, p.Ready, "a failed readiness probe keeps it out of the endpoints while the fault lasts")
	u.end(0, fs.pods)
	assert.False(t, u.holds(0))
	assert.False(t, cl.pods[0].failed)
	assert.Equal(t, []uint32{evPodReady}, cl.podEvents, "the kubelet reports it ready again after its readiness delay")
}
