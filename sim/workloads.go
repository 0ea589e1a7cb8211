package sim

import (
	"math/rand/v2"
	"slices"
	"time"

	admissionregistrationv1 "k8s.io/api/admissionregistration/v1"
	appsv1 "k8s.io/api/apps/v1"
	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"
	networkingv1 "k8s.io/api/networking/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"

	"github.com/faultline-dev/faultline/sim/cluster"
	"github.com/faultline-dev/faultline/sim/engine"
	"github.com/faultline-dev/faultline/sim/trace"
)

// nodeState is what the models keep per node beyond cluster.Node.
type nodeState struct {
	n         *cluster.Node
	rng       *rand.Rand // "node/<name>": panic draws, report jitter
	demand    float64    // real CPU demand, cores (after limits)
	saturated bool
	panicAt   engine.Timer
	notReady  engine.Timer
	downSince time.Duration
	stopped   bool // powered off by a fault (boot is the fault's end, not a reboot timer)
	panics    int
	// evictTaintAdded is the TimeAdded of the node's unreachable NoExecute taint, held here
	// rather than allocated for each taint (taintForEviction)
	evictTaintAdded metav1.Time
}

// podState is what the models keep per pod beyond cluster.Pod.
type podState struct {
	p         *cluster.Pod
	wl        *workload // nil for bare pods
	dead      bool      // containers not running on a live machine (node died under it)
	failed    bool      // PodChaos pod-failure in force
	stress    float64   // extra CPU demand from StressChaos, cores
	demand    float64   // CPU demand after limit, cores
	served    float64   // fraction of its demand the node grants, 0..1
	share     float64   // served while it counts for its load's own share, else 0 (cpuModel.node)
	lastTry   time.Duration
	parked    bool // in the unschedulable list
	start     engine.Timer
	ready     engine.Timer
	eviction  engine.Timer
	flush     engine.Timer
	readyWait time.Duration // readiness delay after containers start
	run       *cronRun      // the Job run this pod belongs to; nil for other pods
	rev       int           // the workload's template revision it was created from
	// pending counts the queued events that name this pod (the world's podAt, podAfter, the
	// models' own such as the scheduling queue's flush; fired or cancelled with podCancel), queued its entries in the scheduling queue: a gone Job pod's
	// slot is reused only when both are 0 (jobPodSlot).
	pending, queued int32
	seq             int // creation order among all pods, which a reused slot no longer shows
}

// workload is a Deployment reduced to what the ReplicaSet controller needs.
//
// Model: upstream ReplicaSet controller (pkg/controller/replicaset) keeping len(active pods) equal
// to spec.replicas, where active excludes pods being deleted (controller.FilterActivePods), and
// scaling down the least valuable pods first (unscheduled, then not ready, then newest).
// A template change (spec.changes) hands the workload to the Deployment controller's rolling
// update until it completes (rollout.go).
// Left out: revision history (pods carry a revision number, not a ReplicaSet), the slow-start
// batches and expectations cache, minReadySeconds.
type workload struct {
	idx       int
	key       string // deployment/<ns>/<name>
	name, ns  string
	replicas  int
	selector  labels.Selector
	labels    map[string]string
	spec      *corev1.PodSpec
	hash      string
	rng       *rand.Rand
	pods      []int // pod indices created by this workload (including gone ones are removed)
	load      *loadState
	readyWait time.Duration
	rev       int      // template revision: 0, then one more per template change (rollout.go)
	ro        *rollout // the rolling update in progress, nil when none
}

func (w *World) buildNodes() {
	k := 0
	for _, pool := range w.in.Pools {
		cpu, mem := pool.Capacity.Cpu().MilliValue(), pool.Capacity.Memory().Value()
		for range pool.Count {
			pn := &w.prep.nodes[k]
			k++
			// the node and its state in one slot of the slab, emptied but for the backing
			// arrays of its lists, which the last world's node in the slot leaves to this one
			o := w.slab.nodes.take()
			taints, pods := clearSlice(o.n.Taints), clearSlice(o.n.Pods)
			*o = nodePair{}
			o.n = cluster.Node{
				Name:        pn.name,
				Labels:      pn.labels,
				Taints:      append(taints, pool.Taints...),
				Pods:        pods,
				Allocatable: cluster.Resources{MilliCPU: cpu, Memory: mem},
				Up:          true,
				Ready:       true,
			}
			n := w.st.AddNode(&o.n)
			o.ns.n, o.ns.rng = n, w.stream(pn.streamName)
			w.nodes = append(w.nodes, &o.ns)
		}
	}
}

func (w *World) nodeByName(name string) *nodeState {
	for _, ns := range w.nodes {
		if ns.n.Name == name {
			return ns
		}
	}
	return nil
}

