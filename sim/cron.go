package sim

import (
	"math/rand/v2"
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
	// the fields every v1 pass, scrape and jobCount read of every CronJob, together in its first
	// two cache lines (they were spread over seven of its eight)
	idx        int
	suspend    bool
	stalled    bool // v1 TooManyMissedStarts without a deadline: stuck for good
	pendingDel int  // finished Jobs past the history limits, deleted at the next sync
	// nextAt is nextAfter in virtual time: a sync before it has nothing to decide, which it
	// tells without building the wall-clock time (most syncs of a v1 pass)
	nextAt     time.Duration
	nextAfter  time.Time // sched.Next(lastSched): nothing is due before it
	active     []int     // run indices (status.active)
	oks, fails int
	okLimit    int
	failLimit  int

	key         string // namespace/name
	name, ns    string
	sched       *cronSched
	loc         *time.Location
	sds         time.Duration
	hasSDS      bool
	policy      batchv1.ConcurrencyPolicy
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
	rng         *rand.Rand
	lastSched   time.Time // status.lastScheduleTime
	lastSkip    time.Time
	lastSkipWhy int
	lastWarn    time.Time
	missCut     time.Time // deadline misses are recorded up to here
	queued      bool      // v2: in the work queue
	claimed     bool      // an extension schedules it (extension.go)
	timer       engine.Timer

	// the images the pod's containers pull, taken from podSpec once rather than per pod: the
	// init containers (sidecars counts the restartable ones) and the containers after the
	// app's (containers[0], whose image the registry may resolve per run)
	inits, others []imagePull
	sidecars      int
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

// cronWorld is the batch side of the cluster: its objects (the CronJobs and the runs, each a Job
// with its pods), the cron metrics and indicators, and the models that act on them, each with its
// own state and engine handler: the CronJob controller, v1 or v2 (cronjob_controller.go,
// cronjob_controllerv2.go), the Job controller (job_controller.go), the pod start pipeline of
// Job pods (jobpod_start.go) and the image registry (registry.go). It reaches the rest of the
// cluster only through the narrow interfaces of batch.go.
type cronWorld struct {
	*env
	hooks batchHooks
	cjs   []*cronJob
	// runs are the runs from index runBase on, in creation order, nil once retired: a finished
	// run is folded into folded and dropped (retireRun), so memory follows the runs in flight,
	// not the simulated time. Use run(i) for run index i.
	runs    []*cronRun
	runBase int
	folded  measure.CronRunSummary
	cmDown  bool // kube-controller-manager is down: neither controller runs
	met     *cronMetrics

	ctl   cronJobController
	jobs  *jobController
	start *podStarter
	reg   *imageRegistry

	attemptFails               uint64
	created, started, ok, fail uint64
	skips                      [3]uint64
	firstBad, firstFail        time.Duration
	lastFail                   time.Duration
	anyBad, anyFail            bool
	detected                   bool
	detectAt                   time.Duration
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
	w.cron = newCronWorld(&w.env, cjs, len(w.nodes), w, w)
}

// newCronWorld builds the batch side for the CronJobs cjs on a cluster of nodes nodes.
func newCronWorld(v *env, cjs []*batchv1.CronJob, nodes int, cl jobPodCluster, hooks batchHooks) *cronWorld {
	c := &cronWorld{env: v, hooks: hooks, met: newCronMetrics()}
	c.reg = newImageRegistry(v.m.Registry)
	c.jobs = newJobController(c, cl)
	c.start = newPodStarter(c, cl, nodes)
	if v.m.CronJob.Controller == "v2" {
		c.ctl = newCronJobControllerV2(c)
	} else {
		c.ctl = newCronJobControllerV1(c)
	}
	for _, o := range cjs {
		cj := newCronJob(v, o)
		cj.idx = len(c.cjs)
		c.cjs = append(c.cjs, cj)
	}
	return c
}

// newCronJob builds a CronJob's model state; Validate checked its schedule, containers and
// annotations.
func newCronJob(v *env, o *batchv1.CronJob) *cronJob {
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
		rng:       v.streams.Stream("cronjob/" + key),
	}
	cj.req, cj.nonZero, cj.limCPU = cluster.PodRequests(cj.podSpec)
	c0 := &js.Template.Spec.Containers[0]
	cj.alwaysPull = c0.ImagePullPolicy == corev1.PullAlways || (c0.ImagePullPolicy == "" && imageTagLatest(c0.Image))
	for i := range cj.podSpec.InitContainers {
		ic := &cj.podSpec.InitContainers[i]
		if ic.RestartPolicy != nil && *ic.RestartPolicy == corev1.ContainerRestartPolicyAlways {
			cj.sidecars++
		}
		cj.inits = append(cj.inits, imagePull{ic.Image, ic.ImagePullPolicy == corev1.PullAlways})
	}
	for _, c := range cj.podSpec.Containers[1:] {
		cj.others = append(cj.others, imagePull{c.Image, c.ImagePullPolicy == corev1.PullAlways})
	}
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
	cj.scheduled(v.in.Start.In(loc), v.in.Start)
	return cj
}

