package realrun

import (
	"fmt"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	appsv1 "k8s.io/api/apps/v1"
	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/rest"
	"k8s.io/utils/ptr"

	"github.com/faultline-dev/faultline/measure"
	"github.com/faultline-dev/faultline/sim"
)

var start = time.Date(2019, 1, 18, 0, 0, 0, 0, time.UTC)

func testCronJob(name, schedule string, tz *string) *batchv1.CronJob {
	return &batchv1.CronJob{
		ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: "default", Annotations: map[string]string{sim.AnnRunTime: "20s"}},
		Spec: batchv1.CronJobSpec{
			Schedule: schedule, TimeZone: tz,
			JobTemplate: batchv1.JobTemplateSpec{Spec: batchv1.JobSpec{Template: corev1.PodTemplateSpec{
				ObjectMeta: metav1.ObjectMeta{Labels: map[string]string{"cron": name}},
				Spec: corev1.PodSpec{
					RestartPolicy: corev1.RestartPolicyNever,
					Containers: []corev1.Container{{Name: "app", Image: "app-" + name + ":v1",
						Resources: corev1.ResourceRequirements{Requests: corev1.ResourceList{corev1.ResourceCPU: resource.MustParse("100m")}}}},
				},
			}}},
		},
	}
}

func cronJobsOf(t *testing.T, objs []runtime.Object) []cronJob {
	t.Helper()
	var out []cronJob
	for _, o := range objs {
		if cj, ok := o.(*batchv1.CronJob); ok {
			s, err := measure.ParseSchedule(cj.Spec.Schedule, cj.Spec.TimeZone)
			require.NoError(t, err)
			out = append(out, cronJob{cj: cj, sched: s})
		}
	}
	return out
}

// replay feeds what the simulator observed to the real world's recorder as the objects its
// informers would deliver, each at the time the simulator observed the step: the Job (with the
// CronJob controller's scheduled-time annotation), its pod, the pod bound, the app running.
func replay(rec *recorder, o *measure.CronObservations, t0 time.Time) {
	for i, run := range o.Runs {
		ns, cjName, _ := cutKey(run.CronJob)
		jobName := fmt.Sprintf("%s-%d", cjName, i)
		job := &batchv1.Job{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: jobName,
			Annotations:     map[string]string{scheduledAnnotation: t0.Add(run.Scheduled).Format(time.RFC3339)},
			OwnerReferences: []metav1.OwnerReference{{Kind: "CronJob", Name: cjName}}},
			Spec: batchv1.JobSpec{Template: corev1.PodTemplateSpec{Spec: corev1.PodSpec{Containers: []corev1.Container{{Name: "app"}}}}}}
		rec.job(job, t0.Add(run.JobCreated))
		if run.Seen&measure.PodCreated == 0 {
			continue
		}
		pod := &corev1.Pod{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: jobName + "-pod", UID: types.UID(jobName),
			OwnerReferences: []metav1.OwnerReference{{Kind: "Job", Name: jobName}}},
			Spec: corev1.PodSpec{Containers: []corev1.Container{{Name: "app"}}}, Status: corev1.PodStatus{Phase: corev1.PodPending}}
		rec.pod(pod.DeepCopy(), t0.Add(run.PodCreated))
		pod.Spec.NodeName = "n-1"
		rec.pod(pod.DeepCopy(), t0.Add(run.PodBound))
		pod.Status.Phase = corev1.PodRunning
		pod.Status.ContainerStatuses = []corev1.ContainerStatus{{Name: "app", State: corev1.ContainerState{Running: &corev1.ContainerStateRunning{}}}}
		rec.pod(pod, t0.Add(run.AppRunning))
	}
}

func cutKey(key string) (ns, name string, ok bool) {
	for i := range key {
		if key[i] == '/' {
			return key[:i], key[i+1:], true
		}
	}
	return "default", key, false
}