func (w *World) buildWorkloads() {
	for _, obj := range w.in.Objects {
		switch o := obj.(type) {
		case *appsv1.Deployment:
			w.addDeployment(o)
		case *corev1.Pod:
			p := w.newPod(o.Name, namespaceOr(o.Namespace), o.Labels, &o.Spec, "", nil, readinessDelay(&o.Spec))
			w.enqueue(p.Index)
		case *batchv1.CronJob:
			// built by buildCron
		case *corev1.Service, *corev1.ConfigMap, *corev1.Namespace, *networkingv1.Ingress:
			// accepted: Services are modelled through Load (traffic to a workload's Ready pods);
			// an Ingress is a data plane on the network path (endpoints.go)
		case *admissionregistrationv1.ValidatingWebhookConfiguration:
			// built by buildControlPlane
		}
	}
}

func namespaceOr(ns string) string {
	if ns == "" {
		return defaultWorkloadNamespace
	}
	return ns
}

func (w *World) addDeployment(d *appsv1.Deployment) {
	pd := &w.prep.deployments[len(w.wls)] // the Deployments are the workloads, in order
	replicas := 1
	if d.Spec.Replicas != nil {
		replicas = int(*d.Spec.Replicas)
	}
	wl := w.slab.wls.take() // as the last world left it: keep its pod list's backing array
	*wl = workload{
		pods:      clearSlice(wl.pods),
		idx:       len(w.wls),
		key:       pd.key,
		name:      d.Name,
		ns:        pd.ns,
		replicas:  replicas,
		selector:  pd.selector,
		labels:    d.Spec.Template.Labels,
		spec:      &d.Spec.Template.Spec,
		hash:      pd.hash,
		rng:       w.stream(pd.key),
		readyWait: readinessDelay(&d.Spec.Template.Spec),
	}
	w.wls = append(w.wls, wl)
}

// readinessDelay is the time from containers running to the first successful readiness probe:
// initialDelaySeconds, then successThreshold probes a period apart (the first at the delay).
// Without a readiness probe a pod is ready when its containers run.
func readinessDelay(spec *corev1.PodSpec) time.Duration {
	var d time.Duration
	for i := range spec.Containers {
		rp := spec.Containers[i].ReadinessProbe
		if rp == nil {
			continue
		}
		period := rp.PeriodSeconds
		if period == 0 {
			period = 10
		}
		succ := rp.SuccessThreshold
		if succ == 0 {
			succ = 1
		}
		c := time.Duration(rp.InitialDelaySeconds)*time.Second + time.Duration(succ-1)*time.Duration(period)*time.Second
		if c > d {
			d = c
		}
	}
	return d
}

// newPod creates a pending pod object.
func (w *World) newPod(name, ns string, lbl map[string]string, spec *corev1.PodSpec, owner string, sel labels.Selector, readyWait time.Duration) *cluster.Pod {
	req, nz, lim := cluster.PodRequests(spec)
	o := w.slab.pods.next() // the pod and its state in one slot of the slab, zeroed
	o.p = cluster.Pod{
		Name: name, Namespace: ns, Labels: lbl, Spec: spec, Owner: owner, OwnerSelector: sel,
		Requests: req, NonZero: nz, LimitCPU: lim, Created: w.q.Now(), Phase: cluster.PodPending,
	}
	p := w.st.AddPod(&o.p)
	o.ps.p, o.ps.readyWait, o.ps.seq = p, readyWait, w.jobPods.created
	w.pods = append(w.pods, &o.ps)
	w.jobPods.created++
	return p
}

// The world's events that name a pod go through podAt, podAfter and podCancel, which count them
// per pod (podState.pending); Fire counts them down as they fire.

func (w *World) podAt(at time.Duration, kind uint32, pi int) engine.Timer {
	w.pods[pi].pending++
	return w.q.AtID(at, w.hid, pack(kind, pi))
}

func (w *World) podAfter(d time.Duration, kind uint32, pi int) engine.Timer {
	w.pods[pi].pending++
	return w.q.AfterID(d, w.hid, pack(kind, pi))
}

// podCancel cancels ps's timer *t if it is pending.
func (w *World) podCancel(ps *podState, t *engine.Timer) {
	if w.q.Cancel(*t) {
		ps.pending--
	}
}

// podEvent reports whether events of kind name a pod (and are counted in podState.pending).
func podEvent(kind uint32) bool {
	switch kind {
	case evContainersStarted, evPodReady:
		return true
	}
	return false
}

// jobPods recycles the slots of gone Job pods. A Job pod is created for every attempt of every
// cron run, and keeping each one made memory grow with simulated time (a simulated month of 500
// CronJobs kept 900,000 pods). Only Job pods' slots are reused, and only by Job pods, so other
// pods keep their creation order in State.Pods; selectPods restores it for Job pods (seq).
type jobPods struct {
	slots   []int // slots holding Job pods, live or gone
	free    []int // gone Job pods' slots nothing refers to any more
	since   int   // Job pods created since slots was last swept
	reuse   bool  // a slot has been reused: State.Pods is no longer in creation order
	created int   // pods created so far, Job pods or not: the next podState.seq
}

