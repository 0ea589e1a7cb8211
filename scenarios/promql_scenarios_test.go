package scenarios_test

import (
	"context"
	"os"
	"strings"
	"testing"
	"testing/fstest"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/faultline-dev/faultline/measure"
	"github.com/faultline-dev/faultline/measure/promql"
	"github.com/faultline-dev/faultline/scenarios"
	"github.com/faultline-dev/faultline/scenarios/runner"
	"github.com/faultline-dev/faultline/sim"
)

// withPromQL loads a library scenario with objectives added in PromQL and its rule file on.
func withPromQL(t *testing.T, name string, objectives string) *scenarios.Scenario {
	t.Helper()
	dir := "../scenarios/" + name + "/"
	if _, err := os.Stat(dir); err != nil {
		dir = name + "/"
	}
	src, err := os.ReadFile(dir + "scenario.yaml")
	require.NoError(t, err)
	rules, err := os.ReadFile(dir + "alerts.yaml")
	require.NoError(t, err)
	text := string(src)
	if !strings.Contains(text, "  ruleFiles:") {
		text = strings.Replace(text, "\n  objectives:\n", "\n  ruleFiles: [alerts.yaml]\n  objectives:\n", 1)
	}
	text = strings.Replace(text, "\n  objectives:\n", "\n  objectives:\n"+objectives, 1)
	fsys := fstest.MapFS{"s/scenario.yaml": {Data: []byte(text)}, "s/alerts.yaml": {Data: rules}}
	for _, inc := range []string{"manifests.yaml"} {
		if b, err := os.ReadFile(dir + inc); err == nil {
			fsys["s/"+inc] = &fstest.MapFile{Data: b}
		}
	}
	sc, err := scenarios.LoadFS(fsys, "s/scenario.yaml", name+"/scenario.yaml")
	require.NoError(t, err)
	return sc
}

// The cron storm's objectives written in PromQL (in its scenario.yaml beside the indicator ones),
// on the families a production cluster exports, give the same verdict on every seed and variant
// as the indicators they replace: the start delay's p99 from the cron platform's histogram (10 s
// is one of its bucket bounds, so the interpolated quantile is at most 10 exactly when the
// nearest-rank one is), stalled CronJobs from kube-state-metrics' next schedule time.
func TestCronPromQLObjectivesGiveTheIndicatorsVerdicts(t *testing.T) {
	sc := withPromQL(t, "cron-missed-start-storm", "")
	// 14 h instead of 24 (cheaper): the controller-manager outage at 10:00 and the stall after
	// it are in the window, and a stalled CronJob is more than an hour overdue by its end
	sc, err := sc.Set("spec.duration", "14h")
	require.NoError(t, err)
	seeds := 3
	if testing.Short() {
		seeds = 1
	}
	out, err := runner.Run(context.Background(), sc, runner.Config{Seeds: runner.SeedRange(1, seeds)})
	require.NoError(t, err)
	objs := map[string]scenarios.ResolvedObjective{}
	for _, o := range sc.Objectives() {
		objs[o.Name] = o
	}
	pairs := [][2]string{{"start-delay-p99", "promql-start-delay-p99"}, {"stalled", "promql-stalled"}}
	missed := map[string]int{}
	for v, name := range out.Variants {
		for i, seed := range out.Seeds {
			r := out.Results[v][i]
			for _, p := range pairs {
				a, b := objs[p[0]], objs[p[1]]
				x, ok := r.Get(a.Indicator)
				require.True(t, ok)
				y, ok := r.Get(b.Indicator)
				require.True(t, ok, "%s has no %s", name, b.Indicator)
				assert.Equal(t, a.Target.Met(x), b.Target.Met(y), "%s seed %d: %s=%v, %s=%v", name, seed, p[0], x, p[1], y)
				if !a.Target.Met(x) {
					missed[p[0]]++
				}
			}
			d, _ := promql.AlertIndicators("CronJobSkippedStart")
			_, ok := r.Get(d)
			assert.True(t, ok, "the rule file's alerts are indicators")
		}
	}
	// the comparison is not vacuous: both objectives are missed somewhere and met elsewhere
	assert.Positive(t, missed["start-delay-p99"])
	assert.Positive(t, missed["stalled"])
	assert.Less(t, missed["stalled"], len(out.Variants)*len(out.Seeds))
}

