package realrun

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"
	discoveryv1 "k8s.io/api/discovery/v1"
	networkingv1 "k8s.io/api/networking/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/client-go/informers"
	"k8s.io/client-go/tools/cache"

	"github.com/faultline-dev/faultline/clusters/echoapp"
	"github.com/faultline-dev/faultline/clusters/ingressfeed"
	"github.com/faultline-dev/faultline/clusters/loadgen"
	"github.com/faultline-dev/faultline/measure"
	"github.com/faultline-dev/faultline/sim"
)

// The network path on real nodes (kind): the loads' app behaviour played by faultline-echo, the
// loads' traffic sent by faultline's load generator from inside the cluster, and what became of
// every request read back as observations for measure.Compute.
//
// App: every long-running workload's first container gets an echoapp.Config (FAULTLINE_APP):
// its load entry's dependencies (the dependencies' Services), retry policy, readiness (deep: the
// readiness probe's path calls the checked Services) and SIGTERM policy, plus the fault switch on
// AppAdminPort and an emptyDir that keeps the fault mode across container restarts. Faults:
// pod-failure sets the selected pods' switch to fail (nothing listens: refused, as Chaos Mesh's
// pause image), a NetworkChaos loss to hang (nothing answers: callers and probes time out). The
// switch is reached through the API server's pod proxy: nothing is sent from the host to a pod.
// Why a switch and not a NetworkPolicy: kind's CNI here enforces no NetworkPolicy, and Chaos
// Mesh cannot be installed offline.
//
// Traffic: a Job on the control-plane node (outside the pools, never frozen by a node fault) runs
// faultline-echo -load with one open-loop stream per load entry with a request rate, through the
// Service (kube-proxy) or, when an Ingress routes to the load's Service, through the ingress
// proxy (ingress.go). The run's time 0 is when it starts sending, once the loads' Deployments are
// available. Its record (requests per stream and second, by outcome) is read from the pod's log.
//
// Outcomes to the simulator's classes: through a proxy, its 502 and 504 count as 502 (no answer
// from the pod) and its 503 as 503 (no endpoint). Through kube-proxy there is no proxy to answer:
// a refused connection counts as 503 while the Service had no ready endpoint (kube-proxy rejects
// connections to a Service without endpoints) and as 502 otherwise (the pod's process is gone),
// a reset or a time-out as 502. An answer marked by the app with an error is an app error.

// AppAdminPort is where faultline-echo's fault switch listens in every substituted app.
const AppAdminPort = 15999

// appStateDir is the emptyDir that keeps the app's fault mode across container restarts.
const appStateDir = "/faultline-state"

// loadLead is the time the load generator's pod gets to start before time 0.
const loadLead = 15 * time.Second

// loadNamespace holds the load generator (and the ingress proxy).
const loadNamespace = "faultline-net"

// netPlan is what a real run does on the network path, from the input.
type netPlan struct {
	apps    map[string]echoapp.Config // by workload key namespace/name (Deployments with a load)
	streams []loadgen.Stream
	loads   []netLoad // in input order, those with a request rate
	svcOf   map[string]serviceRef
	path    bool // the Network scope: an Ingress or a load with network behaviour
	notes   []string

	mu   sync.Mutex
	noEP map[string][]epChange // Service key → ready-endpoint counts over time

	ingress *ingressfeed.Config // the ingress proxy (ingress.go); nil without Ingresses
	gated   bool                // a NEG readiness gate was removed
}

// netLoad is one load entry with traffic.
type netLoad struct {
	target  string // as the scenario writes it
	key     string // namespace/name
	svc     string // the Service key its traffic goes to
	faulted bool   // its requests need a workload a pod fault acts on
}

type serviceRef struct {
	ns, name string
	port     int32
}

// url is the Service's URL by its fully qualified name (the trailing dot spares every call the
// pod's DNS search list: the apps resolve once per call, as they open a connection per call).
func (s serviceRef) url(path string) string {
	return fmt.Sprintf("http://%s.%s.svc.cluster.local.:%d%s", s.name, s.ns, s.port, path)
}

