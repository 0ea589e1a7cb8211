package sim

import (
	"hash/fnv"
	"math/rand/v2"
	"path"
	"strconv"
	"strings"
	"time"
	_ "time/tzdata" // CronJob timeZone: the same zone data on every machine

	"github.com/robfig/cron/v3"
	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"

	"github.com/faultline-dev/faultline/internal/cronmetrics"
	"github.com/faultline-dev/faultline/measure"
	"github.com/faultline-dev/faultline/sim/cluster"
	"github.com/faultline-dev/faultline/sim/engine"
	"github.com/faultline-dev/faultline/sim/trace"
)

// Annotations a scenario puts on a CronJob for what its manifest cannot say.
const (
	// AnnRunTime is the mean run time of the app container (a duration; runs are drawn uniformly
	// within ±50 % of it from the CronJob's random stream). Default 30s.
	AnnRunTime = "faultline.dev/run-time"
	// AnnFailureRatio is the probability that one app container run exits non-zero. Default 0.
	AnnFailureRatio = "faultline.dev/failure-ratio"
	// AnnAlert "true" marks a CronJob watched by the default alerts (skip rate > 0, failure rate > 0).
	AnnAlert = "faultline.dev/alert"
)

// skip reasons, as Lyft's scheduling-decision.skip metric labels them (indexes of
// cronmetrics.Reasons).
const (
	reasonConcurrency = iota
	reasonDeadline
	reasonError
)

var reasonNames = cronmetrics.Reasons

// cronJob is a CronJob reduced to what the controllers need, with its status.
type cronJob struct {
	idx         int
	key         string // namespace/name
	name, ns    string
	sched       *cronSched
	loc         *time.Location
	sds         time.Duration
	hasSDS      bool
	policy      batchv1.ConcurrencyPolicy
	suspend     bool
	podSpec     *corev1.PodSpec
	req         cluster.Resources // cluster.PodRequests(podSpec), the same for every pod
	nonZero     cluster.Resources
	limCPU      int64
	labels      map[string]string
	image       string // the app container's image (containers[0])
	alwaysPull  bool
	backoff     int
	deadline    time.Duration // activeDeadlineSeconds, 0: none
	runMean     time.Duration
	failRatio   float64
	alerted     bool
	okLimit     int
	failLimit   int
	rng         *rand.Rand
	lastSched   time.Time // status.lastScheduleTime
	nextAfter   time.Time // sched.Next(lastSched): nothing is due before it
	active      []int     // run indices (status.active)
	stalled     bool      // v1 TooManyMissedStarts without a deadline: stuck for good
	lastSkip    time.Time
	lastSkipWhy int
	lastWarn    time.Time
	missCut     time.Time // deadline misses are recorded up to here
	pendingDel  int       // finished Jobs past the history limits, deleted at the next sync
	oks, fails  int
	queued      bool // v2: in the work queue
	claimed     bool // an extension schedules it (extension.go)
	timer       engine.Timer
}

// cronRun is one Job created by the CronJob controller, with its timestamps (virtual time).
type cronRun struct {
	idx        int
	cj         *cronJob
	name       string
	image      string
	sched      time.Duration // T1
	created    time.Duration // the Job exists
	podCreated time.Duration
	admitted   time.Duration
	bound      time.Duration
	pulled     time.Duration
	sidecars   time.Duration
	app        time.Duration // T2
	started    bool          // T2 recorded (later restarts ignored, like Lyft's lock)
	done       bool
	pod        int // current pod, -1 none
	podFails   int
	pulls      int // failed pull attempts of the current pod
	exitFail   bool
	backlog    bool // waiting for the Job controller (controller-manager down)
	deadlineT  engine.Timer
	ext        *extRun // a Job an extension created (extension.go)
}

// RunRecord is one cron run's start-delay decomposition; the parts add up to T2 − T1.
type RunRecord struct {
	CronJob   string
	Scheduled time.Time     // T1
	Delay     time.Duration // T2 − T1
	// Controller is T1 → Job created (CronJob controller decision, its rate-limited client).
	Controller time.Duration
	// JobController is Job created → pod created (including pod-failure back-offs).
	JobController time.Duration
	Admission     time.Duration
	Scheduling    time.Duration
	ImagePull     time.Duration // including ErrImagePull back-offs
	Sidecars      time.Duration
	AppStart      time.Duration
}

