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
