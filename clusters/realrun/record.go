package realrun

import (
	"sync"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/types"

	"github.com/faultline-dev/faultline/clusters"
	"github.com/faultline-dev/faultline/measure"
)

// scheduledAnnotation is where the CronJob controller writes a Job's scheduled time (1.28+).
const scheduledAnnotation = "batch.kubernetes.io/cronjob-scheduled-timestamp"

// cronRun is one Job created by the CronJob controller, with when each step was observed.
type cronRun struct {
	cronJob    string // namespace/name
	sched      time.Time
	jobSeen    time.Time // the Job first observed
	podSeen    time.Time // its first pod observed
	podBound   time.Time // a pod observed with a node
	started    time.Time // the app container observed running (T2)
	failed     bool
	failedAt   time.Time // the Job's Failed condition first observed
	appName    string
	failedPods map[types.UID]bool
}

// workload is a Deployment whose placement is tracked; it counts towards max-replicas-per-node
// while it has more than one replica (as in the simulator, also when changes scale it up).
type workload struct {
	key      string // namespace/name
	ns       string
	name     string
	selector labels.Selector
	replicas int32 // spec.replicas as last observed
	// pods currently bound and not terminating, per node
	onNode map[string]map[types.UID]bool
}

// recorder keeps what the informers observed. Every method is called with the time of
// observation; it holds no reference to the informers' objects.
type recorder struct {
	mu        sync.Mutex
	runs      map[string]*cronRun // Job namespace/name
	workloads []*workload
	maxColoc  int
	evicted   map[types.UID]bool
	podsLost  int
	podNode   map[types.UID]string
	running   map[types.UID]bool // pods Running and not terminating
	nodeReady map[string]bool
	pullFail  map[types.UID]bool // pods seen failing to pull an image (cronbad.go)
	// the observation record's node transitions and apiserver exits, on the wall clock
	nodeEvents []nodeEvent
	nodesFrom  time.Time // the nodes' initial state is known; transitions count from here
	exits      []apiExit
}

type nodeEvent struct {
	at   time.Time
	node string
	to   measure.NodeState
}

type apiExit struct {
	at     time.Time
	reason string
}

func newRecorder(deployments []*appsv1.Deployment) *recorder {
	r := &recorder{runs: map[string]*cronRun{}, evicted: map[types.UID]bool{}, podNode: map[types.UID]string{},
		running: map[types.UID]bool{}, nodeReady: map[string]bool{}, pullFail: map[types.UID]bool{}}
	for _, d := range deployments {
		if d.Spec.Selector == nil {
			continue
		}
		sel, err := metav1.LabelSelectorAsSelector(d.Spec.Selector)
		if err != nil {
			continue
		}
		ns := d.Namespace
		if ns == "" {
			ns = "default"
		}
		r.workloads = append(r.workloads, &workload{key: ns + "/" + d.Name, ns: ns, name: d.Name, selector: sel,
			replicas: replicas(d), onNode: map[string]map[types.UID]bool{}})
	}
	return r
}

func replicas(d *appsv1.Deployment) int32 {
	if d.Spec.Replicas == nil {
		return 1
	}
	return *d.Spec.Replicas
}

// deployment records a Deployment's replica count (changes may scale it).
func (r *recorder) deployment(d *appsv1.Deployment) {
	r.mu.Lock()
	defer r.mu.Unlock()
	for _, w := range r.workloads {
		if w.ns == d.Namespace && w.name == d.Name {
			w.replicas = replicas(d)
			if w.replicas >= 2 {
				for _, set := range w.onNode {
					r.maxColoc = max(r.maxColoc, len(set))
				}
			}
		}
	}
}

func (r *recorder) job(j *batchv1.Job, now time.Time) {
	ts, ok := j.Annotations[scheduledAnnotation]
	if !ok {
		return
	}
	sched, err := time.Parse(time.RFC3339, ts)
	if err != nil {
		return
	}
	owner := ""
	for _, o := range j.OwnerReferences {
		if o.Kind == "CronJob" {
			owner = j.Namespace + "/" + o.Name
		}
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	key := j.Namespace + "/" + j.Name
	run := r.runs[key]
	if run == nil {
		run = &cronRun{cronJob: owner, sched: sched, jobSeen: now, failedPods: map[types.UID]bool{}}
		if len(j.Spec.Template.Spec.Containers) > 0 {
			run.appName = j.Spec.Template.Spec.Containers[0].Name
		}
		r.runs[key] = run
	}
	for _, c := range j.Status.Conditions {
		if c.Type == batchv1.JobFailed && c.Status == corev1.ConditionTrue {
			if !run.failed {
				run.failedAt = now
			}
			run.failed = true
		}
	}
}

func (r *recorder) pod(p *corev1.Pod, now time.Time) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.pullFailed(p)
	// cron runs
	for _, o := range p.OwnerReferences {
		if o.Kind != "Job" {
			continue
		}
		run := r.runs[p.Namespace+"/"+o.Name]
		if run == nil {
			continue
		}
		if run.podSeen.IsZero() {
			run.podSeen = now
		}
		if run.podBound.IsZero() && p.Spec.NodeName != "" {
			run.podBound = now
		}
		app := run.appName
		if app == "" && len(p.Spec.Containers) > 0 {
			app = p.Spec.Containers[0].Name
		}
		for _, cs := range p.Status.ContainerStatuses {
			// a container that never ran (its image never pulled) is reported Terminated too when
			// its pod is killed (ContainerStatusUnknown), without a start time: not a start
			ran := cs.State.Running != nil || cs.State.Terminated != nil && !cs.State.Terminated.StartedAt.IsZero()
			if cs.Name == app && run.started.IsZero() && ran {
				run.started = now
			}
		}
		if p.Status.Phase == corev1.PodFailed {
			run.failedPods[p.UID] = true
		}
	}
	// evictions by the taint eviction controller
	if p.DeletionTimestamp != nil {
		for _, c := range p.Status.Conditions {
			if c.Type == corev1.DisruptionTarget && c.Status == corev1.ConditionTrue && c.Reason == "DeletionByTaintManager" {
				r.evicted[p.UID] = true
			}
		}
	}
	active := p.Spec.NodeName != "" && p.DeletionTimestamp == nil && p.Status.Phase != corev1.PodSucceeded && p.Status.Phase != corev1.PodFailed
	r.placePod(p, active)
	if active && p.Status.Phase == corev1.PodRunning {
		r.running[p.UID] = true
		r.podNode[p.UID] = p.Spec.NodeName
	} else {
		delete(r.running, p.UID)
	}
}

