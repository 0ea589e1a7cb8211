package cron

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"strconv"
	"sync"
	"time"

	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/utils/clock"
	"k8s.io/utils/ptr"
)

// Controller runs the scheduling decisions against a Client. It holds no goroutine and no timer:
// an adapter calls Sync when a CronJob changed, when a Job of it finished and when the requeue
// delay Sync returned has passed; AppStarted when a Job's app container is first seen running;
// JobFinished when a Job completed or failed. Calls for one CronJob must not run concurrently.
type Controller struct {
	cfg      Config
	client   Client
	clock    clock.PassiveClock
	metrics  *Metrics
	resolver ImageResolver
	log      *slog.Logger

	mu        sync.Mutex
	schedules map[string]cachedSchedule // namespace/name → the parsed schedule
}

// cachedSchedule is a parsed schedule and what it was parsed from: parsing (the jitter bound
// walks the schedule) costs far more than a decision.
type cachedSchedule struct {
	spec, tz, jitter string
	sch              Schedule
}

// Option configures NewController.
type Option func(*Controller)

// WithImageResolver resolves the image of CronJobs bound to an app (AnnApp) per Job.
func WithImageResolver(r ImageResolver) Option { return func(c *Controller) { c.resolver = r } }

// WithLogger sets the logger (default: discard).
func WithLogger(l *slog.Logger) Option { return func(c *Controller) { c.log = l } }

// WithClock sets the clock (default: the real clock).
func WithClock(clk clock.PassiveClock) Option { return func(c *Controller) { c.clock = clk } }

// NewController returns a controller using client, recording into m.
func NewController(cfg Config, client Client, m *Metrics, opts ...Option) *Controller {
	c := &Controller{cfg: cfg.WithDefaults(), client: client, clock: clock.RealClock{}, metrics: m, log: slog.New(slog.DiscardHandler)}
	for _, o := range opts {
		o(c)
	}
	return c
}

// Managed reports whether cj is the platform's: AnnManaged "true" and spec.suspend true (so the
// upstream controller leaves it alone).
func Managed(cj *batchv1.CronJob) bool {
	return cj.Annotations[AnnManaged] == "true" && cj.Spec.Suspend != nil && *cj.Spec.Suspend
}

