package sim

// The CronJob controller, both of upstream's (pkg/controller/cronjob): v1's periodic pass over
// every CronJob and v2's work queue requeued at each CronJob's next schedule; their decisions,
// missed-schedule counting, deadline misses and skips.

import (
	"strconv"
	"time"

	batchv1 "k8s.io/api/batch/v1"

	"github.com/faultline-dev/faultline/sim/engine"
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

// cronJobController is the CronJob controller the cluster runs, v1 or v2: it creates the Jobs
// of due schedules through its own rate-limited client (cronSyncer) and handles its own events.
type cronJobController interface {
	engine.Handler
	// start registers the controller's handler on the run's queue and begins: v1's first pass,
	// v2's informer list.
	start()
	// handler is the controller's handler in the queue.
	handler() engine.HandlerID
	// up restarts the controller after a controller-manager outage.
	up(now time.Duration)
	// jobFinished is the Job informer's update for a finished Job of cj (v2 requeues cj).
	jobFinished(cj *cronJob, now time.Duration)
	// apiClient is the controller's client (its throttling is an indicator).
	apiClient() *apiClient
}

// The CronJob controllers' event kinds (v1 and v2 each use their own two), packed with an index.
const (
	cronEvPass    uint32 = iota + 1 // v1 syncAll: a pass starts
	cronEvResume                    // v1 syncAll: the pass goes on at CronJob index i
	cronEvEnqueue                   // v2: a CronJob's requeue timer or a watch event adds it to the work queue
	cronEvWorker                    // v2: a worker finished its sync and takes the next key
)

var cronEventNames = [...]string{cronEvPass: "cron-pass", cronEvResume: "cron-resume",
	cronEvEnqueue: "cron-enqueue", cronEvWorker: "cron-worker"}

// cronSyncer is what both controllers share: syncOne's decision for one CronJob and its
// requests through the controller's client, creating Jobs (handed to the Job controller) and
// deleting them (Replace).
type cronSyncer struct {
	*env
	c      *cronWorld
	hid    engine.HandlerID
	client *apiClient
	v2     bool
}

func newCronSyncer(c *cronWorld, v2 bool) cronSyncer {
	a := c.m.APIServer
	return cronSyncer{env: c.env, c: c, v2: v2, client: newAPIClient(a, a.ControllerManagerQPS, a.ControllerManagerBurst)}
}

func (s *cronSyncer) handler() engine.HandlerID { return s.hid }
func (s *cronSyncer) apiClient() *apiClient     { return s.client }

// cronJobControllerV1 is v1's syncAll poller.
type cronJobControllerV1 struct {
	cronSyncer
	passMissed bool // a pass fell in a controller-manager outage
}

func newCronJobControllerV1(c *cronWorld) *cronJobControllerV1 {
	return &cronJobControllerV1{cronSyncer: newCronSyncer(c, false)}
}

func (v *cronJobControllerV1) start() {
	v.hid = v.q.Register(v)
	v.q.AtID(0, v.hid, pack(cronEvPass, 0))
}

// Fire runs v1's events.
func (v *cronJobControllerV1) Fire(now time.Duration, arg uint32) {
	switch kind, i := unpack(arg); kind {
	case cronEvPass:
		v.pass(now)
	case cronEvResume:
		v.resume(i, now)
	}
}

// pass starts a syncAll pass: the LISTs, then syncOne for each CronJob in turn (resume).
func (v *cronJobControllerV1) pass(now time.Duration) {
	c := v.c
	if c.cmDown {
		v.passMissed = true
		return
	}
	t := v.client.list(now, len(c.cjs))
	t = v.client.list(t, c.jobCount())
	v.q.AtID(t, v.hid, pack(cronEvResume, 0))
}

// passSlice is how far ahead of the current event a v1 pass computes its syncOne calls: the pass
// is one event per slice rather than one per CronJob, and decisions use the state at most this
// stale. An outage that begins mid-pass stops the pass at the next slice.
const passSlice = time.Second

// resume continues the v1 pass at CronJob i.
func (v *cronJobControllerV1) resume(i int, now time.Duration) {
	c := v.c
	if c.cmDown {
		v.passMissed = true // the restarted controller begins a new pass
		return
	}
	t := now
	for ; i < len(c.cjs); i++ {
		if t > now+passSlice {
			v.q.AtID(t, v.hid, pack(cronEvResume, i))
			return
		}
		t = v.sync(c.cjs[i], t, true)
	}
	v.q.AtID(t+v.m.CronJob.SyncPeriod.Duration, v.hid, pack(cronEvPass, 0))
}

// up begins a new pass if one was missed.
func (v *cronJobControllerV1) up(now time.Duration) {
	if v.passMissed {
		v.passMissed = false
		v.q.AtID(now, v.hid, pack(cronEvPass, 0))
	}
}

// jobFinished: v1 sees finished Jobs at its next pass.
func (v *cronJobControllerV1) jobFinished(*cronJob, time.Duration) {}

// sync decides for cj at virtual time t and issues its requests through the controller's client;
// it returns when the last response arrived. alwaysUpdate is v1's unconditional UpdateStatus.
func (s *cronSyncer) sync(cj *cronJob, t time.Duration, alwaysUpdate bool) time.Duration {
	c, cl := s.c, s.client
	for ; cj.pendingDel > 0; cj.pendingDel-- {
		t = cl.do(t)
	}
	sched, create, replace := s.decide(cj, t)
	// the runs to replace, taken while all are active: finishing one may requeue the CronJob,
	// and a sync within that can finish (and retire) the others before this loop reaches them
	var victims []*cronRun
	for _, ri := range replace {
		victims = append(victims, c.run(ri))
	}
	for _, r := range victims {
		t = cl.do(t)
		envEmit(s.env, trace.JobReplaced{Job: r.name})
		c.jobs.delete(r, t)
	}
	if alwaysUpdate {
		t = cl.do(t)
	}
	if create {
		r := c.addRun(&cronRun{cj: cj, sched: sched.Sub(s.in.Start), pod: -1})
		r.name = runName(cj.name, sched)
		r.image = c.reg.resolve(cj.image, t)
		cj.active = append(cj.active, r.idx)
		cj.scheduled(sched, s.in.Start)
		t = cl.do(t)
		r.created = t
		c.jobs.createdAt(t, r)
		c.created++
		c.met.Invoke.Inc()
		t = cl.do(t) // UpdateStatus: active, lastScheduleTime
	}
	return t
}

// runName is the Job's name for a run of the CronJob named name scheduled at sched:
// <cronjob>-<scheduled minute>, built in one allocation.
func runName(name string, sched time.Time) string {
	var buf [96]byte
	b := append(buf[:0], name...)
	b = append(b, '-')
	return string(strconv.AppendInt(b, sched.Unix()/60, 10))
}

// decide is syncOne's decision at virtual time t: the scheduled time to start, or why not.
func (s *cronSyncer) decide(cj *cronJob, t time.Duration) (sched time.Time, create bool, replace []int) {
	if cj.suspend {
		return
	}
	if t < cj.nextAt && s.m.CronJob.MaxMissed >= 0 {
		// nothing is due before nextAfter: unmet finds none (and deadlineMisses has nothing
		// to record), so the decision is none, as below
		return
	}
	now := s.wall(t)
	limit := s.m.CronJob.MaxMissed
	c := s.c
	if cj.stalled {
		return
	}
	c.deadlineMisses(cj, now, t)
	n, latest := cj.unmet(now, limit, s.v2)
	if n > limit {
		if !s.v2 {
			envEmit(s.env, trace.CronFailedNeedsStart{CronJob: cj.key, Reason: "too many missed start time (> 100)"})
			if !cj.hasSDS {
				cj.stalled = true
			}
			c.cronSkip(cj, latest, reasonError, t)
			return
		}
		if !latest.Equal(cj.lastWarn) {
			cj.lastWarn = latest
			envEmit(s.env, trace.CronTooManyMissed{CronJob: cj.key, Missed: n})
		}
	}
	if n == 0 {
		return
	}
	if cj.hasSDS && latest.Add(cj.sds).Before(now) {
		c.cronSkip(cj, latest, reasonDeadline, t)
		return
	}
	if len(cj.active) > 0 {
		switch cj.policy {
		case batchv1.ForbidConcurrent:
			c.cronSkip(cj, latest, reasonConcurrency, t)
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
func (c *cronWorld) deadlineMisses(cj *cronJob, now time.Time, t time.Duration) {
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
		c.cronSkip(cj, s, reasonDeadline, t)
	}
}
