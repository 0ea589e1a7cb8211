package measure

import (
	"math"
	"time"
)

// NetworkCounts is what a run saw of the requests on the network path, counted (a real run) or
// integrated over rates (the simulator): the failures by class, the traffic that needed nothing a
// fault acted on, the dependency calls. Indicators turns it into the Network indicators, so both
// worlds define the ratios alike.
type NetworkCounts struct {
	Total         float64 // every request the loads offered
	E502, E503    float64 // failed at a data plane: no answer from the pod / no endpoint
	App           float64 // answered by the app with an error
	CollTotal     float64 // requests of loads that need no workload a pod fault acts on
	CollOK        float64 // ... that succeeded
	CallErrors    float64 // failed dependency attempts, retries included
	Retries       float64
	RetryWaitSecs float64 // back-off waits, in all
	Restarts      int     // containers restarted after failed probes
}

// Indicators are the Network indicators in registry order.
func (c NetworkCounts) Indicators() []Indicator {
	share := func(v float64) float64 {
		if c.Total == 0 {
			return 0
		}
		return v / c.Total
	}
	coll := 0.0
	if c.CollTotal > 0 {
		coll = 1 - c.CollOK/c.CollTotal
	}
	return []Indicator{
		{Name: "requests-502", Value: math.Round(c.E502)},
		{Name: "requests-503", Value: math.Round(c.E503)},
		{Name: "error-ratio-502", Value: share(c.E502)},
		{Name: "error-ratio-503", Value: share(c.E503)},
		{Name: "error-ratio-app", Value: share(c.App)},
		{Name: "collateral-loss-ratio", Value: coll},
		{Name: "dependency-call-errors", Value: math.Round(c.CallErrors)},
		{Name: "retries", Value: math.Round(c.Retries)},
		{Name: "retry-wait-seconds", Value: share(c.RetryWaitSecs)},
		{Name: "container-restarts", Value: float64(c.Restarts)},
	}
}

// RolloutObservation is one Deployment rolling update of spec.changes: how long it took or, if it
// had not completed by the window's end, how long it had run then (censored).
type RolloutObservation struct {
	Took time.Duration
	Done bool
}

// RolloutIndicators are the Rollout indicators in registry order: the mean rollout time in
// minutes (unfinished ones censored at the window's end) and how many did not complete.
func RolloutIndicators(rs []RolloutObservation) []Indicator {
	var total time.Duration
	incomplete := 0
	for _, r := range rs {
		total += r.Took
		if !r.Done {
			incomplete++
		}
	}
	mean := 0.0
	if len(rs) > 0 {
		mean = total.Minutes() / float64(len(rs))
	}
	return []Indicator{
		{Name: "rollout-minutes", Value: mean},
		{Name: "rollouts-incomplete", Value: float64(incomplete)},
	}
}