// Sync decides for the CronJob namespace/name now and carries the decision out. It returns how
// long until the CronJob must be synced again (0: only on the next change).
func (c *Controller) Sync(ctx context.Context, namespace, name string) (time.Duration, error) {
	cj, err := c.client.GetCronJob(ctx, namespace, name)
	if errors.Is(err, ErrNotFound) {
		return 0, nil
	}
	if err != nil {
		return 0, fmt.Errorf("get cronjob %s/%s: %w", namespace, name, err)
	}
	if cj.Annotations[AnnManaged] != "true" {
		return 0, nil
	}
	if !Managed(cj) {
		c.log.Warn("cronjob not suspended: left to kube-controller-manager", "cronjob", namespace+"/"+name)
		return 0, nil
	}
	sch, err := c.schedule(cj)
	if err != nil {
		c.client.Event(ctx, cj, corev1.EventTypeWarning, EventInvalidSchedule, c.clock.Now(), 1, err.Error())
		return 0, nil // an update of the CronJob requeues it
	}
	jobs, err := c.client.ListJobs(ctx, namespace, name)
	if err != nil {
		return 0, fmt.Errorf("list jobs of cronjob %s/%s: %w", namespace, name, err)
	}
	var active, unstarted []string
	for _, j := range jobs {
		if !Finished(j) {
			active = append(active, j.Name)
			if j.Status.StartTime == nil && j.Annotations[AnnTrigger] != "manual" {
				unstarted = append(unstarted, j.Name)
			}
		}
	}
	if err := c.cleanup(ctx, cj, jobs); err != nil {
		return 0, err
	}
	now := c.clock.Now()
	st := State{Active: active, Unstarted: unstarted}
	if v := cj.Annotations[AnnLastSchedule]; v != "" {
		if st.Last, err = time.Parse(time.RFC3339Nano, v); err != nil {
			st.Last = time.Time{} // rewritten below
		}
	}
	d := Decide(cj, sch, st, now)
	if d.Missed > 0 {
		c.metrics.Skip(ReasonMissedDeadline, d.Missed)
		c.client.Event(ctx, cj, corev1.EventTypeWarning, EventMissSchedule, d.Last, d.Missed,
			fmt.Sprintf("missed %d scheduled start(s) before %s", d.Missed, d.Last.UTC().Format(time.RFC3339)))
	}
	switch d.Skip {
	case ReasonMissedDeadline:
		c.metrics.Skip(d.Skip, 1)
		c.client.Event(ctx, cj, corev1.EventTypeWarning, EventMissSchedule, d.Skipped, 1,
			fmt.Sprintf("missed starting deadline for %s", d.Skipped.UTC().Format(time.RFC3339)))
	case ReasonConcurrencyPolicy:
		c.metrics.Skip(d.Skip, 1)
		c.client.Event(ctx, cj, corev1.EventTypeNormal, EventJobAlreadyActive, d.Skipped, 1,
			fmt.Sprintf("not starting %s: concurrencyPolicy Forbid and %d active job(s)", d.Skipped.UTC().Format(time.RFC3339), len(active)))
	}
	for _, j := range d.Delete {
		if err := c.client.DeleteJob(ctx, namespace, j); err != nil && !errors.Is(err, ErrNotFound) {
			return 0, fmt.Errorf("delete job %s/%s: %w", namespace, j, err)
		}
		c.client.Event(ctx, cj, corev1.EventTypeNormal, EventDeleted, d.Run, 1, "deleted job "+j)
	}
	if !d.Run.IsZero() {
		if _, err := c.create(ctx, cj, d.Run, false); err != nil {
			c.metrics.Skip(ReasonError, 1)
			c.client.Event(ctx, cj, corev1.EventTypeWarning, EventFailedCreate, d.Run, 1, err.Error())
			c.log.Warn("run not created", "cronjob", namespace+"/"+name, "scheduled", d.Run, "err", err)
			// the scheduled time is decided (counted as a skip with reason error); go on with the next
		} else {
			c.metrics.Invoke.Inc()
		}
	}
	if !d.Last.Equal(st.Last) || cj.Annotations[AnnLastSchedule] == "" {
		if err := c.client.AnnotateCronJob(ctx, namespace, name, map[string]string{AnnLastSchedule: d.Last.UTC().Format(time.RFC3339Nano)}); err != nil {
			return 0, fmt.Errorf("annotate cronjob %s/%s: %w", namespace, name, err)
		}
	}
	if d.Next.IsZero() {
		return 0, nil
	}
	return max(d.Next.Sub(now), 0), nil
}

