package realrun

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"maps"
	"math/rand/v2"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	admissionregistrationv1 "k8s.io/api/admissionregistration/v1"
	appsv1 "k8s.io/api/apps/v1"
	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/discovery/cached/memory"
	"k8s.io/client-go/dynamic"
	"k8s.io/client-go/informers"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/kubernetes/scheme"
	"k8s.io/client-go/rest"
	"k8s.io/client-go/restmapper"
	"k8s.io/client-go/tools/cache"
	"k8s.io/utils/clock"

	"github.com/faultline-dev/faultline/clusters"
	"github.com/faultline-dev/faultline/clusters/webhook"
	"github.com/faultline-dev/faultline/measure"
	"github.com/faultline-dev/faultline/measure/promql"
	"github.com/faultline-dev/faultline/platform"
	"github.com/faultline-dev/faultline/sim"
)

// FieldManager is the server-side apply field manager of everything a run applies.
const FieldManager = "faultline"

// RunLabel marks the nodes and namespaces a run created, with the run's id, for clean-up.
const RunLabel = "faultline.dev/run"

// ControllerManager is the component name ControlPlane.Stop and Start take.
const ControllerManager = "kube-controller-manager"

// ControlPlane is what a run may do to the cluster's own components; only clusters faultline
// runs itself offer it.
type ControlPlane interface {
	// Stop stops the named component (kube-controller-manager) until Start.
	Stop(ctx context.Context, component string) error
	// Start starts it again and waits until it is healthy.
	Start(ctx context.Context, component string) error
}

// Options tunes a run.
type Options struct {
	// Seed drives the random choices of fault targets (Chaos Mesh mode one, fixed, ...); it is
	// the Result's seed.
	Seed uint64
	// TimeScale multiplies the scenario's times (fault starts and windows, the run's length):
	// 0.1 plays a 1 h scenario in 6 min. Controllers keep their real timings and CronJob
	// schedules keep the wall clock, so compress only where the story survives it. 0 means 1.
	TimeScale float64
	// ControlPlane lets faults stop kube-controller-manager; nil where faultline does not run
	// the control plane (such faults are then reported as not injected).
	ControlPlane ControlPlane
	// Chaos holds the Chaos Mesh object of each fault as written (JSON, by sim.Fault.Name),
	// applied as is when the cluster serves Chaos Mesh's CRDs.
	Chaos map[string][]byte
	// Cleanup deletes what the run created (objects, nodes, namespaces) at the end; for an
	// existing cluster. A throwaway cluster is deleted whole instead.
	Cleanup bool
	// Real: the cluster's nodes are real kubelets (kind); the pools are mapped onto them instead
	// of KWOK nodes, images are substituted and requests scaled (see RealNodes, useNodes).
	Real *RealNodes
	// Ledger records what the run creates and changes before it does (an existing cluster's
	// runs), so that the next faultline command undoes it if this process dies; nil: nothing is
	// recorded (a throwaway cluster, recorded whole as the run's).
	Ledger *Ledger
	Logger *slog.Logger
	// Clock is the wall clock the run plays faults on and timestamps observations with; nil
	// means the real one.
	Clock clock.Clock
	// PromQL is what the scenario evaluates in PromQL (its objectives and rule files); a run
	// with any scrapes the cluster with a Prometheus server and evaluates it there
	// (prometheus.go). nil: none.
	PromQL *promql.Spec
	// Platform is the variant's spec.platform, run against the cluster for the run
	// (platform.go); nil: none.
	Platform *platform.Config
}

// Report says what a run did besides its indicators.
type Report struct {
	Input string
	// Start is the wall-clock instant virtual time 0 stood for; End when measuring stopped.
	Start, End time.Time
	Nodes      int
	Objects    int
	Injected   []string
	// NotInjected names each fault this cluster could not express, with the reason.
	NotInjected []string
	// Unmeasured lists the simulator's indicators this world cannot measure, with the reason.
	Unmeasured []string
	// Placements is, per multi-replica Deployment, the pods per node at the end.
	Placements map[string]map[string]int
	// Webhook is the webhook backend's request count (0 without webhooks).
	WebhookCalls int64
	// Notes are differences between what the input models and what this cluster runs.
	Notes []string `json:"notes,omitempty"`
	// Invalid says why the run is invalid (validity.go): the world under it broke. Empty for a
	// valid run.
	Invalid []string `json:"invalid,omitempty"`
	// RevertFailed names each fault that could not be undone, with the error.
	RevertFailed []string `json:"revertFailed,omitempty"`
	// ImagePullFailures counts the pods seen waiting with ErrImagePull or ImagePullBackOff:
	// real pulls that failed (a registry model played for real, registry.go).
	ImagePullFailures int `json:"imagePullFailures,omitempty"`
	// Partial is what a run cut short (interrupted) had measured when it stopped, from Start
	// to End: kept so that nothing measured is lost, never scored (its window is short of the
	// scenario's).
	Partial []sim.Indicator `json:"partial,omitempty"`
	// Prometheus is what the run's Prometheus server scraped and saw fire (prometheus.go).
	Prometheus *PromReport `json:"prometheus,omitempty"`
}

