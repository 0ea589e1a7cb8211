package scheduler

import (
	"fmt"
	"math/rand/v2"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"

	"github.com/faultline-dev/faultline/sim/cluster"
)

const gi = int64(1) << 30

// node builds a node with hostname and (when zone != "") zone labels, cpu in millicores and memory
// in GiB.
func node(name, zone string, milliCPU, memGi int64, opts ...func(*cluster.Node)) *cluster.Node {
	n := &cluster.Node{
		Name:        name,
		Labels:      map[string]string{cluster.LabelHostname: name},
		Allocatable: cluster.Resources{MilliCPU: milliCPU, Memory: memGi * gi},
		Up:          true,
		Ready:       true,
	}
	if zone != "" {
		n.Labels[cluster.LabelZone] = zone
	}
	for _, o := range opts {
		o(n)
	}
	return n
}

func taint(key, value string, effect corev1.TaintEffect) func(*cluster.Node) {
	return func(n *cluster.Node) {
		n.Taints = append(n.Taints, corev1.Taint{Key: key, Value: value, Effect: effect})
	}
}

func nodeLabel(k, v string) func(*cluster.Node) {
	return func(n *cluster.Node) { n.Labels[k] = v }
}

func cordoned(n *cluster.Node) { n.Unschedulable = true }

// newState returns a state holding nodes.
func newState(nodes ...*cluster.Node) *cluster.State {
	st := &cluster.State{}
	for _, n := range nodes {
		st.AddNode(n)
	}
	return st
}

// spec builds a one-container pod spec requesting milliCPU and memMi (0 = no request), then applies
// opts (affinity, tolerations, spread constraints).
func spec(milliCPU, memMi int64, opts ...func(*corev1.PodSpec)) *corev1.PodSpec {
	req := corev1.ResourceList{}
	if milliCPU > 0 {
		req[corev1.ResourceCPU] = *resource.NewMilliQuantity(milliCPU, resource.DecimalSI)
	}
	if memMi > 0 {
		req[corev1.ResourceMemory] = *resource.NewQuantity(memMi<<20, resource.BinarySI)
	}
	s := &corev1.PodSpec{Containers: []corev1.Container{{Name: "c", Resources: corev1.ResourceRequirements{Requests: req}}}}
	for _, o := range opts {
		o(s)
	}
	return s
}

// pod builds a pending pod of app in namespace "default" with the shared spec s. The pod's labels
// are {app: app} and its OwnerSelector selects them, as a ReplicaSet's would.
func pod(name, app string, s *corev1.PodSpec) *cluster.Pod {
	req, nz, lim := cluster.PodRequests(s)
	p := &cluster.Pod{
		Name:      name,
		Namespace: "default",
		Labels:    map[string]string{"app": app},
		Spec:      s,
		Requests:  req,
		NonZero:   nz,
		LimitCPU:  lim,
	}
	if app != "" {
		p.Owner = "deployment/default/" + app
		p.OwnerSelector = labels.SelectorFromSet(labels.Set{"app": app})
	}
	return p
}

// bind adds p to st and binds it to the node named nodeName.
func bind(st *cluster.State, p *cluster.Pod, nodeName string) *cluster.Pod {
	st.AddPod(p)
	for _, n := range st.Nodes {
		if n.Name == nodeName {
			st.Bind(p, n)
			p.Phase = cluster.PodRunning
			return p
		}
	}
	panic("no node " + nodeName)
}

// place schedules p and, on success, binds it; it returns the node name or the error.
func place(s *Scheduler, st *cluster.State, p *cluster.Pod, rng *rand.Rand) (string, error) {
	st.AddPod(p)
	d, err := s.Schedule(st, p, rng)
	if err != nil {
		return "", err
	}
	st.Bind(p, d.Node)
	p.Phase = cluster.PodRunning
	return d.Node.Name, nil
}

func seeded(seed uint64) *rand.Rand { return rand.New(rand.NewPCG(seed, 0x5c4ed)) }

func selector(app string) *metav1.LabelSelector {
	return &metav1.LabelSelector{MatchLabels: map[string]string{"app": app}}
}

