package measure

import (
	"slices"
	"time"
)

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
	// Nodes are the nodes' transitions (created, Ready, NotReady, deleted) during the window, in
	// the order they happened; the nodes the run started with are not created in it.
	Nodes []NodeTransition
	// APIServerExits are kube-apiserver processes that exited on their own during the window.
	APIServerExits []APIServerExit

	// Net counts the requests on the network path; nil where it was not measured. Compute turns
	// it into the Network indicators (NetworkCounts.Indicators), in both worlds alike.
	Net *NetworkCounts
	// Rollouts are the Deployment rolling updates of spec.changes, in start order; with the
	// Rollout scope, Compute turns them into the Rollout indicators (RolloutIndicators).
	Rollouts []RolloutObservation
	// ControlPlane is what the run saw of its control plane (the API requests, the latency
	// alert, the upgrade); nil where it was not observed. Compute turns it, with Nodes and
	// APIServerExits, into the ControlPlane indicators (ControlPlaneIndicators), in both worlds
	// alike.
	ControlPlane *ControlPlaneObservations

	// Omit are indicators this run cannot measure beyond what the registry says, with why (a
	// real run of CronJobs whose failures only the simulator plays).
	Omit map[string]string
}

// NodeState is what a node became in a NodeTransition.
type NodeState uint8

const (
	// NodeCreated: the Node object came to exist (auto-repair's fresh VM registered).
	NodeCreated NodeState = iota + 1
	// NodeReady: its Ready condition turned True.
	NodeReady
	// NodeNotReady: its Ready condition turned False or Unknown (the node lifecycle controller
	// gave up on its heartbeats, or the kubelet reported it).
	NodeNotReady
	// NodeDeleted: the Node object was deleted (auto-repair deletes a node to recreate it under
	// the same name).
	NodeDeleted
)

// NodeTransition is one change of a node, at an offset from the window's start.
type NodeTransition struct {
	At   time.Duration
	Node string
	To   NodeState
}

// APIServerExit is a kube-apiserver process exiting on its own (its client-CA post-start hook
// could not write its ConfigMap, it crashed), at an offset from the window's start; a process
// the run stopped (an upgrade replacing it) is not one.
type APIServerExit struct {
	At       time.Duration
	Instance string
	Reason   string
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
	// Indicator is the name of the target's indicator, PerLoadPrefix+Target, when the caller
	// keeps it (a Monte Carlo replay names the same targets for every seed); "" builds it.
	Indicator string
}