// Run plays in against the cluster behind cfg and measures it. The context bounds the whole run;
// on cancellation the run stops early, reverts its faults and returns ctx.Err() with what it
// measured so far.
func Run(ctx context.Context, cfg *rest.Config, in *sim.Input, opts Options) (_ sim.Result, _ *Report, err error) {
	r, err := newRun(cfg, in, opts)
	if err != nil {
		return sim.Result{}, nil, err
	}
	defer func() { r.finish(); err = r.verdict(err) }() // an *InvalidError when the world broke
	res, err := r.run(ctx)
	return res, r.rep, err
}

type run struct {
	up       upgradeObs // the control-plane upgrade (upgrade.go)
	in       *sim.Input
	opts     Options
	log      *slog.Logger
	cs       kubernetes.Interface
	dyn      dynamic.Interface
	mapper   meta.RESTMapper
	rep      *Report
	id       string
	rec      *recorder
	hook     *webhook.Server
	hookSvc  map[string]*corev1.Service // namespace/name of Services webhooks call → the Service
	t0       time.Time
	scale    float64
	rng      *rand.Rand
	clock    clock.Clock
	cronJobs []cronJob  // the input's CronJobs with their schedules
	skips    *skipTicks // the skipped scheduled times the CronJob controller reported (skips.go)

	mu       sync.Mutex
	reverts  []func(context.Context) error // undo injected faults, in order
	applied  []*unstructured.Unstructured
	nodes    []string
	madeNS   []string
	stopInf  chan struct{}
	chaosCRD map[string]bool

	// real nodes only
	nodeOf   map[string]string // pool node name → Kubernetes node name
	poolNode map[string]string // the reverse
	restore  []nodeRestore
	factors  map[corev1.ResourceName]float64
	images   []string // the scenario's images, replaced

	began time.Time
	down  map[string]int // components a fault stopped on purpose (validity.go)

	net *netPlan // the network path on real nodes (netpath.go); nil without loads or on KWOK

	reg *registryRun // the registry model played for real (registry.go); nil without one
	rc  *rest.Config // the cluster, for the platform (platform.go) and the Prometheus scraping it (prometheus.go)
	ros []*rolloutWatch

	prom promRun // the run's Prometheus (prometheus.go)
	plat platRun // the platform beside the cluster (platform.go)
}

func newRun(cfg *rest.Config, in *sim.Input, opts Options) (*run, error) {
	c := rest.CopyConfig(cfg)
	// faultline's own client is not what is measured: it must not be the bottleneck
	c.QPS, c.Burst = 200, 400
	c.UserAgent = "faultline-realrun"
	cs, err := kubernetes.NewForConfig(c)
	if err != nil {
		return nil, err
	}
	dyn, err := dynamic.NewForConfig(c)
	if err != nil {
		return nil, err
	}
	scale := opts.TimeScale
	if scale <= 0 {
		scale = 1
	}
	log := opts.Logger
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	clk := opts.Clock
	if clk == nil {
		clk = clock.RealClock{}
	}
	r := &run{
		in: in, opts: opts, log: log, cs: cs, dyn: dyn, scale: scale, clock: clk,
		mapper:  restmapper.NewDeferredDiscoveryRESTMapper(memory.NewMemCacheClient(cs.Discovery())),
		rep:     &Report{Input: in.Name, Placements: map[string]map[string]int{}},
		id:      strconv.FormatInt(clk.Now().UnixNano(), 36),
		rng:     rand.New(rand.NewPCG(opts.Seed, 0x6661756c746c696e)), // "faultlin"
		stopInf: make(chan struct{}), hookSvc: map[string]*corev1.Service{}, began: clk.Now(), rc: cfg,
	}
	var deps []*appsv1.Deployment
	cronNoted := false
	for _, o := range in.Objects {
		switch o := o.(type) {
		case *appsv1.Deployment:
			deps = append(deps, o)
		case *batchv1.CronJob:
			sched, err := measure.ParseSchedule(o.Spec.Schedule, o.Spec.TimeZone)
			if err != nil {
				return nil, fmt.Errorf("%s: cronjob/%s: %w", in.Name, o.Name, err)
			}
			r.cronJobs = append(r.cronJobs, cronJob{cj: o, sched: sched})
			if c := in.Models.CronJob.Controller; c != "v2" && !cronNoted {
				cronNoted = true
				r.rep.Notes = append(r.rep.Notes, fmt.Sprintf("the input models the %s CronJob controller; a Kubernetes 1.21+ cluster runs v2 (this run measures v2)", c))
			}
		}
	}
	r.rec = newRecorder(deps)
	r.skips = newSkipTicks(r.cronJobs)
	if opts.Real != nil {
		if r.net, err = planNet(in, opts.Seed); err != nil {
			return nil, fmt.Errorf("%s: %w", in.Name, err)
		}
	}
	return r, nil
}

