package cron

import (
	"slices"
	"time"

	batchv1 "k8s.io/api/batch/v1"

	"github.com/faultline-dev/faultline/internal/cronmetrics"
)

// Skip reasons, as Lyft's scheduling-decision.skip metric labels them.
const (
	ReasonConcurrencyPolicy = cronmetrics.ReasonConcurrencyPolicy
	ReasonMissedDeadline    = cronmetrics.ReasonMissedDeadline
	ReasonError             = cronmetrics.ReasonError
)

// maxUnmet bounds how many unmet times Decide walks: past it the count is a lower bound. Upstream
// stops at 100 and (v1) gives up on the CronJob; the platform only stops counting.
const maxUnmet = 100_000

// State is what Decide needs beyond the CronJob and the clock.
type State struct {
	// Last is the latest scheduled time already decided (AnnLastSchedule); nothing at or before it
	// is owed. Zero: the CronJob was never seen; Decide starts owing from now.
	Last time.Time
	// Active are the names of the CronJob's Jobs that have not finished.
	Active []string
	// Unstarted are the active Jobs the Job controller has not picked up (no status.startTime).
	Unstarted []string
}

// Decision is what to do for one CronJob now.
type Decision struct {
	// Run is the scheduled time (T1) of the Job to create now; zero for none.
	Run time.Time
	// Missed counts unmet scheduled times older than the latest: they were never started and are
	// reported as skips with reason missedDeadline (the stall upstream hides).
	Missed int
	// Skip is why the latest unmet time does not run ("" when it runs or nothing is due), and
	// Skipped that time.
	Skip    string
	Skipped time.Time
	// Delete are active Jobs to delete before creating Run (concurrencyPolicy Replace).
	Delete []string
	// Last is the new AnnLastSchedule.
	Last time.Time
	// Next is the next scheduled time after now: sync again then. Zero: never.
	Next time.Time
}

// Decide is one scheduling decision for cj at now, with sch its parsed schedule.
//
// Every unmet scheduled time in (st.Last, now] is accounted for: all but the latest are Missed;
// an active Job the Job controller has not even picked up when the next run is due (status
// startTime unset: kube-controller-manager is down or behind) is superseded: deleted and counted
// as Missed, so runs do not pile up behind a stopped Job controller and start all at once when it
// returns (the platform runs outside kube-controller-manager, unlike upstream's CronJob
// controller, which stops with the Job controller);
// the latest is skipped when it is older than startingDeadlineSeconds (missedDeadline) or when
// concurrencyPolicy Forbid finds an active Job (concurrencyPolicy), and otherwise runs, after the
// active Jobs are deleted for Replace. Unlike upstream a skip is final: Last advances past it, so a
// Forbid skip is not started late when the active Job ends. A suspended-by-platform CronJob
// (AnnPaused) owes nothing while paused.
func Decide(cj *batchv1.CronJob, sch Schedule, st State, now time.Time) Decision {
	d := Decision{Last: st.Last}
	if st.Last.IsZero() || cj.Annotations[AnnPaused] == "true" {
		d.Last = now
		if cj.Annotations[AnnPaused] == "true" {
			return d // an update of the annotation requeues the CronJob
		}
		d.Next = sch.Next(now)
		return d
	}
	var latest time.Time
	n := 0
	for t := sch.Next(st.Last); !t.IsZero() && !t.After(now); t = sch.Next(t) {
		n++
		latest = t
		if n >= maxUnmet {
			// count on at the next sync, at once; the latest time is still ahead
			d.Missed, d.Last, d.Next = n, t, now
			return d
		}
	}
	d.Next = sch.Next(now)
	if n == 0 {
		return d
	}
	d.Missed = n - 1
	d.Last = latest
	active := st.Active
	if len(st.Unstarted) > 0 {
		d.Delete = append(d.Delete, st.Unstarted...)
		d.Missed += len(st.Unstarted)
		active = nil
		for _, a := range st.Active {
			if !slices.Contains(st.Unstarted, a) {
				active = append(active, a)
			}
		}
	}
	if sds := cj.Spec.StartingDeadlineSeconds; sds != nil && latest.Add(time.Duration(*sds)*time.Second).Before(now) {
		d.Skip, d.Skipped = ReasonMissedDeadline, latest
		return d
	}
	if len(active) > 0 {
		switch cj.Spec.ConcurrencyPolicy {
		case batchv1.ForbidConcurrent:
			d.Skip, d.Skipped = ReasonConcurrencyPolicy, latest
			return d
		case batchv1.ReplaceConcurrent:
			d.Delete = append(d.Delete, active...)
		}
	}
	d.Run = latest
	return d
}
