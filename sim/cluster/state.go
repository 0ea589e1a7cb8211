package cluster

import (
	"fmt"
	"time"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/labels"
)

// Well-known label keys used for topology.
const (
	LabelHostname = corev1.LabelHostname     // kubernetes.io/hostname
	LabelZone     = corev1.LabelTopologyZone // topology.kubernetes.io/zone
)

// Resources is an amount of CPU (millicores) and memory (bytes).
type Resources struct {
	MilliCPU int64
	Memory   int64
}

// Add returns r + o.
func (r Resources) Add(o Resources) Resources {
	return Resources{MilliCPU: r.MilliCPU + o.MilliCPU, Memory: r.Memory + o.Memory}
}

// Sub returns r - o.
func (r Resources) Sub(o Resources) Resources {
	return Resources{MilliCPU: r.MilliCPU - o.MilliCPU, Memory: r.Memory - o.Memory}
}

// Fits reports whether r fits in o on every resource.
func (r Resources) Fits(o Resources) bool { return r.MilliCPU <= o.MilliCPU && r.Memory <= o.Memory }

// PodPhase is the lifecycle stage of a simulated pod. It is coarser than corev1.PodPhase: it
// tracks what the models need (is it holding resources, is it running).
type PodPhase uint8

const (
	PodPending     PodPhase = iota // created, not bound, or bound and containers not started
	PodRunning                     // containers started on a live node
	PodTerminating                 // deletion requested; still bound and holding its node's resources
	PodGone                        // deleted and released; kept only for accounting
)

func (p PodPhase) String() string {
	switch p {
	case PodPending:
		return "Pending"
	case PodRunning:
		return "Running"
	case PodTerminating:
		return "Terminating"
	default:
		return "Gone"
	}
}

// Node is one simulated node. The fields a scheduling cycle reads of every node it visits (Index,
// Unschedulable, the resources, Taints) come first, so that they share the struct's first cache
// lines: a placement on tens of thousands of nodes visits thousands of nodes per pod.
type Node struct {
	Index int // position in State.Nodes, stable for the run
	// Unschedulable is spec.unschedulable (cordoned). Once the node is added, change it with
	// State.SetUnschedulable, as Taints with State.SetTaints: the scheduler keeps a copy.
	Unschedulable bool
	// Up is the physical state: the machine and its kubelet are running.
	Up bool
	// Ready is the NodeReady condition as the control plane currently believes it.
	Ready bool
	// Changed says that something a node's CPU demand depends on (its pod list, a pod's phase or
	// readiness, its machine) changed since the simulator last computed it. State sets it for the
	// changes it makes; the simulator sets it for its own and clears it when it recomputes the
	// node, so a recomputation touches only the nodes that changed.
	Changed bool

	// Allocatable is fixed once the node is added.
	Allocatable Resources
	// Requested sums the requests of the pods bound here (Pods), as the scheduler's NodeInfo does.
	// Bind and Release keep it, and NonZeroRequested, up to date.
	Requested Resources
	// NonZeroRequested is Requested with upstream's defaults (100m CPU, 200MB memory) for
	// containers that request nothing, used by the scoring plugins.
	NonZeroRequested Resources
	Taints           []corev1.Taint

	Name   string
	Labels map[string]string
	// Pods bound to this node that still hold resources (Pending-bound, Running, Terminating).
	Pods []*Pod
}

// Zone returns the node's topology.kubernetes.io/zone label, or "".
func (n *Node) Zone() string { return n.Labels[LabelZone] }

// Pod is one simulated pod.
type Pod struct {
	Index     int // position in State.Pods, stable for the run
	Name      string
	Namespace string
	Labels    map[string]string
	// Spec is the template's spec, shared by every pod of the same owner. Never mutate it.
	Spec *corev1.PodSpec
	// Owner identifies the controller that owns the pod, e.g. "deployment/default/web".
	Owner string
	// OwnerSelector selects the pods of the same owner (the ReplicaSet's selector). The scheduler
	// uses it for the default PodTopologySpread constraints, as upstream uses the selectors of the
	// Services and ReplicaSets a pod belongs to. Nil for bare pods.
	OwnerSelector labels.Selector

	Requests Resources // effective requests: sum over containers, at least the max init container
	NonZero  Resources // Requests with the scoring defaults for empty container requests
	LimitCPU int64     // sum of container CPU limits in millicores; 0 when any container has none

	Node *Node // nil while unscheduled
	// Phase is the lifecycle stage. While the pod is bound, change it with State.SetPhase: the
	// scheduler's pod counts follow PodTerminating through the State's observers.
	Phase     PodPhase
	Ready     bool          // the Ready condition as the API shows it (drives endpoints)
	Created   time.Duration // virtual time of creation
	Started   time.Duration // virtual time containers last started
	Attempts  int           // failed scheduling attempts
	LastError string        // last scheduling failure message
}

// Bound reports whether the pod is assigned to a node.
func (p *Pod) Bound() bool { return p.Node != nil }

// State is the whole simulated cluster.
type State struct {
	Nodes []*Node
	// Pods are the pods by Index: every pod created, in creation order, except that a gone pod's
	// slot may be reused (ReusePod). Check Phase for PodGone.
	Pods []*Pod

	observers []Observer
}