func (r *run) run(ctx context.Context) (sim.Result, error) {
	ctx, stopGuard := r.guard(ctx) // cancelled when the world under the run breaks
	defer stopGuard()
	if err := r.startRegistry(ctx); err != nil { // registry.go
		return sim.Result{}, err
	}
	if r.opts.Real != nil {
		if err := r.useNodes(ctx); err != nil {
			return sim.Result{}, err
		}
	} else if err := r.createNodes(ctx); err != nil {
		return sim.Result{}, err
	} else if err := r.isolateNodes(ctx); err != nil {
		return sim.Result{}, err
	}
	if err := r.watch(ctx); err != nil {
		return sim.Result{}, err
	}
	if err := r.startPlatform(ctx); err != nil {
		return sim.Result{}, err
	}
	r.startProm(ctx)
	objs, err := r.prepareObjects()
	if err != nil {
		return sim.Result{}, err
	}
	if err := r.avoidBoundary(ctx); err != nil {
		return sim.Result{}, err
	}
	applyStart := r.clock.Now()
	if err := r.apply(ctx, objs); err != nil {
		return sim.Result{}, err
	}
	applyEnd := r.clock.Now()
	if r.net != nil {
		if applyEnd, err = r.netStart(ctx); err != nil { // time 0 once the loads are served
			return sim.Result{}, err
		}
	}
	if r.t0, err = r.startInstant(applyStart, applyEnd); err != nil {
		return sim.Result{}, err
	}
	r.rep.Start = r.t0
	end := r.t0.Add(r.scaled(r.in.Duration))
	r.log.Info("real run", "input", r.in.Name, "start", r.t0.Format(time.RFC3339), "end", end.Format(time.RFC3339),
		"nodes", len(r.nodes), "objects", len(objs), "faults", len(r.in.Faults))

	fctx, cancelFaults := context.WithCancel(ctx)
	var wg sync.WaitGroup
	for i := range r.in.Faults {
		wg.Add(1)
		go func() {
			defer wg.Done()
			r.playFault(fctx, r.in.Faults[i], end)
		}()
	}
	if len(r.in.Changes) > 0 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			r.playChanges(fctx, end)
		}()
	}
	if r.reg != nil {
		wg.Add(1)
		go func() {
			defer wg.Done()
			r.playRegistry(fctx, end)
		}()
	}
	series := &sim.Series{}
	wg.Add(1)
	go func() {
		defer wg.Done()
		r.sample(fctx, series, end)
	}()
	var runErr error
	select {
	case <-r.clock.After(end.Sub(r.clock.Now())):
	case <-ctx.Done():
		runErr = ctx.Err()
	}
	cancelFaults()
	wg.Wait()
	r.rep.End = r.clock.Now()
	res := r.result(context.WithoutCancel(ctx), end)
	res.Series = series
	return res, runErr
}

// startInstant is the wall-clock instant virtual time 0 stands for. Without CronJobs it is when
// the objects were applied. With CronJobs it keeps the scenario's phase within the minute: the
// simulator's CronJobs exist from time 0 and first run "* * * * *" one minute in, so the real t0
// is the last minute boundary in phase with spec.start before the CronJobs were created, and
// they first fire at t0 + 1 min (avoidBoundary makes sure no boundary falls inside the apply).
// Longer periods (hourly) are not aligned: waiting for the top of the hour is not worth it.
func (r *run) startInstant(applyStart, applyEnd time.Time) (time.Time, error) {
	if !r.hasCron() {
		return applyEnd, nil
	}
	t0 := r.lastBoundary(applyStart)
	if !applyEnd.Before(t0.Add(time.Minute)) {
		return t0, fmt.Errorf("applying the objects took %s and crossed a minute boundary: the CronJobs would not start together", applyEnd.Sub(applyStart).Round(time.Millisecond))
	}
	return t0, nil
}

// avoidBoundary waits past the next minute boundary (in phase with spec.start) when it is less
// than 10 s away, so that applying CronJobs never straddles one.
func (r *run) avoidBoundary(ctx context.Context) error {
	if !r.hasCron() {
		return nil
	}
	now := r.clock.Now()
	next := r.lastBoundary(now).Add(time.Minute)
	if next.Sub(now) >= 10*time.Second {
		return nil
	}
	if !r.sleepUntil(ctx, next.Add(100*time.Millisecond)) {
		return ctx.Err()
	}
	return nil
}

// lastBoundary is the latest instant <= t whose offset in the minute is spec.start's.
func (r *run) lastBoundary(t time.Time) time.Time {
	phase := time.Duration(r.in.Start.UnixNano() % int64(time.Minute))
	b := t.Truncate(time.Minute).Add(phase)
	if b.After(t) {
		b = b.Add(-time.Minute)
	}
	return b
}

