package realrun

import (
	"maps"
	"slices"
	"time"

	corev1 "k8s.io/api/core/v1"

	"github.com/faultline-dev/faultline/measure"
	"github.com/faultline-dev/faultline/sim"
)

// skipSeen is a skip the CronJob controller reported (an Event), first at at.
type skipSeen struct {
	cronJob string // namespace/name
	at      time.Time
}

// failuresAndAlerts fills in what the simulator records of bad runs and alerts, from the real
// objects, as the simulator's CronJob model records them (sim/cron.go, cronBad and jobFinished):
//   - a bad run is a Job observed Failed (at that observation) or a skip Event (at its first
//     timestamp); FirstBad is the earliest;
//   - the failure span runs from the scheduled time of the first Job to fail to the last failure;
//   - detection is the models' alert: a watched CronJob (annotation faultline.dev/alert: "true")
//     with a bad run fires at the next scrape (models.alerts.scrapeInterval, offsets from the
//     run's start, which is in phase with spec.start).
//
// Offsets are from t0.
func (rec *recorder) failuresAndAlerts(c *measure.CronObservations, t0 time.Time, skips []skipSeen, cronJobs []cronJob, scrape time.Duration) {
	watched := map[string]bool{}
	for _, cj := range cronJobs {
		if cj.cj.Annotations[sim.AnnAlert] == "true" {
			watched[namespaceOr(cj.cj.Namespace)+"/"+cj.cj.Name] = true
		}
	}
	var firstWatched time.Duration
	anyWatched := false
	bad := func(cronJob string, at time.Duration) {
		if !c.AnyBad || at < c.FirstBad {
			c.AnyBad, c.FirstBad = true, at
		}
		if watched[cronJob] && (!anyWatched || at < firstWatched) {
			anyWatched, firstWatched = true, at
		}
	}
	rec.mu.Lock()
	var firstFailedAt time.Time
	for _, k := range slices.Sorted(maps.Keys(rec.runs)) {
		run := rec.runs[k]
		if !run.failed || run.failedAt.IsZero() {
			continue
		}
		at := run.failedAt.Sub(t0)
		if !c.AnyFailure || run.failedAt.Before(firstFailedAt) {
			c.AnyFailure, firstFailedAt, c.FirstFailure = true, run.failedAt, run.sched.Sub(t0)
		}
		c.LastFailure = max(c.LastFailure, at)
		bad(run.cronJob, at)
	}
	rec.mu.Unlock()
	for _, s := range skips {
		if !s.at.IsZero() {
			bad(s.cronJob, max(0, s.at.Sub(t0)))
		}
	}
	if anyWatched && scrape > 0 {
		c.Detected = true
		c.DetectedAt = (firstWatched + scrape - 1) / scrape * scrape
	}
}

// pullFailed notes a pod whose container waits on a failed image pull (the caller holds mu).
func (rec *recorder) pullFailed(p *corev1.Pod) {
	for _, cs := range slices.Concat(p.Status.InitContainerStatuses, p.Status.ContainerStatuses) {
		if w := cs.State.Waiting; w != nil && (w.Reason == "ErrImagePull" || w.Reason == "ImagePullBackOff") {
			rec.pullFail[p.UID] = true
		}
	}
}

// pullFailures is how many pods were seen failing to pull.
func (rec *recorder) pullFailures() int {
	rec.mu.Lock()
	defer rec.mu.Unlock()
	return len(rec.pullFail)
}
