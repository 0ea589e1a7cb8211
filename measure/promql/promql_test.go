package promql_test

import (
	"context"
	"math"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/faultline-dev/faultline/measure/promql"
	"github.com/faultline-dev/faultline/sim"
)

var t0 = time.Date(2024, 1, 1, 0, 0, 0, 0, time.UTC)

// series: a counter that rises by 1 per scrape from 10 min to 20 min, and a gauge that exists
// from 0 to 30 min (a staleness marker then), over a one-hour run scraped every 30 s.
func fixture() *sim.PromSeries {
	ps := &sim.PromSeries{Start: t0, Interval: 30 * time.Second, End: time.Hour}
	var c []sim.PromPoint
	for i := 0; i <= 20; i++ {
		c = append(c, sim.PromPoint{T: 10*time.Minute + time.Duration(i)*30*time.Second, V: float64(i)})
	}
	c = append([]sim.PromPoint{{T: 0, V: 0}}, c[1:]...)
	ps.Series = append(ps.Series,
		sim.PromSeriesData{Name: "cron_failure_total", Points: c},
		sim.PromSeriesData{Name: "up", Labels: []string{"job", "a"}, Points: []sim.PromPoint{{T: 0, V: 1}, {T: 30 * time.Minute, V: math.NaN()}}},
	)
	return ps
}

func TestInstant(t *testing.T) {
	ps := fixture()
	st := promql.NewStore(ps)
	ctx := context.Background()
	cases := []struct {
		query string
		at    time.Duration
		want  float64
		err   string
	}{
		{query: "cron_failure_total", at: time.Hour, want: 20},
		{query: "cron_failure_total", at: 15 * time.Minute, want: 10},
		{query: "increase(cron_failure_total[$__range])", at: time.Hour, want: 20},
		{query: "sum(up)", at: 29 * time.Minute, want: 1},
		{query: "sum(up) or vector(0)", at: 31 * time.Minute, want: 0, err: ""},
		{query: "up", at: 31 * time.Minute, err: "no series"},
		{query: "count_over_time(up[$__range])", at: time.Hour, want: 59}, // (0, 1h]: 0:30 to 29:30
		{query: "time()", at: time.Hour, want: float64(t0.Add(time.Hour).Unix())},
	}
	for _, c := range cases {
		t.Run(c.query, func(t *testing.T) {
			v, err := promql.Instant(ctx, st, ps.Start, c.at, promql.Expand(c.query, time.Hour))
			if c.err != "" {
				require.ErrorContains(t, err, c.err)
				return
			}
			require.NoError(t, err)
			assert.InDelta(t, c.want, v, 1e-9)
		})
	}
}

func TestAlertStates(t *testing.T) {
	ps := fixture()
	st := promql.NewStore(ps)
	a := promql.Alert{Name: "Failing", Expr: "rate(cron_failure_total[1m]) > 0", For: 2 * time.Minute, Labels: map[string]string{"severity": "page"}}
	tl, err := promql.EvalAlert(context.Background(), st, ps.Start, time.Hour, 30*time.Second, a)
	require.NoError(t, err)
	require.True(t, tl.Fired)
	// the rate is positive from 10:30 (two samples in the window) until 20:00; firing 2 min
	// after it first was, resolved at the first evaluation without it (20:30: no increase in (19:30, 20:30])
	assert.Equal(t, 12*time.Minute+30*time.Second, tl.FirstFire)
	require.Len(t, tl.Firings, 1)
	assert.Equal(t, "page", tl.Firings[0].Labels["severity"])
	assert.Equal(t, 20*time.Minute+30*time.Second, tl.Firings[0].To)
	assert.InDelta(t, 12.5-5, tl.DetectMinutes(5*time.Minute, time.Hour), 1e-9)
	assert.InDelta(t, 55, promql.Timeline{}.DetectMinutes(5*time.Minute, time.Hour), 1e-9, "never fired: censored at the end")

	a.For = time.Hour
	tl, err = promql.EvalAlert(context.Background(), st, ps.Start, time.Hour, 30*time.Second, a)
	require.NoError(t, err)
	assert.False(t, tl.Fired, "pending for less than for")
}

func TestParseRules(t *testing.T) {
	good := []byte("groups:\n- name: cron\n  rules:\n  - alert: CronSkips\n    expr: rate(cron_scheduling_decision_total{decision=\"skip\"}[5m]) > 0\n    for: 1m\n    labels: {severity: page}\n")
	as, errs := promql.ParseRules("alerts.yaml", good)
	require.Empty(t, errs)
	require.Len(t, as, 1)
	assert.Equal(t, time.Minute, as[0].For)

	bad := []byte("groups:\n- name: cron\n  rules:\n  - alert: A\n    expr: rate(x[5m] > 0\n  - record: r\n    expr: x\n  - alert: B\n    expr: up\n    for: soon\n")
	_, errs = promql.ParseRules("alerts.yaml", bad)
	require.NotEmpty(t, errs)
	assert.Contains(t, errs[0].Error(), "alerts.yaml")
}

// Only families that objectives alone read through plain instant selectors get a horizon (the
// lookback); a range, a subquery, an offset or an alert on the same family needs its history.
func TestHorizons(t *testing.T) {
	spec := &promql.Spec{
		Objectives: []promql.Objective{
			{Name: "p99", Query: `histogram_quantile(0.99, sum by (le) (delay_bucket))`},
			{Name: "stalled", Query: `count(time() - next_schedule > 3600) or vector(0)`},
			{Name: "rate", Query: `sum(increase(started_total[$__range]))`},
			{Name: "shifted", Query: `sum(queue_depth offset 1h)`},
			{Name: "shared", Query: `sum(failures_total)`},
		},
		Alerts: []promql.Alert{{Name: "Failing", Expr: `sum(rate(failures_total[5m])) > 0`}},
	}
	assert.Equal(t, map[string]time.Duration{"delay_bucket": 5 * time.Minute, "next_schedule": 5 * time.Minute}, spec.Horizons())
	assert.Nil(t, (&promql.Spec{Objectives: []promql.Objective{{Name: "any", Query: `sum({job="x"})`}}}).Horizons(),
		"a selector without a fixed name: nothing is bounded")
}
