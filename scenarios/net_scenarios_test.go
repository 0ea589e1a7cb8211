package scenarios_test

import (
	"strings"
	"testing"
	"testing/fstest"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/faultline-dev/faultline/scenarios"
	"github.com/faultline-dev/faultline/sim"
)

// The Ravelin incident's shape (scenarios/ingress-502-graceful-shutdown/README.md): a rolling update behind the Ingress gives
// 502s when the process exits at once, fewer with a preStop sleep shorter than the load
// balancer's delay (10-40 s here), none with a sleep at least as long or when the app keeps
// serving; kube-proxy's callers see far fewer, as kube-proxy learns within about a second.
func TestIngress502GracefulShutdownShape(t *testing.T) {
	for _, seed := range []uint64{1, 2, 3} {
		base := runVariant(t, "ingress-502-graceful-shutdown", "baseline", seed)
		short := runVariant(t, "ingress-502-graceful-shutdown", "prestop-10s", seed)
		long := runVariant(t, "ingress-502-graceful-shutdown", "prestop-45s", seed)
		keep := runVariant(t, "ingress-502-graceful-shutdown", "keep-serving", seed)
		// four old pods, each with a fifth of 200 rps for the load balancer's 10-40 s
		assert.Greater(t, value(t, base, "requests-502"), 4*40*10.0)
		assert.Less(t, value(t, base, "requests-502"), 4*40*40.0)
		assert.Greater(t, value(t, short, "requests-502"), 0.0)
		assert.Less(t, value(t, short, "requests-502"), value(t, base, "requests-502"))
		assert.Zero(t, value(t, long, "requests-502"))
		assert.Zero(t, value(t, keep, "requests-502"))
		assert.Zero(t, value(t, base, "rollouts-incomplete"))
		assert.Greater(t, value(t, base, "request-success-ratio/deployment/checkout"), value(t, base, "request-success-ratio/deployment/api"),
			"kube-proxy drops the endpoint long before the load balancer")
	}
}

// The preStop length is a sweep parameter: 502s fall to zero once it reaches the load
// balancer's longest delay (40 s).
func TestIngress502PreStopSweep(t *testing.T) {
	s, err := scenarios.Open("ingress-502-graceful-shutdown")
	require.NoError(t, err)
	const field = "deployment/api:spec.template.spec.containers[0].lifecycle.preStop.sleep.seconds"
	prev := -1.0
	for _, secs := range []string{"0", "20", "35", "40", "60"} {
		c, err := s.Set(field, secs)
		require.NoError(t, err)
		v, err := c.Variant("baseline")
		require.NoError(t, err)
		var sum float64
		for seed := uint64(1); seed <= 5; seed++ {
			r, err := sim.Run(c.Compile(v), seed, sim.Options{})
			require.NoError(t, err)
			sum += value(t, r, "requests-502")
		}
		if prev >= 0 {
			assert.LessOrEqual(t, sum, prev, "preStop %s s", secs)
		}
		if secs == "40" || secs == "60" {
			assert.Zero(t, sum, "preStop %s s >= the load balancer's delay", secs)
		} else {
			assert.Greater(t, sum, 0.0, "preStop %s s < the load balancer's delay", secs)
		}
		prev = sum
	}
}

// The cascade's shape (scenarios/deep-readiness-cascade/README.md): with deep readiness the auth outage takes every
// public service out (the traffic that did not need auth is lost too); shallow readiness keeps
// that traffic and loses only payments; retries recover part of the partial auth failure.
func TestDeepReadinessCascadeShape(t *testing.T) {
	for _, seed := range []uint64{1, 2} {
		deep := runVariant(t, "deep-readiness-cascade", "baseline", seed)
		shallow := runVariant(t, "deep-readiness-cascade", "shallow", seed)
		retries := runVariant(t, "deep-readiness-cascade", "shallow-retries", seed)
		for _, svc := range []string{"balance", "webhooks", "rates"} {
			ind := "request-success-ratio/deployment/" + svc
			assert.Less(t, value(t, deep, ind), 0.6, "%s: out for most of the 20 minutes of 45", svc)
			assert.Equal(t, 1.0, value(t, shallow, ind), svc)
		}
		assert.Greater(t, value(t, deep, "collateral-loss-ratio"), 0.4)
		assert.Zero(t, value(t, shallow, "collateral-loss-ratio"))
		assert.Greater(t, value(t, deep, "requests-503"), 0.0, "no endpoints behind the Ingress")
		assert.Zero(t, value(t, shallow, "requests-503"))
		for _, r := range []sim.Result{deep, shallow, retries} {
			assert.Less(t, value(t, r, "request-success-ratio/deployment/payments"), 0.56, "payments need auth")
		}
		assert.Greater(t, value(t, shallow, "request-success-ratio/deployment/payments"), value(t, deep, "request-success-ratio/deployment/payments"),
			"deep readiness also delays the recovery by a probe period and the load balancer's lag")
		assert.Greater(t, value(t, retries, "request-success-ratio/deployment/payments"), value(t, shallow, "request-success-ratio/deployment/payments"))
		assert.Greater(t, value(t, retries, "dependency-call-errors"), value(t, shallow, "dependency-call-errors"), "retries multiply the failed calls during the outage")
	}
}

