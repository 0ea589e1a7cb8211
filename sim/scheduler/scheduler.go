package scheduler

import (
	"errors"
	"fmt"
	"math/rand/v2"
	"sort"
	"strings"

	corev1 "k8s.io/api/core/v1"

	"github.com/faultline-dev/faultline/sim/cluster"
)

// ErrUnschedulable is wrapped by every error Schedule returns when no node can take the pod.
var ErrUnschedulable = errors.New("unschedulable")

// maxNodeScore is upstream's framework.MaxNodeScore: every plugin's normalized score is in 0..100.
const maxNodeScore int64 = 100

// Upstream's pkg/scheduler/schedule_one.go constants for partial node scoring.
const (
	minFeasibleNodesToFind           = 100
	minFeasibleNodesPercentageToFind = 5
)

// Weights are the score plugin weights of the scheduling profile. A zero weight disables that
// plugin's score (its filter still runs).
type Weights struct {
	TaintToleration                 int64
	NodeAffinity                    int64
	PodTopologySpread               int64
	InterPodAffinity                int64
	NodeResourcesFit                int64
	NodeResourcesBalancedAllocation int64
}

// DefaultWeights are the default profile's weights (pkg/scheduler/apis/config/v1/default_plugins.go).
// ImageLocality (weight 1) is not modelled.
func DefaultWeights() Weights {
	return Weights{
		TaintToleration:                 3,
		NodeAffinity:                    2,
		PodTopologySpread:               2,
		InterPodAffinity:                2,
		NodeResourcesFit:                1,
		NodeResourcesBalancedAllocation: 1,
	}
}

// Config is the part of KubeSchedulerConfiguration the model honours.
type Config struct {
	// PercentageOfNodesToScore: 0 = adaptive as upstream (fewer than 100 nodes: all; else
	// max(5, 50 - nodes/125) % and at least 100 nodes); otherwise a fixed percentage (values above
	// 100 are treated as 100).
	PercentageOfNodesToScore int
	// Weights of the score plugins; the zero value means DefaultWeights().
	Weights Weights
	// DisableDefaultSpread turns off the system-default PodTopologySpread constraints
	// (hostname maxSkew 3 and zone maxSkew 5, ScheduleAnyway), as defaultingType: List with no
	// default constraints does upstream.
	DisableDefaultSpread bool
}

// DefaultConfig is the default kube-scheduler configuration.
func DefaultConfig() Config {
	return Config{Weights: DefaultWeights()}
}

// Decision is the outcome of a successful scheduling cycle, as upstream's ScheduleResult.
type Decision struct {
	Node *cluster.Node
	// Feasible is the number of nodes that passed every filter (and were kept for scoring).
	Feasible int
	// Evaluated is the number of nodes the filters ran on: Feasible plus the nodes that failed.
	Evaluated int
}

// FitError is returned when no node fits; it mimics upstream's framework.FitError.
type FitError struct {
	// NumAllNodes is the number of nodes in the cluster.
	NumAllNodes int
	// PreFilterMsg is set when the pod was rejected before any node was tried.
	PreFilterMsg string
	// Reasons counts, per reason, the nodes that failed with it.
	Reasons map[string]int
}

// Error renders the message as upstream: "0/N nodes are available: <count> <reason>, ...." with the
// "<count> <reason>" strings sorted.
func (e *FitError) Error() string {
	var b strings.Builder
	fmt.Fprintf(&b, "0/%d nodes are available:", e.NumAllNodes)
	if e.PreFilterMsg != "" {
		fmt.Fprintf(&b, " %s.", e.PreFilterMsg)
		return b.String()
	}
	hist := make([]string, 0, len(e.Reasons))
	for reason, n := range e.Reasons {
		hist = append(hist, fmt.Sprintf("%d %s", n, reason))
	}
	sort.Strings(hist)
	if len(hist) > 0 {
		fmt.Fprintf(&b, " %s.", strings.Join(hist, ", "))
	}
	return b.String()
}

// Unwrap makes errors.Is(err, ErrUnschedulable) true.
func (e *FitError) Unwrap() error { return ErrUnschedulable }

// Scheduler is one kube-scheduler profile. It keeps upstream's rotating start index for partial
// node scoring and scratch space reused across calls, so it must not be used concurrently; give
// each simulation run its own.
type Scheduler struct {
	cfg Config

	// nextStart is upstream's sched.nextStartNodeIndex.
	nextStart int

	specs    specCache
	order    nodeOrder
	cyc      cycle
	counting podCounting

	// scratch reused across calls
	subset   []int32
	feasible []*cluster.Node
	statuses []nodeStatus
	raw      []int64
	total    []int64
}