type epChange struct {
	at    time.Time
	ready int
}

// loadKey turns deployment/NAME or deployment/NS/NAME into NS/NAME.
func loadKey(target string) (string, error) {
	parts := strings.Split(target, "/")
	switch {
	case len(parts) == 2 && parts[0] == "deployment" && parts[1] != "":
		return "default/" + parts[1], nil
	case len(parts) == 3 && parts[0] == "deployment" && parts[1] != "" && parts[2] != "":
		return parts[1] + "/" + parts[2], nil
	}
	return "", fmt.Errorf("%q: expected deployment/NAME or deployment/NAMESPACE/NAME", target)
}

// planNet builds the network plan of an input for real nodes; nil when no load has traffic or
// behaviour.
func planNet(in *sim.Input, seed uint64) (*netPlan, error) {
	deps := map[string]*appsv1.Deployment{}
	var services []*corev1.Service
	var ingresses []*networkingv1.Ingress
	for _, o := range in.Objects {
		switch o := o.(type) {
		case *appsv1.Deployment:
			deps[namespaceOr(o.Namespace)+"/"+o.Name] = o
		case *corev1.Service:
			services = append(services, o)
		case *networkingv1.Ingress:
			ingresses = append(ingresses, o)
		}
	}
	if len(in.Load) == 0 {
		return nil, nil
	}
	p := &netPlan{apps: map[string]echoapp.Config{}, svcOf: map[string]serviceRef{}, noEP: map[string][]epChange{}, path: len(ingresses) > 0}
	// the Service in front of each load's Deployment
	for _, l := range in.Load {
		key, err := loadKey(l.Target)
		if err != nil {
			return nil, fmt.Errorf("load: %w", err)
		}
		d := deps[key]
		if d == nil {
			return nil, fmt.Errorf("load: %q names no Deployment in objects", l.Target)
		}
		for _, s := range services {
			if namespaceOr(s.Namespace) == namespaceOr(d.Namespace) && len(s.Spec.Selector) > 0 &&
				labels.SelectorFromSet(s.Spec.Selector).Matches(labels.Set(d.Spec.Template.Labels)) {
				port := int32(80)
				if len(s.Spec.Ports) > 0 {
					port = s.Spec.Ports[0].Port
				}
				p.svcOf[key] = serviceRef{ns: namespaceOr(s.Namespace), name: s.Name, port: port}
				break
			}
		}
		if l.Readiness != "" || len(l.ReadinessChecks) > 0 || l.OnSIGTERM != "" || l.Retry != nil {
			p.path = true
		}
	}
	urls := func(field string, i int, targets []string) ([]string, error) {
		var out []string
		for _, t := range targets {
			k, err := loadKey(t)
			if err != nil {
				return nil, fmt.Errorf("load[%d].%s: %w", i, field, err)
			}
			s, ok := p.svcOf[k]
			if !ok {
				return nil, fmt.Errorf("load[%d].%s: %q has no Service among the objects for its calls to reach it", i, field, t)
			}
			out = append(out, s.url("/"))
		}
		return out, nil
	}
	faulted := faultedKeys(in, deps)
	for i, l := range in.Load {
		key, _ := loadKey(l.Target)
		cfg := echoapp.Config{Name: l.Target, OnSIGTERM: l.OnSIGTERM, Deep: l.Readiness == sim.ReadinessDeep}
		var err error
		if cfg.Deps, err = urls("dependsOn", i, l.DependsOn); err != nil {
			return nil, err
		}
		checks := l.ReadinessChecks
		if len(checks) == 0 {
			checks = l.DependsOn
		}
		if cfg.Deep {
			if cfg.Checks, err = urls("readinessChecks", i, checks); err != nil {
				return nil, err
			}
		}
		if r := l.Retry; r != nil {
			cfg.Retry = echoapp.Retry{Attempts: r.Attempts, Backoff: echoapp.Duration(r.Backoff.Duration), MaxBackoff: echoapp.Duration(r.MaxBackoff.Duration)}
		}
		p.apps[key] = cfg
		if l.RequestsPerSecond <= 0 {
			continue
		}
		svc, ok := p.svcOf[key]
		if !ok {
			p.notes = append(p.notes, fmt.Sprintf("load %s: no Service selects its pods, so its traffic is not sent", l.Target))
			continue
		}
		rps := l.RequestsPerSecond * l.Profile.At(in.Start)
		if l.Profile != nil {
			p.notes = append(p.notes, fmt.Sprintf("load %s: sent at its profile's rate at the start (%.4g requests/s) throughout; the profile's changes over the run are not played", l.Target, rps))
		}
		p.loads = append(p.loads, netLoad{target: l.Target, key: key, svc: svc.ns + "/" + svc.name, faulted: needs(key, in, faulted, map[string]bool{})})
		p.streams = append(p.streams, loadgen.Stream{Target: l.Target, URL: svc.url("/"), RPS: rps, Via: loadgen.ViaService})
	}
	var err error
	if p.ingress, err = p.planIngress(ingresses, in.Models.Network, seed); err != nil {
		return nil, err
	}
	return p, nil
}

