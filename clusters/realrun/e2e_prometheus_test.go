package realrun_test

import (
	"os"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/faultline-dev/faultline/clusters/realrun"
	"github.com/faultline-dev/faultline/measure/promql"
	"github.com/faultline-dev/faultline/scenarios"
)

// stormPlan is the cron storm's platform variant in miniature: 20 CronJobs every minute, each
// run 1 s, no jitter, no fault, 2 minutes and 30 s (two schedule points); the scenario's PromQL
// objectives and rule file as they are.
func stormPlan(t *testing.T) *scenarios.Scenario {
	t.Helper()
	sc, err := scenarios.Open("../../scenarios/cron-missed-start-storm/scenario.yaml")
	require.NoError(t, err)
	v := -1
	for i, n := range sc.VariantNames() {
		if n == "platform-cron" {
			v = i
		}
	}
	require.GreaterOrEqual(t, v, 0)
	for _, kv := range [][2]string{
		{"spec.templates[0].count", "20"},
		{"spec.templates[0].fields[2].choices", `[{"value":"* * * * *","weight":1}]`},
		{"spec.templates[0].fields[0].choices", `[{"value":"1s","weight":1}]`},
		{"spec.faults", "[]"},
		{"spec.duration", "2m30s"},
		{"spec.cluster.models.alerts.scrapeInterval", "5s"},
		{"spec.variants[" + strconv.Itoa(v) + "].patches[0].patch[2].value.cron.maxJitter", "0s"},
	} {
		sc = set(t, sc, kv[0], kv[1])
	}
	return sc
}

// A real run of a scenario with PromQL objectives and a rule file scrapes the real cluster with a
// real Prometheus and evaluates the same PromQL there: the platform's cron_* families (the
// platform runs beside the cluster in the platform variant) give the objectives a value, the
// alerts a time to detect; kube-state-metrics' families, which no real exporter serves here, make
// what reads them unmeasured, with the reason. The server is gone afterwards.
//
// Nightly (make e2e-prometheus, FAULTLINE_E2E_PROMETHEUS=1): 2 min 40 s on 2 cores, most of it the
// plan's 2 min 30 s, too long for make test; clusters/prometheus's tests cover the server and
// EvaluateAPI there.
func TestRealRunEvaluatesPromQLOnARealPrometheus(t *testing.T) {
	requireE2E(t)
	if os.Getenv("FAULTLINE_E2E_PROMETHEUS") == "" {
		t.Skip("nightly: make e2e-prometheus (FAULTLINE_E2E_PROMETHEUS=1)")
	}
	sc := stormPlan(t)
	before := serverDirs(t)
	src := &realrun.Local{Provider: provider, Prefix: "e2e"}
	start := time.Now()
	out, reports, err := realrun.RunScenario(t.Context(), sc, realrun.Plan{Variants: []string{"platform-cron"}, Repetitions: 1, FirstSeed: 1}, src)
	require.NoError(t, err)
	t.Logf("real run with Prometheus in %s", time.Since(start).Round(time.Second))
	require.True(t, out.Done[0][0])
	res, rep := out.Results[0][0], reports[0][0]
	require.NotNil(t, rep.Prometheus)
	assert.Empty(t, rep.Prometheus.Error)
	assert.Equal(t, []string{"kube-apiserver", "faultline-platform"}, rep.Prometheus.Jobs)
	assert.Equal(t, "5s", rep.Prometheus.ScrapeInterval)
	assert.Contains(t, rep.Prometheus.Families, "cron_start_delay_seconds_bucket")

	started := indicator(t, res, "cron-runs-started")
	require.Positive(t, started, "the platform ran the CronJobs")
	// the platform's own count of started runs, read through PromQL from the real Prometheus
	p99 := indicator(t, res, promql.ObjectiveIndicator("promql-start-delay-p99"))
	assert.Positive(t, p99)
	assert.Less(t, p99, 60.0)
	d, f := promql.AlertIndicators("CronJobSkippedStart")
	assert.InDelta(t, 2.5, indicator(t, res, d), 1e-9, "nothing skipped: censored at the run's end")
	assert.Zero(t, indicator(t, res, f))

	_, ok := res.Get(promql.ObjectiveIndicator("promql-stalled"))
	assert.False(t, ok, "kube-state-metrics' families are not served here: no value")
	assert.Contains(t, strings.Join(rep.Unmeasured, "\n"), "promql/promql-stalled: reads kube_cronjob_next_schedule_time: kube-state-metrics does not run")
	for _, n := range rep.Notes {
		t.Log("note:", n)
	}
	t.Logf("real: cron-runs-started %v, promql start-delay p99 %v s, start-delay-p99-seconds %v s", started, p99, indicator(t, res, "start-delay-p99-seconds"))
	assert.Equal(t, before, serverDirs(t), "the run's Prometheus and its directory are gone")
}

// serverDirs lists the Prometheus servers' directories in the temporary directory.
func serverDirs(t *testing.T) []string {
	t.Helper()
	ents, err := os.ReadDir(os.TempDir())
	require.NoError(t, err)
	var out []string
	for _, e := range ents {
		if strings.HasPrefix(e.Name(), "faultline-prometheus-") {
			out = append(out, e.Name())
		}
	}
	return out
}