func (r *run) hasCron() bool {
	for _, o := range r.in.Objects {
		if _, ok := o.(*batchv1.CronJob); ok {
			return true
		}
	}
	return false
}

func (r *run) scaled(d time.Duration) time.Duration { return time.Duration(float64(d) * r.scale) }

// createNodes makes the pools' KWOK nodes and waits until they are Ready and untainted.
func (r *run) createNodes(ctx context.Context) error {
	if err := r.ledgerPoolNodes(); err != nil {
		return err
	}
	for _, pool := range r.in.Pools {
		for i := 1; i <= pool.Count; i++ {
			name := pool.Name + "-" + strconv.Itoa(i)
			l := map[string]string{RunLabel: r.id, "faultline.dev/pool": pool.Name}
			for k, v := range pool.Labels {
				l[k] = v
			}
			if len(pool.Zones) > 0 {
				l[corev1.LabelTopologyZone] = pool.Zones[(i-1)%len(pool.Zones)]
			}
			n := clusters.FakeNode(name, pool.Capacity, l, pool.Taints)
			if _, err := r.cs.CoreV1().Nodes().Create(ctx, n, metav1.CreateOptions{FieldManager: FieldManager}); err != nil {
				return fmt.Errorf("create node %s: %w", name, err)
			}
			r.nodes = append(r.nodes, name)
		}
	}
	r.rep.Nodes = len(r.nodes)
	deadline := r.clock.Now().Add(2 * time.Minute)
	for {
		nodes, err := r.cs.CoreV1().Nodes().List(ctx, metav1.ListOptions{LabelSelector: RunLabel + "=" + r.id})
		if err != nil {
			return fmt.Errorf("list nodes: %w", err)
		}
		ready := 0
		for _, n := range nodes.Items {
			if clusters.NodeReady(&n) && !clusters.LifecycleTainted(&n) {
				ready++
			}
		}
		if ready == len(r.nodes) {
			return nil
		}
		if r.clock.Now().After(deadline) {
			return fmt.Errorf("nodes: %d of %d Ready after 2 minutes (is KWOK running and managing nodes annotated %s=fake?)", ready, len(r.nodes), clusters.FakeNodeAnnotation)
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-r.clock.After(200 * time.Millisecond):
		}
	}
}

// watch starts the informers that feed the recorder and waits for their caches.
func (r *run) watch(ctx context.Context) error {
	f := informers.NewSharedInformerFactory(r.cs, 0)
	pods := f.Core().V1().Pods().Informer()
	jobs := f.Batch().V1().Jobs().Informer()
	nodes := f.Core().V1().Nodes().Informer()
	deps := f.Apps().V1().Deployments().Informer()
	_, _ = pods.AddEventHandler(cache.ResourceEventHandlerFuncs{
		AddFunc:    func(o any) { r.rec.pod(o.(*corev1.Pod), r.clock.Now()) },
		UpdateFunc: func(_, o any) { r.rec.pod(o.(*corev1.Pod), r.clock.Now()) },
		DeleteFunc: func(o any) {
			if p, ok := deletedObject(o).(*corev1.Pod); ok {
				r.rec.podGone(p)
			}
		},
	})
	_, _ = jobs.AddEventHandler(cache.ResourceEventHandlerFuncs{
		AddFunc:    func(o any) { r.rec.job(o.(*batchv1.Job), r.clock.Now()) },
		UpdateFunc: func(_, o any) { r.rec.job(o.(*batchv1.Job), r.clock.Now()) },
	})
	_, _ = nodes.AddEventHandler(cache.ResourceEventHandlerFuncs{
		AddFunc:    func(o any) { r.rec.node(o.(*corev1.Node), r.clock.Now()) },
		UpdateFunc: func(_, o any) { r.rec.node(o.(*corev1.Node), r.clock.Now()) },
		DeleteFunc: func(o any) {
			if n, ok := deletedObject(o).(*corev1.Node); ok {
				r.rec.nodeGone(n.Name, r.clock.Now())
			}
		},
	})
	_, _ = deps.AddEventHandler(cache.ResourceEventHandlerFuncs{
		AddFunc:    func(o any) { r.rec.deployment(o.(*appsv1.Deployment)) },
		UpdateFunc: func(_, o any) { r.rec.deployment(o.(*appsv1.Deployment)) },
	})
	f.Start(r.stopInf)
	for typ, ok := range f.WaitForCacheSync(ctx.Done()) {
		if !ok {
			return fmt.Errorf("watch %v: caches did not sync", typ)
		}
	}
	r.rec.nodesSynced(nodes.GetStore().List(), r.clock.Now())
	return r.watchSkips()
}

// deletedObject is the object of an informer's delete notification: its last known state when
// the watch missed the deletion.
func deletedObject(o any) any {
	if t, ok := o.(cache.DeletedFinalStateUnknown); ok {
		return t.Obj
	}
	return o
}

