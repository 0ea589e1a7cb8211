package scenarios_test

import (
	"math"
	"regexp"
	"runtime"
	"strings"
	"testing"
	"testing/fstest"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/faultline-dev/faultline/scenarios"
)

// limitsFile is a small scenario with one of every number the limits cover; each case of
// TestLimits changes one of them.
const limitsFile = `apiVersion: faultline.dev/v1alpha1
kind: Scenario
metadata: {name: limits}
spec:
  duration: 1h
  seeds: 5
  cluster:
    nodePools: [{name: p, count: 2, capacity: {cpu: "4", memory: 8Gi}}]
  objects:
    - apiVersion: apps/v1
      kind: Deployment
      metadata: {name: web}
      spec:
        replicas: 2
        selector: {matchLabels: {app: web}}
        template:
          metadata: {labels: {app: web}}
          spec:
            containers:
              - name: web
                image: web:1
                ports: [{containerPort: 8080}]
                resources: {requests: {cpu: 500m, memory: 1Gi}}
    - apiVersion: v1
      kind: Service
      metadata: {name: web}
      spec: {selector: {app: web}, ports: [{port: 80, targetPort: 8080}]}
  templates:
    - count: 4
      seed: 1
      name: job-{i}
      fields:
        - path: /spec/schedule
          choices:
            - {value: "0 * * * *", weight: 3}
            - {value: "{rand:1-59} * * * *", weight: 1}
      object:
        apiVersion: batch/v1
        kind: CronJob
        spec:
          schedule: "0 * * * *"
          jobTemplate:
            spec:
              template:
                spec:
                  restartPolicy: Never
                  containers: [{name: app, image: app:1}]
  load:
    - {target: deployment/web, requestsPerSecond: 100, cpuPerReplica: 250m}
  objectives:
    - {name: availability, indicator: request-success-ratio, target: ">= 0.99"}
  variants:
    - name: baseline
    - name: more
      patches:
        - {target: deployment/web, type: merge, patch: {spec: {replicas: 3}}}
`

func loadLimits(t *testing.T, file string) (*scenarios.Scenario, error) {
	t.Helper()
	var sc *scenarios.Scenario
	var err error
	require.NotPanics(t, func() {
		sc, err = scenarios.LoadFS(fstest.MapFS{"scenario.yaml": {Data: []byte(file)}}, "scenario.yaml", "t/scenario.yaml")
	})
	return sc, err
}

// edit replaces old by new in limitsFile, once, failing when old is not there.
func edit(t *testing.T, pairs ...string) string {
	t.Helper()
	s := limitsFile
	for i := 0; i < len(pairs); i += 2 {
		require.Contains(t, s, pairs[i])
		s = strings.Replace(s, pairs[i], pairs[i+1], 1)
	}
	return s
}

// TestLimits: every number that sizes what is built, or that no cluster would take, is refused
// at load with FILE:LINE:COL: FIELD: what was expected, before anything is allocated from it.
func TestLimits(t *testing.T) {
	_, err := loadLimits(t, limitsFile)
	require.NoError(t, err, "the base file is valid")
	tests := []struct {
		name  string
		edits []string
		want  string // a regexp for one line of the error, after "t/scenario.yaml:LINE:COL: "
	}{
		{"node count 10^9", []string{"count: 2,", "count: 1000000000,"}, `spec\.cluster\.nodePools\[0\]\.count: 1000000000; expected at most 10000 nodes`},
		{"nodes over all pools", []string{"count: 2, capacity: {cpu: \"4\", memory: 8Gi}}]", "count: 6000, capacity: {cpu: \"4\", memory: 8Gi}}, {name: q, count: 6000, capacity: {cpu: \"4\", memory: 8Gi}}]"}, `spec\.cluster\.nodePools: 12000 nodes in all; expected at most 10000`},
		{"negative capacity cpu", []string{`cpu: "4"`, `cpu: "-4"`}, `spec\.cluster\.nodePools\[0\]\.capacity\.cpu: -4; expected a quantity >= 0`},
		{"spec.seeds max int64", []string{"seeds: 5", "seeds: 9223372036854775807"}, `spec\.seeds: 9223372036854775807; expected at most 1000000 seeds`},
		{"duration of centuries", []string{"duration: 1h", "duration: 2000000h"}, `spec\.duration: .*; expected at most 8784h0m0s`},
		{"replicas 10^9", []string{"replicas: 2", "replicas: 1000000000"}, `spec\.objects\[0\]\.spec\.replicas: 1000000000; expected 0\.\.10000`},
		{"negative container cpu", []string{"cpu: 500m", "cpu: -500m"}, `spec\.objects\[0\]\.spec\.template\.spec\.containers\[0\]\.resources\.requests\.cpu: -500m; expected a quantity >= 0`},
		{"container port -999999999", []string{"containerPort: 8080", "containerPort: -999999999"}, `spec\.objects\[0\]\.spec\.template\.spec\.containers\[0\]\.ports\[0\]\.containerPort: -999999999; expected a port from 0 to 65535`},
		{"service port 70000", []string{"port: 80,", "port: 70000,"}, `spec\.objects\[1\]\.spec\.ports\[0\]\.port: 70000; expected a port from 0 to 65535`},
		{"template count", []string{"count: 4", "count: 1000000000"}, `spec\.templates\[0\]\.count: 1000000000; expected 0\.\.100000`},
		{"template weight 1e308", []string{"weight: 3", "weight: 1e308"}, `spec\.templates\[0\]\.fields\[0\]\.choices\[0\]\.weight: 1e\+308; expected a weight from 0 to 1e\+09`},
		{"template rand bound", []string{"{rand:1-59}", "{rand:0-9223372036854775807}"}, `spec\.templates\[0\]\.fields\[0\]\.choices\[1\]\.value: \{rand:0-9223372036854775807\}: bound 9223372036854775807; expected bounds from 0 to 1000000000`},
		{"negative requestsPerSecond", []string{"requestsPerSecond: 100", "requestsPerSecond: -5"}, `spec\.load\[0\]\.requestsPerSecond: -5; expected a rate from 0 to 1e\+07`},
		{"negative cpuPerReplica", []string{"cpuPerReplica: 250m", "cpuPerReplica: -250m"}, `spec\.load\[0\]\.cpuPerReplica: -250m; expected a quantity >= 0`},
		{"target NaN", []string{`">= 0.99"`, `">= NaN"`}, `spec\.objectives\[0\]\.target: ">= NaN": expected a finite number after >=`},
		{"target infinity", []string{`">= 0.99"`, `"< +Inf"`}, `spec\.objectives\[0\]\.target: "< \+Inf": expected a finite number after <`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := loadLimits(t, edit(t, tt.edits...))
			require.Error(t, err)
			assertOneLine(t, err.Error())
			assert.Regexp(t, regexp.MustCompile(`(?m)^t/scenario\.yaml:\d+:\d+: `+tt.want+`$`), err.Error())
		})
	}
}

