package search

import (
	"context"
	"os"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/faultline-dev/faultline/scenarios"
)

func optimizeFor(t *testing.T, target, variant string, objectives []string, knobs ...string) *OptimizeResult {
	t.Helper()
	sc, err := scenarios.Open(target)
	require.NoError(t, err)
	objs, err := Objectives(sc, objectives)
	require.NoError(t, err)
	cfg := OptimizeConfig{Scenario: sc, Variant: variant, Objectives: objs}
	for _, k := range knobs {
		kn, err := ParseKnob(k)
		require.NoError(t, err)
		cfg.Knobs = append(cfg.Knobs, kn)
	}
	res, err := Optimize(context.Background(), cfg)
	require.NoError(t, err)
	t.Logf("%s: setting %v, method %s, confidence %.3f, %d runs over %d settings, %.2f s",
		target, res.Setting, res.Method, res.Confidence, res.Evaluations, res.Settings, res.Seconds)
	return res
}

// The load balancer's lag is fixed at 23 s in the fixture: a preStop sleep covers it from 23 s
// on (sim/termination.go: endpoint removal and preStop start together, SIGTERM after preStop).
func TestOptimizePreStopCoversIngressLag(t *testing.T) {
	res := optimizeFor(t, "testdata/ingress-lag", "baseline", nil,
		"deployment/api:spec.template.spec.containers[0].lifecycle.preStop.sleep.seconds=10:40:1")
	require.True(t, res.Found)
	assert.Equal(t, MethodBisection, res.Method)
	got := res.Setting["deployment/api:spec.template.spec.containers[0].lifecycle.preStop.sleep.seconds"].(float64)
	assert.InDelta(t, 23, got, 1, "within one step of the lag")
	assert.GreaterOrEqual(t, res.Confidence, 0.95)
	// sequential testing: only the settings bisection visits get the 59 clean seeds a pass needs
	assert.Less(t, res.Evaluations, 31*59/3)

	dir := t.TempDir()
	require.NoError(t, WriteOptimize(dir, res))
	md, err := os.ReadFile(filepath.Join(dir, "report.md"))
	require.NoError(t, err)
	assert.Contains(t, string(md), "= **23**")
	svgs, _ := filepath.Glob(filepath.Join(dir, "*.svg"))
	require.Len(t, svgs, 1)
	svg, err := os.ReadFile(svgs[0])
	require.NoError(t, err)
	assert.Contains(t, string(svg), "chosen 23", "the boundary is marked")
	page, err := os.ReadFile(filepath.Join(dir, "report.html"))
	require.NoError(t, err)
	assert.Contains(t, string(page), "<svg")
}

// The kernel-panic cascade of the library scenario stops between 3 and 4 nodes in the pool
// (the sweep in the README shows it): the cheapest node count without panics or a cascade is 4.
// Availability (>= 0.999) still misses on about 6 % of seeds at 4 nodes (the planned reboots),
// so with every objective the answer is dearer.
func TestOptimizeNodeCountStopsCascade(t *testing.T) {
	const knob = "spec.cluster.nodePools[0].count"
	res := optimizeFor(t, "kernel-panic-stacking", "baseline", []string{"cascade", "node-panics"}, knob+"=3:8:1")
	require.True(t, res.Found)
	assert.Equal(t, 4.0, res.Setting[knob])
	assert.Equal(t, MethodBisection, res.Method)

	all := optimizeFor(t, "kernel-panic-stacking", "baseline", nil, knob+"=3:8:1")
	require.True(t, all.Found)
	assert.Greater(t, all.Setting[knob].(float64), 4.0)
}

func TestBounds(t *testing.T) {
	// no miss in n seeds: 1-(1-level)^(1/n)
	assert.InDelta(t, 0.0495, UpperBound(0, 59, 0.95), 1e-3)
	assert.Greater(t, UpperBound(0, 58, 0.95), 0.05)
	assert.Equal(t, 1.0, UpperBound(3, 3, 0.95))
	assert.Equal(t, 0.0, LowerBound(0, 10, 0.95))
	// all of 4 missed: the lower bound is (1-level)^(1/4)
	assert.InDelta(t, 0.4729, LowerBound(4, 4, 0.95), 1e-3)
	assert.InDelta(t, 0.9515, Confidence(0, 59, 0.05), 1e-3)
	assert.Equal(t, Meets, Tally{Seeds: 59, Missed: []int{0}}.verdict(0.95, 0.05))
	assert.Equal(t, Misses, Tally{Seeds: 4, Missed: []int{0, 4}}.verdict(0.95, 0.05))
	assert.Equal(t, Undecided, Tally{Seeds: 20, Missed: []int{1}}.verdict(0.95, 0.05))
}

