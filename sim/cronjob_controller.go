package sim

// The CronJob controller, both of upstream's (pkg/controller/cronjob): v1's periodic pass over
// every CronJob and v2's work queue requeued at each CronJob's next schedule; their decisions,
// missed-schedule counting, deadline misses and skips.

import (
	"strconv"
	"time"

	batchv1 "k8s.io/api/batch/v1"

	"github.com/faultline-dev/faultline/measure"
	"github.com/faultline-dev/faultline/sim/trace"
)

// Model: the CronJob controller, both generations (docs/upstream.md "CronJob controller").
//
// v1 (pkg/controller/cronjob/cronjob_controller.go, utils.go, up to 1.20): wait.Until(syncAll,
// 10s), the period counted from the end of a pass; a pass LISTs CronJobs and Jobs (paged), then
// runs syncOne for each CronJob in turn, synchronously, each API call through the controller's
// token bucket: UpdateStatus always, CREATE and a second UpdateStatus when a run is due, a DELETE
// per active Job for Replace and per finished Job past the history limits. Each syncOne uses its
// own time.Now(), so a pass that takes 25 s decides late for the CronJobs at its end.
// getRecentUnmetScheduleTimes walks sched.Next from lastScheduleTime (or now − SDS if later);
// more than 100 → FailedNeedsStart and no Job; lastScheduleTime never advances, so without
// startingDeadlineSeconds the CronJob is stuck for good (TooManyMissedStarts).
//
// v2 (cronjob_controllerv2.go): informers and a work queue with Workers workers; a sync creates
// the Job and updates status through the same kind of client, then requeues the CronJob at the
// next schedule time + 100 ms; a finished Job re-enqueues its CronJob; more than 100 missed is a
// warning and the most recent run is still created.
//
// Both: only the latest unmet time runs; scheduled + SDS < now skips it (MissSchedule); Forbid
// with an active Job skips (JobAlreadyActive) without advancing lastScheduleTime, so the run may
// still start late when the Job ends; Replace deletes active Jobs first; timeZone.
// Left out: v1's decisions use the Jobs as they are when its pass reaches the CronJob (within
// passSlice) rather than the pass's LIST snapshot; v2's per-item failure back-off (no API errors are modelled); server
// side priority and fairness; Job names are <cronjob>-<scheduled minute> as v2, not unix seconds.

func (w *World) cronPass(now time.Duration) {
	c := w.cron
	if c.cmDown {
		c.passMissed = true
		return
	}
	t := c.cronClient.list(now, len(c.cjs))
	t = c.cronClient.list(t, c.jobCount())
	w.q.AtID(t, w.hid, pack(evCronResume, 0))
}

// jobCount is how many Jobs exist: the active ones and the finished ones the history limits keep.
func (c *cronWorld) jobCount() int {
	n := 0
	for _, cj := range c.cjs {
		n += len(cj.active) + min(cj.oks, cj.okLimit) + min(cj.fails, cj.failLimit)
	}
	return n
}

// passSlice is how far ahead of the current event a v1 pass computes its syncOne calls: the pass
// is one event per slice rather than one per CronJob, and decisions use the state at most this
// stale. An outage that begins mid-pass stops the pass at the next slice.
const passSlice = time.Second

// cronResume continues the v1 pass at CronJob i.
func (w *World) cronResume(i int, now time.Duration) {
	c := w.cron
	if c.cmDown {
		c.passMissed = true // the restarted controller begins a new pass
		return
	}
	t := now
	for ; i < len(c.cjs); i++ {
		if t > now+passSlice {
			w.q.AtID(t, w.hid, pack(evCronResume, i))
			return
		}
		t = w.cronSync(c.cjs[i], t, c.cronClient, true)
	}
	w.q.AtID(t+w.m.CronJob.SyncPeriod.Duration, w.hid, pack(evCronPass, 0))
}

// cronSync decides for cj at virtual time t and issues its requests through cl; it returns when
// the last response arrived. alwaysUpdate is v1's unconditional UpdateStatus.
func (w *World) cronSync(cj *cronJob, t time.Duration, cl *apiClient, alwaysUpdate bool) time.Duration {
	c := w.cron
	for ; cj.pendingDel > 0; cj.pendingDel-- {
		t = cl.do(t)
	}
	sched, create, replace := w.cronDecide(cj, t)
	// the runs to replace, taken while all are active: finishing one may requeue the CronJob,
	// and a sync within that can finish (and retire) the others before this loop reaches them
	var victims []*cronRun
	for _, ri := range replace {
		victims = append(victims, c.run(ri))
	}
	for _, r := range victims {
		t = cl.do(t)
		emit(w, trace.JobReplaced{Job: r.name})
		w.killRunPod(r)
		w.jobFinish(r, t, false, "")
	}
	if alwaysUpdate {
		t = cl.do(t)
	}
	if create {
		r := c.addRun(&cronRun{cj: cj, sched: sched.Sub(w.in.Start), pod: -1})
		r.name = cj.name + "-" + strconv.FormatInt(sched.Unix()/60, 10)
		r.image = w.resolveImage(cj, t)
		cj.active = append(cj.active, r.idx)
		cj.lastSched = sched
		cj.nextAfter = cj.sched.Next(sched)
		t = cl.do(t)
		r.created = t
		w.q.AtID(t, w.hid, pack(evJobCreated, r.idx))
		c.created++
		c.met.Invoke.Inc()
		t = cl.do(t) // UpdateStatus: active, lastScheduleTime
	}
	return t
}