// faultedKeys marks the Deployments whose pods a pod fault's selector matches (as the simulator's
// collateral-loss-ratio does: pod-kill, pod-failure, cpu-stress).
func faultedKeys(in *sim.Input, deps map[string]*appsv1.Deployment) map[string]bool {
	out := map[string]bool{}
	for _, f := range in.Faults {
		if f.Action != sim.PodKill && f.Action != sim.PodFailure && f.Action != sim.CPUStress {
			continue
		}
		for key, d := range deps {
			ns := namespaceOr(d.Namespace)
			if len(f.Pods.Namespaces) > 0 && !slices.Contains(f.Pods.Namespaces, ns) {
				continue
			}
			if f.Pods.Labels == nil || f.Pods.Labels.Matches(labels.Set(d.Spec.Template.Labels)) {
				out[key] = true
			}
		}
	}
	return out
}

// needs reports whether the load on key needs (itself or through dependencies) a faulted workload.
func needs(key string, in *sim.Input, faulted map[string]bool, seen map[string]bool) bool {
	if faulted[key] {
		return true
	}
	if seen[key] {
		return false
	}
	seen[key] = true
	for _, l := range in.Load {
		if k, _ := loadKey(l.Target); k == key {
			for _, d := range l.DependsOn {
				if dk, err := loadKey(d); err == nil && needs(dk, in, faulted, seen) {
					return true
				}
			}
		}
	}
	return false
}

// adaptApp gives a long-running workload's first container its app behaviour (the Deployment's
// load entry, or none), the fault switch and the state directory.
func (p *netPlan) adaptApp(o runtime.Object, spec *corev1.PodSpec) {
	if len(spec.Containers) == 0 {
		return
	}
	if stripNEGGate(spec) && !p.gated {
		p.gated = true
		p.notes = append(p.notes, "the readiness gate "+negGate+" is removed: on GKE the NEG controller sets it once the load balancer has the pod, and nothing sets it on kind (the pods would never be Ready); so a rollout here does not wait for the load balancer")
	}
	c := &spec.Containers[0]
	cfg := echoapp.Config{}
	if m, err := meta.Accessor(o); err == nil {
		cfg.Name = namespaceOr(m.GetNamespace()) + "/" + m.GetName()
	}
	if d, ok := o.(*appsv1.Deployment); ok {
		if a, ok := p.apps[namespaceOr(d.Namespace)+"/"+d.Name]; ok {
			cfg = a
		}
	}
	for _, port := range containerPorts(c) {
		cfg.Listen = append(cfg.Listen, ":"+strconv.Itoa(int(port)))
	}
	cfg.Admin = ":" + strconv.Itoa(AppAdminPort)
	cfg.StateDir = appStateDir
	for _, pr := range []*corev1.Probe{c.LivenessProbe, c.StartupProbe} {
		if pr != nil && pr.HTTPGet != nil && pr.HTTPGet.Path != "" {
			cfg.ProbePaths = append(cfg.ProbePaths, pr.HTTPGet.Path)
		}
	}
	if pr := c.ReadinessProbe; pr != nil && pr.HTTPGet != nil {
		cfg.ReadyPath = pr.HTTPGet.Path
		if cfg.ReadyPath == "" {
			cfg.ReadyPath = "/"
		}
	} else if cfg.Deep {
		cfg.Deep = false // no HTTP readiness probe to run the check (the simulator refuses this input)
	}
	b, _ := json.Marshal(cfg)
	c.Env = append(c.Env, corev1.EnvVar{Name: echoapp.EnvConfig, Value: string(b)})
	spec.Volumes = append(spec.Volumes, corev1.Volume{Name: "faultline-state", VolumeSource: corev1.VolumeSource{EmptyDir: &corev1.EmptyDirVolumeSource{}}})
	c.VolumeMounts = append(c.VolumeMounts, corev1.VolumeMount{Name: "faultline-state", MountPath: appStateDir})
}

