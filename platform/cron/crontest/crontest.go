// Package crontest is the scheduler's decision table, written once and run in two worlds: inside
// a simulated World through platform/simadapter (TestDecisionsInSimulation) and against a real
// control plane through platform/kube (TestDecisionsOnLocalCluster). Each case drives
// cron.Controller through the cron.Client interface at fixed instants of an injected clock (the
// World's virtual clock; a fake clock in the real world) and checks what it did through the same
// interface and the metrics.
package crontest

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	dto "github.com/prometheus/client_model/go"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/utils/ptr"

	"github.com/faultline-dev/faultline/platform/cron"
)

// Start is the instant every case begins at (virtual time 0 in the simulator, the fake clock's
// first reading in a real cluster).
var Start = time.Date(2030, 1, 7, 0, 0, 0, 0, time.UTC)

// Harness is what a step gets: the controller under test, its client, its metrics, the case's
// CronJob name and namespace, and the clock's reading.
type Harness struct {
	T         *testing.T
	Ctx       context.Context
	Ctrl      *cron.Controller
	Client    cron.Client
	Metrics   *cron.Metrics
	Namespace string
	Name      string
	Now       time.Time
}

// Step runs at At after Start.
type Step struct {
	At time.Duration
	Do func(h *Harness)
}

// Case is one decision scenario.
type Case struct {
	Name    string
	Config  cron.Config
	CronJob func(cj *batchv1.CronJob)
	Steps   []Step
}

// Env runs a case in one world: it creates the CronJob (from NewCronJob(namespace, name)) and
// a controller with cfg, then calls each step at its instant, in order. Between steps, the world's
// Job controller catches up (every Job that is not suspended gets its pod).
type Env interface {
	RunCase(t *testing.T, c Case, cj *batchv1.CronJob)
}

// Namespace is the case's namespace, the same in both worlds (jitter hashes it).
func Namespace(i int) string { return fmt.Sprintf("crontest-%d", i) }

// CronJobName is every case's CronJob.
const CronJobName = "report"

// NewCronJob is the case's managed CronJob: every 5 minutes, pods that can never be scheduled
// (a nodeSelector no node has), so that a Job, once the Job controller picked it up, stays
// active in both worlds.
func NewCronJob(ns string) *batchv1.CronJob {
	return &batchv1.CronJob{
		TypeMeta: metav1.TypeMeta{APIVersion: "batch/v1", Kind: "CronJob"},
		ObjectMeta: metav1.ObjectMeta{Name: CronJobName, Namespace: ns,
			Annotations: map[string]string{cron.AnnManaged: "true", "faultline.dev/run-time": "10m"}},
		Spec: batchv1.CronJobSpec{
			Schedule: "*/5 * * * *",
			Suspend:  ptr.To(true),
			JobTemplate: batchv1.JobTemplateSpec{Spec: batchv1.JobSpec{
				BackoffLimit: ptr.To[int32](0),
				Template: corev1.PodTemplateSpec{
					ObjectMeta: metav1.ObjectMeta{Labels: map[string]string{"app": "report"}},
					Spec: corev1.PodSpec{
						RestartPolicy: corev1.RestartPolicyNever,
						NodeSelector:  map[string]string{"platform.faultline.dev/crontest": "nowhere"},
						Containers: []corev1.Container{{Name: "app", Image: "registry.example/report:v1",
							Resources: corev1.ResourceRequirements{Requests: corev1.ResourceList{corev1.ResourceCPU: resource.MustParse("100m")}}}},
					},
				},
			}},
		},
	}
}

// Run runs every case in env, each in its own namespace.
func Run(t *testing.T, env Env) {
	for i, c := range Cases() {
		t.Run(c.Name, func(t *testing.T) {
			cj := NewCronJob(Namespace(i))
			if c.CronJob != nil {
				c.CronJob(cj)
			}
			env.RunCase(t, c, cj)
		})
	}
}

func sync(h *Harness) time.Duration {
	h.T.Helper()
	d, err := h.Ctrl.Sync(h.Ctx, h.Namespace, h.Name)
	require.NoError(h.T, err)
	return d
}

func jobs(h *Harness) []*batchv1.Job {
	h.T.Helper()
	js, err := h.Client.ListJobs(h.Ctx, h.Namespace, h.Name)
	require.NoError(h.T, err)
	return js
}

func t1(h *Harness, j *batchv1.Job) time.Time {
	h.T.Helper()
	v, err := time.Parse(time.RFC3339Nano, j.Annotations[cron.AnnScheduled])
	require.NoError(h.T, err, "T1 annotation of %s", j.Name)
	return v
}