// Every problem of PromQL objectives and rule files is reported at once, each naming file, field
// and what was expected.
func TestPromQLValidationErrors(t *testing.T) {
	src, err := os.ReadFile("testdata/good/scenario.yaml")
	require.NoError(t, err)
	man, err := os.ReadFile("testdata/good/manifests.yaml")
	require.NoError(t, err)
	text := strings.Replace(string(src), "\n  objectives:\n", `
  ruleFiles: [alerts.yaml, missing.yaml]
  objectives:
    - {name: bad-query, promql: 'sum(rate(x[5m])', target: "<= 1"}
    - {name: no-direction, promql: 'sum(up)'}
    - {name: both, promql: 'sum(up)', indicator: node-panics, target: "<= 1"}
    - {name: detect, indicator: alert/Nope/detect-minutes}
    - {name: ok-detect, indicator: alert/Good/detect-minutes, target: "<= 5"}
`, 1)
	rules := "groups:\n- name: g\n  rules:\n  - alert: Good\n    expr: up == 0\n  - alert: Bad\n    expr: rate(up[5m]\n  - record: r\n    expr: up\n"
	fsys := fstest.MapFS{"s/scenario.yaml": {Data: []byte(text)}, "s/manifests.yaml": {Data: man}, "s/alerts.yaml": {Data: []byte(rules)}}
	_, err = scenarios.LoadFS(fsys, "s/scenario.yaml", "s/scenario.yaml")
	require.Error(t, err)
	msg := err.Error()
	for _, want := range []string{
		"s/scenario.yaml:",
		"spec.objectives[0].promql:",                    // the parser's message
		"spec.objectives[1].better: missing",            // no target, no better
		"spec.objectives[2].promql: set with indicator", // one or the other
		`spec.objectives[3].indicator: unknown indicator "alert/Nope/detect-minutes"`,
		"alert/Good/detect-minutes", // listed among what is expected
		"s/alerts.yaml:",            // rulefmt's errors name the rule file
		`spec.ruleFiles[1]: "missing.yaml": no such file`,
	} {
		assert.Contains(t, msg, want)
	}
	assert.Contains(t, msg, `"alert/Good/detect-minutes"`, "a rule file with errors gives no alerts")

	// the valid parts load, and the alert's indicator resolves with its unit
	text = strings.Replace(string(src), "\n  objectives:\n", `
  ruleFiles: [alerts.yaml]
  objectives:
    - {name: p, promql: 'sum(kube_deployment_status_replicas_available)', target: ">= 1"}
    - {name: detect, indicator: alert/Good/detect-minutes, target: "<= 5"}
`, 1)
	fsys["s/scenario.yaml"] = &fstest.MapFile{Data: []byte(text)}
	fsys["s/alerts.yaml"] = &fstest.MapFile{Data: []byte("groups:\n- name: g\n  rules:\n  - alert: Good\n    expr: sum(kube_deployment_status_replicas_available) < 1\n")}
	sc, err := scenarios.LoadFS(fsys, "s/scenario.yaml", "s/scenario.yaml")
	require.NoError(t, err)
	objs := sc.Objectives()
	assert.Equal(t, "promql/p", objs[0].Indicator)
	assert.True(t, objs[0].HigherIsBetter, "from the target's >=")
	assert.Equal(t, "minutes", objs[1].Unit)
	assert.False(t, objs[1].HigherIsBetter)
	v, _ := sc.Variant("baseline")
	out, err := runner.Run(context.Background(), sc, runner.Config{Seeds: runner.SeedRange(1, 1), Variants: []string{v.Name}})
	require.NoError(t, err)
	x, ok := out.Results[0][0].Get("promql/p")
	require.True(t, ok)
	assert.Positive(t, x, "the Deployments' available replicas, read through PromQL")
}