type nodeImages struct {
	present  map[string]time.Duration // image → when it is on the node
	pullFree time.Duration            // serializeImagePulls: the puller is busy until then
	bucket   *tokenBucket             // registryPullQPS / registryBurst
}

// cronWorld is the batch side of the cluster: CronJob controller (v1 or v2), Job controller,
// the pod start pipeline of Job pods, the image registry and the cron metrics.
type cronWorld struct {
	cjs []*cronJob
	// runs are the runs from index runBase on, in creation order, nil once retired: a finished
	// run is folded into folded and dropped (retireRun), so memory follows the runs in flight,
	// not the simulated time. Use run(i) for run index i.
	runs        []*cronRun
	runBase     int
	folded      measure.CronRunSummary
	v2          bool
	cmDown      bool
	passMissed  bool // v1: a pass fell in a controller-manager outage
	cronClient  *apiClient
	jobClient   *apiClient
	schedClient *apiClient // kube-scheduler's: the Binding of Job pods
	queue       []int      // v2 work queue (FIFO of CronJob indices)
	idle        int        // v2 idle workers
	images      []nodeImages
	met         *cronMetrics

	attemptFails               uint64
	created, started, ok, fail uint64
	skips                      [3]uint64
	firstBad, firstFail        time.Duration
	lastFail                   time.Duration
	anyBad, anyFail            bool
	detected                   bool
	detectAt                   time.Duration
	resolveFrom                []time.Duration // per registry deletion, when run-time resolution starts
}

func (w *World) buildCron() {
	var cjs []*batchv1.CronJob
	for _, obj := range w.in.Objects {
		if o, ok := obj.(*batchv1.CronJob); ok {
			cjs = append(cjs, o)
		}
	}
	if len(cjs) == 0 {
		return
	}
	c := &cronWorld{
		v2:          w.m.CronJob.Controller == "v2",
		cronClient:  newAPIClient(w.m.APIServer, w.m.APIServer.ControllerManagerQPS, w.m.APIServer.ControllerManagerBurst),
		jobClient:   newAPIClient(w.m.APIServer, w.m.APIServer.ControllerManagerQPS, w.m.APIServer.ControllerManagerBurst),
		schedClient: newAPIClient(w.m.APIServer, w.m.APIServer.SchedulerQPS, w.m.APIServer.SchedulerBurst),
		idle:        w.m.CronJob.Workers,
		met:         newCronMetrics(),
		images:      make([]nodeImages, len(w.nodes)),
	}
	for i := range c.images {
		c.images[i] = nodeImages{present: map[string]time.Duration{}, bucket: newTokenBucket(w.m.PodStart.RegistryPullQPS, w.m.PodStart.RegistryBurst)}
	}
	for _, d := range w.m.Registry.Deletions {
		rf := time.Duration(-1)
		if d.ResolveAtRunTime {
			rf = d.ResolveFrom.Duration
		}
		c.resolveFrom = append(c.resolveFrom, rf)
	}
	for _, o := range cjs {
		cj := w.newCronJob(o)
		cj.idx = len(c.cjs)
		c.cjs = append(c.cjs, cj)
	}
	w.cron = c
}

