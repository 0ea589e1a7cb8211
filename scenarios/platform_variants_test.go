package scenarios_test

import (
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/faultline-dev/faultline/scenarios"
	"github.com/faultline-dev/faultline/sim"
)

func runPlatformVariant(t *testing.T, scenario, variant string, seed uint64, d time.Duration) sim.Result {
	t.Helper()
	sc, err := scenarios.Open(scenario)
	require.NoError(t, err)
	v, err := sc.Variant(variant)
	require.NoError(t, err)
	in := sc.Compile(v)
	if d > 0 {
		in.Duration = d
	}
	r, err := sim.Run(in, seed, sim.Options{})
	require.NoError(t, err)
	return r
}

func indicator(t *testing.T, r sim.Result, name string) float64 {
	t.Helper()
	v, ok := r.Get(name)
	require.True(t, ok, name)
	return v
}

// The platform's variants run the platform's code inside the World (platform/simadapter); these
// check that each does what its incident's fix must do, and that runs stay deterministic.
func TestPlatformVariants(t *testing.T) {
	if testing.Short() {
		t.Skip("runs the cron storm for 12 simulated hours")
	}
	t.Run("platform-cron: no stall after the outage, deterministic", func(t *testing.T) {
		const d = 12 * time.Hour // the outage is 10:00:30-11:41:30
		base := runPlatformVariant(t, "cron-missed-start-storm", "baseline", 3, d)
		a := runPlatformVariant(t, "cron-missed-start-storm", "platform-cron", 3, d)
		b := runPlatformVariant(t, "cron-missed-start-storm", "platform-cron", 3, d)
		assert.Equal(t, a.Indicators, b.Indicators)
		assert.Equal(t, a.Metrics, b.Metrics)
		assert.Equal(t, 5.0, indicator(t, base, "stalled-cronjobs"))
		assert.Zero(t, indicator(t, a, "stalled-cronjobs"))
		assert.Less(t, indicator(t, a, "missed-schedules"), indicator(t, base, "missed-schedules"))
		assert.Less(t, indicator(t, a, "start-delay-p50-seconds"), indicator(t, base, "start-delay-p50-seconds"))
		assert.Greater(t, indicator(t, a, "skipped-runs"), 0.0, "missed starts are counted and alertable")
	})
	t.Run("platform-spread: the webhook's affinity stops the cascade as the hand-written fix does", func(t *testing.T) {
		hand := runPlatformVariant(t, "kernel-panic-stacking", "anti-affinity", 5, 0)
		platform := runPlatformVariant(t, "kernel-panic-stacking", "platform-spread", 5, 0)
		assert.Equal(t, hand.Indicators, platform.Indicators)
		assert.Zero(t, indicator(t, platform, "node-panics"))
	})
	t.Run("platform-resolution: no cron run fails on a deleted image", func(t *testing.T) {
		base := runPlatformVariant(t, "cron-deleted-images", "baseline", 2, 0)
		platform := runPlatformVariant(t, "cron-deleted-images", "platform-resolution", 2, 0)
		assert.Greater(t, indicator(t, base, "failed-runs"), 1000.0)
		assert.Zero(t, indicator(t, platform, "failed-runs"))
		assert.Greater(t, indicator(t, platform, "cron-runs-started"), 0.9*indicator(t, base, "cron-runs-started"))
	})
}