func jobName(t time.Time) string { return fmt.Sprintf("%s-%d", CronJobName, t.Unix()/60) }

func names(js []*batchv1.Job) []string {
	var out []string
	for _, j := range js {
		out = append(out, j.Name)
	}
	return out
}

func skips(h *Harness, reason string) float64 {
	return value(h.Metrics.SkipCounter(reason))
}

// Cases is the decision table.
func Cases() []Case {
	adopt := Step{At: 0, Do: func(h *Harness) {
		d := sync(h)
		assert.Equal(h.T, 5*time.Minute, d, "requeued for the next scheduled time")
	}}
	var jitter time.Duration
	return []Case{
		{
			Name: "adopting a CronJob owes nothing from before",
			Steps: []Step{{At: 2 * time.Minute, Do: func(h *Harness) {
				d := sync(h)
				assert.Equal(h.T, 3*time.Minute, d)
				assert.Empty(h.T, jobs(h))
				cj, err := h.Client.GetCronJob(h.Ctx, h.Namespace, h.Name)
				require.NoError(h.T, err)
				assert.Equal(h.T, h.Now.Format(time.RFC3339Nano), cj.Annotations[cron.AnnLastSchedule])
			}}},
		},
		{
			Name: "a due run creates a Job with T1 and requeues for the next time",
			Steps: []Step{adopt, {At: 5 * time.Minute, Do: func(h *Harness) {
				d := sync(h)
				assert.Equal(h.T, 5*time.Minute, d)
				js := jobs(h)
				require.Len(h.T, js, 1)
				assert.Equal(h.T, jobName(Start.Add(5*time.Minute)), js[0].Name)
				assert.Equal(h.T, Start.Add(5*time.Minute), t1(h, js[0]))
				assert.Equal(h.T, CronJobName, js[0].Labels[cron.LabelCronJob])
				assert.Equal(h.T, 1.0, value(h.Metrics.Invoke))
			}}},
		},
		{
			Name: "missed starts are counted and only the latest runs (no stall)",
			Steps: []Step{adopt, {At: 21 * time.Minute, Do: func(h *Harness) {
				d := sync(h)
				assert.Equal(h.T, 4*time.Minute, d)
				js := jobs(h)
				require.Len(h.T, js, 1)
				assert.Equal(h.T, Start.Add(20*time.Minute), t1(h, js[0]))
				assert.Equal(h.T, 3.0, skips(h, cron.ReasonMissedDeadline), "05, 10 and 15 missed")
			}}},
		},
		{
			Name:    "a start later than startingDeadlineSeconds is skipped",
			CronJob: func(cj *batchv1.CronJob) { cj.Spec.StartingDeadlineSeconds = ptr.To[int64](60) },
			Steps: []Step{adopt, {At: 7 * time.Minute, Do: func(h *Harness) {
				sync(h)
				assert.Empty(h.T, jobs(h))
				assert.Equal(h.T, 1.0, skips(h, cron.ReasonMissedDeadline))
			}}, {At: 10 * time.Minute, Do: func(h *Harness) {
				sync(h)
				assert.Len(h.T, jobs(h), 1, "the next time runs")
			}}},
		},
		{
			Name:    "Forbid skips while a Job is active",
			CronJob: func(cj *batchv1.CronJob) { cj.Spec.ConcurrencyPolicy = batchv1.ForbidConcurrent },
			Steps: []Step{adopt, {At: 5 * time.Minute, Do: func(h *Harness) { sync(h) }},
				{At: 10 * time.Minute, Do: func(h *Harness) {
					sync(h)
					assert.Equal(h.T, []string{jobName(Start.Add(5 * time.Minute))}, names(jobs(h)))
					assert.Equal(h.T, 1.0, skips(h, cron.ReasonConcurrencyPolicy))
				}}},
		},
		{
			Name:    "Replace deletes the active Job and starts the new one",
			CronJob: func(cj *batchv1.CronJob) { cj.Spec.ConcurrencyPolicy = batchv1.ReplaceConcurrent },
			Steps: []Step{adopt, {At: 5 * time.Minute, Do: func(h *Harness) { sync(h) }},
				{At: 10 * time.Minute, Do: func(h *Harness) {
					sync(h)
					assert.Equal(h.T, []string{jobName(Start.Add(10 * time.Minute))}, names(jobs(h)))
				}}},
		},
		{
			Name:    "Allow lets runs overlap",
			CronJob: func(cj *batchv1.CronJob) { cj.Spec.ConcurrencyPolicy = batchv1.AllowConcurrent },
			Steps: []Step{adopt, {At: 5 * time.Minute, Do: func(h *Harness) { sync(h) }},
				{At: 10 * time.Minute, Do: func(h *Harness) {
					sync(h)
					assert.ElementsMatch(h.T, []string{jobName(Start.Add(5 * time.Minute)), jobName(Start.Add(10 * time.Minute))}, names(jobs(h)))
				}}},
		},
		{
			Name: "a Job the Job controller never picked up is superseded, not piled up",
			CronJob: func(cj *batchv1.CronJob) {
				cj.Spec.JobTemplate.Spec.Suspend = ptr.To(true) // the Job controller does not start it
			},
			Steps: []Step{adopt, {At: 5 * time.Minute, Do: func(h *Harness) { sync(h) }},
				{At: 10 * time.Minute, Do: func(h *Harness) {
					sync(h)
					assert.Equal(h.T, []string{jobName(Start.Add(10 * time.Minute))}, names(jobs(h)))
					assert.Equal(h.T, 1.0, skips(h, cron.ReasonMissedDeadline))
				}}},
		},
		{
			Name: "a paused CronJob starts nothing",
			CronJob: func(cj *batchv1.CronJob) {
				cj.Annotations[cron.AnnPaused] = "true"
			},
			Steps: []Step{{At: 0, Do: func(h *Harness) { assert.Zero(h.T, sync(h)) }},
				{At: 5 * time.Minute, Do: func(h *Harness) {
					sync(h)
					assert.Empty(h.T, jobs(h))
				}}},
		},
		{
			Name:   "jitter shifts the schedule by a fixed offset within the bound",
			Config: cron.Config{MaxJitter: metav1.Duration{Duration: 3 * time.Minute}},
			Steps: []Step{{At: 0, Do: func(h *Harness) {
				// Start is a scheduled time: the shifted one is Start + offset
				d := sync(h)
				assert.Less(h.T, d, 3*time.Minute)
				assert.Zero(h.T, d%time.Second, "whole seconds")
				jitter = d
			}}, {At: 8 * time.Minute, Do: func(h *Harness) {
				sync(h)
				js := jobs(h)
				require.Len(h.T, js, 1)
				assert.Equal(h.T, Start.Add(5*time.Minute+jitter), t1(h, js[0]), "the same offset every period")
			}}},
		},
		{
			Name: "T2 is written once; a later start (a restart) changes nothing",
			Steps: []Step{adopt, {At: 5 * time.Minute, Do: func(h *Harness) {
				sync(h)
				js := jobs(h)
				require.Len(h.T, js, 1)
				t2 := Start.Add(5*time.Minute + 7*time.Second)
				require.NoError(h.T, h.Ctrl.AppStarted(h.Ctx, js[0], t2))
				js = jobs(h)
				require.Len(h.T, js, 1)
				require.NoError(h.T, h.Ctrl.AppStarted(h.Ctx, js[0], t2.Add(time.Minute)))
				js = jobs(h)
				assert.Equal(h.T, t2.Format(time.RFC3339Nano), js[0].Annotations[cron.AnnStarted])
				assert.Equal(h.T, 1.0, value(h.Metrics.Started))
			}}},
		},
		{
			Name: "an on-demand run is created now, outside the schedule",
			Steps: []Step{adopt, {At: 2 * time.Minute, Do: func(h *Harness) {
				j, err := h.Ctrl.Trigger(h.Ctx, h.Namespace, h.Name)
				require.NoError(h.T, err)
				assert.Equal(h.T, fmt.Sprintf("%s-manual-%d", CronJobName, Start.Add(2*time.Minute).Unix()), j.Name)
				assert.Equal(h.T, "manual", j.Annotations[cron.AnnTrigger])
				js := jobs(h)
				require.Len(h.T, js, 1)
				assert.Equal(h.T, Start.Add(2*time.Minute), t1(h, js[0]))
			}}, {At: 5 * time.Minute, Do: func(h *Harness) {
				sync(h)
				assert.Len(h.T, jobs(h), 2, "the schedule goes on")
			}}},
		},
	}
}

// value reads a counter.
func value(c prometheus.Counter) float64 {
	var m dto.Metric
	if err := c.Write(&m); err != nil {
		panic(err)
	}
	return m.GetCounter().GetValue()
}