// newCronJob builds a CronJob's model state; Validate checked its schedule, containers and
// annotations.
func (w *World) newCronJob(o *batchv1.CronJob) *cronJob {
	ns := namespaceOr(o.Namespace)
	key := ns + "/" + o.Name
	ms, _ := measure.ParseSchedule(o.Spec.Schedule, o.Spec.TimeZone)
	sched, loc := ms.Spec, ms.Loc
	js := &o.Spec.JobTemplate.Spec
	cj := &cronJob{
		key: key, name: o.Name, ns: ns, sched: newCronSched(sched, loc), loc: loc,
		policy:    o.Spec.ConcurrencyPolicy,
		podSpec:   &js.Template.Spec,
		labels:    js.Template.Labels,
		image:     js.Template.Spec.Containers[0].Image,
		backoff:   6,
		runMean:   30 * time.Second,
		okLimit:   3,
		failLimit: 1,
		rng:       w.streams.Stream("cronjob/" + key),
	}
	cj.req, cj.nonZero, cj.limCPU = cluster.PodRequests(cj.podSpec)
	c0 := &js.Template.Spec.Containers[0]
	cj.alwaysPull = c0.ImagePullPolicy == corev1.PullAlways || (c0.ImagePullPolicy == "" && imageTagLatest(c0.Image))
	if cj.policy == "" {
		cj.policy = batchv1.AllowConcurrent
	}
	if o.Spec.Suspend != nil {
		cj.suspend = *o.Spec.Suspend
	}
	if s := o.Spec.StartingDeadlineSeconds; s != nil {
		cj.hasSDS, cj.sds = true, time.Duration(*s)*time.Second
	}
	if js.BackoffLimit != nil {
		cj.backoff = int(*js.BackoffLimit)
	}
	if js.ActiveDeadlineSeconds != nil {
		cj.deadline = time.Duration(*js.ActiveDeadlineSeconds) * time.Second
	}
	if l := o.Spec.SuccessfulJobsHistoryLimit; l != nil {
		cj.okLimit = int(*l)
	}
	if l := o.Spec.FailedJobsHistoryLimit; l != nil {
		cj.failLimit = int(*l)
	}
	if v, ok := o.Annotations[AnnRunTime]; ok {
		cj.runMean, _ = time.ParseDuration(v)
	}
	if v, ok := o.Annotations[AnnFailureRatio]; ok {
		cj.failRatio, _ = strconv.ParseFloat(v, 64)
	}
	cj.alerted = o.Annotations[AnnAlert] == "true"
	// the cluster has been running: everything up to the start was scheduled
	cj.lastSched = w.in.Start.In(loc)
	cj.nextAfter = cj.sched.Next(cj.lastSched)
	return cj
}

// cronSched is a parsed schedule with a fast path for the common case: in UTC, every hour, day
// and month, only some minutes (*/15, 0, 7-59/10). robfig's Next steps a minute at a time with
// time.Time arithmetic, which dominated long runs; the fast path is a table lookup on Unix
// seconds and gives the same instants (TestCronSchedFastPath).
type cronSched struct {
	s     cron.Schedule
	fast  bool
	delta [60]int64 // seconds from the start of minute m to the next matching minute after it
}

func newCronSched(s cron.Schedule, loc *time.Location) *cronSched {
	c := &cronSched{s: s}
	sp, ok := s.(*cron.SpecSchedule)
	const allHours, allDom, allMonths, allDow = 1<<24 - 1, (1<<32 - 1) &^ 1, (1<<13 - 1) &^ 1, 1<<7 - 1
	if !ok || loc != time.UTC || (sp.Location != time.Local && sp.Location != time.UTC) ||
		sp.Second&^(1<<63) != 1 || sp.Hour&allHours != allHours || sp.Dom&allDom != allDom ||
		sp.Month&allMonths != allMonths || sp.Dow&allDow != allDow || sp.Minute&(1<<60-1) == 0 {
		return c
	}
	c.fast = true
	for m := range 60 {
		for d := 1; d <= 60; d++ {
			if sp.Minute&(1<<uint((m+d)%60)) != 0 {
				c.delta[m] = int64(d) * 60
				break
			}
		}
	}
	return c
}

// Next is the first activation after t.
func (c *cronSched) Next(t time.Time) time.Time {
	if !c.fast {
		return c.s.Next(t)
	}
	u := t.Unix()
	ms := u - u%60
	return time.Unix(ms+c.delta[(u/60)%60], 0).UTC()
}

func imageTagLatest(img string) bool {
	if i := strings.LastIndex(img, "@"); i >= 0 {
		return false
	}
	slash := strings.LastIndex(img, "/")
	colon := strings.LastIndex(img, ":")
	return colon <= slash || img[colon+1:] == "latest"
}