// cronDecide is syncOne's decision at virtual time t: the scheduled time to start, or why not.
func (w *World) cronDecide(cj *cronJob, t time.Duration) (sched time.Time, create bool, replace []int) {
	if cj.suspend {
		return
	}
	now := w.wall(t)
	limit := w.m.CronJob.MaxMissed
	c := w.cron
	if cj.stalled {
		return
	}
	w.deadlineMisses(cj, now, t)
	n, latest := cj.unmet(now, limit, c.v2)
	if n > limit {
		if !c.v2 {
			emit(w, trace.CronFailedNeedsStart{CronJob: cj.key, Reason: "too many missed start time (> 100)"})
			if !cj.hasSDS {
				cj.stalled = true
			}
			w.cronSkip(cj, latest, reasonError, t)
			return
		}
		if !latest.Equal(cj.lastWarn) {
			cj.lastWarn = latest
			emit(w, trace.CronTooManyMissed{CronJob: cj.key, Missed: n})
		}
	}
	if n == 0 {
		return
	}
	if cj.hasSDS && latest.Add(cj.sds).Before(now) {
		w.cronSkip(cj, latest, reasonDeadline, t)
		return
	}
	if len(cj.active) > 0 {
		switch cj.policy {
		case batchv1.ForbidConcurrent:
			w.cronSkip(cj, latest, reasonConcurrency, t)
			return
		case batchv1.ReplaceConcurrent:
			replace = append(replace, cj.active...)
		}
	}
	return latest, true, replace
}

// unmet counts the unmet schedule times up to now (getRecentUnmetScheduleTimes) and returns the
// latest. v1 stops counting past limit (the error); v2 counts them all.
func (cj *cronJob) unmet(now time.Time, limit int, v2 bool) (n int, latest time.Time) {
	if now.Before(cj.nextAfter) {
		return 0, latest
	}
	earliest := cj.lastSched
	if cj.hasSDS {
		if e := now.Add(-cj.sds); e.After(earliest) {
			earliest = e
		}
	}
	if earliest.After(now) {
		return 0, latest
	}
	for t := cj.sched.Next(earliest.In(cj.loc)); !t.IsZero() && !t.After(now); t = cj.sched.Next(t) {
		n++
		latest = t
		if n > limit && !v2 {
			break
		}
	}
	return n, latest
}

// deadlineMisses records the start times that fell out of the startingDeadlineSeconds window
// unseen. Upstream never looks at them (earliest = now − SDS), so its MissSchedule event rarely
// fires; they are the skips Lyft's platform reports with reason missedDeadline.
func (w *World) deadlineMisses(cj *cronJob, now time.Time, t time.Duration) {
	if !cj.hasSDS || now.Before(cj.nextAfter) {
		return
	}
	cut := now.Add(-cj.sds)
	from := cj.lastSched
	if cj.missCut.After(from) {
		from = cj.missCut
	}
	if !cut.After(from) {
		return
	}
	cj.missCut = cut
	for s := cj.sched.Next(from.In(cj.loc)); !s.IsZero() && !s.After(cut); s = cj.sched.Next(s) {
		w.cronSkip(cj, s, reasonDeadline, t)
	}
}

// cronSkip records a skip decision once per scheduled time and reason.
func (w *World) cronSkip(cj *cronJob, sched time.Time, why int, t time.Duration) {
	if sched.Equal(cj.lastSkip) && cj.lastSkipWhy == why {
		return
	}
	cj.lastSkip, cj.lastSkipWhy = sched, why
	c := w.cron
	c.skips[why]++
	c.met.Skip[why].Inc()
	emit(w, trace.CronRunSkipped{CronJob: cj.key, Scheduled: sched, Reason: reasonNames[why]})
	w.cronBad(cj, t)
}