// imagePull is a container's image and whether it is pulled Always.
type imagePull struct {
	image  string
	always bool
}

// scheduled sets status.lastScheduleTime to sched (in the CronJob's location) and the next
// schedule after it; start is the run's virtual time 0.
func (cj *cronJob) scheduled(sched, start time.Time) {
	cj.lastSched = sched
	cj.nextAfter = cj.sched.Next(sched)
	cj.nextAt = cj.nextAfter.Sub(start)
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

// startCron registers the batch models' handlers on the run's queue (settling replaced the
// queue they were built with) and starts the CronJob controller.
func (w *World) startCron() {
	if c := w.cron; c != nil {
		c.jobs.register()
		c.start.register()
		c.ctl.start()
	}
}

// eventNames names the events of the batch model registered as hid (for the invariant checker's
// violations), nil for another handler.
func (c *cronWorld) eventNames(hid engine.HandlerID) []string {
	switch hid {
	case c.ctl.handler():
		return cronEventNames[:]
	case c.jobs.hid:
		return jobEventNames[:]
	case c.start.hid:
		return podStartEventNames[:]
	}
	return nil
}

// controllerManagerDown stops the CronJob and Job controllers (a fault).
func (c *cronWorld) controllerManagerDown() {
	if c != nil {
		c.cmDown = true
		envEmit(c.env, trace.ControllerManagerDown{})
	}
}

// controllerManagerUp restarts them: the CronJob controller starts over, the Job controller
// catches up with the Jobs it missed.
func (c *cronWorld) controllerManagerUp(now time.Duration) {
	if c == nil || !c.cmDown {
		return
	}
	c.cmDown = false
	envEmit(c.env, trace.ControllerManagerUp{})
	c.ctl.up(now)
	c.jobs.catchUp(now)
}

// observations is what happened to the CronJobs, in package measure's record.
func (c *cronWorld) observations() *measure.CronObservations {
	cl := c.ctl.apiClient()
	o := &measure.CronObservations{
		CronJobs: make([]measure.CronJobObservation, len(c.cjs)),
		Runs:     make([]measure.CronRun, 0, len(c.runs)),
		Folded:   &c.folded,
		Skipped:  int(c.skips[0] + c.skips[1] + c.skips[2]), FailedRuns: int(c.fail), FailedAttempts: int(c.attemptFails),
		AnyBad: c.anyBad, FirstBad: c.firstBad, Detected: c.detected, DetectedAt: c.detectAt,
		AnyFailure: c.anyFail, FirstFailure: c.firstFail, LastFailure: c.lastFail,
		ThrottleWait: cl.throttled, ThrottleFor: int(cl.requests),
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

// jobCount is how many Jobs exist: the active ones and the finished ones the history limits keep.
func (c *cronWorld) jobCount() int {
	n := 0
	for _, cj := range c.cjs {
		n += len(cj.active) + min(cj.oks, cj.okLimit) + min(cj.fails, cj.failLimit)
	}
	return n
}

// cronSkip records a skip decision once per scheduled time and reason.
func (c *cronWorld) cronSkip(cj *cronJob, sched time.Time, why int, t time.Duration) {
	if sched.Equal(cj.lastSkip) && cj.lastSkipWhy == why {
		return
	}
	cj.lastSkip, cj.lastSkipWhy = sched, why
	c.skips[why]++
	c.met.Skip[why].Inc()
	envEmit(c.env, trace.CronRunSkipped{CronJob: cj.key, Scheduled: sched, Reason: reasonNames[why]})
	c.cronBad(cj, t)
}

// cronBad notes a failure or skip for time to detect and the alerts; the first alert may bring
// a fix forward (imageRegistry.detected).
func (c *cronWorld) cronBad(cj *cronJob, t time.Duration) {
	if !c.anyBad || t < c.firstBad {
		c.anyBad, c.firstBad = true, t
	}
	if cj.alerted && !c.detected {
		s := c.m.Alerts.ScrapeInterval.Duration
		c.detected = true
		c.detectAt = (t + s - 1) / s * s
		envEmit(c.env, trace.CronAlertFires{CronJob: cj.key, At: c.detectAt})
		c.reg.detected(c.detectAt)
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
func (c *cronWorld) retireRun(r *cronRun) {
	if r.ext != nil || c.retain {
		return
	}
	if c.hooks.retireVetoed(r) {
		return
	}
	rec := r.record()
	c.folded.Add(&rec, c.window())
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