// New returns a scheduler with cfg (zero Weights mean DefaultWeights()).
func New(cfg Config) *Scheduler {
	if cfg.Weights == (Weights{}) {
		cfg.Weights = DefaultWeights()
	}
	if cfg.PercentageOfNodesToScore < 0 {
		cfg.PercentageOfNodesToScore = 0
	}
	if cfg.PercentageOfNodesToScore > 100 {
		cfg.PercentageOfNodesToScore = 100
	}
	return &Scheduler{cfg: cfg, counting: &indexedCounting{}}
}

// Config returns the configuration in effect.
func (s *Scheduler) Config() Config { return s.cfg }

// Schedule picks a node for pod, which must be unbound. It does not bind: the caller calls
// State.Bind. When no node fits it returns a *FitError wrapping ErrUnschedulable.
func (s *Scheduler) Schedule(st *cluster.State, pod *cluster.Pod, rng *rand.Rand) (Decision, error) {
	if pod.Node != nil {
		return Decision{}, fmt.Errorf("schedule %s/%s: pod is already bound to %s", pod.Namespace, pod.Name, pod.Node.Name)
	}
	if len(st.Nodes) == 0 {
		// upstream's ErrNoNodesAvailable
		return Decision{}, fmt.Errorf("%w: no nodes available to schedule pods", ErrUnschedulable)
	}
	info, err := s.specs.get(podSpec(pod))
	if err != nil {
		return Decision{}, &FitError{NumAllNodes: len(st.Nodes), PreFilterMsg: "parsing pod: " + err.Error()}
	}
	order := s.order.get(st)

	// PreFilter. NodeAffinity first: it may restrict the nodes to those named by matchFields.
	nodes := order
	restricted := false
	if info.nodeNames != nil {
		if len(info.nodeNames) == 0 {
			return Decision{}, &FitError{NumAllNodes: len(st.Nodes), PreFilterMsg: reasonNodeAffinityConflict}
		}
		s.subset = s.subset[:0]
		for _, i := range order {
			if _, ok := info.nodeNames[st.Nodes[i].Name]; ok {
				s.subset = append(s.subset, i)
			}
		}
		nodes, restricted = s.subset, true
	}
	c := &s.cyc
	c.begin(s, st, pod, info)

	// Filter.
	feasible, statuses := s.findNodesThatPassFilters(st, nodes, c)
	s.nextStart = (s.nextStart + len(feasible) + len(statuses)) % len(st.Nodes)
	if len(feasible) == 0 {
		return Decision{}, s.fitError(st, statuses, restricted)
	}
	d := Decision{Feasible: len(feasible), Evaluated: len(feasible) + len(statuses)}
	if len(feasible) == 1 {
		d.Node = feasible[0]
		return d, nil
	}

	// Score.
	total := s.prioritize(c, feasible)
	d.Node = feasible[selectHost(total, rng)]
	return d, nil
}

func podSpec(p *cluster.Pod) *corev1.PodSpec {
	if p.Spec == nil {
		return &emptySpec
	}
	return p.Spec
}

var emptySpec corev1.PodSpec

// numFeasibleNodesToFind follows upstream's numFeasibleNodesToFind.
func (s *Scheduler) numFeasibleNodesToFind(numAllNodes int) int {
	if numAllNodes < minFeasibleNodesToFind {
		return numAllNodes
	}
	percentage := s.cfg.PercentageOfNodesToScore
	if percentage == 0 {
		percentage = 50 - numAllNodes/125
		if percentage < minFeasibleNodesPercentageToFind {
			percentage = minFeasibleNodesPercentageToFind
		}
	}
	n := numAllNodes * percentage / 100
	if n < minFeasibleNodesToFind {
		return minFeasibleNodesToFind
	}
	return n
}

