package sim_test

import (
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
	"k8s.io/utils/ptr"

	"github.com/faultline-dev/faultline/sim"
)

// recorder is a minimal extension: it renames Deployments' images at admission, claims a
// suspended CronJob and creates one Job for it at 1 minute, and records what the World tells it.
type recorder struct {
	api      sim.API
	started  []time.Time
	finished []*batchv1.Job
	admitted int
}

func (r *recorder) Admit(obj runtime.Object) error {
	if d, ok := obj.(*appsv1.Deployment); ok {
		d.Spec.Template.Spec.Containers[0].Image = "admitted"
		r.admitted++
	}
	return nil
}

func (r *recorder) Start(api sim.API) {
	r.api = api
	cjs := api.CronJobs()
	api.Claim(cjs[0].Namespace, cjs[0].Name)
	api.Clock().AfterFunc(time.Minute, func() {
		j := &batchv1.Job{ObjectMeta: metav1.ObjectMeta{Name: "c-1", Namespace: "default",
			Annotations:     map[string]string{"batch.kubernetes.io/cronjob-scheduled-timestamp": api.Clock().Now().UTC().Format(time.RFC3339)},
			OwnerReferences: []metav1.OwnerReference{{Kind: "CronJob", Name: "c"}}}}
		j.Spec.Template = cjs[0].Spec.JobTemplate.Spec.Template
		_, err := api.CreateJob(j)
		if err != nil {
			panic(err)
		}
	})
}

func (r *recorder) JobStarted(_ *batchv1.Job, at time.Time) { r.started = append(r.started, at) }
func (r *recorder) JobFinished(j *batchv1.Job)              { r.finished = append(r.finished, j) }

func TestExtension(t *testing.T) {
	start := time.Date(2024, 1, 1, 0, 0, 0, 0, time.UTC)
	cj := &batchv1.CronJob{
		TypeMeta:   metav1.TypeMeta{APIVersion: "batch/v1", Kind: "CronJob"},
		ObjectMeta: metav1.ObjectMeta{Name: "c", Namespace: "default", Annotations: map[string]string{sim.AnnRunTime: "20s"}},
		Spec: batchv1.CronJobSpec{Schedule: "0 0 1 1 *", Suspend: ptr.To(true), JobTemplate: batchv1.JobTemplateSpec{Spec: batchv1.JobSpec{
			Template: corev1.PodTemplateSpec{Spec: corev1.PodSpec{Containers: []corev1.Container{{Name: "app", Image: "a:1"}}}}}}},
	}
	dep := &appsv1.Deployment{
		TypeMeta:   metav1.TypeMeta{APIVersion: "apps/v1", Kind: "Deployment"},
		ObjectMeta: metav1.ObjectMeta{Name: "d"},
		Spec: appsv1.DeploymentSpec{Replicas: ptr.To[int32](1), Selector: &metav1.LabelSelector{MatchLabels: map[string]string{"a": "d"}},
			Template: corev1.PodTemplateSpec{ObjectMeta: metav1.ObjectMeta{Labels: map[string]string{"a": "d"}},
				Spec: corev1.PodSpec{Containers: []corev1.Container{{Name: "d", Image: "orig"}}}}},
	}
	rec := &recorder{}
	in := &sim.Input{
		Name: "ext", Start: start, Duration: 10 * time.Minute, Models: sim.DefaultModels(),
		Pools: []sim.NodePool{{Name: "n", Count: 1, Capacity: corev1.ResourceList{
			corev1.ResourceCPU: resource.MustParse("4"), corev1.ResourceMemory: resource.MustParse("16Gi")}}},
		Objects:    []runtime.Object{cj, dep},
		Extensions: []sim.ExtensionFactory{func() (sim.Extension, error) { return rec, nil }},
	}
	res, err := sim.Run(in, 1, sim.Options{})
	require.NoError(t, err)
	assert.Equal(t, 1, rec.admitted)
	assert.Equal(t, "orig", dep.Spec.Template.Spec.Containers[0].Image, "the Input's objects are not changed")
	require.Len(t, rec.started, 1)
	assert.Greater(t, rec.started[0], start.Add(time.Minute))
	require.Len(t, rec.finished, 1)
	assert.Equal(t, batchv1.JobComplete, rec.finished[0].Status.Conditions[0].Type)
	assert.Len(t, rec.api.Jobs("default", "c"), 1)
	runs, _ := res.Get("cron-runs-started")
	assert.Equal(t, 1.0, runs, "the extension's run counts in the indicators")
}