// --set spec.ruleFiles reads the rule files it names, next to the scenario, as loading does, and
// changes the digest; a missing file is an error naming the field.
func TestSetRuleFiles(t *testing.T) {
	src, err := os.ReadFile("testdata/good/scenario.yaml")
	require.NoError(t, err)
	man, err := os.ReadFile("testdata/good/manifests.yaml")
	require.NoError(t, err)
	rules := "groups:\n- name: g\n  rules:\n  - alert: NoReplicas\n    expr: sum(kube_deployment_status_replicas_available) < 1\n    for: 1m\n"
	fsys := fstest.MapFS{"s/scenario.yaml": {Data: src}, "s/manifests.yaml": {Data: man}, "s/alerts.yaml": {Data: []byte(rules)}}
	sc, err := scenarios.LoadFS(fsys, "s/scenario.yaml", "s/scenario.yaml")
	require.NoError(t, err)
	require.Empty(t, sc.Alerts)

	on, err := sc.Set("spec.ruleFiles", `["alerts.yaml"]`)
	require.NoError(t, err)
	require.Len(t, on.Alerts, 1)
	assert.Equal(t, "NoReplicas", on.Alerts[0].Name)
	assert.NotEqual(t, sc.Digest, on.Digest, "other rules, another scenario")
	v, err := on.Variant(on.Baseline())
	require.NoError(t, err)
	assert.NotNil(t, on.PromQL(on.Compile(v)), "the runs evaluate the alert")
	d, _ := promql.AlertIndicators("NoReplicas")
	withObjective, err := on.Set("spec.objectives", `[{"name":"detect","indicator":"`+d+`","target":"<= 5"}]`)
	require.NoError(t, err, "an objective on the set rule file's alert resolves")
	assert.Equal(t, "minutes", withObjective.Objectives()[0].Unit)

	off, err := on.Set("spec.ruleFiles", `[]`)
	require.NoError(t, err)
	assert.Empty(t, off.Alerts)

	_, err = sc.Set("spec.ruleFiles", `["missing.yaml"]`)
	require.Error(t, err)
	assert.Contains(t, err.Error(), `spec.ruleFiles[0]: "missing.yaml": no such file`)
	_, err = sc.Set("spec.ruleFiles", `["manifests.yaml"]`)
	require.Error(t, err, "not a rule file")
}

// The scrape's horizons (promql.Spec.Horizons) keep a bounded family's memory flat and change no
// figure: the cron storm's PromQL objectives and alerts over 6 h give the same values with and
// without them, and the start delay's histogram holds far fewer change points.
func TestPromQLHorizonsChangeNoFigure(t *testing.T) {
	sc, err := scenarios.Open("cron-missed-start-storm")
	require.NoError(t, err)
	sc, err = sc.Set("spec.faults", "[]")
	require.NoError(t, err)
	sc, err = sc.Set("spec.duration", "6h")
	require.NoError(t, err)
	v, err := sc.Variant(sc.Baseline())
	require.NoError(t, err)
	in := sc.Compile(v)
	spec := sc.PromQL(in)
	hz := spec.Horizons()
	require.Contains(t, hz, "cron_start_delay_seconds_bucket")
	points := func(ps *sim.PromSeries) (n int) {
		for _, s := range ps.Series {
			if s.Name == "cron_start_delay_seconds_bucket" {
				n += len(s.Points)
			}
		}
		return n
	}
	var vals [2][]measure.Indicator
	var held [2]int
	for i, h := range []map[string]time.Duration{nil, hz} {
		r, err := sim.Run(in, 1, sim.Options{PromSeries: &sim.PromScrape{Families: spec.Families(), Horizons: h}})
		require.NoError(t, err)
		held[i] = points(r.Prom)
		vals[i], _, err = promql.Evaluate(context.Background(), spec, r.Prom, in.Duration)
		require.NoError(t, err)
	}
	assert.Equal(t, vals[0], vals[1])
	assert.Less(t, held[1]*4, held[0], "the bounded histogram keeps its last minutes only")
}
