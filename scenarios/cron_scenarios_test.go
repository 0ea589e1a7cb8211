package scenarios_test

import (
	"encoding/json"
	"testing"
	"testing/fstest"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	batchv1 "k8s.io/api/batch/v1"

	"github.com/faultline-dev/faultline/scenarios"
	"github.com/faultline-dev/faultline/sim"
)

const templateFile = `apiVersion: faultline.dev/v1alpha1
kind: Scenario
metadata: {name: tpl}
spec:
  duration: 1h
  cluster:
    nodePools: [{name: p, count: 1, capacity: {cpu: "4", memory: 8Gi}}]
  templates:
    - count: 10
      seed: 7
      name: job-{i}
      fields:
        - path: /spec/schedule
          choices:
            - {value: "0 * * * *", weight: 6}
            - {value: "{rand:1-59} * * * *", weight: 4}
            - {value: "* * * * *", weight: 0}
      object:
        apiVersion: batch/v1
        kind: CronJob
        metadata: {annotations: {faultline.dev/run-time: 10s}}
        spec:
          schedule: "0 * * * *"
          jobTemplate:
            spec:
              template:
                spec:
                  restartPolicy: Never
                  containers: [{name: app, image: "app-{i}:v1"}]
  variants:
    - name: baseline
    - name: more
      patches:
        - target: spec
          type: json
          patch: [{op: replace, path: /templates/0/count, value: 20}]
`

func cronJobs(t *testing.T, v *scenarios.Variant) []*batchv1.CronJob {
	t.Helper()
	var out []*batchv1.CronJob
	for _, o := range v.Objects {
		if cj, ok := o.Obj.(*batchv1.CronJob); ok {
			out = append(out, cj)
		}
	}
	return out
}

func TestTemplateExpansion(t *testing.T) {
	s, err := scenarios.LoadFS(fstest.MapFS{"s.yaml": {Data: []byte(templateFile)}}, "s.yaml", "s.yaml")
	require.NoError(t, err)
	v, err := s.Variant("baseline")
	require.NoError(t, err)
	cjs := cronJobs(t, v)
	require.Len(t, cjs, 10)
	hot := 0
	for i, cj := range cjs {
		assert.Equal(t, "job-"+string(rune('0'+i)), cj.Name, "{i} zero-padded to the width of count-1")
		assert.Equal(t, "app-"+string(rune('0'+i))+":v1", cj.Spec.JobTemplate.Spec.Template.Spec.Containers[0].Image)
		assert.Equal(t, "default", v.Objects[i].Namespace)
		assert.NotEqual(t, "* * * * *", cj.Spec.Schedule, "weight 0 is never drawn")
		if cj.Spec.Schedule == "0 * * * *" {
			hot++
		}
	}
	assert.Equal(t, 6, hot, "weights are exact shares")

	again, err := s.Variant("baseline")
	require.NoError(t, err)
	a, _ := json.Marshal(cronJobs(t, v))
	b, _ := json.Marshal(cronJobs(t, again))
	assert.JSONEq(t, string(a), string(b), "the expansion is fixed by the file's seed")

	more, err := s.Variant("more")
	require.NoError(t, err)
	assert.Len(t, cronJobs(t, more), 20)
	assert.Equal(t, "job-00", cronJobs(t, more)[0].Name)
}

func TestTemplateErrors(t *testing.T) {
	bad := []byte(templateFile[:len(templateFile)-len("  variants:\n    - name: baseline\n    - name: more\n      patches:\n        - target: spec\n          type: json\n          patch: [{op: replace, path: /templates/0/count, value: 20}]\n")])
	bad = append(bad, []byte("    - count: 2\n      name: job-{i}\n      object: {apiVersion: batch/v1, kind: CronJob, spec: {schedule: x, nope: 1}}\n")...)
	_, err := scenarios.LoadFS(fstest.MapFS{"s.yaml": {Data: bad}}, "s.yaml", "s.yaml")
	require.Error(t, err)
	assert.Contains(t, err.Error(), "spec.templates")
	assert.Contains(t, err.Error(), "nope")
}

func runVariant(t *testing.T, name, variant string, seed uint64) sim.Result {
	t.Helper()
	s, err := scenarios.Open(name)
	require.NoError(t, err)
	v, err := s.Variant(variant)
	require.NoError(t, err)
	r, err := sim.Run(s.Compile(v), seed, sim.Options{})
	require.NoError(t, err)
	return r
}

func value(t *testing.T, r sim.Result, name string) float64 {
	t.Helper()
	v, ok := r.Get(name)
	require.True(t, ok, name)
	return v
}

// The storm's shape as scenarios/cron-missed-start-storm/README.md states it: the v1 baseline stalls the every-minute
// CronJobs after the 101-minute outage, silently and for good; v2 and a deadline do not; the
// v1 pass over 500 CronJobs delays starts by tens of seconds, less with more QPS or with v2.
func TestCronMissedStartStormShape(t *testing.T) {
	if testing.Short() {
		t.Skip("replays 24 h of 500 CronJobs")
	}
	base := runVariant(t, "cron-missed-start-storm", "baseline", 1)
	v2 := runVariant(t, "cron-missed-start-storm", "v2", 1)
	sds := runVariant(t, "cron-missed-start-storm", "starting-deadline", 1)
	qps := runVariant(t, "cron-missed-start-storm", "controller-qps-100", 1)
	assert.Equal(t, 5.0, value(t, base, "stalled-cronjobs"), "the five every-minute CronJobs")
	assert.Zero(t, value(t, v2, "stalled-cronjobs"))
	assert.Zero(t, value(t, sds, "stalled-cronjobs"))
	assert.Greater(t, value(t, sds, "skipped-runs"), value(t, base, "skipped-runs"), "the deadline turns late starts into skips")
	assert.Greater(t, value(t, base, "start-delay-p50-seconds"), 20.0)
	assert.Less(t, value(t, v2, "start-delay-p50-seconds"), value(t, base, "start-delay-p50-seconds")/2)
	assert.Less(t, value(t, qps, "start-delay-p50-seconds"), value(t, base, "start-delay-p50-seconds")/2)
	runs := value(t, base, "cron-runs-started")
	assert.Greater(t, runs, 24*1200.0, "about 1,500 runs an hour")
}

// The image incident's shape (scenarios/cron-deleted-images/README.md): failures from the rollout (03:00) to the fix
// (12:00) in the baseline, none with run-time resolution, and a canary that detects at once.
func TestCronDeletedImagesShape(t *testing.T) {
	base := runVariant(t, "cron-deleted-images", "baseline", 1)
	rt := runVariant(t, "cron-deleted-images", "runtime-resolution", 1)
	canary := runVariant(t, "cron-deleted-images", "canary-cron", 1)
	rb := runVariant(t, "cron-deleted-images", "roll-back", 1)
	assert.InDelta(t, 9, value(t, base, "failure-span-hours"), 0.5, "about 03:00 to 12:00")
	assert.Greater(t, value(t, base, "failed-runs"), 1000.0, "every customer's cron jobs")
	assert.Zero(t, value(t, rt, "failed-runs"))
	assert.Less(t, value(t, canary, "time-to-detect-minutes"), 5.0)
	assert.Greater(t, value(t, base, "time-to-detect-minutes"), 600.0, "nothing watches customer crons: censored at the run's end")
	assert.Less(t, value(t, canary, "failure-span-hours"), 5.0)
	assert.Greater(t, value(t, rb, "failure-span-hours"), 7.0, "a roll-back is about as slow as fixing forward")
	assert.Contains(t, string(base.Metrics), `cron_failure_total`)
}