// CronObservations is what happened to the CronJobs.
type CronObservations struct {
	CronJobs []CronJobObservation
	Runs     []CronRun
	// Folded are runs already summarised as they finished, nil when every run is in Runs: a
	// world that runs for a simulated year folds its finished runs rather than keep a record of
	// each (CronRunSummary). Compute counts Folded and Runs together.
	Folded *CronRunSummary
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

// The series of a cron run's durations that Compute takes quantiles of.
const (
	seriesCreate = iota // scheduled → Job created, every run
	seriesDelay         // scheduled → app running (the start delay), runs started in the window
	seriesToPod         // Job → pod, started runs with every step seen
	seriesToBind        // pod → bound
	seriesToRun         // bound → app running
	nSeries
)

// CronRunSummary is cron runs folded into what Compute needs of them: how many count against the
// due times, and the durations of their steps. It is exact: every indicator computed from a
// summary equals the one computed from the same runs kept one by one (Sample keeps every value).
// A simulated year of 500 CronJobs (10.5 million runs) costs about 8 bytes a run for the two
// series whose values are mostly distinct (Job creation, start delay: half or more of the values
// differ) and little for the other three, which take few distinct values; the runs themselves
// are not kept. Exact values are cheap enough at that scale, so no approximate sketch (and no
// error bound) is needed.
type CronRunSummary struct {
	got    int
	series [nSeries]Sample
}

// Add folds one finished run (one whose record will not change) in. win is the window Compute
// will be given.
func (s *CronRunSummary) Add(r *CronRun, win Window) {
	if foldRun(r, win, win.missedCutoff(), func(i int, v float32) { s.series[i].Add(v) }) {
		s.got++
	}
}

// foldRun passes each duration run r contributes to add, by series, and reports whether it
// counts against the due times (scheduled before the cutoff and not deleted). Compute and
// CronRunSummary both classify runs here, so that they cannot differ.
func foldRun(r *CronRun, win Window, cutoff time.Duration, add func(series int, v float32)) (got bool) {
	secs := func(d time.Duration) float32 { return float32(d.Seconds()) }
	const steps = JobCreated | PodCreated | PodBound | AppRunning
	got = r.Scheduled < cutoff && !r.Deleted
	if r.Seen&JobCreated != 0 {
		add(seriesCreate, secs(r.JobCreated-r.Scheduled))
	}
	if r.Seen&AppRunning == 0 || r.AppRunning > win.Length {
		return got
	}
	add(seriesDelay, secs(r.AppRunning-r.Scheduled))
	// the steps, where each was observed (a step seen in the same event as the next counts as
	// taking no time)
	if r.Seen&steps == steps {
		add(seriesToPod, secs(max(0, r.PodCreated-r.JobCreated)))
		add(seriesToBind, secs(max(0, r.PodBound-r.PodCreated)))
		add(seriesToRun, secs(max(0, r.AppRunning-r.PodBound)))
	}
	return got
}

// Sample is a multiset of float32 values that answers nearest-rank quantiles exactly: the same
// value Quantile gives over the same values. It is not an approximate sketch, so indicators
// computed from it need no error bound. While few of its values are distinct it keeps each
// distinct value once with a count (the pod-binding and image-pull steps of cron runs take a few
// dozen values over a year); once more than a quarter of at least sampleDistinct values are
// distinct, a count saves nothing and it keeps the values one by one, 4 bytes each.
type Sample struct {
	counts map[float32]uint32 // while counting
	raw    []float32          // once the values are mostly distinct
	n      int
}

// sampleDistinct is how many distinct values a Sample counts before it may switch to keeping
// values one by one.
const sampleDistinct = 1024

// Add puts x in the sample.
func (s *Sample) Add(x float32) {
	s.n++
	if s.raw != nil {
		s.raw = append(s.raw, x)
		return
	}
	if s.counts == nil {
		s.counts = map[float32]uint32{}
	}
	s.counts[x]++
	if len(s.counts) > sampleDistinct && len(s.counts) > s.n/4 {
		keys := s.keys()
		s.raw = make([]float32, 0, 2*s.n)
		for _, k := range keys {
			for range s.counts[k] {
				s.raw = append(s.raw, k)
			}
		}
		s.counts = nil
	}
}

// Len is how many values the sample holds.
func (s *Sample) Len() int { return s.n }

func (s *Sample) keys() []float32 {
	keys := make([]float32, 0, len(s.counts))
	for k := range s.counts {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	return keys
}

// Quantile is the q-quantile by nearest rank (Quantile's rule) of the sample's values together
// with extra, which it sorts in place; the sample's own values may be reordered too.
func (s *Sample) Quantile(q float64, extra []float32) float64 {
	total := s.n + len(extra)
	if total == 0 {
		return 0
	}
	slices.Sort(extra)
	rank := int(q*float64(total)+0.999999) - 1
	rank = max(0, min(rank, total-1))
	// the sample's values in order, as (value, count) runs
	var vals []float32
	var cnt func(i int) int
	if s.raw != nil {
		sortFloat32s(s.raw)
		vals, cnt = s.raw, func(int) int { return 1 }
	} else {
		vals = s.keys()
		cnt = func(i int) int { return int(s.counts[vals[i]]) }
	}
	i, j := 0, 0
	for {
		if j < len(extra) && (i >= len(vals) || extra[j] < vals[i]) {
			if rank == 0 {
				return float64(extra[j])
			}
			rank--
			j++
			continue
		}
		c := cnt(i)
		if rank < c {
			return float64(vals[i])
		}
		rank -= c
		i++
	}
}
