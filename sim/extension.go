package sim

import (
	"fmt"
	"strings"
	"time"

	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/util/validation/field"
	"k8s.io/utils/clock"

	"github.com/faultline-dev/faultline/sim/trace"
)

// Extensions: code from outside the simulator that runs inside a World as a controller and an
// admission plugin. It is how the platform under test (package platform, through
// platform/simadapter) runs in simulation with the same decision code it runs against a real
// API server. The simulator knows nothing of the platform: it offers a small API over its object
// store and virtual clock, and calls the extension's hooks at the moments a controller with
// informers would hear of them.
//
// The rules of the World apply to extension code: it runs on the event loop (no goroutines, no
// blocking, no wall clock: it gets time from API.Clock and schedules with AfterFunc), and it may
// not range over maps in a way that changes what it does.
//
// Model of the extension's API access: its own client-side token bucket (QPS, Burst), each request
// costing the API server's RequestLatency, like the controllers' clients (apiserver.go). Calls
// return at once (the extension's code is synchronous); their effects land when the request
// completes: a created Job exists, and the Job controller sees it, at the completion time. Reads
// come from an always fresh cache and cost nothing.
// Left out: watch delays, API errors, conflicts (writes never fail), server-side fairness.

// ExtensionFactory builds an extension for one run (one World; runs may go on in parallel, so an
// extension's state must live in the value it returns). An error (a bad configuration) makes New
// fail with ErrInput.
type ExtensionFactory func() (Extension, error)

// Extension is the simulator's side of a controller or admission plugin.
type Extension interface {
	// Admit is a mutating admission plugin for the scenario's objects: it is called once per
	// object, in manifest order, before the cluster is built, with a copy it may change.
	Admit(obj runtime.Object) error
	// Start is called at virtual time 0, once the cluster settled.
	Start(api API)
	// JobStarted is called the first time the app container of a Job the extension created runs
	// (T2; later restarts are not reported).
	JobStarted(job *batchv1.Job, at time.Time)
	// JobFinished is called when a Job the extension created completed or failed; job.Status has
	// the Complete or Failed condition, completionTime and the failed pod count.
	JobFinished(job *batchv1.Job)
}

// API is what an extension sees of the World.
type API interface {
	// Clock is the virtual clock; AfterFunc schedules the extension's work as events.
	Clock() clock.WithDelayedExecution
	// CronJobs are the scenario's CronJobs, in manifest order (shared: read-only).
	CronJobs() []*batchv1.CronJob
	// Claim hands the CronJob's scheduling to the extension: its scheduled times count as due in
	// the missed-schedules indicator even though the CronJob is suspended (the real world's way of
	// keeping kube-controller-manager's CronJob controller off it). It reports whether the CronJob
	// exists.
	Claim(namespace, name string) bool
	// SetRateLimit sets the extension's client-side token bucket (default: the models'
	// apiServer.controllerManagerQPS and controllerManagerBurst).
	SetRateLimit(qps float64, burst int)
	// CreateJob creates a Job for a CronJob of the scenario (its first ownerReference of kind
	// CronJob names it); the Job's pod is the CronJob's pod template with the Job's app container
	// (containers[0]) image. T1 is the annotation batch.kubernetes.io/cronjob-scheduled-timestamp
	// (RFC 3339) or the creation time. A Job with spec.suspend true stays active and creates no
	// pods. The returned Job is the World's copy, updated as the Job runs.
	CreateJob(job *batchv1.Job) (*batchv1.Job, error)
	// DeleteJob deletes a Job the extension created, and its pod.
	DeleteJob(namespace, name string) error
	// Jobs lists the extension's Jobs of the CronJob namespace/name that are not deleted.
	Jobs(namespace, cronJob string) []*batchv1.Job
	// Write is one other request (a patch, a status update) through the extension's client.
	Write()
	// Event records an Event. Warning and Normal Events about a CronJob with the upstream CronJob
	// controller's skip reasons count as skip decisions (cron_scheduling_decision_total and the
	// skipped-runs indicator), Count times: JobAlreadyActive (concurrencyPolicy), MissSchedule
	// (missedDeadline), FailedCreate, FailedNeedsStart, InvalidSchedule (error).
	Event(ev Event)
}

// Event is an Event an extension records.
type Event struct {
	// Regarding is the object: "cronjob/NAMESPACE/NAME".
	Regarding, Type, Reason, Note string
	// Time is the scheduled time a CronJob Event concerns; Count how many it stands for (0: 1).
	Time  time.Time
	Count int
}