// loadJob is the load generator's Job: faultline-echo -load on the control-plane node.
func (p *netPlan) loadJob(image, runID string, start time.Time, d time.Duration) (*batchv1.Job, error) {
	cfg := loadgen.Config{Start: start, Duration: echoapp.Duration(d), Streams: p.streams}
	if err := cfg.Validate(); err != nil {
		return nil, fmt.Errorf("load generator: %w", err)
	}
	b, _ := json.Marshal(cfg)
	zero := int32(0)
	deadline := int64((d + loadLead + 5*time.Minute).Seconds())
	return &batchv1.Job{
		TypeMeta:   metav1.TypeMeta{APIVersion: "batch/v1", Kind: "Job"},
		ObjectMeta: metav1.ObjectMeta{Name: "faultline-load", Namespace: loadNamespace, Labels: map[string]string{RunLabel: runID}},
		Spec: batchv1.JobSpec{
			BackoffLimit: &zero, ActiveDeadlineSeconds: &deadline,
			Template: corev1.PodTemplateSpec{
				ObjectMeta: metav1.ObjectMeta{Labels: map[string]string{"app": "faultline-load"}},
				Spec: corev1.PodSpec{
					RestartPolicy: corev1.RestartPolicyNever,
					NodeSelector:  map[string]string{"node-role.kubernetes.io/control-plane": ""},
					Tolerations:   []corev1.Toleration{{Key: "node-role.kubernetes.io/control-plane", Operator: corev1.TolerationOpExists, Effect: corev1.TaintEffectNoSchedule}},
					Containers: []corev1.Container{{
						Name: "load", Image: image, ImagePullPolicy: corev1.PullNever,
						Command: []string{"/faultline-echo", "-load"},
						Env:     []corev1.EnvVar{{Name: loadgen.EnvConfig, Value: string(b)}},
					}},
				},
			},
		},
	}, nil
}

// watchEndpoints records, per Service of a load, its ready endpoint count over time.
func (p *netPlan) watchEndpoints(r *run) error {
	f := informers.NewSharedInformerFactory(r.cs, 0)
	inf := f.Discovery().V1().EndpointSlices().Informer()
	record := func(o any) {
		es, ok := o.(*discoveryv1.EndpointSlice)
		if !ok {
			return
		}
		svc := es.Labels[discoveryv1.LabelServiceName]
		key := es.Namespace + "/" + svc
		now := r.clock.Now()
		// every slice of the Service, from the informer's cache
		ready := 0
		for _, x := range inf.GetStore().List() {
			s := x.(*discoveryv1.EndpointSlice)
			if s.Namespace != es.Namespace || s.Labels[discoveryv1.LabelServiceName] != svc {
				continue
			}
			for _, e := range s.Endpoints {
				if e.Conditions.Ready == nil || *e.Conditions.Ready {
					ready++
				}
			}
		}
		p.mu.Lock()
		if _, tracked := p.noEP[key]; tracked || p.tracks(key) {
			p.noEP[key] = append(p.noEP[key], epChange{at: now, ready: ready})
		}
		p.mu.Unlock()
	}
	_, _ = inf.AddEventHandler(cache.ResourceEventHandlerFuncs{
		AddFunc: record, UpdateFunc: func(_, o any) { record(o) },
		DeleteFunc: func(o any) {
			if t, ok := o.(cache.DeletedFinalStateUnknown); ok {
				o = t.Obj
			}
			record(o)
		},
	})
	f.Start(r.stopInf)
	if !cache.WaitForCacheSync(r.stopInf, inf.HasSynced) {
		return fmt.Errorf("watch endpointslices: cache did not sync")
	}
	return nil
}