// prepareObjects turns the input's objects into unstructured ones in apply order (namespaces,
// CRDs, then the rest, webhook configurations last), with webhooks pointed at faultline's
// backend.
func (r *run) prepareObjects() ([]*unstructured.Unstructured, error) {
	var out []*unstructured.Unstructured
	nsSeen := map[string]bool{"default": true, "kube-system": true, "kube-public": true, "kube-node-lease": true}
	var services = map[string]*corev1.Service{}
	for _, o := range r.in.Objects {
		if s, ok := o.(*corev1.Service); ok {
			ns := s.Namespace
			if ns == "" {
				ns = "default"
			}
			services[ns+"/"+s.Name] = s
		}
	}
	for _, o := range r.in.Objects {
		o = o.DeepCopyObject()
		if r.opts.Real != nil {
			switch o.(type) {
			case *admissionregistrationv1.ValidatingWebhookConfiguration, *admissionregistrationv1.MutatingWebhookConfiguration:
				return nil, fmt.Errorf("%s: webhook configurations are not supported on %s clusters yet: faultline's webhook backend listens on 127.0.0.1, which the cluster's API server (in a container) cannot reach", r.in.Name, r.opts.Real.Provider)
			}
			r.adaptForRealNodes(o)
		}
		if err := r.pointWebhooks(o, services); err != nil {
			return nil, err
		}
		u, err := toUnstructured(o)
		if err != nil {
			return nil, err
		}
		if u.GetKind() == "Namespace" {
			nsSeen[u.GetName()] = true
		}
		out = append(out, u)
	}
	// namespaces the objects live in but do not declare
	var extra []*unstructured.Unstructured
	for _, u := range out {
		ns := u.GetNamespace()
		if ns == "" || nsSeen[ns] {
			continue
		}
		nsSeen[ns] = true
		n := &unstructured.Unstructured{}
		n.SetAPIVersion("v1")
		n.SetKind("Namespace")
		n.SetName(ns)
		n.SetLabels(map[string]string{RunLabel: r.id})
		extra = append(extra, n)
		r.madeNS = append(r.madeNS, ns)
	}
	out = append(extra, out...)
	if r.opts.Real != nil && len(r.images) > 0 {
		r.rep.Notes = append(r.rep.Notes, fmt.Sprintf("images %s replaced by %s (pull policy Never; nothing can be pulled here): every container answers HTTP 200 on its probe and container ports and uses no real CPU; Job containers exit after faultline.dev/run-time (default 30s), failing with faultline.dev/failure-ratio",
			strings.Join(r.images, ", "), r.opts.Real.Image))
	}
	rank := func(u *unstructured.Unstructured) int {
		switch u.GetKind() {
		case "Namespace":
			return 0
		case "CustomResourceDefinition":
			return 1
		case "ServiceAccount", "ConfigMap", "Secret", "ClusterRole", "ClusterRoleBinding", "Role", "RoleBinding", "PriorityClass":
			return 2
		case "ValidatingWebhookConfiguration", "MutatingWebhookConfiguration":
			return 9
		}
		return 5
	}
	slices.SortStableFunc(out, func(a, b *unstructured.Unstructured) int { return rank(a) - rank(b) })
	return out, nil
}

// pointWebhooks rewrites a webhook configuration's clientConfig to faultline's backend (started
// on first use), remembering the Service it named so that faults on that Service's pods reach
// the backend.
func (r *run) pointWebhooks(o runtime.Object, services map[string]*corev1.Service) error {
	point := func(cfgName, whName string, cc *admissionregistrationv1.WebhookClientConfig) error {
		if r.hook == nil {
			h, err := webhook.Start(webhook.WithLogger(r.log))
			if err != nil {
				return err
			}
			r.hook = h
		}
		if cc.Service != nil {
			key := cc.Service.Namespace + "/" + cc.Service.Name
			if s, ok := services[key]; ok {
				r.hookSvc[key] = s
			} else {
				r.hookSvc[key] = &corev1.Service{ObjectMeta: metav1.ObjectMeta{Namespace: cc.Service.Namespace, Name: cc.Service.Name}}
			}
		}
		*cc = r.hook.ClientConfig("/" + cfgName + "/" + whName)
		return nil
	}
	switch w := o.(type) {
	case *admissionregistrationv1.ValidatingWebhookConfiguration:
		for i := range w.Webhooks {
			if err := point(w.Name, w.Webhooks[i].Name, &w.Webhooks[i].ClientConfig); err != nil {
				return err
			}
		}
	case *admissionregistrationv1.MutatingWebhookConfiguration:
		for i := range w.Webhooks {
			if err := point(w.Name, w.Webhooks[i].Name, &w.Webhooks[i].ClientConfig); err != nil {
				return err
			}
		}
	}
	return nil
}