// TestLimitsAllAtOnce: a file with several problems reports them all, a located line each.
func TestLimitsAllAtOnce(t *testing.T) {
	_, err := loadLimits(t, edit(t, "count: 2,", "count: 1000000000,", "replicas: 2", "replicas: -1",
		"weight: 3", "weight: 1e308", "requestsPerSecond: 100", "requestsPerSecond: -1", `">= 0.99"`, `">= NaN"`))
	require.Error(t, err)
	lines := strings.Split(err.Error(), "\n")
	assert.Len(t, lines, 5, "%s", err)
	for _, l := range lines {
		assert.Regexp(t, `^t/scenario\.yaml:\d+:\d+: spec\.`, l)
	}
}

// TestLimitsAfterPatchesAndSets: a variant's patch or a --set can change the numbers too; they
// are checked before the variant is built.
func TestLimitsAfterPatchesAndSets(t *testing.T) {
	sc, err := loadLimits(t, limitsFile)
	require.NoError(t, err)
	for _, tt := range []struct{ path, value, want string }{
		{"spec.cluster.nodePools[0].count", "1000000000", "expected at most 10000 nodes"},
		{"spec.seeds", "9223372036854775807", "expected at most 1000000 seeds"},
		{"spec.templates[0].fields[0].choices[0].weight", "1e308", "expected a weight from 0 to 1e+09"},
		{"spec.load[0].requestsPerSecond", "-1", "expected a rate from 0"},
		{"deployment/web:spec.replicas", "1000000000", "spec.replicas: 1000000000; expected 0..10000"},
		{"service/web:spec.ports[0].port", "-999999999", "expected a port from 0 to 65535"},
	} {
		t.Run(tt.path, func(t *testing.T) {
			var err error
			require.NotPanics(t, func() { _, err = sc.Set(tt.path, tt.value) })
			require.Error(t, err)
			assert.Contains(t, err.Error(), tt.want)
		})
	}
	patched := edit(t, "patch: {spec: {replicas: 3}}", "patch: {spec: {replicas: 1000000000}}")
	_, err = loadLimits(t, patched)
	require.Error(t, err)
	assert.Contains(t, err.Error(), "spec.variants[1] (more) -> deployment/default/web:spec.replicas: 1000000000; expected 0..10000")
	// a pod budget over many objects within the per-object limit
	many := edit(t, `  load:`, `    - count: 30
      name: batch-{i}
      object:
        apiVersion: batch/v1
        kind: Job
        spec:
          parallelism: 10000
          template:
            spec:
              restartPolicy: Never
              containers: [{name: b, image: b:1}]
  load:`)
	_, err = loadLimits(t, many)
	require.Error(t, err)
	assert.Contains(t, err.Error(), "the workloads ask for 300002 pods in all; expected at most 200000")
}

// TestLimitsAnswerFast: 10^9 nodes, replicas and seeds are refused without growing the heap
// (the simulator's input is never built).
func TestLimitsAnswerFast(t *testing.T) {
	file := edit(t, "count: 2,", "count: 1000000000,", "replicas: 2", "replicas: 1000000000", "seeds: 5", "seeds: 1000000000")
	var before, after runtime.MemStats
	runtime.ReadMemStats(&before)
	start := time.Now()
	_, err := loadLimits(t, file)
	elapsed := time.Since(start)
	runtime.ReadMemStats(&after)
	require.Error(t, err)
	assert.Less(t, elapsed, 5*time.Second)
	assert.Less(t, after.TotalAlloc-before.TotalAlloc, uint64(64<<20), "allocated while refusing")
}

func TestCheckSeeds(t *testing.T) {
	assert.NoError(t, scenarios.CheckSeeds(1, 100))
	assert.NoError(t, scenarios.CheckSeeds(math.MaxUint64, 1))
	assert.NoError(t, scenarios.CheckSeeds(math.MaxUint64-9, 10))
	assert.ErrorContains(t, scenarios.CheckSeeds(math.MaxUint64-8, 10), "the last seed would pass")
	assert.ErrorContains(t, scenarios.CheckSeeds(1, 100_000_000), "expected 1..1000000")
	assert.ErrorContains(t, scenarios.CheckSeeds(1, 0), "expected 1..1000000")
}