// Observer is told of every change to which pods are bound where, so that it can keep counts of
// bound pods up to date instead of recounting them (the scheduler's per-node and per-topology-domain
// counts, as upstream's scheduler cache updates its NodeInfos on bind and delete). Observers are
// called synchronously, in the order they were added, and must not change the State.
type Observer interface {
	// PodBound is called by Bind once p.Node is set.
	PodBound(p *Pod)
	// PodUnbound is called by Release while p is still on p.Node with its phase unchanged (the
	// node's Requested and NonZeroRequested no longer count it).
	PodUnbound(p *Pod)
	// PodPhaseChanged is called by SetPhase for a bound pod that enters or leaves PodTerminating;
	// p.Phase is the new phase.
	PodPhaseChanged(p *Pod, old PodPhase)
}

// NodeObserver is an Observer that is also told when a node's Unschedulable or Taints change
// (the scheduler keeps a copy of what its filters read of every node). Change them with
// SetUnschedulable and SetTaints once the node is added.
type NodeObserver interface {
	Observer
	// NodeUpdated is called by SetUnschedulable and SetTaints once the node has changed.
	NodeUpdated(n *Node)
}

// SetUnschedulable cordons (true) or uncordons node n, telling the NodeObservers.
func (s *State) SetUnschedulable(n *Node, v bool) {
	if n.Unschedulable == v {
		return
	}
	n.Unschedulable = v
	s.nodeUpdated(n)
}

// SetTaints replaces node n's taints, telling the NodeObservers.
func (s *State) SetTaints(n *Node, taints []corev1.Taint) {
	n.Taints = taints
	s.nodeUpdated(n)
}

func (s *State) nodeUpdated(n *Node) {
	for _, o := range s.observers {
		if no, ok := o.(NodeObserver); ok {
			no.NodeUpdated(n)
		}
	}
}

// Reset empties s for another cluster, keeping the backing arrays of its node, pod and observer
// lists (without references to what they held) so that the next cluster grows into them.
func (s *State) Reset() {
	clear(s.Nodes)
	clear(s.Pods)
	clear(s.observers)
	s.Nodes, s.Pods, s.observers = s.Nodes[:0], s.Pods[:0], s.observers[:0]
}

// Observe adds o to the observers (once).
func (s *State) Observe(o Observer) {
	for _, x := range s.observers {
		if x == o {
			return
		}
	}
	s.observers = append(s.observers, o)
}

// Unobserve removes o from the observers.
func (s *State) Unobserve(o Observer) {
	for i, x := range s.observers {
		if x == o {
			s.observers = append(s.observers[:i], s.observers[i+1:]...)
			return
		}
	}
}

// AddNode appends a node and returns it.
func (s *State) AddNode(n *Node) *Node {
	n.Index = len(s.Nodes)
	n.Changed = true
	s.Nodes = append(s.Nodes, n)
	return n
}

// AddPod appends a pending pod and returns it.
func (s *State) AddPod(p *Pod) *Pod {
	p.Index = len(s.Pods)
	s.Pods = append(s.Pods, p)
	return p
}

// ReusePod puts a pending pod in slot i, which a gone pod holds (Release took it off its node),
// and returns it: a simulation that creates pods without end (a Job's pod per run) reuses the
// slots of those gone. The caller makes sure that nothing still refers to the old pod by its
// index.
func (s *State) ReusePod(i int, p *Pod) *Pod {
	if old := s.Pods[i]; old.Phase != PodGone {
		panic(fmt.Sprintf("cluster: reuse of slot %d, which pod %s still holds", i, old.Name))
	}
	p.Index = i
	s.Pods[i] = p
	return p
}

// Bind assigns a pending pod to a node and charges its requests.
func (s *State) Bind(p *Pod, n *Node) {
	if p.Node != nil {
		panic("cluster: bind of a bound pod " + p.Name)
	}
	p.Node = n
	n.Changed = true
	n.Pods = append(n.Pods, p)
	n.Requested = n.Requested.Add(p.Requests)
	n.NonZeroRequested = n.NonZeroRequested.Add(p.NonZero)
	for _, o := range s.observers {
		o.PodBound(p)
	}
}

// SetPhase sets p's phase, telling the observers when a bound pod enters or leaves PodTerminating.
func (s *State) SetPhase(p *Pod, phase PodPhase) {
	old := p.Phase
	p.Phase = phase
	if p.Node != nil {
		p.Node.Changed = true
	}
	if p.Node != nil && (old == PodTerminating) != (phase == PodTerminating) {
		for _, o := range s.observers {
			o.PodPhaseChanged(p, old)
		}
	}
}

// Release removes a pod from its node (if bound) and marks it gone.
func (s *State) Release(p *Pod) {
	if n := p.Node; n != nil {
		n.Changed = true
		n.Requested = n.Requested.Sub(p.Requests)
		n.NonZeroRequested = n.NonZeroRequested.Sub(p.NonZero)
		for _, o := range s.observers {
			o.PodUnbound(p)
		}
		for i, q := range n.Pods {
			if q == p {
				copy(n.Pods[i:], n.Pods[i+1:])
				n.Pods[len(n.Pods)-1] = nil
				n.Pods = n.Pods[:len(n.Pods)-1]
				break
			}
		}
	}
	p.Phase = PodGone
	p.Ready = false
}

// MatchingPods calls f for each bound, non-gone pod on node n in namespace set ns (nil = any)
// whose labels match sel. It allocates nothing.
func (n *Node) MatchingPods(sel labels.Selector, namespaces map[string]struct{}, f func(*Pod)) {
	for _, p := range n.Pods {
		if namespaces != nil {
			if _, ok := namespaces[p.Namespace]; !ok {
				continue
			}
		}
		if sel.Matches(labels.Set(p.Labels)) {
			f(p)
		}
	}
}