// schedule parses cj's schedule, or returns the parse of the same fields from an earlier sync.
func (c *Controller) schedule(cj *batchv1.CronJob) (Schedule, error) {
	key := cj.Namespace + "/" + cj.Name
	tz := ""
	if cj.Spec.TimeZone != nil {
		tz = *cj.Spec.TimeZone
	}
	jit, hasJit := cj.Annotations[AnnJitter]
	if hasJit {
		jit = "=" + jit
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if s, ok := c.schedules[key]; ok && s.spec == cj.Spec.Schedule && s.tz == tz && s.jitter == jit {
		return s.sch, nil
	}
	sch, err := ParseSchedule(cj, c.cfg.MaxJitter.Duration)
	if err != nil {
		delete(c.schedules, key)
		return sch, err
	}
	if c.schedules == nil {
		c.schedules = map[string]cachedSchedule{}
	}
	c.schedules[key] = cachedSchedule{spec: cj.Spec.Schedule, tz: tz, jitter: jit, sch: sch}
	return sch, nil
}

// Trigger creates a run of the CronJob now, outside its schedule, like `kubectl create job
// --from=cronjob/NAME` (the CronJob need not be managed). T1 is now.
func (c *Controller) Trigger(ctx context.Context, namespace, name string) (*batchv1.Job, error) {
	cj, err := c.client.GetCronJob(ctx, namespace, name)
	if err != nil {
		return nil, fmt.Errorf("get cronjob %s/%s: %w", namespace, name, err)
	}
	j, err := c.create(ctx, cj, c.clock.Now(), true)
	if err != nil {
		return nil, err
	}
	c.metrics.Invoke.Inc()
	return j, nil
}

// create builds the Job for scheduled time t and creates it.
func (c *Controller) create(ctx context.Context, cj *batchv1.CronJob, t time.Time, manual bool) (*batchv1.Job, error) {
	job, err := c.NewJob(ctx, cj, t, manual)
	if err != nil {
		return nil, err
	}
	created, err := c.client.CreateJob(ctx, job)
	if err != nil {
		return nil, fmt.Errorf("create job %s/%s: %w", job.Namespace, job.Name, err)
	}
	c.client.Event(ctx, cj, corev1.EventTypeNormal, EventCreated, t, 1, "created job "+job.Name)
	return created, nil
}

// NewJob is the Job for scheduled time t: the CronJob's jobTemplate, named <cronjob>-<t in unix
// minutes> (upstream's v2 naming; "-manual-<unix seconds>" for on-demand runs), labelled and
// annotated with T1, owned (not controlled) by the CronJob, the app container's image resolved
// from the app when the CronJob is bound to one.
func (c *Controller) NewJob(ctx context.Context, cj *batchv1.CronJob, t time.Time, manual bool) (*batchv1.Job, error) {
	base := cj.Name
	if len(base) > 52 {
		base = base[:52]
	}
	name := base + "-" + strconv.FormatInt(t.Unix()/60, 10)
	if manual {
		name = base + "-manual-" + strconv.FormatInt(t.Unix(), 10)
	}
	tpl := cj.Spec.JobTemplate.DeepCopy()
	job := &batchv1.Job{
		TypeMeta: metav1.TypeMeta{APIVersion: "batch/v1", Kind: "Job"},
		ObjectMeta: metav1.ObjectMeta{
			Name: name, Namespace: cj.Namespace,
			Labels:      tpl.Labels,
			Annotations: tpl.Annotations,
			OwnerReferences: []metav1.OwnerReference{{
				APIVersion: "batch/v1", Kind: "CronJob", Name: cj.Name, UID: cj.UID,
				BlockOwnerDeletion: ptr.To(true), // not Controller: the upstream controller ignores it
			}},
		},
		Spec: tpl.Spec,
	}
	if job.Labels == nil {
		job.Labels = map[string]string{}
	}
	job.Labels[LabelCronJob] = cj.Name
	if job.Spec.Template.Labels == nil {
		job.Spec.Template.Labels = map[string]string{}
	}
	job.Spec.Template.Labels[LabelCronJob] = cj.Name // the pod informer that records T2 selects on it
	if job.Annotations == nil {
		job.Annotations = map[string]string{}
	}
	job.Annotations[AnnScheduled] = t.UTC().Format(time.RFC3339Nano)
	job.Annotations[AnnUpstreamScheduled] = t.UTC().Format(time.RFC3339)
	if manual {
		job.Annotations[AnnTrigger] = "manual"
	}
	if app := cj.Annotations[AnnApp]; app != "" && c.resolver != nil {
		img, err := c.resolver.Image(ctx, cj, app)
		if err != nil {
			return nil, fmt.Errorf("resolve image of app %q: %w", app, err)
		}
		if len(job.Spec.Template.Spec.Containers) == 0 {
			return nil, fmt.Errorf("cronjob %s/%s: no container to run app %q", cj.Namespace, cj.Name, app)
		}
		job.Spec.Template.Spec.Containers[0].Image = img
	}
	return job, nil
}

// AppStarted records T2 for job: the first time its app container ran (at). Later calls for the
// same Job (container restarts, a new pod, a second platform replica) change nothing: the
// annotation is written once, and only the call that wrote it counts the start.
func (c *Controller) AppStarted(ctx context.Context, job *batchv1.Job, at time.Time) error {
	if job.Annotations[AnnStarted] != "" {
		return nil
	}
	set, err := c.client.AnnotateJobOnce(ctx, job.Namespace, job.Name, AnnStarted, at.UTC().Format(time.RFC3339Nano))
	if err != nil {
		return fmt.Errorf("annotate job %s/%s: %w", job.Namespace, job.Name, err)
	}
	if !set {
		return nil
	}
	c.metrics.Started.Inc()
	if t1, err := time.Parse(time.RFC3339Nano, job.Annotations[AnnScheduled]); err == nil {
		c.metrics.StartDelay.Observe(at.Sub(t1).Seconds())
	}
	return nil
}

// JobFinished counts a finished Job (success or failure, its failed pods, the app's run time
// from T2 to completion). Call it once per Job.
func (c *Controller) JobFinished(job *batchv1.Job) {
	c.metrics.AttemptFail.Add(float64(job.Status.Failed))
	if JobSucceeded(job) {
		c.metrics.Success.Inc()
		if t2, err := time.Parse(time.RFC3339Nano, job.Annotations[AnnStarted]); err == nil && job.Status.CompletionTime != nil {
			c.metrics.AppDuration.Observe(job.Status.CompletionTime.Sub(t2).Seconds())
		}
		return
	}
	c.metrics.Failure.Inc()
}

// cleanup deletes finished Jobs past the history limits (successful 3, failed 1 by default),
// oldest first by T1.
func (c *Controller) cleanup(ctx context.Context, cj *batchv1.CronJob, jobs []*batchv1.Job) error {
	okLimit, failLimit := int32(3), int32(1)
	if l := cj.Spec.SuccessfulJobsHistoryLimit; l != nil {
		okLimit = *l
	}
	if l := cj.Spec.FailedJobsHistoryLimit; l != nil {
		failLimit = *l
	}
	var oks, fails []*batchv1.Job
	for _, j := range jobs {
		switch {
		case !Finished(j):
		case JobSucceeded(j):
			oks = append(oks, j)
		default:
			fails = append(fails, j)
		}
	}
	for _, set := range []struct {
		jobs  []*batchv1.Job
		limit int32
	}{{oks, okLimit}, {fails, failLimit}} {
		if int32(len(set.jobs)) <= set.limit {
			continue
		}
		slices.SortFunc(set.jobs, func(a, b *batchv1.Job) int {
			if c := compareT1(a, b); c != 0 {
				return c
			}
			return cmpString(a.Name, b.Name)
		})
		for _, j := range set.jobs[:int32(len(set.jobs))-set.limit] {
			if err := c.client.DeleteJob(ctx, j.Namespace, j.Name); err != nil && !errors.Is(err, ErrNotFound) {
				return fmt.Errorf("delete finished job %s/%s: %w", j.Namespace, j.Name, err)
			}
		}
	}
	return nil
}

func compareT1(a, b *batchv1.Job) int {
	ta, _ := time.Parse(time.RFC3339Nano, a.Annotations[AnnScheduled])
	tb, _ := time.Parse(time.RFC3339Nano, b.Annotations[AnnScheduled])
	return ta.Compare(tb)
}

func cmpString(a, b string) int {
	switch {
	case a < b:
		return -1
	case a > b:
		return 1
	}
	return 0
}

// Finished reports whether the Job has a Complete or Failed condition that is true.
func Finished(j *batchv1.Job) bool {
	for _, c := range j.Status.Conditions {
		if (c.Type == batchv1.JobComplete || c.Type == batchv1.JobFailed) && c.Status == corev1.ConditionTrue {
			return true
		}
	}
	return false
}

// JobSucceeded reports whether the Job completed.
func JobSucceeded(j *batchv1.Job) bool {
	for _, c := range j.Status.Conditions {
		if c.Type == batchv1.JobComplete && c.Status == corev1.ConditionTrue {
			return true
		}
	}
	return false
}