// findNodesThatPassFilters follows upstream's findNodesThatPassFilters with a parallelism of one:
// nodes are checked from the rotating start index; once numFeasibleNodesToFind nodes fit, the search
// goes on only until the next fitting node (which cancels it and is dropped), so the infeasible
// nodes met in between are counted as evaluated, as they are upstream.
func (s *Scheduler) findNodesThatPassFilters(st *cluster.State, nodes []int32, c *cycle) ([]*cluster.Node, []nodeStatus) {
	feasible := s.feasible[:0]
	statuses := s.statuses[:0]
	numAll := len(nodes)
	if numAll == 0 {
		s.feasible, s.statuses = feasible, statuses
		return feasible, statuses
	}
	toFind := s.numFeasibleNodesToFind(numAll)
	for i := 0; i < numAll; i++ {
		n := st.Nodes[nodes[(s.nextStart+i)%numAll]]
		r, aux := c.filter(n)
		if r == reasonNone {
			if len(feasible) == toFind {
				break
			}
			feasible = append(feasible, n)
			continue
		}
		statuses = append(statuses, nodeStatus{node: int32(n.Index), reason: r, aux: aux})
	}
	s.feasible, s.statuses = feasible, statuses
	return feasible, statuses
}

// prioritize follows upstream's prioritizeNodes / RunScorePlugins: each plugin scores every
// feasible node, normalizes its scores to 0..100 and the weighted scores are summed. A plugin whose
// PreScore would return Skip, or whose scores are the same on every node, adds nothing (a constant
// added to every node cannot change the choice).
func (s *Scheduler) prioritize(c *cycle, feasible []*cluster.Node) []int64 {
	n := len(feasible)
	s.total = resize(s.total, n)
	s.raw = resize(s.raw, n)
	total, raw := s.total, s.raw
	clear(total)
	w := s.cfg.Weights
	add := func(weight int64) {
		for i := range total {
			total[i] += weight * raw[i]
		}
	}
	if w.TaintToleration != 0 && c.taintToleration.score(feasible, raw) {
		add(w.TaintToleration)
	}
	if w.NodeAffinity != 0 && c.nodeAffinity.score(feasible, raw) {
		add(w.NodeAffinity)
	}
	if w.NodeResourcesFit != 0 && c.fit.score(feasible, raw) {
		add(w.NodeResourcesFit)
	}
	if w.PodTopologySpread != 0 && c.spread.score(feasible, raw) {
		add(w.PodTopologySpread)
	}
	if w.InterPodAffinity != 0 && c.interPod.score(feasible, raw) {
		add(w.InterPodAffinity)
	}
	if w.NodeResourcesBalancedAllocation != 0 && c.balanced.score(feasible, raw) {
		add(w.NodeResourcesBalancedAllocation)
	}
	return total
}

// selectHost follows upstream's selectHost: reservoir sampling among the nodes with the highest
// total score, so each of them is chosen with equal probability. It draws from rng once per tied
// node after the first, in feasible-node order.
func selectHost(total []int64, rng *rand.Rand) int {
	best := total[0]
	for _, t := range total[1:] {
		if t > best {
			best = t
		}
	}
	selected, count := -1, 0
	for i, t := range total {
		if t != best {
			continue
		}
		count++
		if count == 1 || rng.IntN(count) == 0 {
			selected = i
		}
	}
	return selected
}

func resize(b []int64, n int) []int64 {
	if cap(b) < n {
		return make([]int64, n, n+n/4)
	}
	return b[:n]
}

// fitError builds upstream's FitError from the failed nodes' statuses. Nodes left out by a
// PreFilter node restriction (NodeAffinity matchFields on metadata.name) count with upstream's
// "didn't satisfy plugin(s)" reason.
func (s *Scheduler) fitError(st *cluster.State, statuses []nodeStatus, restricted bool) *FitError {
	e := &FitError{NumAllNodes: len(st.Nodes), Reasons: make(map[string]int)}
	for _, ns := range statuses {
		n := st.Nodes[ns.node]
		switch ns.reason {
		case reasonTaint:
			t := &n.Taints[ns.aux]
			e.Reasons[fmt.Sprintf("node(s) had untolerated taint {%s: %s}", t.Key, t.Value)]++
		case reasonInsufficient:
			if ns.aux&insufficientCPU != 0 {
				e.Reasons["Insufficient cpu"]++
			}
			if ns.aux&insufficientMemory != 0 {
				e.Reasons["Insufficient memory"]++
			}
		default:
			e.Reasons[reasonText[ns.reason]]++
		}
	}
	if restricted && len(statuses) < len(st.Nodes) {
		e.Reasons["node(s) didn't satisfy plugin(s) [NodeAffinity]"] += len(st.Nodes) - len(statuses)
	}
	return e
}