func (p *netPlan) tracks(svcKey string) bool {
	for _, l := range p.loads {
		if l.svc == svcKey {
			return true
		}
	}
	return false
}

// readyAt is the Service's ready endpoint count at t (-1: unknown).
func (p *netPlan) readyAt(svcKey string, t time.Time) int {
	p.mu.Lock()
	defer p.mu.Unlock()
	n := -1
	for _, c := range p.noEP[svcKey] {
		if c.at.After(t) {
			break
		}
		n = c.ready
	}
	return n
}

// netStart waits until the loads' Deployments are available (the simulator starts settled),
// starts the load generator and returns time 0: when it starts sending.
func (r *run) netStart(ctx context.Context) (time.Time, error) {
	p := r.net
	if err := p.watchEndpoints(r); err != nil {
		return time.Time{}, err
	}
	ns := &corev1.Namespace{TypeMeta: metav1.TypeMeta{APIVersion: "v1", Kind: "Namespace"}, ObjectMeta: metav1.ObjectMeta{Name: loadNamespace, Labels: map[string]string{RunLabel: r.id}}}
	if err := r.applyExtra(ctx, ns); err != nil {
		return time.Time{}, err
	}
	extra := []string{}
	if p.ingress != nil {
		if r.opts.Real.LoadIngress == nil {
			return time.Time{}, fmt.Errorf("the scenario has an Ingress and this %s cluster offers no ingress proxy", r.opts.Real.Provider)
		}
		if err := r.opts.Real.LoadIngress(ctx); err != nil {
			return time.Time{}, fmt.Errorf("ingress proxy image: %w", err)
		}
		if err := r.applyExtra(ctx, ingressObjects(p.ingress, r.opts.Real.IngressImage, r.id)...); err != nil {
			return time.Time{}, err
		}
		extra = append(extra, loadNamespace+"/"+ingressName)
	}
	if err := r.waitAvailable(ctx, 4*time.Minute, extra...); err != nil {
		return time.Time{}, err
	}
	if len(p.streams) == 0 {
		return r.clock.Now(), nil
	}
	t0 := r.clock.Now().Add(loadLead)
	end := t0.Add(r.scaled(r.in.Duration))
	job, err := p.loadJob(r.opts.Real.Image, r.id, t0, end.Sub(t0))
	if err != nil {
		return time.Time{}, err
	}
	if err := r.applyExtra(ctx, job); err != nil {
		return time.Time{}, err
	}
	r.rep.Notes = append(r.rep.Notes, p.notes...)
	r.rep.Notes = append(r.rep.Notes, fmt.Sprintf("traffic: faultline's load generator (a Job on the control-plane node) sends %d open-loop streams from time 0, a new connection per request; time 0 is %s after every load's Deployment was available (the simulator starts settled)", len(p.streams), loadLead))
	if !r.sleepUntil(ctx, t0) {
		return time.Time{}, ctx.Err()
	}
	return t0, nil
}

