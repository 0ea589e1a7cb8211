package realrun

import (
	"context"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/kubernetes/fake"
	"k8s.io/client-go/rest"

	"github.com/faultline-dev/faultline/measure"
	"github.com/faultline-dev/faultline/scenarios"
	"github.com/faultline-dev/faultline/sim"
)

// fakeRegistry records what a run asks of its registry.
type fakeRegistry struct {
	mu            sync.Mutex
	hosts, seeded []string
	ops           []string // "delete IMAGE" / "restore IMAGE"
	closed        bool
}

func (f *fakeRegistry) Seed(_ context.Context, hosts, images []string) error {
	f.hosts, f.seeded = hosts, images
	return nil
}
func (f *fakeRegistry) Delete(_ context.Context, image string) error { return f.op("delete " + image) }
func (f *fakeRegistry) Restore(_ context.Context, image string) error {
	return f.op("restore " + image)
}
func (f *fakeRegistry) op(what string) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.ops = append(f.ops, what)
	return nil
}
func (f *fakeRegistry) Describe() string            { return "a fake registry" }
func (f *fakeRegistry) Close(context.Context) error { f.closed = true; return nil }

// the README's compressed plan of cron-deleted-images: 20 apps every minute, the rollout from
// minute 1 for 2 minutes, the fix at minute 5, 8 minutes
var compressed = [][2]string{
	{"spec.templates[0].count", "20"},
	{"spec.templates[0].fields[0].choices", `[{"value":"* * * * *","weight":1}]`},
	{"spec.cluster.models.registry.deletions[0].start", "1m"},
	{"spec.cluster.models.registry.deletions[0].over", "2m"},
	{"spec.cluster.models.registry.deletions[0].resolveFrom", "5m"},
	{"spec.duration", "8m"},
}

func compressedInput(t *testing.T, variant string) *sim.Input {
	t.Helper()
	sc, err := scenarios.Open("cron-deleted-images")
	require.NoError(t, err)
	for _, s := range compressed {
		sc, err = sc.Set(s[0], s[1])
		require.NoError(t, err)
	}
	v, err := sc.Variant(variant)
	require.NoError(t, err)
	return sc.Compile(v)
}

// A run on real nodes with a registry seeds it with the scenario's images, keeps those images
// (name and pull policy Always) where every other image becomes faultline-echo, deletes them at
// the model's times through the registry and resolves the CronJobs at the fix.
func TestRegistryModelPlayedOnRealNodes(t *testing.T) {
	in := compressedInput(t, "baseline")
	fr := &fakeRegistry{}
	real := &RealNodes{Provider: "kind", Image: "faultline/echo:kind",
		Registry: func(context.Context) (ImageRegistry, error) { return fr, nil }}
	r, err := newRun(&rest.Config{Host: "http://127.0.0.1:1"}, in, Options{Real: real, TimeScale: 0.001})
	require.NoError(t, err)
	var objs []runtime.Object
	for _, o := range in.Objects {
		objs = append(objs, o.DeepCopyObject())
	}
	r.cs = fake.NewClientset(objs...)
	ctx := context.Background()
	require.NoError(t, r.startRegistry(ctx))
	assert.Equal(t, []string{"registry.mittwald.example"}, fr.hosts)
	assert.Len(t, fr.seeded, 21, "20 apps and the shared image")

	// the objects as the run applies them: the registry's images stay, with their pull policy
	cj := in.Objects[0].DeepCopyObject().(*batchv1.CronJob)
	cj.Spec.JobTemplate.Spec.Template.Spec.InitContainers = []corev1.Container{{Name: "init", Image: "busybox:1.36"}}
	image := cj.Spec.JobTemplate.Spec.Template.Spec.Containers[0].Image
	r.adaptForRealNodes(cj)
	c := cj.Spec.JobTemplate.Spec.Template.Spec.Containers[0]
	assert.Equal(t, image, c.Image)
	assert.Equal(t, corev1.PullAlways, c.ImagePullPolicy)
	assert.Equal(t, []string{"/faultline-echo"}, c.Command, "the pushed image holds faultline-echo")
	assert.Equal(t, "faultline/echo:kind", cj.Spec.JobTemplate.Spec.Template.Spec.InitContainers[0].Image)
	assert.Equal(t, []string{"busybox:1.36"}, r.images, "only images the registry does not serve are substituted")

	r.t0 = time.Now()
	end := r.t0.Add(r.scaled(in.Duration))
	r.playRegistry(ctx, end)
	require.Len(t, fr.ops, 20)
	var want []string
	for _, e := range r.reg.plan.Events {
		want = append(want, "delete "+e.Image)
	}
	assert.Equal(t, want, fr.ops, "in the plan's order")
	live, err := r.cs.BatchV1().CronJobs("customers").List(ctx, metav1.ListOptions{})
	require.NoError(t, err)
	require.Len(t, live.Items, 20)
	for _, cj := range live.Items {
		assert.Equal(t, "registry.mittwald.example/shared:php-8.2.10", cj.Spec.JobTemplate.Spec.Template.Spec.Containers[0].Image, cj.Name)
	}
	assert.Empty(t, r.rep.Invalid)
	assert.Contains(t, r.rep.Injected, "registry model: 20 of 20 images deleted through the registry API (DELETE /v2/<name>/manifests/<digest>), 0 of 0 restored, 20 of 20 CronJobs resolved to their app's current image")

	r.finish()
	assert.True(t, fr.closed, "the registry is closed with the run")
}