// newJobPod creates a Job's pod as newPod does, in the slot of a gone Job pod when one is free.
func (w *World) newJobPod(name, ns string, lbl map[string]string, spec *corev1.PodSpec, owner string, req, nz cluster.Resources, lim int64) *cluster.Pod {
	jp := &w.jobPods
	if len(jp.free) == 0 && jp.since >= len(jp.slots)/2 && !w.retain {
		w.sweepJobPods()
	}
	jp.since++
	// the pod and its state in one allocation
	o := &struct {
		p  cluster.Pod
		ps podState
	}{p: cluster.Pod{Name: name, Namespace: ns, Labels: lbl, Spec: spec, Owner: owner,
		Requests: req, NonZero: nz, LimitCPU: lim, Created: w.q.Now(), Phase: cluster.PodPending}}
	p, ps := &o.p, &o.ps
	ps.p, ps.seq = p, jp.created
	if n := len(jp.free); n > 0 {
		pi := jp.free[n-1]
		jp.free = jp.free[:n-1]
		jp.reuse = true
		w.st.ReusePod(pi, p)
		w.pods[pi] = ps
		jp.created++
		if w.inv != nil {
			w.inv.pods = append(w.inv.pods, pi) // it checks pods until they are gone
		}
		return p
	}
	w.st.AddPod(p)
	w.pods = append(w.pods, ps)
	jp.created++
	jp.slots = append(jp.slots, p.Index)
	return p
}

// sweepJobPods moves the slots of gone Job pods that nothing refers to (no queued event, not in
// the scheduling queue, not parked, not held by a fault or the network path) to the free list.
// It runs when the free list is empty, so no slot is listed twice.
func (w *World) sweepJobPods() {
	jp := &w.jobPods
	jp.since = 0
	jp.free = jp.free[:0]
	for _, pi := range jp.slots {
		if w.jobPodSlotFree(pi) {
			jp.free = append(jp.free, pi)
		}
	}
}

func (w *World) jobPodSlotFree(pi int) bool {
	p, ps := w.st.Pods[pi], w.pods[pi]
	if p.Phase != cluster.PodGone || ps.pending != 0 || ps.queued != 0 || ps.parked {
		return false
	}
	if w.unreach.holds(pi) {
		return false
	}
	if n := w.net; n != nil && pi < len(n.pods) && n.pods[pi].tracked {
		return false
	}
	for _, fs := range w.faults {
		if slices.Contains(fs.pods, pi) {
			return false
		}
	}
	return true
}

// deletePod requests deletion. On a live node the kubelet stops the containers and the pod is
// gone at once (on the network path, after preStop, SIGTERM and the grace period: termination.go); on a dead node the pod stays
// Terminating, holding its requests, until the node returns, as with an unreachable kubelet.
func (w *World) deletePod(pi int, reason string) {
	p := w.st.Pods[pi]
	ps := w.pods[pi]
	if p.Phase == cluster.PodTerminating || p.Phase == cluster.PodGone {
		return
	}
	w.podCancel(ps, &ps.start)
	w.podCancel(ps, &ps.ready)
	w.podCancel(ps, &ps.eviction)
	w.podCancel(ps, &ps.flush)
	w.unpark(pi)
	emit(w, trace.PodDeleted{Pod: p.Name, Reason: reason})
	if p.Node != nil && !w.nodes[p.Node.Index].n.Up {
		w.st.SetPhase(p, cluster.PodTerminating)
		p.Ready = false // SetPhase marked the node changed
	} else if w.net.terminate(pi) {
		// preStop, SIGTERM and the grace period run first (termination.go)
	} else {
		w.st.Release(p)
		w.moveUnschedulable()
	}
	if ps.wl != nil {
		w.wc.reconcileSoon(ps.wl)
	}
	if ps.run != nil {
		w.cron.jobs.podGone(pi)
	}
	w.touch()
}

// --- pod lifecycle on the node ----------------------------------------------------------------

func (w *World) containersStarted(pi int) {
	p := w.st.Pods[pi]
	ps := w.pods[pi]
	if p.Phase == cluster.PodGone || p.Phase == cluster.PodTerminating || p.Node == nil || !p.Node.Up {
		return
	}
	p.Phase = cluster.PodRunning
	p.Node.Changed = true
	p.Started = w.q.Now()
	ps.dead = false
	emit(w, trace.ContainersStarted{Pod: p.Name, Node: p.Node.Name})
	ps.ready = w.podAfter(ps.readyWait, evPodReady, pi)
	w.net.started(pi) // on the network path, probes decide readiness (probes.go)
	w.touch()
}

func (w *World) podReady(pi int) {
	p := w.st.Pods[pi]
	ps := w.pods[pi]
	if p.Phase != cluster.PodRunning || ps.dead || ps.failed || !p.Node.Ready {
		return // the kubelet cannot report readiness through a node the control plane thinks is down
	}
	if w.net.tracks(pi) {
		return // on the network path the readiness probe decides (probes.go)
	}
	p.Ready = true
	p.Node.Changed = true
	emit(w, trace.PodReady{Pod: p.Name})
	w.touch()
}