// applyExtra applies objects the run adds (load generator, ingress proxy), recorded like the
// scenario's objects so that clean-up and the ledger know them.
func (r *run) applyExtra(ctx context.Context, objs ...runtime.Object) error {
	for _, o := range objs {
		u, err := toUnstructured(o)
		if err != nil {
			return err
		}
		if u.GetKind() == "Namespace" {
			if err := r.waitNamespaceGone(ctx, u.GetName()); err != nil {
				return err
			}
		}
		if err := r.ledgerObjects(u); err != nil {
			return err
		}
		if err := r.applyOne(ctx, u); err != nil {
			return err
		}
		r.applied = append(r.applied, u)
	}
	return nil
}

// waitAvailable waits until every Deployment with a load, and the extra ones (namespace/name),
// has all its replicas available.
func (r *run) waitAvailable(ctx context.Context, limit time.Duration, extra ...string) error {
	deadline := r.clock.Now().Add(limit)
	keys := slices.Clone(extra)
	for _, l := range r.in.Load {
		key, _ := loadKey(l.Target)
		keys = append(keys, key)
	}
	for {
		var waiting []string
		for _, key := range keys {
			ns, name, _ := strings.Cut(key, "/")
			d, err := r.cs.AppsV1().Deployments(ns).Get(ctx, name, metav1.GetOptions{})
			if err != nil {
				return fmt.Errorf("deployment %s: %w", key, err)
			}
			want := int32(1)
			if d.Spec.Replicas != nil {
				want = *d.Spec.Replicas
			}
			if d.Status.AvailableReplicas < want || d.Status.UpdatedReplicas < want {
				waiting = append(waiting, fmt.Sprintf("%s (%d of %d available)", key, d.Status.AvailableReplicas, want))
			}
		}
		if len(waiting) == 0 {
			return nil
		}
		if r.clock.Now().After(deadline) {
			return fmt.Errorf("the loads' Deployments were not available after %s: %s", limit, strings.Join(waiting, ", "))
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-r.clock.After(time.Second):
		}
	}
}

// appFault sets the fault switch of the selected pods to mode (fail, hang) until the revert.
func (r *run) appFault(ctx context.Context, f sim.Fault, mode string) (func(context.Context) error, error) {
	pods, err := r.selectPods(ctx, f.Pods)
	if err != nil {
		return nil, err
	}
	if len(pods) == 0 {
		return nil, errNoPods
	}
	// the app ends the fault by itself at the window's end, also when its container is restarting
	// then (failed liveness probes restart it) and no revert could reach it
	var until time.Time
	if f.Duration > 0 {
		until = r.clock.Now().Add(r.scaled(f.Duration))
	}
	var done []corev1.Pod
	set := func(ctx context.Context, p corev1.Pod, m string, until time.Time) error {
		req := r.cs.CoreV1().RESTClient().Post().Namespace(p.Namespace).Resource("pods").
			Name(p.Name+":"+strconv.Itoa(AppAdminPort)).SubResource("proxy").Suffix("mode").Param("set", m)
		if !until.IsZero() {
			req = req.Param("until", until.UTC().Format(time.RFC3339Nano))
		}
		return req.Do(ctx).Error()
	}
	revert := func(ctx context.Context) error {
		var errs []string
		for _, p := range done {
			err := set(ctx, p, echoapp.ModeOK, time.Time{})
			if err != nil && !apierrors.IsNotFound(err) && until.IsZero() {
				errs = append(errs, p.Name+": "+err.Error())
			}
		}
		if len(errs) > 0 {
			return fmt.Errorf("fault switch back to ok: %s", strings.Join(errs, "; "))
		}
		return nil
	}
	for _, p := range pods {
		if err := set(ctx, p, mode, until); err != nil {
			return revert, fmt.Errorf("pod %s/%s fault switch: %w", p.Namespace, p.Name, err)
		}
		done = append(done, p)
	}
	what := "nothing listens: connections refused, probes fail, as Chaos Mesh's pause image"
	if mode == echoapp.ModeHang {
		what = "nothing answers: callers and probes time out, as with every packet lost"
	}
	r.note(true, "%s (%s): %d pods switched to %s through faultline-echo's fault switch (%s; kept across container restarts)", f.Name, f.Action, len(pods), mode, what)
	return revert, nil
}