// Without a registry (KWOK nodes) the model is reported as not played, and nothing else changes.
func TestRegistryModelNotPlayedOnKWOK(t *testing.T) {
	r, err := newRun(&rest.Config{Host: "http://127.0.0.1:1"}, compressedInput(t, "baseline"), Options{})
	require.NoError(t, err)
	require.NoError(t, r.startRegistry(context.Background()))
	assert.Nil(t, r.reg)
	assert.Equal(t, []string{"models.registry.deletions: the image deletions are not played (KWOK nodes pull nothing)"}, r.rep.NotInjected)
}

// Failures and alerts from real objects: Jobs observed Failed and skip Events give the failure
// span and the time to detect as the simulator's model computes them (the first bad run, the
// first failed run's scheduled time, the last failure, the watched CronJob's alert at the next
// scrape); kind measures them, KWOK does not.
func TestFailuresAndAlertsFromRealObjects(t *testing.T) {
	watched := testCronJob("a", "* * * * *", nil)
	watched.Annotations[sim.AnnAlert] = "true"
	objs := []runtime.Object{watched, testCronJob("b", "* * * * *", nil)}
	rec := newRecorder(nil)
	fail := func(cj, job string, sched, failed time.Duration) {
		j := &batchv1.Job{ObjectMeta: metav1.ObjectMeta{Namespace: "default", Name: job,
			Annotations:     map[string]string{scheduledAnnotation: start.Add(sched).Format(time.RFC3339)},
			OwnerReferences: []metav1.OwnerReference{{Kind: "CronJob", Name: cj}}}}
		rec.job(j.DeepCopy(), start.Add(sched+time.Second))
		j.Status.Conditions = []batchv1.JobCondition{{Type: batchv1.JobFailed, Status: corev1.ConditionTrue, Reason: "DeadlineExceeded"}}
		rec.job(j.DeepCopy(), start.Add(failed))
		rec.job(j, start.Add(failed+time.Minute)) // seen again: the first observation counts
	}
	fail("b", "b-1", time.Minute, 2*time.Minute+30*time.Second)
	fail("a", "a-1", 2*time.Minute, 3*time.Minute+10*time.Second)
	fail("b", "b-2", 3*time.Minute, 5*time.Minute)
	skips := []skipSeen{{cronJob: "default/b", at: start.Add(time.Minute + 40*time.Second)}}
	for _, world := range []measure.World{measure.Kind, measure.KWOK} {
		obs, win := rec.observations(world, start, start.Add(10*time.Minute), 1, cronJobsOf(t, objs), nil, len(skips))
		rec.failuresAndAlerts(obs.Cron, start, skips, cronJobsOf(t, objs), 30*time.Second)
		assert.Equal(t, time.Minute+40*time.Second, obs.Cron.FirstBad)
		assert.Equal(t, time.Minute, obs.Cron.FirstFailure, "the scheduled time of the first Job to fail")
		assert.Equal(t, 5*time.Minute, obs.Cron.LastFailure)
		assert.True(t, obs.Cron.Detected)
		assert.Equal(t, 3*time.Minute+30*time.Second, obs.Cron.DetectedAt, "the watched CronJob's failure, at the next 30 s scrape")
		vals, unmeasured := measure.Compute(obs, win)
		got := map[string]float64{}
		for _, v := range vals {
			got[v.Name] = v.Value
		}
		if world == measure.Kind {
			assert.InDelta(t, 4.0/60, got["failure-span-hours"], 1e-9)
			assert.InDelta(t, 110.0/60, got["time-to-detect-minutes"], 1e-9)
			assert.Equal(t, 3.0, got["failed-runs"])
			assert.False(t, slices.ContainsFunc(unmeasured, func(s string) bool { return strings.HasPrefix(s, "failure-span-hours") }))
		} else {
			assert.NotContains(t, got, "failure-span-hours")
			assert.NotContains(t, got, "time-to-detect-minutes")
		}
	}
	// nothing watched: never detected, time to detect runs to the end (censored)
	rec = newRecorder(nil)
	fail("b", "b-1", time.Minute, 2*time.Minute)
	obs, win := rec.observations(measure.Kind, start, start.Add(10*time.Minute), 1, cronJobsOf(t, objs[1:]), nil, 0)
	rec.failuresAndAlerts(obs.Cron, start, nil, cronJobsOf(t, objs[1:]), 30*time.Second)
	assert.False(t, obs.Cron.Detected)
	vals, _ := measure.Compute(obs, win)
	for _, v := range vals {
		if v.Name == "time-to-detect-minutes" {
			assert.InDelta(t, 8.0, v.Value, 1e-9)
		}
	}
}