// One observation stream, two worlds: a simulated run's cron runs are replayed as informer
// events into the real world's recorder; through measure.Compute both give the same figures for
// every indicator both measure. A CronJob in a time zone (06:00 in Kolkata is 00:30 UTC, inside
// the two hours) must be counted due in both.
func TestSimulatedAndRealRunOfTheSameEventsGiveTheSameFigures(t *testing.T) {
	kolkata := "Asia/Kolkata"
	objs := []runtime.Object{testCronJob("zoned", "0 6 * * *", &kolkata)}
	for i := range 30 {
		objs = append(objs, testCronJob(fmt.Sprintf("every-%d", i), "*/2 * * * *", nil))
	}
	in := &sim.Input{Name: "contract", Start: start, Duration: 2 * time.Hour, Objects: objs, Models: sim.DefaultModels(),
		Pools: []sim.NodePool{{Name: "n", Count: 3, Capacity: corev1.ResourceList{
			corev1.ResourceCPU: resource.MustParse("4"), corev1.ResourceMemory: resource.MustParse("16Gi")}}}}
	in.Models.CronJob.Controller = "v2"
	w, err := sim.New(in, 1, sim.Options{KeepRuns: true}) // each run's record, to replay it
	require.NoError(t, err)
	simRes := w.Run()
	simObs, win := w.Observations()
	require.NotNil(t, simObs.Cron)
	require.NotEmpty(t, simObs.Cron.Runs)
	zoned := false
	for _, r := range simObs.Cron.Runs {
		if r.CronJob == "default/zoned" {
			zoned = true
			assert.Equal(t, 30*time.Minute, r.Scheduled, "06:00 in Kolkata is 00:30 UTC")
		}
	}
	require.True(t, zoned, "the zoned CronJob ran in the simulator")

	rec := newRecorder(nil)
	replay(rec, simObs.Cron, start)
	realObs, realWin := rec.observations(measure.KWOK, start, start.Add(in.Duration), 1, cronJobsOf(t, objs), nil, simObs.Cron.Skipped)
	realVals, unmeasured := measure.Compute(realObs, realWin)
	assert.Equal(t, win.Start, realWin.Start)
	assert.Equal(t, win.Length, realWin.Length)
	assert.Contains(t, unmeasured, "node-panics: kernel panics come from real CPU saturation; KWOK pods use no CPU")

	simVals := map[string]float64{}
	for _, v := range simRes.Indicators {
		simVals[v.Name] = v.Value
	}
	compared := 0
	for _, v := range realVals {
		want, ok := simVals[v.Name]
		require.True(t, ok, "%s measured by the real world but not by the simulator", v.Name)
		assert.Equal(t, want, v.Value, v.Name)
		compared++
	}
	for _, name := range []string{"cron-runs-started", "start-delay-p99-seconds", "job-create-delay-p50-seconds",
		"pod-create-delay-p50-seconds", "pod-bind-delay-p99-seconds", "pod-run-delay-p50-seconds", "missed-schedules"} {
		d, _ := measure.Lookup(name)
		require.True(t, d.MeasuredIn(measure.KWOK), name)
	}
	assert.GreaterOrEqual(t, compared, 18, "the shared cron, node and placement indicators")
	assert.Positive(t, simVals["cron-runs-started"])
}

// Real runs count a CronJob's due times in its spec.timeZone: "0 6 * * *" in Kolkata falls in
// the first hour of a UTC day, so a run without a Job missed it; in UTC it would not be due.
func TestRealRunCountsDueTimesInTheCronJobsZone(t *testing.T) {
	kolkata := "Asia/Kolkata"
	for _, tc := range []struct {
		name   string
		tz     *string
		missed float64
	}{
		{"Asia/Kolkata: due at 00:30 UTC", &kolkata, 1},
		{"UTC: due at 06:00, after the run", nil, 0},
	} {
		t.Run(tc.name, func(t *testing.T) {
			cjs := cronJobsOf(t, []runtime.Object{testCronJob("zoned", "0 6 * * *", tc.tz)})
			obs, win := newRecorder(nil).observations(measure.KWOK, start, start.Add(2*time.Hour), 1, cjs, nil, 0)
			vals, _ := measure.Compute(obs, win)
			got := map[string]float64{}
			for _, v := range vals {
				got[v.Name] = v.Value
			}
			assert.Equal(t, tc.missed, got["missed-schedules"])
		})
	}
}

// A schedule the controller cannot parse is an error up front, not a CronJob silently left out of
// missed-schedules.
func TestRealRunRefusesAnUnparsableSchedule(t *testing.T) {
	bad := "Mars/Olympus"
	for _, cj := range []*batchv1.CronJob{testCronJob("x", "61 * * * *", nil), testCronJob("y", "* * * * *", &bad)} {
		_, err := newRun(&rest.Config{Host: "http://127.0.0.1:1"}, &sim.Input{Name: "s", Objects: []runtime.Object{cj}, Models: sim.DefaultModels()}, Options{})
		require.Error(t, err)
		assert.Contains(t, err.Error(), "cronjob/"+cj.Name)
	}
}

// A Deployment that starts with one replica and is scaled up by a change is measured: its
// replicas count towards max-replicas-per-node from the moment it has two.
func TestPlacementsOfADeploymentScaledUp(t *testing.T) {
	d := &appsv1.Deployment{ObjectMeta: metav1.ObjectMeta{Namespace: "default", Name: "web"},
		Spec: appsv1.DeploymentSpec{Replicas: ptr.To[int32](1), Selector: &metav1.LabelSelector{MatchLabels: map[string]string{"app": "web"}}}}
	rec := newRecorder([]*appsv1.Deployment{d})
	pod := func(name, node string) *corev1.Pod {
		return &corev1.Pod{ObjectMeta: metav1.ObjectMeta{Namespace: "default", Name: name, UID: types.UID(name), Labels: map[string]string{"app": "web"}},
			Spec: corev1.PodSpec{NodeName: node}, Status: corev1.PodStatus{Phase: corev1.PodRunning}}
	}
	now := start
	rec.pod(pod("a", "n-1"), now)
	assert.Equal(t, 0, rec.maxColoc, "one replica is not a placement")
	assert.Empty(t, rec.placements())

	scaled := d.DeepCopy()
	scaled.Spec.Replicas = ptr.To[int32](3)
	rec.deployment(scaled)
	rec.pod(pod("b", "n-1"), now)
	rec.pod(pod("c", "n-2"), now)
	assert.Equal(t, 2, rec.maxColoc)
	assert.Equal(t, map[string]map[string]int{"default/web": {"n-1": 2, "n-2": 1}}, rec.placements())
}