// readLoad reads the load generator's record: it waits for its pod to finish (it stops by itself
// shortly after the end), then parses its log.
func (r *run) readLoad(ctx context.Context) ([][]loadgen.Counts, error) {
	deadline := r.clock.Now().Add(time.Minute)
	var pod *corev1.Pod
	for {
		list, err := r.cs.CoreV1().Pods(loadNamespace).List(ctx, metav1.ListOptions{LabelSelector: "job-name=faultline-load"})
		if err != nil {
			return nil, fmt.Errorf("load generator pod: %w", err)
		}
		if len(list.Items) > 0 {
			pod = &list.Items[0]
			if ph := pod.Status.Phase; ph == corev1.PodSucceeded || ph == corev1.PodFailed {
				break
			}
		}
		if r.clock.Now().After(deadline) {
			if pod == nil {
				return nil, fmt.Errorf("the load generator's pod never appeared")
			}
			break // read what it printed so far
		}
		select {
		case <-ctx.Done():
			return nil, ctx.Err()
		case <-r.clock.After(time.Second):
		}
	}
	if pod.Status.Phase == corev1.PodFailed {
		r.rep.Notes = append(r.rep.Notes, "the load generator's pod failed: its record may be short")
	}
	rc, err := r.cs.CoreV1().Pods(loadNamespace).GetLogs(pod.Name, &corev1.PodLogOptions{Container: "load"}).Stream(ctx)
	if err != nil {
		return nil, fmt.Errorf("load generator log: %w", err)
	}
	defer rc.Close()
	return loadgen.Parse(bufio.NewReader(io.LimitReader(rc, 256<<20)), len(r.net.streams))
}

// netObserve fills the request observations from the load generator's record.
func (r *run) netObserve(ctx context.Context, o *measure.Observations) {
	p := r.net
	if p.path {
		o.Scopes |= measure.Network
	}
	if len(p.streams) == 0 {
		return
	}
	rec, err := r.readLoad(ctx)
	if err != nil {
		why := "the load generator's record could not be read: " + err.Error()
		o.Omit = measure.OmitTraffic(o.Omit, why)
		r.rep.Notes = append(r.rep.Notes, why)
		return
	}
	nc, dropped := p.observe(rec, r.t0, o)
	if dropped > 0 {
		r.rep.Notes = append(r.rep.Notes, fmt.Sprintf("the load generator could not send %d requests (%d in flight already): they count as failed", dropped, loadgen.MaxInFlight))
	}
	if p.path {
		r.appCounts(ctx, &nc, o)
		o.Net = &nc
	}
}

// observe turns the load generator's record into request observations (o's Requests, Outage,
// Degraded) and the network counts; dropped is how many requests could not be sent.
func (p *netPlan) observe(rec [][]loadgen.Counts, t0 time.Time, o *measure.Observations) (nc measure.NetworkCounts, dropped int64) {
	perSec := map[int][2]float64{} // second → offered, succeeded
	for si, l := range p.loads {
		var offered, ok float64
		for sec, c := range rec[si] {
			n := float64(c.Total())
			good := float64(c[loadgen.OK])
			offered += n
			ok += good
			ps := perSec[sec]
			perSec[sec] = [2]float64{ps[0] + n, ps[1] + good}
			e502, e503 := p.classify(si, sec, t0, c)
			nc.E502 += e502
			nc.E503 += e503
			nc.App += float64(c[loadgen.AppError])
			dropped += c[loadgen.Dropped]
		}
		o.Requests.Offered += offered
		o.Requests.Succeeded += ok
		o.Requests.PerTarget = append(o.Requests.PerTarget, measure.TargetRequests{Target: l.target, Offered: offered, Succeeded: ok})
		if !l.faulted {
			nc.CollTotal += offered
			nc.CollOK += ok
		}
	}
	nc.Total = o.Requests.Offered
	for _, ps := range perSec {
		if ps[0] == 0 {
			continue
		}
		// as the simulator integrates them: an outage second is a degraded one too
		if f := ps[1] / ps[0]; f < 0.01 {
			o.Outage += time.Second
		}
		if f := ps[1] / ps[0]; f < 0.99 {
			o.Degraded += time.Second
		}
	}
	return nc, dropped
}

