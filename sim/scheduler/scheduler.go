package scheduler

import (
	"cmp"
	"errors"
	"fmt"
	"math/rand/v2"
	"slices"
	"sort"
	"strconv"
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
	// Schedule may return the same *FitError for the same failure: treat it as read-only.
	Reasons map[string]int

	msg string // the message, when built by Schedule
}

// Error renders the message as upstream: "0/N nodes are available: <count> <reason>, ...." with the
// "<count> <reason>" strings sorted.
func (e *FitError) Error() string {
	if e.msg != "" {
		return e.msg
	}
	return e.message()
}

func (e *FitError) message() string {
	var b strings.Builder
	b.WriteString("0/")
	b.WriteString(strconv.Itoa(e.NumAllNodes))
	b.WriteString(" nodes are available:")
	if e.PreFilterMsg != "" {
		b.WriteString(" ")
		b.WriteString(e.PreFilterMsg)
		b.WriteString(".")
		return b.String()
	}
	hist := make([]string, 0, len(e.Reasons))
	for reason, n := range e.Reasons {
		hist = append(hist, strconv.Itoa(n)+" "+reason)
	}
	sort.Strings(hist)
	for i, h := range hist {
		if i == 0 {
			b.WriteString(" ")
		} else {
			b.WriteString(", ")
		}
		b.WriteString(h)
	}
	if len(hist) > 0 {
		b.WriteString(".")
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
	mirror   nodeMirror

	// scratch reused across calls
	subset   []int32
	feasible []int32 // the feasible nodes' indexes
	// the feasible nodes' weighted NodeResourcesFit + BalancedAllocation scores (wFit, wBal), and
	// whether any of them is tainted, found in the same pass as the filters
	resScores     []int64
	wFit, wBal    int64
	feasibleTaint bool
	// the feasible nodes' hostZoneKeys, when PodTopologySpread's score is keyed (keys != nil)
	keys     []int32
	keysBuf  []int32
	statuses []nodeStatus
	raw      []int64
	total    []int64
	failSig  []failCount
	// the last FitError built and its signature
	lastFit *FitError
	lastSig []failCount
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
		return Decision{}, newFitError(&FitError{NumAllNodes: len(st.Nodes), PreFilterMsg: "parsing pod: " + err.Error()})
	}
	order := s.order.get(st)
	s.mirror.sync(st)

	// PreFilter. NodeAffinity first: it may restrict the nodes to those named by matchFields.
	nodes := order
	restricted := false
	if info.nodeNames != nil {
		if len(info.nodeNames) == 0 {
			return Decision{}, newFitError(&FitError{NumAllNodes: len(st.Nodes), PreFilterMsg: reasonNodeAffinityConflict})
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
		d.Node = st.Nodes[feasible[0]]
		return d, nil
	}

	// Score.
	total, best, known := s.prioritize(st, c, feasible)
	if !known {
		best = highest(total)
	}
	d.Node = st.Nodes[feasible[selectAmong(total, best, rng)]]
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
func (s *Scheduler) findNodesThatPassFilters(st *cluster.State, nodes []int32, c *cycle) ([]int32, []nodeStatus) {
	feasible := s.feasible[:0]
	statuses := s.statuses[:0]
	numAll := len(nodes)
	if numAll == 0 {
		s.feasible, s.statuses = feasible, statuses
		return feasible, statuses
	}
	toFind := s.numFeasibleNodesToFind(numAll)
	rows := s.mirror.rows
	// NodeResourcesFit and NodeResourcesBalancedAllocation score each node from its own
	// resources alone (no normalization over the nodes): their weighted sum is taken while the
	// node's row is at hand, and kept in the row while neither the node nor the pod's requests
	// change.
	w := s.cfg.Weights
	s.wFit, s.wBal = w.NodeResourcesFit, w.NodeResourcesBalancedAllocation
	if c.balanced.skip() {
		s.wBal = 0
	}
	scored := s.wFit != 0 || s.wBal != 0
	if scored {
		s.mirror.beginScores(c, s.wFit, s.wBal)
	}
	res := s.resScores[:0]
	anyTaint := false
	// PodTopologySpread's system-default pair: each feasible node's key into its score table is
	// read here too, while the pass is at the node
	var host, dom []int32
	if sp, ok := c.spread.(*podTopologySpread); ok && w.PodTopologySpread != 0 {
		host, dom = sp.keyed()
	}
	keys := s.keysBuf[:0]
	k := s.nextStart % numAll // nodes[(nextStart+i) % numAll], without a division per node
	rowsOnly, tolerates, fit, class := c.rowsOnly(), c.unschedulable.tolerates, c.fit, s.mirror.class
	for range numAll {
		i := nodes[k]
		if k++; k == numAll {
			k = 0
		}
		row := &rows[i]
		r, aux := reasonNone, int32(0)
		// a node that every filter passes by its row alone: the usual case, without a call
		if !rowsOnly || row.tainted || (row.unschedulable && !tolerates) || fit.filter(row.free) != 0 {
			r, aux = c.filter(st, row, i)
		}
		if r == reasonNone {
			if len(feasible) == toFind {
				break
			}
			feasible = append(feasible, i)
			if scored {
				sc := row.score
				if row.class != class {
					sc = s.mirror.resourceScore(c, i)
				}
				res = append(res, sc)
			}
			anyTaint = anyTaint || row.tainted
			if host != nil {
				if key := hostZoneKey(host, dom, i); key >= 0 {
					keys = append(keys, key)
				} else {
					host = nil // a count beyond the table: the plain score
				}
			}
			continue
		}
		statuses = append(statuses, nodeStatus{node: i, reason: r, aux: aux})
	}
	s.feasible, s.statuses, s.resScores, s.feasibleTaint = feasible, statuses, res, anyTaint
	s.keysBuf, s.keys = keys, nil
	if host != nil {
		s.keys = keys
	}
	return feasible, statuses
}

// prioritize follows upstream's prioritizeNodes / RunScorePlugins: each plugin scores every
// feasible node, normalizes its scores to 0..100 and the weighted scores are summed. A plugin whose
// PreScore would return Skip, or whose scores are the same on every node, adds nothing (a constant
// added to every node cannot change the choice).
//
// It returns the totals and, when its last pass over them found it (known), the highest.
func (s *Scheduler) prioritize(st *cluster.State, c *cycle, feasible []int32) (total []int64, best int64, known bool) {
	n := len(feasible)
	s.total = resize(s.total, n)
	s.raw = resize(s.raw, n)
	total, raw := s.total, s.raw
	if s.wFit != 0 || s.wBal != 0 {
		copy(total, s.resScores) // NodeResourcesFit and BalancedAllocation, from the filter pass
	} else {
		clear(total)
	}
	w := s.cfg.Weights
	add := func(weight int64) {
		for i := range total {
			total[i] += weight * raw[i]
		}
	}
	// without a tainted feasible node, TaintToleration scores 100 everywhere: a constant
	if w.TaintToleration != 0 && s.feasibleTaint && c.taintToleration.score(st, feasible, s.mirror.rows, raw) {
		add(w.TaintToleration)
	}
	if w.NodeAffinity != 0 && c.nodeAffinity.score(st, feasible, raw) {
		add(w.NodeAffinity)
	}
	if s.keys != nil {
		best, known = c.spread.(*podTopologySpread).scoreKeyed(feasible, s.keys, w.PodTopologySpread, total), true
	} else if w.PodTopologySpread != 0 && c.spread.score(st, feasible, raw) {
		add(w.PodTopologySpread)
	}
	if w.InterPodAffinity != 0 && c.interPod.score(st, feasible, raw) {
		add(w.InterPodAffinity)
		known = false
	}
	return total, best, known
}

// highest returns the highest of total, which is not empty.
func highest(total []int64) int64 {
	best := total[0]
	for _, t := range total[1:] {
		if t > best {
			best = t
		}
	}
	return best
}

// selectAmong follows upstream's selectHost, given the highest total best: reservoir sampling
// among the nodes with the highest total score, so each of them is chosen with equal
// probability. It draws from rng once per tied node after the first, in feasible-node order.
func selectAmong(total []int64, best int64, rng *rand.Rand) int {
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
// "didn't satisfy plugin(s)" reason. The same failure as the previous one returns the previous
// FitError: a pod that cannot be placed is retried many times, and building the map and the
// message each time was a good part of what a simulation run allocates.
func (s *Scheduler) fitError(st *cluster.State, statuses []nodeStatus, restricted bool) *FitError {
	sig := s.failSig[:0]
	count := func(c failCount) {
		for i := range sig {
			if sig[i].r == c.r && sig[i].key == c.key && sig[i].value == c.value {
				sig[i].n += c.n
				return
			}
		}
		sig = append(sig, c)
	}
	for _, ns := range statuses {
		switch ns.reason {
		case reasonTaint:
			t := &st.Nodes[ns.node].Taints[ns.aux]
			count(failCount{r: reasonTaint, key: t.Key, value: t.Value, n: 1})
		case reasonInsufficient:
			if ns.aux&insufficientCPU != 0 {
				count(failCount{r: reasonInsufficient, key: "cpu", n: 1})
			}
			if ns.aux&insufficientMemory != 0 {
				count(failCount{r: reasonInsufficient, key: "memory", n: 1})
			}
		default:
			count(failCount{r: ns.reason, n: 1})
		}
	}
	if restricted && len(statuses) < len(st.Nodes) {
		count(failCount{r: reasonNone, n: len(st.Nodes) - len(statuses)}) // not a filter's reason
	}
	slices.SortFunc(sig, func(a, b failCount) int {
		if c := cmp.Compare(a.r, b.r); c != 0 {
			return c
		}
		if c := cmp.Compare(a.key, b.key); c != 0 {
			return c
		}
		return cmp.Compare(a.value, b.value)
	})
	s.failSig = sig
	if s.lastFit != nil && s.lastFit.NumAllNodes == len(st.Nodes) && slices.Equal(sig, s.lastSig) {
		return s.lastFit
	}
	e := &FitError{NumAllNodes: len(st.Nodes), Reasons: make(map[string]int, len(sig))}
	for _, c := range sig {
		switch c.r {
		case reasonTaint:
			e.Reasons["node(s) had untolerated taint {"+c.key+": "+c.value+"}"] += c.n
		case reasonInsufficient:
			e.Reasons["Insufficient "+c.key] += c.n
		case reasonNone:
			e.Reasons["node(s) didn't satisfy plugin(s) [NodeAffinity]"] += c.n
		default:
			e.Reasons[reasonText[c.r]] += c.n
		}
	}
	s.lastFit, s.lastSig = newFitError(e), append(s.lastSig[:0], sig...)
	return s.lastFit
}

// failCount is one entry of a failure's signature: a reason (with the taint's key and value, or
// the insufficient resource) and the number of nodes that failed with it.
type failCount struct {
	r          reason
	key, value string
	n          int
}

// newFitError builds e's message once: callers read it more than once.
func newFitError(e *FitError) *FitError {
	e.msg = e.message()
	return e
}
