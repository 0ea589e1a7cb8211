package sim

import (
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/labels"

	"github.com/faultline-dev/faultline/sim/cluster"
	"github.com/faultline-dev/faultline/sim/engine"
	"github.com/faultline-dev/faultline/sim/trace"
)

// fakeWorkloadCluster is the rest of the world as the workload controller sees it
// (workloadCluster): pods are created pending, queued pods recorded, deleted pods Terminating (a
// graceful deletion) until the test lets them go.
type fakeWorkloadCluster struct {
	q        *engine.Queue
	st       *cluster.State
	pods     *[]*podState
	queued   []int
	deleted  []string
	rollouts int
}

func (c *fakeWorkloadCluster) newPod(name, ns string, lbl map[string]string, spec *corev1.PodSpec, owner string, sel labels.Selector, readyWait time.Duration) *cluster.Pod {
	p := c.st.AddPod(&cluster.Pod{Name: name, Namespace: ns, Labels: lbl, Spec: spec, Owner: owner,
		OwnerSelector: sel, Created: c.q.Now(), Phase: cluster.PodPending})
	*c.pods = append(*c.pods, &podState{p: p, readyWait: readyWait})
	return p
}

func (c *fakeWorkloadCluster) enqueue(pi int) { c.queued = append(c.queued, pi) }

func (c *fakeWorkloadCluster) deletePod(pi int, _ string) {
	p := c.st.Pods[pi]
	if p.Phase == cluster.PodTerminating || p.Phase == cluster.PodGone {
		return // as the World's: a second deletion is a no-op
	}
	c.deleted = append(c.deleted, p.Name)
	c.st.SetPhase(p, cluster.PodTerminating)
}

func (c *fakeWorkloadCluster) rolloutReconcile(*workload) { c.rollouts++ }

// The workload controller alone, on a fake cluster: a sync creates the missing replicas (named
// from the template hash and the workload's stream, queued for scheduling), a sync queued with
// reconcileSoon runs on the controller's own handler, and scaling down deletes the least valuable
// pods: unscheduled first, then not ready, then the newest; a workload in a rolling update is
// left to the Deployment controller.
func TestWorkloadControllerAlone(t *testing.T) {
	in := &Input{Models: DefaultModels()}
	st := &cluster.State{}
	n := st.AddNode(&cluster.Node{Name: "n-1", Up: true, Ready: true})
	q := engine.NewQueue()
	rec := &trace.Recorder{}
	var pods []*podState
	streams := engine.NewStreams(1)
	wl := &workload{key: "deployment/default/web", name: "web", ns: "default", replicas: 3,
		spec: &corev1.PodSpec{}, hash: "0123abcd", rng: streams.Stream("deployment/default/web")}
	wls := []*workload{wl}
	cl := &fakeWorkloadCluster{q: q, st: st, pods: &pods}
	c := &workloadController{env: &env{in: in, m: in.Models, q: q, streams: streams, sink: rec},
		st: st, pods: &pods, wls: &wls, cl: cl}
	c.hid = q.Register(c)

	c.reconcile(wl)
	require.Len(t, wl.pods, 3)
	assert.Equal(t, wl.pods, cl.queued)
	for _, pi := range wl.pods {
		p := st.Pods[pi]
		assert.Regexp(t, `^web-0123abcd-[b-z2-9]{5}$`, p.Name)
		assert.Same(t, wl, pods[pi].wl)
	}
	created := 0
	for _, e := range rec.Events {
		if pc, ok := e.Event.(trace.PodCreated); ok && pc.Owner == wl.key {
			created++
		}
	}
	assert.Equal(t, 3, created)

	// pod 0 bound and ready, pod 1 bound and not ready, pod 2 unscheduled; pod 0 is replaced later
	p0, p1, p2 := st.Pods[wl.pods[0]], st.Pods[wl.pods[1]], st.Pods[wl.pods[2]]
	st.Bind(p0, n)
	p0.Ready = true
	st.Bind(p1, n)

	// scale to 1 through a queued sync: the unscheduled pod goes first, then the not-ready one
	wl.replicas = 1
	c.reconcileSoon(wl)
	q.RunUntil(time.Second)
	assert.Equal(t, []string{p2.Name, p1.Name}, cl.deleted)
	assert.Equal(t, []int{p0.Index, p1.Index, p2.Index}, wl.pods, "terminating pods are kept, not counted")
	c.reconcile(wl)
	assert.Len(t, cl.deleted, 2, "terminating pods are not counted as active")
	st.Release(p1) // the grace periods end
	st.Release(p2)
	c.reconcile(wl)
	assert.Equal(t, []int{p0.Index}, wl.pods, "gone pods are dropped at the next sync")
	assert.Len(t, cl.deleted, 2)

	// the newest of two equally valuable pods goes first
	wl.replicas = 2
	q.RunUntil(2 * time.Second)
	c.reconcile(wl)
	p3 := st.Pods[wl.pods[1]]
	st.Bind(p3, n)
	p3.Ready = true
	wl.replicas = 1
	c.reconcile(wl)
	assert.Equal(t, []string{p2.Name, p1.Name, p3.Name}, cl.deleted)

	// in a rolling update the Deployment controller syncs it
	wl.ro = &rollout{}
	c.reconcile(wl)
	assert.Equal(t, 1, cl.rollouts)
	assert.Equal(t, "reconcile", kindNames(workloadControllerEvents[:])[wcEvReconcile])
}