func toUnstructured(o runtime.Object) (*unstructured.Unstructured, error) {
	gvk := o.GetObjectKind().GroupVersionKind()
	if gvk.Empty() {
		kinds, _, err := scheme.Scheme.ObjectKinds(o)
		if err != nil || len(kinds) == 0 {
			return nil, fmt.Errorf("object %T: unknown kind", o)
		}
		gvk = kinds[0]
	}
	m, err := runtime.DefaultUnstructuredConverter.ToUnstructured(o)
	if err != nil {
		return nil, err
	}
	u := &unstructured.Unstructured{Object: m}
	u.SetGroupVersionKind(gvk)
	unstructured.RemoveNestedField(u.Object, "status")
	unstructured.RemoveNestedField(u.Object, "metadata", "creationTimestamp")
	return u, nil
}

// apply server-side-applies every object, namespaced ones into "default" when they name none.
func (r *run) apply(ctx context.Context, objs []*unstructured.Unstructured) error {
	if err := r.ledgerObjects(objs...); err != nil {
		return err
	}
	for _, u := range objs {
		if ns := u.GetNamespace(); ns != "" {
			if err := r.waitNamespaceGone(ctx, ns); err != nil {
				return err
			}
		}
		if err := r.applyOne(ctx, u); err != nil {
			return err
		}
		r.applied = append(r.applied, u)
	}
	r.rep.Objects = len(objs)
	return nil
}

func (r *run) resource(u *unstructured.Unstructured) (dynamic.ResourceInterface, error) {
	gvk := u.GroupVersionKind()
	m, err := r.mapper.RESTMapping(gvk.GroupKind(), gvk.Version)
	if err != nil {
		return nil, fmt.Errorf("%s %s: %w", gvk.Kind, u.GetName(), err)
	}
	if m.Scope.Name() == meta.RESTScopeNameNamespace {
		if u.GetNamespace() == "" {
			u.SetNamespace("default")
		}
		return r.dyn.Resource(m.Resource).Namespace(u.GetNamespace()), nil
	}
	return r.dyn.Resource(m.Resource), nil
}

func (r *run) applyOne(ctx context.Context, u *unstructured.Unstructured) error {
	ri, err := r.resource(u)
	if err != nil {
		return fmt.Errorf("apply: %w", err)
	}
	if u.GetKind() == "Namespace" && u.GetAPIVersion() == "v1" {
		if err := r.waitNamespaceGone(ctx, u.GetName()); err != nil {
			return err
		}
	}
	data, err := u.MarshalJSON()
	if err != nil {
		return err
	}
	force := true
	if _, err := ri.Patch(ctx, u.GetName(), types.ApplyPatchType, data, metav1.PatchOptions{FieldManager: FieldManager, Force: &force}); err != nil {
		return fmt.Errorf("apply %s %s/%s: %w", u.GetKind(), u.GetNamespace(), u.GetName(), err)
	}
	return nil
}

// waitNamespaceGone waits while a namespace of the same name is still terminating (left by an
// earlier run's clean-up): nothing can be created in it until it is gone.
func (r *run) waitNamespaceGone(ctx context.Context, name string) error {
	deadline := r.clock.Now().Add(2 * time.Minute)
	for {
		ns, err := r.cs.CoreV1().Namespaces().Get(ctx, name, metav1.GetOptions{})
		if apierrors.IsNotFound(err) || err == nil && ns.DeletionTimestamp == nil {
			return nil
		}
		if err != nil {
			return fmt.Errorf("namespace %s: %w", name, err)
		}
		if r.clock.Now().After(deadline) {
			return fmt.Errorf("namespace %s is still terminating after 2 minutes", name)
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-r.clock.After(250 * time.Millisecond):
		}
	}
}

// finish reverts every fault still in force, deletes what the run created when asked, stops the
// informers and the webhook backend.
func (r *run) finish() {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	r.stopProm()
	r.stopPlatform()
	r.mu.Lock()
	reverts := r.reverts
	r.reverts = nil
	r.mu.Unlock()
	for i := len(reverts) - 1; i >= 0; i-- {
		if err := reverts[i](ctx); err != nil {
			r.revertFailed("", err)
		}
	}
	if r.opts.Cleanup {
		dirty := false
		bg := metav1.DeletePropagationBackground
		for i := len(r.applied) - 1; i >= 0; i-- {
			u := r.applied[i]
			if ri, err := r.resource(u); err == nil {
				if err := ri.Delete(ctx, u.GetName(), metav1.DeleteOptions{PropagationPolicy: &bg}); err != nil && !apierrors.IsNotFound(err) {
					r.log.Warn("clean-up", "kind", u.GetKind(), "name", u.GetName(), "err", err)
					dirty = true
				}
			}
		}
		for _, ns := range r.madeNS {
			dirty = notGone(r.cs.CoreV1().Namespaces().Delete(ctx, ns, metav1.DeleteOptions{})) || dirty
		}
		if r.opts.Real != nil {
			r.restoreNodes(ctx)
		} else {
			for _, n := range r.nodes {
				dirty = notGone(r.cs.CoreV1().Nodes().Delete(ctx, n, metav1.DeleteOptions{})) || dirty
			}
		}
		r.ledgerEnd(!dirty && len(r.rep.RevertFailed) == 0) // else the ledger keeps it for the next command
	}
	close(r.stopInf)
	if r.hook != nil {
		r.rep.WebhookCalls = r.hook.Calls()
		if err := r.hook.Close(ctx); err != nil {
			r.log.Warn("webhook backend shutdown", "err", err)
		}
	}
}