func TestParseKnob(t *testing.T) {
	cases := []struct {
		in   string
		want []string
		err  string
	}{
		{in: "spec.a=3:8:1", want: []string{"3", "4", "5", "6", "7", "8"}},
		{in: "spec.a=40:10:10", want: []string{"40", "30", "20", "10"}},
		{in: "spec.a=0.1:0.3:0.1", want: []string{"0.1", "0.2", "0.3"}},
		{in: "spec.t=10s:30s:10s", want: []string{"10s", "20s", "30s"}},
		{in: "deployment/web:spec.replicas=2,3,6", want: []string{"2", "3", "6"}},
		{in: "spec.a", err: "expected PATH="},
		{in: "spec.a=1:5:0", err: "STEP > 0"},
		{in: "spec.a=0:1e9:1", err: "at most"},
		{in: "spec.a=x,y", err: "a number or a duration"},
	}
	for _, c := range cases {
		t.Run(c.in, func(t *testing.T) {
			k, err := ParseKnob(c.in)
			if c.err != "" {
				require.Error(t, err)
				assert.Contains(t, err.Error(), c.err)
				return
			}
			require.NoError(t, err)
			assert.Equal(t, c.want, k.Values)
		})
	}
}

// Two knobs: a node costs 100, a second of preStop 1. The cheapest passing setting is one node
// and the first preStop step at or above the 23 s lag, by the cost-ordered walk and, without
// costs, by taking the knobs one at a time.
func TestOptimizeTwoKnobs(t *testing.T) {
	const preStop = "deployment/api:spec.template.spec.containers[0].lifecycle.preStop.sleep.seconds"
	const nodes = "spec.cluster.nodePools[0].count"
	sc, err := scenarios.Open("testdata/ingress-lag")
	require.NoError(t, err)
	objs, err := Objectives(sc, nil)
	require.NoError(t, err)
	for _, withCost := range []bool{true, false} {
		a, err := ParseKnob(preStop + "=10:40:10")
		require.NoError(t, err)
		b, err := ParseKnob(nodes + "=1:3:1")
		require.NoError(t, err)
		method := MethodCoordinate
		if withCost {
			a.Cost, b.Cost, method = 1, 100, MethodCostOrder
		}
		res, err := Optimize(context.Background(), OptimizeConfig{Scenario: sc, Variant: "baseline", Objectives: objs, Knobs: []Knob{a, b}})
		require.NoError(t, err)
		t.Logf("%s: %v in %d runs over %d settings", res.Method, res.Setting, res.Evaluations, res.Settings)
		assert.Equal(t, method, res.Method)
		assert.Equal(t, map[string]any{preStop: 30.0, nodes: 1.0}, res.Setting)
	}
}

// Listed dear end first (40 is "cheapest"), the missed share rises along the range: the scan
// says not monotone, the grid walks from 40 and stops at once.
func TestOptimizeGridFallback(t *testing.T) {
	res := optimizeFor(t, "testdata/ingress-lag", "baseline", nil,
		"deployment/api:spec.template.spec.containers[0].lifecycle.preStop.sleep.seconds=40:10:10")
	assert.Equal(t, MethodGrid, res.Method)
	assert.Equal(t, []bool{false}, res.Monotone)
	assert.Equal(t, 40.0, res.Setting["deployment/api:spec.template.spec.containers[0].lifecycle.preStop.sleep.seconds"])
}

// Ctrl-C: what was decided is returned, marked interrupted, with no error.
func TestOptimizeInterrupted(t *testing.T) {
	sc, err := scenarios.Open("testdata/ingress-lag")
	require.NoError(t, err)
	objs, err := Objectives(sc, nil)
	require.NoError(t, err)
	k, err := ParseKnob("deployment/api:spec.template.spec.containers[0].lifecycle.preStop.sleep.seconds=10:40:1")
	require.NoError(t, err)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	lines := 0
	res, err := Optimize(ctx, OptimizeConfig{Scenario: sc, Variant: "baseline", Objectives: objs, Knobs: []Knob{k},
		Progress: func(string) {
			if lines++; lines == 3 {
				cancel()
			}
		}})
	require.NoError(t, err)
	assert.True(t, res.Interrupted)
	assert.False(t, res.Found)
	assert.NotEmpty(t, res.Points)
}