func (w *World) wall(d time.Duration) time.Time { return w.in.Start.Add(d) }

func (w *World) startCron() {
	c := w.cron
	if c == nil {
		return
	}
	if c.v2 {
		// the informer's initial list adds every CronJob to the queue
		for i := range c.cjs {
			w.q.AtID(0, w.hid, pack(evCronEnqueue, i))
		}
	} else {
		w.q.AtID(0, w.hid, pack(evCronPass, 0))
	}
}

func (w *World) fireCron(kind uint32, i int, now time.Duration) {
	c := w.cron
	switch kind {
	case evCronPass:
		w.cronPass(now)
	case evCronResume:
		w.cronResume(i, now)
	case evCronEnqueue:
		w.cronEnqueue(c.cjs[i], now)
	case evCronWorker:
		c.idle++
		w.cronDispatch(now)
	case evJobCreated:
		if r := c.run(i); r != nil {
			w.jobCreated(r, now)
		}
	case evJobPod:
		if r := c.run(i); r != nil {
			w.jobPod(r, now)
		}
	case evPodAdmitted:
		w.podAdmitted(i, now)
	case evPullRetry:
		w.cronPull(i, now)
	case evAppStart:
		w.appStart(i, now)
	case evAppExit:
		w.appExit(i, now)
	case evJobDeadline:
		if r := c.run(i); r != nil && !r.done {
			emit(w, trace.JobDeadlineExceeded{Job: r.name})
			w.killRunPod(r)
			w.jobFinish(r, now, false, "DeadlineExceeded")
		}
	case evCMUp:
		w.controllerManagerUp(now)
	}
}

// --- CronJob controller -------------------------------------------------------------------------

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

// --- Job controller and the pod start pipeline --------------------------------------------------

// Model: the Job controller (pkg/controller/job) for completions = parallelism = 1: a pod per
// attempt created through its own rate-limited client, which also carries the Job's status
// writes (job.writes: after each pod creation, when the pod is ready, and three when a pod ends,
// as pod tracking with finalizers does; nothing waits for them, but they take the tokens the
// next pods need, which is what delays pods at a hot spot); a failed pod counts against backoffLimit
// and the next pod waits the pod-failure back-off (10 s doubling, capped); backoffLimit exceeded
// fails the Job (BackoffLimitExceeded); activeDeadlineSeconds from the Job's start fails it
// (DeadlineExceeded) and deletes its pod. The back-off lives in memory and is lost when the
// controller-manager restarts.
// The pod start pipeline, each step timed: admission (a mutating webhook injecting sidecars),
// kube-scheduler (the shared scheduling queue and plugins), image pull by the kubelet (per-node
// cache; IfNotPresent uses it, Always asks the registry each time; pulls serialized per node with
// registryPullQPS/registryBurst; a missing image is ErrImagePull and is retried after
// ImagePullBackOff, 10 s doubling to 300 s), sidecars (restartable init containers) started one
// after another, then the app container.
// Left out: pods with completions > 1, podFailurePolicy, suspend, node boot for autoscaled pools,
// image sizes (one PullTime per image), container restarts within a pod (restartPolicy Never).

func (w *World) jobCreated(r *cronRun, now time.Duration) {
	c := w.cron
	if r.done {
		return
	}
	if r.cj.deadline > 0 {
		r.deadlineT = w.q.AtID(now+r.cj.deadline, w.hid, pack(evJobDeadline, r.idx))
	}
	if c.cmDown {
		r.backlog = true
		return
	}
	w.jobSync(r, now)
}

// jobSync creates the run's next pod through the Job controller's client, then writes the
// Job's status (job.writes.sync) through the same client.
func (w *World) jobSync(r *cronRun, now time.Duration) {
	t := w.cron.jobClient.do(now)
	w.q.AtID(t, w.hid, pack(evJobPod, r.idx))
	w.jobWrites(t, w.m.Job.Writes.Sync)
}