// sleepUntil waits on the run's clock until t; false when ctx ended first.
func (r *run) sleepUntil(ctx context.Context, t time.Time) bool {
	d := t.Sub(r.clock.Now())
	if d <= 0 {
		return ctx.Err() == nil
	}
	select {
	case <-ctx.Done():
		return false
	case <-r.clock.After(d):
		return true
	}
}

func (r *run) addRevert(f func(context.Context) error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.reverts = append(r.reverts, f)
}

// note records an injection or a refusal for the report.
func (r *run) note(injected bool, format string, args ...any) {
	msg := fmt.Sprintf(format, args...)
	r.mu.Lock()
	defer r.mu.Unlock()
	if injected {
		r.rep.Injected = append(r.rep.Injected, msg)
		r.log.Info("fault injected", "what", msg)
	} else {
		r.rep.NotInjected = append(r.rep.NotInjected, msg)
		r.log.Warn("fault NOT injected", "what", msg)
	}
}

// sample keeps a time series: nodes Ready, ready replicas per load target, cron runs started.
func (r *run) sample(ctx context.Context, s *sim.Series, end time.Time) {
	interval := r.scaled(r.in.Models.Sampling.Interval.Duration)
	if total := end.Sub(r.t0); interval <= 0 || interval > total/20 {
		interval = total / 20
	}
	interval = max(interval, time.Second)
	s.Columns = []string{"hours", "nodes-ready"}
	var targets []string
	for _, l := range r.in.Load {
		targets = append(targets, l.Target)
		s.Columns = append(s.Columns, "ready/"+l.Target)
	}
	s.Columns = append(s.Columns, "cron/jobs", "cron/started")
	next := r.t0
	for {
		if d := next.Sub(r.clock.Now()); d > 0 {
			select {
			case <-ctx.Done():
				return
			case <-r.clock.After(d):
			}
		}
		now := r.clock.Now()
		row := []float64{now.Sub(r.t0).Hours() / r.scale}
		r.rec.mu.Lock()
		ready := 0
		for _, n := range r.nodes {
			if r.rec.nodeReady[n] {
				ready++
			}
		}
		jobs, started := 0, 0
		for _, run := range r.rec.runs {
			jobs++
			if !run.started.IsZero() {
				started++
			}
		}
		r.rec.mu.Unlock()
		row = append(row, float64(ready))
		for _, t := range targets {
			row = append(row, float64(r.readyReplicas(ctx, t)))
		}
		row = append(row, float64(jobs), float64(started))
		s.Rows = append(s.Rows, row)
		next = next.Add(interval)
		if next.After(end) {
			return
		}
	}
}

func (r *run) readyReplicas(ctx context.Context, target string) int32 {
	kind, rest, _ := strings.Cut(target, "/")
	ns, name, ok := strings.Cut(rest, "/")
	if !ok {
		ns, name = "default", rest
	}
	if !strings.EqualFold(kind, "deployment") {
		return 0
	}
	d, err := r.cs.AppsV1().Deployments(ns).Get(ctx, name, metav1.GetOptions{})
	if err != nil {
		return 0
	}
	return d.Status.ReadyReplicas
}

// cronJob is one of the input's CronJobs with its schedule in its time zone.
type cronJob struct {
	cj    *batchv1.CronJob
	sched measure.Schedule
}

