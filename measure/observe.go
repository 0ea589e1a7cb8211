package measure

import "time"

// Indicator is one measured figure of a run. Objectives in a scenario name indicators.
type Indicator struct {
	Name  string  `json:"name"`
	Value float64 `json:"value"`
}

// Window is the stretch of a run that is measured. Every time in Observations is an offset from
// Start; Start is the wall-clock instant offset 0 stands for (CronJob schedules are evaluated on
// the wall clock).
type Window struct {
	Start  time.Time
	Length time.Duration
	// Scale is how much the run compressed the scenario's times (a real run's TimeScale); it
	// scales MissedGrace. 0 means 1.
	Scale float64
}

// MissedGrace leaves the scheduled times of a run's last minutes out of missed-schedules: a
// controller may not have decided them yet when the run ends.
const MissedGrace = 10 * time.Minute

// missedCutoff is the offset before which a scheduled time must be decided.
func (w Window) missedCutoff() time.Duration {
	s := w.Scale
	if s <= 0 {
		s = 1
	}
	return w.Length - time.Duration(float64(MissedGrace)*s)
}

// Observations is what one run of one world saw, typed; Compute turns it into indicators.
type Observations struct {
	World World
	// Scopes are the parts the scenario holds (Cron, Network, ...): what it is expected to report,
	// measured or not.
	Scopes Scope

	// Requests is the traffic the scenario's loads offered and what succeeded.
	Requests Requests
	// Panics are the kernel panics: how many, on how many distinct nodes, the first one's time.
	Panics        int
	NodesPanicked int
	FirstPanic    time.Duration
	PodsLost      int // running pods a node took with it when it went down
	Evictions     int // pods deleted by taint-based eviction
	MaxColocated  int // most replicas of one multi-replica Deployment bound to one node at once
	Outage        time.Duration
	Degraded      time.Duration
	Cron          *CronObservations // nil without CronJobs

	// The indicators of models only the simulator has (the network path, rollouts, the control
	// plane), computed by those models in registry order; nil where the scope is absent.
	Network, Rollout, ControlPlane []Indicator

	// Omit are indicators this run cannot measure beyond what the registry says, with why (a
	// real run of CronJobs whose failures only the simulator plays).
	Omit map[string]string
}

// Requests is what the loads offered and what succeeded, weighted by rate.
type Requests struct {
	Offered, Succeeded float64
	// PerTarget lists the loads with a request rate, in the scenario's order.
	PerTarget []TargetRequests
}

// TargetRequests is one load target's traffic.
type TargetRequests struct {
	Target             string
	Offered, Succeeded float64
}

// CronObservations is what happened to the CronJobs.
type CronObservations struct {
	CronJobs []CronJobObservation
	Runs     []CronRun
	// Skipped counts skip decisions (concurrencyPolicy, missedDeadline, error), once per CronJob
	// and scheduled time.
	Skipped int
	// FailedRuns counts Jobs that failed; FailedAttempts their failed pods, retries included.
	FailedRuns, FailedAttempts int

	// Only the simulator observes these (see the registry's Unmeasurable).
	FirstBad     time.Duration // the first failed or skipped run
	AnyBad       bool
	Detected     bool // an alert fired on a watched CronJob ...
	DetectedAt   time.Duration
	AnyFailure   bool
	FirstFailure time.Duration // scheduled time of the first failed run
	LastFailure  time.Duration // end of the last failed run
	ThrottleWait time.Duration // the CronJob controller's client-side rate-limit wait, in all
	ThrottleFor  int           // ... over this many requests
}

// CronJobObservation is one CronJob: when it runs and since when its scheduled times are due.
type CronJobObservation struct {
	Key string // namespace/name
	// Next is its schedule (Schedule.Next, or a faster equivalent); nil: nothing is due.
	Next func(time.Time) time.Time
	// DueFrom is the offset from which its scheduled times are due (when it came to exist).
	DueFrom time.Duration
	Stalled bool // the v1 controller gave up on it
}

// Step is a step of a cron run, in the order they happen.
type Step uint8

const (
	JobCreated Step = 1 << iota
	PodCreated
	PodBound
	AppRunning
)

// CronRun is one Job of a CronJob, with when each step was observed (offsets from the window's
// start; Seen says which were).
type CronRun struct {
	CronJob    string
	Scheduled  time.Duration // T1
	JobCreated time.Duration
	PodCreated time.Duration
	PodBound   time.Duration
	AppRunning time.Duration // T2
	Seen       Step
	// Deleted: the Job was deleted before its app started, so its scheduled time got no run.
	Deleted bool
}
