package scheduler

import "github.com/faultline-dev/faultline/sim/cluster"

// nodeMirror is a compact copy, one 32-byte row per node index, of what a cycle reads of every
// node it visits: whether the node is cordoned or tainted, its free resources (Allocatable -
// Requested), and the node's last weighted NodeResourcesFit + BalancedAllocation score, with the
// resources that score is computed from (Allocatable, Requested, NonZeroRequested) apart. A
// placement on tens of thousands of nodes visits thousands per pod; read from the nodes
// themselves (a struct of several cache lines each, wherever it was allocated) most of a cycle's
// time went to cache misses. The rows are read in the nodes' visiting order, a few streams
// through one array.
//
// The copy follows the State as a cluster.NodeObserver: Bind and Release update a node's row, as
// do SetUnschedulable and SetTaints (Unschedulable and Taints must be changed through them once a
// node is added); Allocatable is read when the row is built (nodes are added, never resized). A
// node added since the last cycle, or another State, rebuilds the copy on the next cycle.
type nodeMirror struct {
	st   *cluster.State
	rows []nodeRow
	res  []nodeResources // by node index, read when a row's score is computed

	// class stands for the current pod's requests and the two weights in the rows' cached
	// resource score; 0 is never current, so a zero or invalidated row never matches
	class             uint32
	requests, nonZero cluster.Resources
	wFit, wBal        int64
}

type nodeRow struct {
	free cluster.Resources // Allocatable - Requested
	// score is the weighted fit + balanced-allocation score for the pod class class
	score         int64
	class         uint32
	unschedulable bool
	tainted       bool // any taint at all: the taint filter and score read the node's own
}

type nodeResources struct {
	allocatable, requested, nonZero cluster.Resources
}

// sync makes the copy follow st.
func (m *nodeMirror) sync(st *cluster.State) {
	if m.st == st && len(m.rows) == len(st.Nodes) {
		return
	}
	if m.st != nil {
		m.st.Unobserve(m)
	}
	m.st = st
	if cap(m.rows) < len(st.Nodes) {
		m.rows = make([]nodeRow, len(st.Nodes))
	}
	m.rows = m.rows[:len(st.Nodes)]
	if cap(m.res) < len(st.Nodes) {
		m.res = make([]nodeResources, len(st.Nodes))
	}
	m.res = m.res[:len(st.Nodes)]
	for i, n := range st.Nodes {
		m.rows[i], m.res[i] = rowOf(n)
	}
	st.Observe(m)
}

func rowOf(n *cluster.Node) (nodeRow, nodeResources) {
	return nodeRow{free: n.Allocatable.Sub(n.Requested), unschedulable: n.Unschedulable, tainted: len(n.Taints) > 0},
		nodeResources{allocatable: n.Allocatable, requested: n.Requested, nonZero: n.NonZeroRequested}
}

// update copies node n again; a node added since the copy was built waits for the next sync.
func (m *nodeMirror) update(n *cluster.Node) {
	if n.Index < len(m.rows) && m.st.Nodes[n.Index] == n {
		m.rows[n.Index], m.res[n.Index] = rowOf(n)
	}
}

// PodBound, PodUnbound, PodPhaseChanged and NodeUpdated make nodeMirror a cluster.NodeObserver.
func (m *nodeMirror) PodBound(p *cluster.Pod)   { m.update(p.Node) }
func (m *nodeMirror) PodUnbound(p *cluster.Pod) { m.update(p.Node) }

func (m *nodeMirror) PodPhaseChanged(*cluster.Pod, cluster.PodPhase) {}

func (m *nodeMirror) NodeUpdated(n *cluster.Node) { m.update(n) }

// beginScores sets the class of this cycle's pod: a new one when its requests or the weights
// differ from the last cycle's.
func (m *nodeMirror) beginScores(c *cycle, wFit, wBal int64) {
	if m.class != 0 && c.fit.requests == m.requests && c.fit.nonZero == m.nonZero && wFit == m.wFit && wBal == m.wBal {
		return
	}
	m.class++
	if m.class == 0 { // wrapped: no row may keep a class that comes round again
		for i := range m.rows {
			m.rows[i].class = 0
		}
		m.class = 1
	}
	m.requests, m.nonZero, m.wFit, m.wBal = c.fit.requests, c.fit.nonZero, wFit, wBal
}

// resourceScore returns node i's weighted NodeResourcesFit + BalancedAllocation score, computed
// as the plugins compute it from the node's resources, or remembered from an earlier cycle whose
// pod requested the same when the node has not changed since (with one bind between two cycles,
// nearly every node's score is reused).
func (m *nodeMirror) resourceScore(c *cycle, i int32) int64 {
	r := &m.rows[i]
	if r.class == m.class {
		return r.score
	}
	res := &m.res[i]
	var t int64
	if m.wFit != 0 {
		t = m.wFit * c.fit.scoreOf(res.allocatable, res.nonZero)
	}
	if m.wBal != 0 {
		t += m.wBal * c.balanced.scoreOf(res.allocatable, res.requested)
	}
	r.score, r.class = t, m.class
	return t
}
