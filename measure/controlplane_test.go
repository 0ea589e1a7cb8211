package measure_test

import (
	"testing"
	"time"

	"github.com/stretchr/testify/assert"

	"github.com/faultline-dev/faultline/measure"
)

func cpFigures(vals []measure.Indicator) map[string]float64 {
	out := map[string]float64{}
	for _, v := range vals {
		if d, _ := measure.Lookup(v.Name); d.Scope == measure.ControlPlane {
			out[v.Name] = v.Value
		}
	}
	return out
}

// The control-plane figures from a record: availability over every request kind and over the
// writes, the highest latency quantile, the impaired time before the alert first fired, and the
// upgrade's completion and length.
func TestControlPlaneIndicators(t *testing.T) {
	m := time.Minute
	c := &measure.ControlPlaneObservations{
		Requests: []measure.APIRequests{
			{Kind: "reads", Operation: "GET", Offered: 100, Succeeded: 100},
			{Kind: "events", Operation: "CREATE", Offered: 40, Succeeded: 10, Rejected: 30},
			{Kind: "kubelet lease renewal", Operation: "UPDATE", Offered: 60, Succeeded: 30},
		},
		LatencyQuantile: []measure.LatencyPoint{{At: 10 * m, Value: 10 * time.Second}, {At: 20 * m, Value: 5 * time.Millisecond}},
		// impaired 10..12 (before the alert), 15..open (alert at 25): 2 + 10 minutes undetected
		Impaired:     []measure.Span{{From: 10 * m, To: 12 * m}, {From: 15 * m, To: -1}},
		AlertFirings: []time.Duration{25 * m, 40 * m},
		Upgrade:      &measure.UpgradeObservation{Began: 5 * m, Done: true, DoneAt: 35 * m, TimedOut: true},
	}
	win := measure.Window{Length: time.Hour}
	got := cpFigures(measure.ControlPlaneIndicators(c, measure.NodeFigures{APIServerExits: 4, Recreated: 2, Cadence: 13 * m}, win))
	assert.Equal(t, map[string]float64{
		"api-availability":             140.0 / 200,
		"api-write-availability":       40.0 / 100,
		"api-latency-p99-max-seconds":  10,
		"latency-alert-detect-minutes": 12,
		"apiserver-exits":              4,
		"upgrade-completed":            0, // complete, but after the client's time-out
		"upgrade-minutes":              30,
		"nodes-recreated":              2,
		"repair-cadence-minutes":       13,
	}, got)

	// never fired: all impaired time, the open span to the window's end; an upgrade still under
	// way runs to the end, in scenario minutes (a real run at time scale 0.5)
	c.AlertFirings = nil
	c.Upgrade = &measure.UpgradeObservation{Began: 30 * m}
	win.Scale = 0.5
	got = cpFigures(measure.ControlPlaneIndicators(c, measure.NodeFigures{}, win))
	assert.Equal(t, 47.0, got["latency-alert-detect-minutes"])
	assert.Equal(t, 0.0, got["upgrade-completed"])
	assert.Equal(t, 60.0, got["upgrade-minutes"])

	// nothing observed: every request succeeded, no upgrade to fail
	got = cpFigures(measure.ControlPlaneIndicators(&measure.ControlPlaneObservations{}, measure.NodeFigures{}, measure.Window{Length: time.Hour}))
	assert.Equal(t, 1.0, got["api-availability"])
	assert.Equal(t, 1.0, got["upgrade-completed"])
	assert.Zero(t, got["upgrade-minutes"])
}

// One control-plane record gives the same figures in every world that measures them: Compute
// derives them with one function and reports what the registry says each world measures.
func TestControlPlaneRecordSameFiguresInBothWorlds(t *testing.T) {
	m := time.Minute
	rec := func(w measure.World) map[string]float64 {
		o := &measure.Observations{World: w, ControlPlane: &measure.ControlPlaneObservations{
			Requests: []measure.APIRequests{{Kind: "pods", Operation: "CREATE", Offered: 10, Succeeded: 5}},
			Upgrade: &measure.UpgradeObservation{Began: 2 * m, Done: true, DoneAt: 9 * m,
				Steps: []measure.UpgradeStep{{Instance: "kube-apiserver-1", Out: 2 * m, Ready: 9 * m, IsReady: true}}},
		}, APIServerExits: []measure.APIServerExit{{At: 4 * m, Instance: "kube-apiserver-1", Reason: "x"}}}
		vals, _ := measure.Compute(o, measure.Window{Length: time.Hour})
		return cpFigures(vals)
	}
	sim, kwok := rec(measure.Simulated), rec(measure.KWOK)
	assert.Len(t, sim, 9, "the simulator measures them all")
	assert.Equal(t, map[string]float64{"apiserver-exits": 1, "upgrade-completed": 1, "upgrade-minutes": 7}, kwok)
	for name, v := range kwok {
		assert.Equal(t, sim[name], v, name)
	}
	assert.Empty(t, rec(measure.Kind), "kind: faultline does not run its kube-apiserver")
}