// antiAffinity adds a required pod anti-affinity term against app over topologyKey.
func antiAffinity(app, topologyKey string) func(*corev1.PodSpec) {
	return func(s *corev1.PodSpec) {
		if s.Affinity == nil {
			s.Affinity = &corev1.Affinity{}
		}
		if s.Affinity.PodAntiAffinity == nil {
			s.Affinity.PodAntiAffinity = &corev1.PodAntiAffinity{}
		}
		a := s.Affinity.PodAntiAffinity
		a.RequiredDuringSchedulingIgnoredDuringExecution = append(a.RequiredDuringSchedulingIgnoredDuringExecution,
			corev1.PodAffinityTerm{LabelSelector: selector(app), TopologyKey: topologyKey})
	}
}

// affinity adds a required pod affinity term towards app over topologyKey.
func affinity(app, topologyKey string) func(*corev1.PodSpec) {
	return func(s *corev1.PodSpec) {
		if s.Affinity == nil {
			s.Affinity = &corev1.Affinity{}
		}
		if s.Affinity.PodAffinity == nil {
			s.Affinity.PodAffinity = &corev1.PodAffinity{}
		}
		a := s.Affinity.PodAffinity
		a.RequiredDuringSchedulingIgnoredDuringExecution = append(a.RequiredDuringSchedulingIgnoredDuringExecution,
			corev1.PodAffinityTerm{LabelSelector: selector(app), TopologyKey: topologyKey})
	}
}

// preferredAntiAffinity adds a preferred pod anti-affinity term against app over topologyKey.
func preferredAntiAffinity(app, topologyKey string, weight int32) func(*corev1.PodSpec) {
	return func(s *corev1.PodSpec) {
		if s.Affinity == nil {
			s.Affinity = &corev1.Affinity{}
		}
		if s.Affinity.PodAntiAffinity == nil {
			s.Affinity.PodAntiAffinity = &corev1.PodAntiAffinity{}
		}
		a := s.Affinity.PodAntiAffinity
		a.PreferredDuringSchedulingIgnoredDuringExecution = append(a.PreferredDuringSchedulingIgnoredDuringExecution,
			corev1.WeightedPodAffinityTerm{Weight: weight, PodAffinityTerm: corev1.PodAffinityTerm{LabelSelector: selector(app), TopologyKey: topologyKey}})
	}
}

func spread(app, topologyKey string, maxSkew int32, when corev1.UnsatisfiableConstraintAction) func(*corev1.PodSpec) {
	return func(s *corev1.PodSpec) {
		s.TopologySpreadConstraints = append(s.TopologySpreadConstraints, corev1.TopologySpreadConstraint{
			MaxSkew: maxSkew, TopologyKey: topologyKey, WhenUnsatisfiable: when, LabelSelector: selector(app),
		})
	}
}

func toleration(key string, op corev1.TolerationOperator, effect corev1.TaintEffect) func(*corev1.PodSpec) {
	return func(s *corev1.PodSpec) {
		s.Tolerations = append(s.Tolerations, corev1.Toleration{Key: key, Operator: op, Effect: effect})
	}
}

func nodeSelectorTerms(terms ...corev1.NodeSelectorTerm) func(*corev1.PodSpec) {
	return func(s *corev1.PodSpec) {
		if s.Affinity == nil {
			s.Affinity = &corev1.Affinity{}
		}
		s.Affinity.NodeAffinity = &corev1.NodeAffinity{
			RequiredDuringSchedulingIgnoredDuringExecution: &corev1.NodeSelector{NodeSelectorTerms: terms},
		}
	}
}

// uniformNodes returns count nodes named n-0000.. spread round-robin over zones.
func uniformNodes(count int, zones []string, milliCPU, memGi int64) []*cluster.Node {
	nodes := make([]*cluster.Node, count)
	for i := range nodes {
		nodes[i] = node(fmt.Sprintf("n-%04d", i), zones[i%len(zones)], milliCPU, memGi)
	}
	return nodes
}

// countBy counts pods per value of the label key of the node each is bound to.
func countBy(st *cluster.State, app, key string) map[string]int {
	out := map[string]int{}
	for _, p := range st.Pods {
		if p.Node != nil && p.Labels["app"] == app {
			out[p.Node.Labels[key]]++
		}
	}
	return out
}