// jobWrites spends n requests of the Job controller's client from t on. Nothing waits for
// them; they take the tokens the next pod creations would have used.
func (w *World) jobWrites(t time.Duration, n int) {
	for range n {
		t = w.cron.jobClient.do(t)
	}
}

func (w *World) jobPod(r *cronRun, now time.Duration) {
	if r.done || r.pod >= 0 {
		return
	}
	if w.cron.cmDown {
		r.backlog = true // a back-off that ended during the outage: the controller is not there
		return
	}
	cj := r.cj
	var sfx [5]byte
	for j := range sfx {
		sfx[j] = nameRunes[cj.rng.IntN(len(nameRunes))]
	}
	p := w.newJobPod(r.name+"-"+string(sfx[:]), cj.ns, cj.labels, cj.podSpec, "job/"+cj.ns+"/"+r.name, cj.req, cj.nonZero, cj.limCPU)
	ps := w.pods[p.Index]
	ps.run = r
	r.pod = p.Index
	r.pulls = 0
	r.podCreated = now
	ps.start = w.podAt(now+w.m.PodStart.Admission.Duration, evPodAdmitted, p.Index)
}

func (w *World) podAdmitted(pi int, now time.Duration) {
	r := w.pods[pi].run
	if r == nil || r.done || r.pod != pi {
		return
	}
	r.admitted = now
	w.enqueue(pi)
}

// cronPodBound continues the pipeline once kube-scheduler chose a node for a Job's pod: the
// Binding goes through the scheduler's client, then the kubelet sees the pod. (The binding of
// other pods is the scheduling cycle's latency alone.)
func (w *World) cronPodBound(pi int, now time.Duration) {
	ps := w.pods[pi]
	t := w.cron.schedClient.do(now)
	ps.run.bound = t
	ps.start = w.podAt(t, evPullRetry, pi)
}

// cronPull pulls the pod's images on its node, then starts sidecars and the app container.
func (w *World) cronPull(pi int, now time.Duration) {
	ps := w.pods[pi]
	r := ps.run
	p := ps.p
	if r == nil || r.done || r.pod != pi || p.Node == nil {
		return
	}
	ni := &w.cron.images[p.Node.Index]
	m := &w.m.PodStart
	t := now
	pull := func(img string, always bool) bool {
		at, cached := ni.present[img]
		if cached && !always {
			t = max(t, at)
			return true
		}
		start := ni.bucket.take(max(t, ni.pullFree))
		if w.imageMissing(img, start) {
			r.pulls++
			back := m.PullBackoffBase.Duration
			for i := 1; i < r.pulls && back < m.PullBackoffMax.Duration; i++ {
				back *= 2
			}
			back = min(back, m.PullBackoffMax.Duration)
			if r.pulls == 1 {
				emit(w, trace.ImagePullFailed{Pod: p.Name, Image: img})
			}
			ps.start = w.podAt(start+back, evPullRetry, pi)
			return false
		}
		if cached {
			t = max(start, at) // the manifest check; the layers are there
			return true
		}
		end := start + m.PullTime.Duration
		ni.pullFree = end
		ni.present[img] = end
		t = end
		return true
	}
	spec := p.Spec
	sidecars := 0
	for i := range spec.InitContainers {
		ic := &spec.InitContainers[i]
		if ic.RestartPolicy != nil && *ic.RestartPolicy == corev1.ContainerRestartPolicyAlways {
			sidecars++
		}
		if !pull(ic.Image, ic.ImagePullPolicy == corev1.PullAlways) {
			return
		}
	}
	for i := range spec.Containers {
		img, always := spec.Containers[i].Image, spec.Containers[i].ImagePullPolicy == corev1.PullAlways
		if i == 0 {
			img, always = r.image, r.cj.alwaysPull
		}
		if !pull(img, always) {
			return
		}
	}
	r.pulled = t
	t += time.Duration(sidecars) * m.SidecarStart.Duration
	r.sidecars = t
	t += m.AppStart.Duration
	ps.start = w.podAt(t, evAppStart, pi)
}