var skipReasons = map[string]int{
	"JobAlreadyActive": reasonConcurrency,
	"MissSchedule":     reasonDeadline,
	"FailedCreate":     reasonError,
	"FailedNeedsStart": reasonError,
	"InvalidSchedule":  reasonError,
}

// extWorld is the World's side of its extensions.
type extWorld struct {
	exts   []Extension
	client *apiClient
	jobs   map[string][]*cronRun // namespace/cronjob → runs of extension Jobs not deleted
	byName map[string]*cronRun   // namespace/name of a Job → its run, while not deleted
}

// extRun is what a cron run created by an extension carries.
type extRun struct {
	job     *batchv1.Job
	deleted bool // deleted by the extension before its app container ran
}

// dropped reports whether the run was deleted before it started: its scheduled time got no run
// (missed-schedules counts it), unlike a Job that ran.
func (x *extRun) dropped() bool { return x != nil && x.deleted }

// newExtensions builds the run's extensions and passes the scenario's objects through their
// admission (copies: the Input is shared by parallel runs).
func (w *World) newExtensions() error {
	if len(w.in.Extensions) == 0 {
		return nil
	}
	x := &extWorld{
		client: newAPIClient(w.m.APIServer, w.m.APIServer.ControllerManagerQPS, w.m.APIServer.ControllerManagerBurst),
		jobs:   map[string][]*cronRun{},
		byName: map[string]*cronRun{},
	}
	for i, f := range w.in.Extensions {
		e, err := f()
		if err != nil {
			return &InputError{Errs: field.ErrorList{invalid(field.NewPath("extensions").Index(i), "%v", err)}}
		}
		x.exts = append(x.exts, e)
	}
	in := *w.in
	in.Objects = make([]runtime.Object, len(w.in.Objects))
	for i, o := range w.in.Objects {
		o = o.DeepCopyObject()
		for _, e := range x.exts {
			if err := e.Admit(o); err != nil {
				return &InputError{Errs: field.ErrorList{invalid(field.NewPath("objects").Index(i), "admission: %v", err)}}
			}
		}
		in.Objects[i] = o
	}
	w.in = &in
	w.ext = x
	return nil
}

func (w *World) startExtensions() {
	if w.ext == nil {
		return
	}
	for _, e := range w.ext.exts {
		e.Start(extAPI{w})
	}
}

// extAPI is the World as an extension sees it.
type extAPI struct{ w *World }

func (a extAPI) Clock() clock.WithDelayedExecution { return a.w.clock }

func (a extAPI) CronJobs() []*batchv1.CronJob {
	var out []*batchv1.CronJob
	for _, o := range a.w.in.Objects {
		if cj, ok := o.(*batchv1.CronJob); ok {
			out = append(out, cj)
		}
	}
	return out
}

func (a extAPI) cronJob(ns, name string) *cronJob {
	if a.w.cron == nil {
		return nil
	}
	key := namespaceOr(ns) + "/" + name
	for _, cj := range a.w.cron.cjs {
		if cj.key == key {
			return cj
		}
	}
	return nil
}

func (a extAPI) Claim(ns, name string) bool {
	cj := a.cronJob(ns, name)
	if cj != nil {
		cj.claimed = true
	}
	return cj != nil
}

func (a extAPI) SetRateLimit(qps float64, burst int) {
	a.w.ext.client = newAPIClient(a.w.m.APIServer, qps, burst)
}

func (a extAPI) Write() { a.w.ext.client.do(a.w.q.Now()) }