// Pods waiting on a failed pull are counted once each, whatever the retries.
func TestPullFailuresCounted(t *testing.T) {
	rec := newRecorder(nil)
	pod := func(uid, reason string) *corev1.Pod {
		return &corev1.Pod{ObjectMeta: metav1.ObjectMeta{UID: types.UID(uid)}, Status: corev1.PodStatus{ContainerStatuses: []corev1.ContainerStatus{
			{State: corev1.ContainerState{Waiting: &corev1.ContainerStateWaiting{Reason: reason}}}}}}
	}
	rec.pod(pod("a", "ErrImagePull"), start)
	rec.pod(pod("a", "ImagePullBackOff"), start)
	rec.pod(pod("b", "ContainerCreating"), start)
	rec.pod(pod("c", "ImagePullBackOff"), start)
	assert.Equal(t, 2, rec.pullFailures())
}

// A Job pod killed at its deadline while its image never pulled shows its container Terminated
// without a start time: the run did not start. One that ran and exited did.
func TestNeverStartedContainerIsNoStart(t *testing.T) {
	rec := newRecorder(nil)
	job := &batchv1.Job{ObjectMeta: metav1.ObjectMeta{Namespace: "default", Name: "a-1",
		Annotations:     map[string]string{scheduledAnnotation: start.Format(time.RFC3339)},
		OwnerReferences: []metav1.OwnerReference{{Kind: "CronJob", Name: "a"}}},
		Spec: batchv1.JobSpec{Template: corev1.PodTemplateSpec{Spec: corev1.PodSpec{Containers: []corev1.Container{{Name: "app"}}}}}}
	rec.job(job, start)
	pod := &corev1.Pod{ObjectMeta: metav1.ObjectMeta{Namespace: "default", Name: "a-1-x", UID: "p",
		OwnerReferences: []metav1.OwnerReference{{Kind: "Job", Name: "a-1"}}},
		Status: corev1.PodStatus{Phase: corev1.PodFailed, ContainerStatuses: []corev1.ContainerStatus{{Name: "app",
			State: corev1.ContainerState{Terminated: &corev1.ContainerStateTerminated{ExitCode: 137, Reason: "ContainerStatusUnknown"}}}}}}
	rec.pod(pod.DeepCopy(), start.Add(time.Minute))
	assert.True(t, rec.runs["default/a-1"].started.IsZero())
	pod.Status.ContainerStatuses[0].State.Terminated.StartedAt = metav1.NewTime(start.Add(2 * time.Second))
	rec.pod(pod, start.Add(time.Minute))
	assert.False(t, rec.runs["default/a-1"].started.IsZero())
}
