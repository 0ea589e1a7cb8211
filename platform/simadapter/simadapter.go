package simadapter

import (
	"context"
	"fmt"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	batchv1 "k8s.io/api/batch/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/utils/clock"

	"github.com/faultline-dev/faultline/platform"
	"github.com/faultline-dev/faultline/platform/cron"
	"github.com/faultline-dev/faultline/platform/placement"
	"github.com/faultline-dev/faultline/sim"
)

// Factory returns the extension factory that runs cfg's components in a World.
func Factory(cfg platform.Config) sim.ExtensionFactory {
	return func() (sim.Extension, error) {
		if err := cfg.Validate(); err != nil {
			return nil, err
		}
		return &Extension{cfg: cfg}, nil
	}
}

// Manual returns a factory whose extension takes the managed CronJobs but never syncs them on
// its own: onStart is called at virtual time 0 and drives the controller itself, at instants it
// schedules on Clock (the decision tests in package crontest).
func Manual(cfg platform.Config, onStart func(e *Extension)) sim.ExtensionFactory {
	return func() (sim.Extension, error) {
		if err := cfg.Validate(); err != nil {
			return nil, err
		}
		return &Extension{cfg: cfg, manual: onStart}, nil
	}
}

// Extension is the platform as a sim.Extension, for one run.
type Extension struct {
	manual   func(e *Extension)
	metrics  *cron.Metrics
	cfg      platform.Config
	api      sim.API
	clock    clock.WithDelayedExecution
	ctrl     *cron.Controller
	reg      *prometheus.Registry
	cronJobs map[string]*cronJobState // namespace/name → the platform's view of it
	jobs     map[string]*batchv1.Job  // namespace/name → the World's Job
}

type cronJobState struct {
	cj    *batchv1.CronJob // a copy: the platform writes annotations on it
	timer clock.Timer
}

var _ sim.Extension = (*Extension)(nil)

// Registry is the platform's Prometheus registry in this run (nil before Start or without cron).
func (e *Extension) Registry() *prometheus.Registry { return e.reg }

// Admit implements sim.Extension: the spreading webhook.
func (e *Extension) Admit(obj runtime.Object) error {
	if e.cfg.Placement == nil || e.cfg.Placement.Spread == nil {
		return nil
	}
	_, _, err := e.cfg.Placement.Spread.MutateObject(obj)
	return err
}

// Start implements sim.Extension: the cron scheduler takes the managed CronJobs and syncs each once.
func (e *Extension) Start(api sim.API) {
	e.api = api
	e.clock = api.Clock()
	if e.cfg.Cron == nil {
		return
	}
	cfg := e.cfg.Cron.WithDefaults()
	api.SetRateLimit(cfg.QPS, cfg.Burst)
	e.reg = prometheus.NewRegistry()
	opts := []cron.Option{cron.WithClock(e.clock)}
	if p := e.cfg.Placement; p != nil && p.Consolidation != nil {
		opts = append(opts, cron.WithImageResolver(placement.Resolver{Config: *p.Consolidation}))
	}
	e.metrics = cron.NewMetrics(e.reg)
	e.ctrl = cron.NewController(cfg, client{e}, e.metrics, opts...)
	e.cronJobs = map[string]*cronJobState{}
	e.jobs = map[string]*batchv1.Job{}
	for _, cj := range api.CronJobs() {
		if !cron.Managed(cj) {
			continue
		}
		ns := namespaceOr(cj.Namespace)
		key := ns + "/" + cj.Name
		c := cj.DeepCopy()
		c.Namespace = ns
		e.cronJobs[key] = &cronJobState{cj: c}
		api.Claim(ns, cj.Name)
		if e.manual == nil {
			e.enqueue(ns, cj.Name, 0)
		}
	}
	if e.manual != nil {
		e.manual(e)
	}
}

// Controller is the cron controller of this run (nil without cron).
func (e *Extension) Controller() *cron.Controller { return e.ctrl }

// Client is the controller's client over the World.
func (e *Extension) Client() cron.Client { return client{e} }

// Metrics are the controller's metrics.
func (e *Extension) Metrics() *cron.Metrics { return e.metrics }

// Clock is the World's virtual clock.
func (e *Extension) Clock() clock.WithDelayedExecution { return e.clock }