func (a extAPI) CreateJob(job *batchv1.Job) (*batchv1.Job, error) {
	w := a.w
	var owner string
	for _, r := range job.OwnerReferences {
		if r.Kind == "CronJob" {
			owner = r.Name
			break
		}
	}
	cj := a.cronJob(job.Namespace, owner)
	if cj == nil {
		return nil, fmt.Errorf("create job %s/%s: no CronJob %q in the scenario owns it", job.Namespace, job.Name, owner)
	}
	c := w.cron
	now := w.q.Now()
	key := cj.key
	if w.ext.byName[cj.ns+"/"+job.Name] != nil {
		return nil, fmt.Errorf("create job %s/%s: already exists", cj.ns, job.Name)
	}
	j := job.DeepCopy()
	j.Namespace = cj.ns
	j.CreationTimestamp = metav1.NewTime(w.wall(now))
	sched := now
	if v := j.Annotations["batch.kubernetes.io/cronjob-scheduled-timestamp"]; v != "" {
		t, err := time.Parse(time.RFC3339, v)
		if err != nil {
			return nil, fmt.Errorf("create job %s/%s: annotation batch.kubernetes.io/cronjob-scheduled-timestamp: %v", j.Namespace, j.Name, err)
		}
		sched = t.Sub(w.in.Start)
	}
	r := c.addRun(&cronRun{cj: cj, name: j.Name, sched: sched, pod: -1, image: cj.image, ext: &extRun{job: j}})
	if cs := j.Spec.Template.Spec.Containers; len(cs) > 0 {
		r.image = cs[0].Image
	}
	cj.active = append(cj.active, r.idx)
	w.ext.jobs[key] = append(w.ext.jobs[key], r)
	w.ext.byName[cj.ns+"/"+j.Name] = r
	t := w.ext.client.do(now)
	r.created = t
	c.created++
	c.met.Invoke.Inc()
	emit(w, trace.ExtensionCreatedJob{Job: j.Name, Scheduled: w.wall(sched)})
	if j.Spec.Suspend == nil || !*j.Spec.Suspend {
		c.jobs.createdAt(t, r)
	}
	return j, nil
}

func (a extAPI) DeleteJob(ns, name string) error {
	w := a.w
	id := namespaceOr(ns) + "/" + name
	r := w.ext.byName[id]
	if r == nil {
		return fmt.Errorf("delete job %s: not found", id)
	}
	t := w.ext.client.do(w.q.Now())
	delete(w.ext.byName, id)
	runs := w.ext.jobs[r.cj.key]
	for i, o := range runs {
		if o == r {
			w.ext.jobs[r.cj.key] = append(runs[:i:i], runs[i+1:]...)
			break
		}
	}
	r.ext.deleted = !r.started
	if !r.done {
		w.cron.jobs.delete(r, t)
	}
	return nil
}

func (a extAPI) Jobs(ns, cronJob string) []*batchv1.Job {
	runs := a.w.ext.jobs[namespaceOr(ns)+"/"+cronJob]
	out := make([]*batchv1.Job, len(runs))
	for i, r := range runs {
		j := r.ext.job
		// status the Job controller keeps: startTime once it picked the Job up (its first pod)
		if j.Status.StartTime == nil && (r.pod >= 0 || r.started || r.podFails > 0) {
			j.Status.StartTime = &metav1.Time{Time: a.w.wall(r.podCreated)}
		}
		j.Status.Active = 0
		if r.pod >= 0 {
			j.Status.Active = 1
		}
		out[i] = j
	}
	return out
}

func (a extAPI) Event(ev Event) {
	w := a.w
	emit(w, trace.KubeEvent{Regarding: ev.Regarding, Type: ev.Type, Reason: ev.Reason, Note: ev.Note})
	why, ok := skipReasons[ev.Reason]
	if !ok || w.cron == nil {
		return
	}
	parts := strings.Split(ev.Regarding, "/")
	if len(parts) != 3 || parts[0] != "cronjob" {
		return
	}
	cj := a.cronJob(parts[1], parts[2])
	if cj == nil {
		return
	}
	n := max(ev.Count, 1)
	c := w.cron
	c.skips[why] += uint64(n)
	c.met.Skip[why].Add(float64(n))
	c.cronBad(cj, w.q.Now())
}

// extJobStarted tells the run's extensions that the app container first ran (hook in appStart).
func (w *World) extJobStarted(r *cronRun, now time.Duration) {
	j := r.ext.job
	if j.Status.StartTime == nil {
		j.Status.StartTime = &metav1.Time{Time: w.wall(r.created)}
	}
	for _, e := range w.ext.exts {
		e.JobStarted(j, w.wall(now))
	}
}

// extJobFinished fills the Job's status and tells the extensions (hook in jobFinish). A deleted
// Job (reason "") is not reported.
func (w *World) extJobFinished(r *cronRun, now time.Duration, ok bool, reason string) {
	if reason == "" {
		return
	}
	j := r.ext.job
	j.Status.Failed = int32(r.podFails)
	t := metav1.NewTime(w.wall(now))
	cond := batchv1.JobCondition{Type: batchv1.JobFailed, Status: corev1.ConditionTrue, Reason: reason, LastTransitionTime: t}
	if ok {
		cond.Type = batchv1.JobComplete
		j.Status.Succeeded = 1
		j.Status.CompletionTime = &t
	}
	j.Status.Conditions = append(j.Status.Conditions, cond)
	for _, e := range w.ext.exts {
		e.JobFinished(j)
	}
}
