package measure_test

import (
	"testing"
	"time"

	"github.com/stretchr/testify/assert"

	"github.com/faultline-dev/faultline/measure"
)

func TestRolloutIndicators(t *testing.T) {
	rs := []measure.RolloutObservation{{Took: 10 * time.Minute, Done: true}, {Took: 20 * time.Minute}, {Took: 3 * time.Minute, Done: true}}
	assert.Equal(t, []measure.Indicator{{Name: "rollout-minutes", Value: 11}, {Name: "rollouts-incomplete", Value: 1}}, measure.RolloutIndicators(rs),
		"the unfinished rollout counts with its censored time")
	assert.Equal(t, []measure.Indicator{{Name: "rollout-minutes", Value: 0}, {Name: "rollouts-incomplete", Value: 0}}, measure.RolloutIndicators(nil))
}

// Compute derives the Network and Rollout indicators from the observations: the Rollout ones
// whenever the scope is there (a change that only scales starts no rollout), the Network ones
// only when the counts were measured.
func TestComputeNetworkAndRollouts(t *testing.T) {
	o := &measure.Observations{World: measure.Simulated, Scopes: measure.Rollout | measure.Network}
	got := map[string]float64{}
	vals, _ := measure.Compute(o, measure.Window{Length: time.Hour})
	for _, v := range vals {
		got[v.Name] = v.Value
	}
	assert.Contains(t, got, "rollouts-incomplete")
	assert.NotContains(t, got, "requests-502", "no counts: nothing to report")
	o.Net = &measure.NetworkCounts{Total: 200, E502: 10, E503: 30}
	o.Rollouts = []measure.RolloutObservation{{Took: 6 * time.Minute}}
	vals, _ = measure.Compute(o, measure.Window{Length: time.Hour})
	for _, v := range vals {
		got[v.Name] = v.Value
	}
	assert.Equal(t, 10.0, got["requests-502"])
	assert.InDelta(t, 0.15, got["error-ratio-503"], 1e-12)
	assert.Equal(t, 6.0, got["rollout-minutes"])
	assert.Equal(t, 1.0, got["rollouts-incomplete"])
}
