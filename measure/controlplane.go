package measure

import (
	"math"
	"time"
)

// ControlPlaneObservations is what a run saw of its control plane, typed: the API requests by
// kind with their outcome, the latency quantile the alert watches, the spans the API was
// impaired, the alert's firings and the managed upgrade's steps. ControlPlaneIndicators turns it
// (with the record's node transitions and apiserver exits) into the ControlPlane indicators, so
// both worlds define them alike. A world fills what it observes; the registry says which
// indicators each world measures.
type ControlPlaneObservations struct {
	// Requests are the API requests by kind (a client class, the kubelets' lease renewals), in
	// the world's order, counted (a real run) or integrated over rates (the simulator).
	Requests []APIRequests
	// LatencyQuantile is the latency quantile (latencyAlert.quantile) of mutating requests each
	// time it changed, in time order; it is 0 before the first.
	LatencyQuantile []LatencyPoint
	// Impaired are the spans in which the API was impaired (some request failing, or the
	// latency quantile above the alert's threshold), in time order; a span still open at the
	// end runs to the window's end.
	Impaired []Span
	// AlertFirings are the times the latency alert started firing, in time order.
	AlertFirings []time.Duration
	// Upgrade is the managed control-plane upgrade; nil without one.
	Upgrade *UpgradeObservation
}

// APIRequests is one kind of API request and what became of it.
type APIRequests struct {
	Kind string // the client class's name, or "kubelet lease renewal"
	// Operation is CREATE, UPDATE, DELETE, CONNECT or GET (every read).
	Operation string
	Offered   float64
	Succeeded float64
	// Rejected were answered with an admission rejection (a webhook call failed under
	// failurePolicy Fail); the other failures found no apiserver ready or timed out at the client.
	Rejected float64
}

// Mutating reports whether an operation writes: what api-write-availability and the latency
// quantile cover.
func Mutating(op string) bool { return op == "CREATE" || op == "UPDATE" || op == "DELETE" }

// LatencyPoint is a value of the latency quantile from At on.
type LatencyPoint struct {
	At    time.Duration
	Value time.Duration
}

// Span is [From, To) as offsets from the window's start; To < 0: still open at the end.
type Span struct{ From, To time.Duration }

// UpgradeObservation is a managed control-plane upgrade: when it began, each instance's step,
// whether and when it completed, and whether the client's time-out passed before it did.
type UpgradeObservation struct {
	Began time.Duration
	Steps []UpgradeStep
	Done  bool
	// DoneAt is when the last instance was ready (Done).
	DoneAt time.Duration
	// TimedOut: the client's time-out passed before the upgrade completed (it reports it
	// failed, whether or not the provider's operation completes later).
	TimedOut bool
}

// UpgradeStep is one instance's replacement: taken out at Out, ready on the new version at
// Ready (when Ready is set).
type UpgradeStep struct {
	Instance   string
	Out, Ready time.Duration
	IsReady    bool
}

// ControlPlaneIndicators are the ControlPlane indicators in registry order, from the run's
// control-plane record c and its node transitions and apiserver exits (nodes, FoldNodes). Times
// are offsets on the run's clock: win.Scale converts the upgrade's minutes to the scenario's.
func ControlPlaneIndicators(c *ControlPlaneObservations, nodes NodeFigures, win Window) []Indicator {
	var ok, total, wok, wtotal float64
	for _, r := range c.Requests {
		ok += r.Succeeded
		total += r.Offered
		if Mutating(r.Operation) {
			wok += r.Succeeded
			wtotal += r.Offered
		}
	}
	ratio := func(a, b float64) float64 {
		if b == 0 {
			return 1
		}
		return a / b
	}
	var p99 time.Duration
	for _, p := range c.LatencyQuantile {
		p99 = max(p99, p.Value)
	}
	// impaired time before the alert first fired (all of it when it never fired)
	until := win.Length
	if len(c.AlertFirings) > 0 {
		until = c.AlertFirings[0]
	}
	var undetected time.Duration
	for _, s := range c.Impaired {
		to := s.To
		if to < 0 {
			to = win.Length
		}
		if to = min(to, until); to > s.From {
			undetected += to - s.From
		}
	}
	completed, took := 1.0, 0.0
	if up := c.Upgrade; up != nil {
		if !up.Done || up.TimedOut {
			completed = 0
		}
		scale := win.Scale
		if scale <= 0 {
			scale = 1
		}
		end := win.Length
		if up.Done {
			end = up.DoneAt
		}
		took = (end - up.Began).Minutes() / scale
	}
	return []Indicator{
		{Name: "api-availability", Value: ratio(ok, total)},
		{Name: "api-write-availability", Value: ratio(wok, wtotal)},
		{Name: "api-latency-p99-max-seconds", Value: p99.Seconds()},
		{Name: "latency-alert-detect-minutes", Value: undetected.Minutes()},
		{Name: "apiserver-exits", Value: float64(nodes.APIServerExits)},
		{Name: "upgrade-completed", Value: completed},
		{Name: "upgrade-minutes", Value: took},
		{Name: "nodes-recreated", Value: float64(nodes.Recreated)},
		{Name: "repair-cadence-minutes", Value: math.Round(nodes.Cadence.Minutes()/1e-9) * 1e-9},
	}
}