// cronBad notes a failure or skip for time to detect and the alerts.
func (w *World) cronBad(cj *cronJob, t time.Duration) {
	c := w.cron
	if !c.anyBad || t < c.firstBad {
		c.anyBad, c.firstBad = true, t
	}
	if cj.alerted && !c.detected {
		s := w.m.Alerts.ScrapeInterval.Duration
		c.detected = true
		c.detectAt = (t + s - 1) / s * s
		emit(w, trace.CronAlertFires{CronJob: cj.key, At: c.detectAt})
		for i, d := range w.m.Registry.Deletions {
			if d.ResolveAtRunTime && d.FixAfterDetection.Duration > 0 {
				if fix := c.detectAt + d.FixAfterDetection.Duration; fix < c.resolveFrom[i] {
					c.resolveFrom[i] = fix
				}
			}
		}
	}
}

func (w *World) cronEnqueue(cj *cronJob, now time.Duration) {
	c := w.cron
	if c.cmDown || cj.queued {
		return
	}
	cj.queued = true
	c.queue = append(c.queue, cj.idx)
	w.cronDispatch(now)
}

// cronDispatch hands queued CronJobs to idle v2 workers.
func (w *World) cronDispatch(now time.Duration) {
	c := w.cron
	for c.idle > 0 && len(c.queue) > 0 && !c.cmDown {
		cj := c.cjs[c.queue[0]]
		c.queue = c.queue[1:]
		cj.queued = false
		c.idle--
		end := w.cronSync(cj, now, c.cronClient, false)
		w.q.Cancel(cj.timer)
		if next := cj.sched.Next(w.wall(now).In(cj.loc)); !next.IsZero() {
			at := next.Sub(w.in.Start) + w.m.CronJob.RequeueDelay.Duration
			if at <= w.in.Duration {
				cj.timer = w.q.AtID(at, w.hid, pack(evCronEnqueue, cj.idx))
			}
		}
		w.q.AtID(end, w.hid, pack(evCronWorker, 0))
	}
}

// controllerManagerDown stops the CronJob and Job controllers (a fault).
func (w *World) controllerManagerDown() {
	if c := w.cron; c != nil {
		c.cmDown = true
		emit(w, trace.ControllerManagerDown{})
	}
}

func (w *World) controllerManagerUp(now time.Duration) {
	c := w.cron
	if c == nil || !c.cmDown {
		return
	}
	c.cmDown = false
	emit(w, trace.ControllerManagerUp{})
	if c.v2 {
		// syncs in flight when it went down complete (their worker events return the workers)
		c.queue = c.queue[:0]
		for _, cj := range c.cjs {
			cj.queued = false
			w.cronEnqueue(cj, now)
		}
	} else if c.passMissed {
		c.passMissed = false
		w.q.AtID(now, w.hid, pack(evCronPass, 0))
	}
	// the Job controller catches up; its in-memory back-off is lost
	for _, r := range c.runs {
		if r != nil && r.backlog && !r.done {
			r.backlog = false
			w.jobSync(r, now)
		}
	}
}

// run is run index i, nil once retired.
func (c *cronWorld) run(i int) *cronRun {
	if i < c.runBase || i >= c.runBase+len(c.runs) {
		return nil
	}
	return c.runs[i-c.runBase]
}

// addRun gives r the next run index and keeps it.
func (c *cronWorld) addRun(r *cronRun) *cronRun {
	r.idx = c.runBase + len(c.runs)
	c.runs = append(c.runs, r)
	return r
}

// retireRun folds a finished run into the summary the indicators are computed from and drops
// it: nothing refers to it any more (it left its CronJob's active list, its deadline timer is
// cancelled, its pod released; events still queued for its index find no run and do nothing, as
// they did for a finished one). The history limits need only the counts (cronJob.oks, fails).
// A run an extension created stays: the extension may still delete its Job, which changes its
// record.
func (w *World) retireRun(r *cronRun) {
	c := w.cron
	if r.ext != nil || w.retain {
		return
	}
	if w.inv != nil && w.checkRetired(r) {
		return
	}
	rec := r.record()
	c.folded.Add(&rec, w.window())
	c.runs[r.idx-c.runBase] = nil
	n := 0
	for n < len(c.runs) && c.runs[n] == nil {
		n++
	}
	c.runs = c.runs[n:]
	c.runBase += n
}

// record is the run as package measure observes it: every run the simulator keeps has its Job;
// the later steps once the app started.
func (r *cronRun) record() measure.CronRun {
	run := measure.CronRun{CronJob: r.cj.key, Scheduled: r.sched, JobCreated: r.created, Seen: measure.JobCreated,
		Deleted: r.ext.dropped()}
	if r.started {
		run.PodCreated, run.PodBound, run.AppRunning = r.podCreated, r.bound, r.app
		run.Seen |= measure.PodCreated | measure.PodBound | measure.AppRunning
	}
	return run
}