func (r *recorder) podGone(p *corev1.Pod) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.placePod(p, false)
	delete(r.running, p.UID)
	delete(r.podNode, p.UID)
}

// placePod updates the per-node counts of the Deployments p belongs to (the caller holds mu).
func (r *recorder) placePod(p *corev1.Pod, active bool) {
	for _, w := range r.workloads {
		if p.Namespace != w.ns || !w.selector.Matches(labels.Set(p.Labels)) {
			continue
		}
		for node, set := range w.onNode {
			if node != p.Spec.NodeName || !active {
				delete(set, p.UID)
			}
		}
		if !active {
			continue
		}
		set := w.onNode[p.Spec.NodeName]
		if set == nil {
			set = map[types.UID]bool{}
			w.onNode[p.Spec.NodeName] = set
		}
		set[p.UID] = true
		if w.replicas >= 2 {
			r.maxColoc = max(r.maxColoc, len(set))
		}
	}
}

// node records a Node as the informer delivers it: its first sighting as created, a change of
// its Ready condition as a transition (those before the window are dropped by observations).
func (r *recorder) node(n *corev1.Node, now time.Time) {
	r.mu.Lock()
	defer r.mu.Unlock()
	ready := clusters.NodeReady(n)
	was, seen := r.nodeReady[n.Name]
	r.nodeReady[n.Name] = ready
	switch {
	case !seen: // registered NotReady, a kubelet's first heartbeat makes it Ready
		r.nodeEvents = append(r.nodeEvents, nodeEvent{now, n.Name, measure.NodeCreated})
		if ready {
			r.nodeEvents = append(r.nodeEvents, nodeEvent{now, n.Name, measure.NodeReady})
		}
	case was != ready && ready:
		r.nodeEvents = append(r.nodeEvents, nodeEvent{now, n.Name, measure.NodeReady})
	case was != ready:
		r.nodeEvents = append(r.nodeEvents, nodeEvent{now, n.Name, measure.NodeNotReady})
	}
}

// nodesSynced takes the nodes of the informer's first list as the state transitions start from:
// they were not created during the run.
func (r *recorder) nodesSynced(objs []any, now time.Time) {
	r.mu.Lock()
	defer r.mu.Unlock()
	for _, o := range objs {
		if n, ok := o.(*corev1.Node); ok {
			if _, seen := r.nodeReady[n.Name]; !seen {
				r.nodeReady[n.Name] = clusters.NodeReady(n)
			}
		}
	}
	r.nodesFrom = now
}

// nodeGone records a Node's deletion.
func (r *recorder) nodeGone(name string, now time.Time) {
	r.mu.Lock()
	defer r.mu.Unlock()
	delete(r.nodeReady, name)
	r.nodeEvents = append(r.nodeEvents, nodeEvent{now, name, measure.NodeDeleted})
}

// apiServerExit records kube-apiserver exiting on its own.
func (r *recorder) apiServerExit(now time.Time, reason string) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.exits = append(r.exits, apiExit{now, reason})
}

// nodeRecord is the node transitions and apiserver exits in [t0, end], as offsets from t0.
func (r *recorder) nodeRecord(o *measure.Observations, t0, end time.Time) {
	for _, e := range r.nodeEvents {
		if !e.at.Before(t0) && !e.at.Before(r.nodesFrom) && !e.at.After(end) {
			o.Nodes = append(o.Nodes, measure.NodeTransition{At: e.at.Sub(t0), Node: e.node, To: e.to})
		}
	}
	for _, e := range r.exits {
		if !e.at.Before(t0) && !e.at.After(end) {
			o.APIServerExits = append(o.APIServerExits, measure.APIServerExit{At: e.at.Sub(t0), Instance: string(APIServer), Reason: e.reason})
		}
	}
}

// nodeDown counts the running pods a node takes with it when it goes down.
func (r *recorder) nodeDown(name string) int {
	r.mu.Lock()
	defer r.mu.Unlock()
	n := 0
	for uid := range r.running {
		if r.podNode[uid] == name {
			n++
		}
	}
	r.podsLost += n
	return n
}

// placements returns, per multi-replica Deployment, the pods per node now.
func (r *recorder) placements() map[string]map[string]int {
	r.mu.Lock()
	defer r.mu.Unlock()
	out := map[string]map[string]int{}
	for _, w := range r.workloads {
		if w.replicas < 2 {
			continue
		}
		m := map[string]int{}
		for node, set := range w.onNode {
			if len(set) > 0 {
				m[node] = len(set)
			}
		}
		out[w.key] = m
	}
	return out
}
