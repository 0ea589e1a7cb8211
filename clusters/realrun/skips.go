package realrun

import (
	"time"

	corev1 "k8s.io/api/core/v1"

	"github.com/faultline-dev/faultline/measure"
)

// The CronJob controller reports a skip (JobAlreadyActive, MissSchedule) as an Event, and the
// event recorder folds repeats of one reason and message into one Event whose count goes up. The
// controller re-syncs a CronJob whenever one of its Jobs changes, and each re-sync of a scheduled
// time it skips reports again: the count is reports, not skipped scheduled times (measured on
// kind: 216 reports for 52 skipped times). The simulator counts a skip per scheduled time, so the
// real count is taken per scheduled time too: the schedule's instants from the one the first
// report refers to up to the last report's, less those that got a Job.

// maxSkipTicks bounds the schedule instants one Event is checked against (a minute schedule
// over a week).
const maxSkipTicks = 10_080

// skippedTimes is how many scheduled times of a CronJob (schedule s, scheduled times that got a
// Job in ran) the skip Event e stands for: at least one, at most its count.
func skippedTimes(e *corev1.Event, s measure.Schedule, ran map[time.Time]bool) int {
	count := int(max(e.Count, 1))
	first, last := e.FirstTimestamp.Time, e.LastTimestamp.Time
	if first.IsZero() || s.Spec == nil {
		return count
	}
	if last.Before(first) {
		last = first
	}
	// the instant the first report refers to: the latest scheduled time at or before it (the
	// timestamps have whole seconds, the schedules whole minutes)
	tick, ok := latestTick(s, first)
	if !ok {
		return count
	}
	n := 0
	for i := 0; i < maxSkipTicks && !tick.After(last); i++ {
		if !ran[tick.UTC()] {
			n++
		}
		tick = s.Next(tick)
	}
	return min(max(n, 1), count)
}

// latestTick is the latest instant of s at or before t, looked for up to a day back.
func latestTick(s measure.Schedule, t time.Time) (time.Time, bool) {
	var found time.Time
	for tick, i := s.Next(t.Add(-24*time.Hour)), 0; !tick.After(t) && i < 24*60+1; tick, i = s.Next(tick), i+1 {
		found = tick
	}
	return found, !found.IsZero()
}

// scheduledRuns is, per CronJob (namespace/name), the scheduled times that got a Job.
func (rec *recorder) scheduledRuns() map[string]map[time.Time]bool {
	rec.mu.Lock()
	defer rec.mu.Unlock()
	out := map[string]map[time.Time]bool{}
	for _, c := range rec.runs {
		if out[c.cronJob] == nil {
			out[c.cronJob] = map[time.Time]bool{}
		}
		out[c.cronJob][c.sched.UTC()] = true
	}
	return out
}