func (w *World) appStart(pi int, now time.Duration) {
	ps := w.pods[pi]
	r, p := ps.run, ps.p
	if r == nil || r.done || r.pod != pi || p.Node == nil || !p.Node.Up {
		return
	}
	c := w.cron
	p.Phase = cluster.PodRunning
	p.Node.Changed = true
	p.Started = now
	if !r.started {
		r.started = true
		r.app = now
		w.jobWrites(now, w.m.Job.Writes.Ready)
		c.started++
		d := now - r.sched
		c.met.Started.Inc()
		c.met.StartDelay.Observe(d.Seconds())
		if w.opts.OnRun != nil {
			w.opts.OnRun(RunRecord{
				CronJob: r.cj.key, Scheduled: w.wall(r.sched), Delay: d,
				Controller: r.created - r.sched, JobController: r.podCreated - r.created,
				Admission: r.admitted - r.podCreated, Scheduling: r.bound - r.admitted,
				ImagePull: r.pulled - r.bound, Sidecars: r.sidecars - r.pulled, AppStart: now - r.sidecars,
			})
		}
		if r.ext != nil {
			w.extJobStarted(r, now)
		}
	}
	cj := r.cj
	run := time.Duration(float64(cj.runMean) * (0.5 + cj.rng.Float64()))
	r.exitFail = cj.failRatio > 0 && cj.rng.Float64() < cj.failRatio
	ps.start = w.podAt(now+run, evAppExit, pi)
}

func (w *World) appExit(pi int, now time.Duration) {
	ps := w.pods[pi]
	r := ps.run
	if r == nil || r.done || r.pod != pi {
		return
	}
	w.cron.met.AppDuration.Observe((now - ps.p.Started).Seconds())
	w.releaseRunPod(r)
	if r.exitFail {
		w.runPodFailed(r, now)
		return
	}
	w.jobFinish(r, now, true, "Complete")
}

// runPodFailed counts a failed pod against backoffLimit and schedules the next one.
func (w *World) runPodFailed(r *cronRun, now time.Duration) {
	if !w.cron.cmDown {
		w.jobWrites(now, w.m.Job.Writes.Finish)
	}
	r.podFails++
	w.cron.attemptFails++
	w.cron.met.AttemptFail.Inc()
	if r.podFails > r.cj.backoff {
		w.jobFinish(r, now, false, "BackoffLimitExceeded")
		return
	}
	back := w.m.Job.BackoffBase.Duration
	for i := 1; i < r.podFails && back < w.m.Job.BackoffMax.Duration; i++ {
		back *= 2
	}
	back = min(back, w.m.Job.BackoffMax.Duration)
	if w.cron.cmDown {
		r.backlog = true
		return
	}
	w.jobSync(r, now+back)
}

// releaseRunPod frees the run's pod (it finished or was deleted).
func (w *World) releaseRunPod(r *cronRun) {
	if r.pod < 0 {
		return
	}
	pi := r.pod
	r.pod = -1
	ps := w.pods[pi]
	ps.run = nil // the run may be retired; the pod's slot may be reused (newJobPod)
	w.podCancel(ps, &ps.start)
	w.unpark(pi)
	if ps.p.Phase != cluster.PodGone {
		w.st.Release(ps.p)
		w.moveUnschedulable()
	}
}

// killRunPod deletes the run's pod (deadline, Replace).
func (w *World) killRunPod(r *cronRun) { w.releaseRunPod(r) }

// cronPodGone is a Job pod deleted by someone else (eviction, PodChaos): the Job controller
// counts it as failed and creates another.
func (w *World) cronPodGone(pi int) {
	r := w.pods[pi].run
	if r == nil || r.done || r.pod != pi {
		return
	}
	r.pod = -1
	w.runPodFailed(r, w.q.Now())
}