// result computes the indicators from what was observed: the recorder's observations, the
// CronJobs' creation times and the CronJob controller's skip events, through measure.Compute.
func (r *run) result(ctx context.Context, end time.Time) sim.Result {
	r.rep.Placements = r.rec.placements()
	for _, m := range r.rep.Placements { // by pool node name, as the simulator reports them
		for k, n := range m {
			if p := r.poolName(k); p != k {
				delete(m, k)
				m[p] = n
			}
		}
	}
	created := map[*batchv1.CronJob]time.Time{}
	skipped := 0
	var skips []skipSeen // when each skip was first reported (cronbad.go)
	if len(r.cronJobs) > 0 {
		for _, c := range r.cronJobs {
			ns := c.cj.Namespace
			if ns == "" {
				ns = "default"
			}
			if live, err := r.cs.BatchV1().CronJobs(ns).Get(ctx, c.cj.Name, metav1.GetOptions{}); err == nil {
				created[c.cj] = live.CreationTimestamp.Time
			}
		}
		// the watch saw every report; the list adds any it missed (skips.go)
		if evs, err := r.cs.CoreV1().Events("").List(ctx, metav1.ListOptions{FieldSelector: "involvedObject.kind=CronJob"}); err == nil {
			for i := range evs.Items {
				r.skips.event(&evs.Items[i])
			}
		}
		skipped, skips = r.skips.count(), r.skips.firsts()
	}
	world := measure.KWOK
	if r.opts.Real != nil {
		world = measure.Kind
	}
	obs, win := r.rec.observations(world, r.t0, end, r.scale, r.cronJobs, created, skipped)
	r.rep.ImagePullFailures = r.rec.pullFailures()
	if obs.Cron != nil {
		r.rec.failuresAndAlerts(obs.Cron, r.t0, skips, r.cronJobs, r.in.Models.Alerts.ScrapeInterval.Duration)
	}
	if r.net != nil {
		r.netObserve(ctx, obs)
	}
	if r.hasChanges() {
		obs.Scopes |= measure.Rollout
		obs.Rollouts = r.rolloutObservations(end)
	}
	obs.ControlPlane = r.up.observe(r.t0, end)
	if obs.Omit == nil {
		obs.Omit = map[string]string{}
	}
	promIns := r.promIndicators(ctx, end, obs.Omit)
	res := sim.Result{Seed: r.opts.Seed}
	res.Indicators, r.rep.Unmeasured = measure.Compute(obs, win)
	res.Indicators = append(res.Indicators, promIns...)
	return res
}

func (r *run) hasChanges() bool { return len(r.in.Changes) > 0 }

// observations is what the recorder saw, in package measure's record: offsets from t0, the
// window up to end. created holds the CronJobs' creation times (their scheduled times are due
// from then, or from t0 if later); skipped the controller's skip events.
func (rec *recorder) observations(world measure.World, t0, end time.Time, scale float64, cronJobs []cronJob,
	created map[*batchv1.CronJob]time.Time, skipped int) (*measure.Observations, measure.Window) {
	rec.mu.Lock()
	defer rec.mu.Unlock()
	o := &measure.Observations{World: world, PodsLost: rec.podsLost, Evictions: len(rec.evicted), MaxColocated: rec.maxColoc}
	win := measure.Window{Start: t0, Length: end.Sub(t0), Scale: scale}
	rec.nodeRecord(o, t0, end)
	if len(cronJobs) == 0 {
		return o, win
	}
	o.Scopes |= measure.Cron
	c := &measure.CronObservations{Skipped: skipped}
	for _, cj := range cronJobs {
		obs := measure.CronJobObservation{Key: namespaceOr(cj.cj.Namespace) + "/" + cj.cj.Name}
		if cj.cj.Spec.Suspend == nil || !*cj.cj.Spec.Suspend {
			obs.Next = cj.sched.Next
		}
		if t, ok := created[cj.cj]; ok && t.After(t0) {
			obs.DueFrom = t.Sub(t0)
		}
		c.CronJobs = append(c.CronJobs, obs)
	}
	// runs in the order of their Jobs' names, so that the record is the same on every call
	keys := slices.Sorted(maps.Keys(rec.runs))
	at := func(t time.Time, step measure.Step, seen *measure.Step) time.Duration {
		if t.IsZero() {
			return 0
		}
		*seen |= step
		return t.Sub(t0)
	}
	for _, k := range keys {
		run := rec.runs[k]
		cr := measure.CronRun{CronJob: run.cronJob, Scheduled: run.sched.Sub(t0)}
		cr.JobCreated = at(run.jobSeen, measure.JobCreated, &cr.Seen)
		cr.PodCreated = at(run.podSeen, measure.PodCreated, &cr.Seen)
		cr.PodBound = at(run.podBound, measure.PodBound, &cr.Seen)
		cr.AppRunning = at(run.started, measure.AppRunning, &cr.Seen)
		c.Runs = append(c.Runs, cr)
		if run.failed {
			c.FailedRuns++
		}
		c.FailedAttempts += len(run.failedPods)
	}
	o.Cron = c
	// a CronJob's faultline.dev/failure-ratio is load the simulator plays; here every pod runs
	// as its container (or KWOK) decides, so the failure counts are only comparable without it
	if failureRatio(cronJobs) {
		o.Omit = map[string]string{"failed-runs": failureRatioUnplayed, "failed-attempts": failureRatioUnplayed}
	}
	return o, win
}

func namespaceOr(ns string) string {
	if ns == "" {
		return "default"
	}
	return ns
}

// failureRatioUnplayed says why the failure counts are not measured for CronJobs with a
// failure ratio.
const failureRatioUnplayed = "the CronJobs' " + sim.AnnFailureRatio + " is played only by the simulator; real pods fail as their containers do (KWOK's: never)"

// failureRatio reports whether any CronJob asks the simulator for app failures.
func failureRatio(cronJobs []cronJob) bool {
	for _, c := range cronJobs {
		if v, err := strconv.ParseFloat(c.cj.Annotations[sim.AnnFailureRatio], 64); err == nil && v > 0 {
			return true
		}
	}
	return false
}

var errNoPods = errors.New("no pods selected")