// classify returns how many of one stream-second's failures count as 502 and as 503.
func (p *netPlan) classify(si, sec int, t0 time.Time, c loadgen.Counts) (e502, e503 float64) {
	if p.streams[si].Via == loadgen.ViaIngress {
		return float64(c[loadgen.Proxy502] + c[loadgen.ProxyOther] + c[loadgen.Refused] + c[loadgen.Reset] + c[loadgen.Timeout]),
			float64(c[loadgen.Proxy503])
	}
	refused := float64(c[loadgen.Refused])
	at := t0.Add(time.Duration(sec)*time.Second + 500*time.Millisecond)
	if p.readyAt(p.loads[si].svc, at) == 0 {
		e503 = refused
	} else {
		e502 = refused
	}
	e502 += float64(c[loadgen.Reset] + c[loadgen.Timeout] + c[loadgen.Proxy502] + c[loadgen.ProxyOther])
	e503 += float64(c[loadgen.Proxy503])
	return e502, e503
}

// appCounts adds the apps' dependency-call counters and the containers' restarts, read from the
// pods at the end. Pods deleted or restarted during the run took their counters with them: when
// any of those made dependency calls, the call indicators are omitted rather than undercounted.
func (r *run) appCounts(ctx context.Context, nc *measure.NetworkCounts, o *measure.Observations) {
	lost := []string{}
	for key, cfg := range r.net.apps {
		ns, name, _ := strings.Cut(key, "/")
		d, err := r.cs.AppsV1().Deployments(ns).Get(ctx, name, metav1.GetOptions{})
		if err != nil {
			continue
		}
		sel, err := metav1.LabelSelectorAsSelector(d.Spec.Selector)
		if err != nil {
			continue
		}
		pods, err := r.cs.CoreV1().Pods(ns).List(ctx, metav1.ListOptions{LabelSelector: sel.String()})
		if err != nil {
			continue
		}
		for _, p := range pods.Items {
			restarted := false
			for _, cs := range p.Status.ContainerStatuses {
				nc.Restarts += int(cs.RestartCount)
				restarted = restarted || cs.RestartCount > 0
			}
			if len(cfg.Deps) == 0 {
				continue
			}
			if restarted {
				lost = append(lost, p.Name+" (restarted)")
			}
			b, err := r.cs.CoreV1().RESTClient().Get().Namespace(p.Namespace).Resource("pods").
				Name(p.Name + ":" + strconv.Itoa(AppAdminPort)).SubResource("proxy").Suffix("stats").DoRaw(ctx)
			var st echoapp.Stats
			if err != nil || json.Unmarshal(b, &st) != nil {
				lost = append(lost, p.Name+" (stats unreadable)")
				continue
			}
			nc.CallErrors += float64(st.CallErrors)
			nc.Retries += float64(st.Retries)
			nc.RetryWaitSecs += time.Duration(st.RetryWaitNano).Seconds()
		}
		if d.Status.ObservedGeneration > 1 && len(cfg.Deps) > 0 {
			lost = append(lost, key+" (rolled out: its old pods are gone)")
		}
	}
	if len(lost) > 0 {
		slices.Sort(lost)
		why := "counted inside the app pods; some that made dependency calls restarted or are gone: " + strings.Join(lost, ", ")
		if o.Omit == nil {
			o.Omit = map[string]string{}
		}
		for _, n := range []string{"dependency-call-errors", "retries", "retry-wait-seconds"} {
			o.Omit[n] = why
		}
	}
	r.rep.Notes = append(r.rep.Notes, "container-restarts counts the restarts of the pods present at the end (pods deleted during the run take theirs with them)")
}