// enqueue syncs the CronJob after d, replacing an earlier requeue.
func (e *Extension) enqueue(ns, name string, d time.Duration) {
	st := e.cronJobs[ns+"/"+name]
	if st == nil {
		return
	}
	if st.timer != nil {
		st.timer.Stop()
	}
	st.timer = e.clock.AfterFunc(d, func() { e.sync(ns, name) })
}

func (e *Extension) sync(ns, name string) {
	e.cronJobs[ns+"/"+name].timer = nil
	d, err := e.ctrl.Sync(context.Background(), ns, name)
	if err != nil {
		// writes do not fail in the simulator; a failure is a bug in the adapter
		panic(fmt.Sprintf("simadapter: sync %s/%s: %v", ns, name, err))
	}
	if d > 0 {
		e.enqueue(ns, name, d)
	}
}

// JobStarted implements sim.Extension: T2.
func (e *Extension) JobStarted(job *batchv1.Job, at time.Time) {
	if e.ctrl == nil {
		return
	}
	if err := e.ctrl.AppStarted(context.Background(), job, at); err != nil {
		panic(fmt.Sprintf("simadapter: %v", err))
	}
}

// JobFinished implements sim.Extension: count it and sync its CronJob (the informer's update).
func (e *Extension) JobFinished(job *batchv1.Job) {
	if e.ctrl == nil {
		return
	}
	e.ctrl.JobFinished(job)
	if name := job.Labels[cron.LabelCronJob]; name != "" && e.manual == nil {
		// sync now; the sync returns the requeue for the next scheduled time
		e.enqueue(job.Namespace, name, 0)
	}
}

func namespaceOr(ns string) string {
	if ns == "" {
		return "default"
	}
	return ns
}

// client implements cron.Client over sim.API.
type client struct{ e *Extension }

var _ cron.Client = client{}

func (c client) GetCronJob(_ context.Context, ns, name string) (*batchv1.CronJob, error) {
	st := c.e.cronJobs[namespaceOr(ns)+"/"+name]
	if st == nil {
		return nil, fmt.Errorf("cronjob %s/%s: %w", ns, name, cron.ErrNotFound)
	}
	return st.cj, nil
}

func (c client) ListJobs(_ context.Context, ns, cronJob string) ([]*batchv1.Job, error) {
	return c.e.api.Jobs(ns, cronJob), nil
}

func (c client) CreateJob(_ context.Context, job *batchv1.Job) (*batchv1.Job, error) {
	j, err := c.e.api.CreateJob(job)
	if err != nil {
		return nil, err
	}
	c.e.jobs[j.Namespace+"/"+j.Name] = j
	return j, nil
}

func (c client) DeleteJob(_ context.Context, ns, name string) error {
	key := namespaceOr(ns) + "/" + name
	if _, ok := c.e.jobs[key]; !ok {
		return fmt.Errorf("job %s: %w", key, cron.ErrNotFound)
	}
	delete(c.e.jobs, key)
	return c.e.api.DeleteJob(ns, name)
}

func (c client) AnnotateCronJob(_ context.Context, ns, name string, ann map[string]string) error {
	st := c.e.cronJobs[namespaceOr(ns)+"/"+name]
	if st == nil {
		return fmt.Errorf("cronjob %s/%s: %w", ns, name, cron.ErrNotFound)
	}
	if st.cj.Annotations == nil {
		st.cj.Annotations = map[string]string{}
	}
	for k, v := range ann {
		st.cj.Annotations[k] = v
	}
	c.e.api.Write()
	return nil
}

func (c client) AnnotateJobOnce(_ context.Context, ns, name, key, value string) (bool, error) {
	j := c.e.jobs[namespaceOr(ns)+"/"+name]
	if j == nil {
		return false, fmt.Errorf("job %s/%s: %w", ns, name, cron.ErrNotFound)
	}
	if j.Annotations[key] != "" {
		return false, nil
	}
	if j.Annotations == nil {
		j.Annotations = map[string]string{}
	}
	j.Annotations[key] = value
	c.e.api.Write()
	return true, nil
}

func (c client) Event(_ context.Context, cj *batchv1.CronJob, eventType, reason string, scheduled time.Time, count int, message string) {
	c.e.api.Event(sim.Event{
		Regarding: "cronjob/" + namespaceOr(cj.Namespace) + "/" + cj.Name,
		Type:      eventType, Reason: reason, Note: message, Time: scheduled, Count: count,
	})
}