func (w *World) jobFinish(r *cronRun, now time.Duration, ok bool, reason string) {
	if r.done {
		return
	}
	r.done = true
	r.backlog = false
	w.q.Cancel(r.deadlineT)
	w.releaseRunPod(r)
	c := w.cron
	cj := r.cj
	for i, ri := range cj.active {
		if ri == r.idx {
			cj.active = append(cj.active[:i], cj.active[i+1:]...)
			break
		}
	}
	switch {
	case reason == "": // deleted (Replace)
	case ok:
		if !c.cmDown {
			w.jobWrites(now, w.m.Job.Writes.Finish)
		}
		c.ok++
		c.met.Success.Inc()
		cj.oks++
		if cj.oks > cj.okLimit {
			cj.pendingDel++
		}
	default:
		c.fail++
		c.met.Failure.Inc()
		cj.fails++
		if cj.fails > cj.failLimit {
			cj.pendingDel++
		}
		if !c.anyFail {
			c.anyFail, c.firstFail = true, r.sched
		}
		c.lastFail = now
		emit(w, trace.JobFailed{Job: r.name, Reason: reason})
		w.cronBad(cj, now)
	}
	if r.ext != nil {
		w.extJobFinished(r, now, ok, reason)
	} else if c.v2 && !c.cmDown {
		w.cronEnqueue(cj, now)
	}
	w.retireRun(r)
}

// --- image registry -----------------------------------------------------------------------------

// Model: an image registry where every image exists unless a Registry.Deletions rollout removed it
// (docs/upstream.md "Image pull"; scenarios/cron-deleted-images/README.md). Left out: pull rate limits of the registry itself, image
// sizes, partial layer sharing.

// deletionFrac places an image within a rollout window, the same in every seed.
func deletionFrac(img string) float64 {
	h := fnv.New64a()
	_, _ = h.Write([]byte(img))
	return float64(h.Sum64()>>11) / (1 << 53)
}

func (w *World) imageMissing(img string, t time.Duration) bool {
	for _, d := range w.m.Registry.Deletions {
		if ok, _ := path.Match(d.Images, img); !ok {
			continue
		}
		off := time.Duration(deletionFrac(img) * float64(d.Over.Duration))
		for _, f := range d.First {
			if ok, _ := path.Match(f, img); ok {
				off = 0
			}
		}
		if t < d.Start.Duration+off {
			continue
		}
		if d.RollbackAt.Duration > 0 && t >= d.RollbackAt.Duration+off {
			continue
		}
		return true
	}
	return false
}

// resolveImage is the image a Job created at t runs: the CronJob's, unless the platform resolves
// the app's current image at run time and the CronJob's image was consolidated away.
func (w *World) resolveImage(cj *cronJob, t time.Duration) string {
	for i, d := range w.m.Registry.Deletions {
		rf := w.cron.resolveFrom[i]
		if rf < 0 || t < rf || d.ReplacedBy == "" {
			continue
		}
		if ok, _ := path.Match(d.Images, cj.image); ok && w.imageMissing(cj.image, t) {
			return d.ReplacedBy
		}
	}
	return cj.image
}

// cronObservations is what happened to the CronJobs, in package measure's record.
func (w *World) cronObservations() *measure.CronObservations {
	c := w.cron
	o := &measure.CronObservations{
		CronJobs: make([]measure.CronJobObservation, len(c.cjs)),
		Runs:     make([]measure.CronRun, 0, len(c.runs)),
		Folded:   &c.folded,
		Skipped:  int(c.skips[0] + c.skips[1] + c.skips[2]), FailedRuns: int(c.fail), FailedAttempts: int(c.attemptFails),
		AnyBad: c.anyBad, FirstBad: c.firstBad, Detected: c.detected, DetectedAt: c.detectAt,
		AnyFailure: c.anyFail, FirstFailure: c.firstFail, LastFailure: c.lastFail,
		ThrottleWait: c.cronClient.throttled, ThrottleFor: int(c.cronClient.requests),
	}
	for i, cj := range c.cjs {
		o.CronJobs[i] = measure.CronJobObservation{Key: cj.key, Stalled: cj.stalled}
		if !cj.suspend || cj.claimed {
			o.CronJobs[i].Next = func(t time.Time) time.Time { return cj.sched.Next(t.In(cj.loc)) }
		}
	}
	for _, r := range c.runs {
		if r != nil {
			o.Runs = append(o.Runs, r.record())
		}
	}
	return o
}
