package measure_test

import (
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/faultline-dev/faultline/measure"
)

func TestQuantileIsNearestRank(t *testing.T) {
	xs := []float64{5, 1, 4, 2, 3}
	assert.Equal(t, 3.0, measure.Quantile(xs, 0.5))
	assert.Equal(t, 5.0, measure.Quantile(xs, 0.99))
	assert.Equal(t, 5.0, measure.Quantile(xs, 1))
	assert.Equal(t, 1.0, measure.Quantile(xs, 0))
	assert.Equal(t, 0.0, measure.Quantile([]float32{}, 0.5))
}

func TestScheduleHonoursTheTimeZone(t *testing.T) {
	ny := "America/New_York"
	s, err := measure.ParseSchedule("0 9 * * *", &ny)
	require.NoError(t, err)
	from := time.Date(2024, 7, 1, 0, 0, 0, 0, time.UTC)
	assert.Equal(t, time.Date(2024, 7, 1, 13, 0, 0, 0, time.UTC), s.Next(from).UTC(), "09:00 EDT")
	u, err := measure.ParseSchedule("0 9 * * *", nil)
	require.NoError(t, err)
	assert.Equal(t, time.Date(2024, 7, 1, 9, 0, 0, 0, time.UTC), u.Next(from).UTC())
	assert.Equal(t, 2, measure.Due(s.Next, from, from.Add(48*time.Hour)))

	_, err = measure.ParseSchedule("61 * * * *", nil)
	assert.ErrorContains(t, err, "spec.schedule")
	bad := "Mars/Olympus"
	_, err = measure.ParseSchedule("* * * * *", &bad)
	assert.ErrorContains(t, err, "spec.timeZone")
}

// Compute reports what a world measures and lists, with the reason, what it cannot.
func TestComputeFollowsTheRegistry(t *testing.T) {
	o := &measure.Observations{PodsLost: 2, Panics: 1, NodesPanicked: 1, FirstPanic: 30 * time.Minute,
		Scopes: measure.Cron, Cron: &measure.CronObservations{FailedRuns: 1},
		Omit: map[string]string{"failed-runs": "not played here"}}
	win := measure.Window{Length: time.Hour}
	get := func(vals []measure.Indicator, name string) (float64, bool) {
		for _, v := range vals {
			if v.Name == name {
				return v.Value, true
			}
		}
		return 0, false
	}
	o.World = measure.Simulated
	vals, unmeasured := measure.Compute(o, win)
	v, ok := get(vals, "time-to-first-panic")
	assert.True(t, ok)
	assert.Equal(t, 0.5, v)
	assert.Equal(t, []string{"failed-runs: not played here"}, unmeasured)

	o.World = measure.KWOK
	vals, unmeasured = measure.Compute(o, win)
	_, ok = get(vals, "node-panics")
	assert.False(t, ok, "KWOK nodes do not panic")
	v, ok = get(vals, "pods-lost")
	assert.True(t, ok)
	assert.Equal(t, 2.0, v)
	_, ok = get(vals, "failed-runs")
	assert.False(t, ok)
	assert.Contains(t, unmeasured, "stalled-cronjobs: the v1 CronJob controller's stall; Kubernetes 1.34 runs only v2")
	assert.Contains(t, unmeasured, "failed-runs: not played here")
	for _, u := range unmeasured {
		assert.NotContains(t, u, "requests-502", "the network path is not in the scenario's scopes")
	}
	// values come in registry order
	for i := 1; i < len(vals); i++ {
		assert.Less(t, measure.Order(vals[i-1].Name), measure.Order(vals[i].Name))
	}
}

func TestRegistryIsComplete(t *testing.T) {
	seen := map[string]bool{}
	for _, d := range measure.Indicators {
		assert.False(t, seen[d.Name], "%s twice", d.Name)
		seen[d.Name] = true
		assert.NotEmpty(t, d.Unit, d.Name)
		assert.NotEmpty(t, d.Doc, d.Name)
		assert.True(t, d.MeasuredIn(measure.Simulated), "%s: the simulator measures every indicator", d.Name)
	}
	d, ok := measure.Lookup("request-success-ratio/deployment/web")
	require.True(t, ok)
	assert.Equal(t, "ratio", d.Unit)
	assert.False(t, d.MeasuredIn(measure.KWOK), "KWOK pods serve no traffic")
	assert.True(t, d.MeasuredIn(measure.Kind), "kind runs send the loads' traffic")
}

func TestNetworkCounts(t *testing.T) {
	c := measure.NetworkCounts{Total: 1000, E502: 30, E503: 10, App: 60, CollTotal: 400, CollOK: 380, CallErrors: 70, Retries: 20, RetryWaitSecs: 5, Restarts: 2}
	got := map[string]float64{}
	var names []string
	for _, in := range c.Indicators() {
		got[in.Name] = in.Value
		names = append(names, in.Name)
	}
	for i := 1; i < len(names); i++ {
		assert.Less(t, measure.Order(names[i-1]), measure.Order(names[i]), "registry order")
	}
	assert.InDelta(t, 0.05, got["collateral-loss-ratio"], 1e-12)
	delete(got, "collateral-loss-ratio")
	assert.Equal(t, map[string]float64{"requests-502": 30, "requests-503": 10, "error-ratio-502": 0.03, "error-ratio-503": 0.01,
		"error-ratio-app": 0.06, "dependency-call-errors": 70, "retries": 20,
		"retry-wait-seconds": 0.005, "container-restarts": 2}, got)
	for _, in := range (measure.NetworkCounts{}).Indicators() {
		assert.False(t, in.Value != in.Value, "%s: no NaN without traffic", in.Name)
	}
}