// webFile is a scenario of one two-replica Deployment on one node, for the tests to add to.
const webFile = `apiVersion: faultline.dev/v1alpha1
kind: Scenario
metadata: {name: changes}
spec:
  duration: 1h
  cluster:
    nodePools: [{name: p, count: 1, capacity: {cpu: "4", memory: 8Gi}}]
  objects:
    - {apiVersion: apps/v1, kind: Deployment, metadata: {name: web},
       spec: {replicas: 2, selector: {matchLabels: {app: web}},
              template: {metadata: {labels: {app: web}}, spec: {containers: [{name: web, image: "web:1"}]}}}}
`

const changesFile = webFile + `  changes:
    - {at: 10m, target: TARGET, patch: PATCH}
`

// spec.changes: a patch at a time; errors name the change and what was expected.
func TestChanges(t *testing.T) {
	tests := []struct {
		name, target, patch, err string
	}{
		{"new image", "deployment/web", `{spec: {template: {spec: {containers: [{name: web, image: "web:2"}]}}}}`, ""},
		{"missing target", "deployment/nope", `{spec: {replicas: 3}}`, `s.yaml:13:25: spec.changes[0].target: patch target "deployment/nope" does not exist`},
		{"invalid result", "deployment/web", `{spec: {replicas: "many"}}`, "spec.changes[0].patch"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			src := strings.NewReplacer("TARGET", tc.target, "PATCH", tc.patch).Replace(changesFile)
			s, err := scenarios.LoadFS(fstest.MapFS{"s.yaml": {Data: []byte(src)}}, "s.yaml", "s.yaml")
			if tc.err != "" {
				require.Error(t, err)
				assert.Contains(t, err.Error(), tc.err)
				return
			}
			require.NoError(t, err)
			v, err := s.Variant("baseline")
			require.NoError(t, err)
			in := s.Compile(v)
			require.Len(t, in.Changes, 1)
			r, err := sim.Run(in, 1, sim.Options{})
			require.NoError(t, err)
			assert.Zero(t, value(t, r, "rollouts-incomplete"))
		})
	}
}

// Same seed, same trace and figures; another seed, another replay (the load balancer's lags
// and probe phases come from the seed's streams).
func TestNetworkScenariosDeterministic(t *testing.T) {
	for _, name := range []string{"ingress-502-graceful-shutdown", "deep-readiness-cascade"} {
		t.Run(name, func(t *testing.T) {
			s, err := scenarios.Open(name)
			require.NoError(t, err)
			v, err := s.Variant("baseline")
			require.NoError(t, err)
			trace := func(seed uint64) (string, sim.Result) {
				var b strings.Builder
				r, err := sim.Run(s.Compile(v), seed, sim.Options{Trace: &b})
				require.NoError(t, err)
				return b.String(), r
			}
			t1, r1 := trace(7)
			t2, r2 := trace(7)
			t3, r3 := trace(8)
			assert.Equal(t, t1, t2)
			assert.Equal(t, r1.String(), r2.String())
			assert.NotEqual(t, t1, t3)
			assert.NotEqual(t, r1.String(), r3.String())
		})
	}
}

// The simulator's checks come back all at once, each at its line of the file.
func TestSimulatorErrorsAllAtOnce(t *testing.T) {
	const src = webFile + `  load:
    - {target: deployment/nope, cpuPerReplica: 100m}
    - {target: deployment/web, cpuPerReplica: 100m, onSIGTERM: ignore}
  faults:
    - at: 10m
      object:
        apiVersion: chaos-mesh.org/v1alpha1
        kind: GCPChaos
        metadata: {name: reset}
        spec: {action: node-reset, project: p, zone: a, instance: q-1}
`
	_, err := scenarios.LoadFS(fstest.MapFS{"s.yaml": {Data: []byte(src)}}, "s.yaml", "s.yaml")
	require.Error(t, err)
	var lines []string
	if j, ok := err.(interface{ Unwrap() []error }); ok {
		for _, one := range j.Unwrap() {
			lines = append(lines, one.Error())
		}
	}
	require.Len(t, lines, 3, err.Error())
	assert.Contains(t, lines[0], `s.yaml:13:16: spec.load[0].target: "deployment/nope" names no Deployment in objects`)
	assert.Contains(t, lines[1], `s.yaml:14:`)
	assert.Contains(t, lines[1], `spec.load[1].onSIGTERM: "ignore"; expected exit, keep-serving or connection-close`)
	assert.Contains(t, lines[2], `s.yaml:16:`)
	assert.Contains(t, lines[2], `spec.faults[0]: nodes[0]: GCPChaos/reset: node "q-1" does not exist`)
}
