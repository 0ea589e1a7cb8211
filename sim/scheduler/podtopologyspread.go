package scheduler

import (
	"math"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"

	"github.com/faultline-dev/faultline/sim/cluster"
)

// podTopologySpread is the PodTopologySpread plugin (pkg/scheduler/framework/plugins/
// podtopologyspread/: common.go, filtering.go, scoring.go, plugin.go).
//
// Constraints are the pod's spec.topologySpreadConstraints; when it has none and default spreading
// is on, the system defaults {hostname, maxSkew 3} and {zone, maxSkew 5}, both ScheduleAnyway, with
// the pod's OwnerSelector standing for helper.DefaultSelector (the selectors of the Services,
// ReplicaSets, StatefulSets matching the pod); no defaults without a selector. Missing minDomains is
// 1, nodeAffinityPolicy Honor, nodeTaintsPolicy Ignore; matchLabelKeys are merged into the selector
// from the pod's labels. A constraint whose selector is empty ({}) counts no pods, as upstream.
// Matching pods are counted in the pod's namespace on node.Pods, skipping Terminating pods
// (upstream skips pods with a deletionTimestamp, #87621). The counts per node and per domain come
// from the podIndex; when every node is counted (the nodes all carry the keys and the inclusion
// policies exclude none) its domain counts and minimum are used as they are, otherwise the
// eligible nodes' counts are summed per domain, a pass over the nodes but not over their pods.
//
//   - PreFilter/Filter (DoNotSchedule): domains are counted over nodes that carry every constraint's
//     topology key and pass the inclusion policies; a node without the key is rejected with
//     "... (missing required label)"; otherwise matching pods in the node's domain, plus one if the
//     pod matches itself, minus the global minimum (0 when fewer than minDomains domains) must not
//     exceed maxSkew, else "node(s) didn't match pod topology spread constraints".
//   - PreScore/Score (ScheduleAnyway): per constraint, count * log(domains among feasible nodes + 2)
//     plus maxSkew - 1, summed and rounded; hostname counts are the node's own pods. With explicit
//     constraints, feasible nodes missing a key score 0 (IgnoredNodes); with the system defaults
//     they still get hostname spreading. NormalizeScore: 100 * (max + min - s) / max, fewest
//     matching pods best.
//
// Left out: nothing of the algorithm; the default selector is the owner's selector only (a Service
// selecting the pod is not consulted).
type podTopologySpread struct {
	x           *podIndex
	ns          string
	podLabels   labels.Set
	required    *requiredNodeAffinity
	tolerations []corev1.Toleration

	hard     []spreadConstraint
	hardDom  []domainView // per hard constraint
	hardSelf []int        // 1 when the incoming pod matches the constraint's selector

	soft       []spreadConstraint
	softAll    bool // requireAllTopologies
	softTable  []*countTable
	softDom    []domainView // per soft constraint (unused for hostname)
	softWeight []float64
	ignored    []bool

	// scratch
	hardBuf, softBuf []spreadConstraint
	parts            []matchPart
	eqBufs           [][]labelKV
	sums             [][]int32 // per slot: counts summed over eligible nodes
	marks            [][]bool  // per slot: domains with an eligible node
	seen             [][]uint32
	stamp            uint32
	terms            [][]float64 // per soft constraint: its term of the score, by domain
	norm             []int64     // normalized score by raw score - minimum
	hostZone         []int64     // hostZoneTable
	keyNorm          []int64     // scoreKeyed: weighted normalized score by hostZoneKey
}

// domainView is what a cycle reads of one constraint's domains: upstream's TpPairToMatchNum for
// the constraint's key, the number of domains counted and, for DoNotSchedule, the global minimum.
type domainView struct {
	topo    *topology
	count   []int32 // by domain: matching pods on the counted nodes
	domains int     // domains with a counted node
	min     int     // smallest count over those domains (math.MaxInt32 without any)
}

// spreadConstraint is upstream's topologySpreadConstraint.
type spreadConstraint struct {
	maxSkew        int32
	topologyKey    string
	hostname       bool
	selector       labels.Selector
	m              labelMatcher // selector's matcher, built per cycle
	minDomains     int32
	honorAffinity  bool
	honorTaints    bool
	matchLabelKeys []string
}

// systemDefaultSpread is podtopologyspread.systemDefaultConstraints.
var systemDefaultSpread = [...]spreadConstraint{
	{maxSkew: 3, topologyKey: corev1.LabelHostname, hostname: true, minDomains: 1, honorAffinity: true},
	{maxSkew: 5, topologyKey: corev1.LabelTopologyZone, minDomains: 1, honorAffinity: true},
}

func newSpreadConstraints(cs []corev1.TopologySpreadConstraint, action corev1.UnsatisfiableConstraintAction) ([]spreadConstraint, error) {
	var out []spreadConstraint
	for i := range cs {
		c := &cs[i]
		if c.WhenUnsatisfiable != action {
			continue
		}
		sel, err := metav1.LabelSelectorAsSelector(c.LabelSelector)
		if err != nil {
			return nil, err
		}
		sc := spreadConstraint{
			maxSkew:        c.MaxSkew,
			topologyKey:    c.TopologyKey,
			hostname:       c.TopologyKey == corev1.LabelHostname,
			selector:       sel,
			minDomains:     1,
			honorAffinity:  true,
			matchLabelKeys: c.MatchLabelKeys,
		}
		if c.MinDomains != nil {
			sc.minDomains = *c.MinDomains
		}
		if c.NodeAffinityPolicy != nil {
			sc.honorAffinity = *c.NodeAffinityPolicy == corev1.NodeInclusionPolicyHonor
		}
		if c.NodeTaintsPolicy != nil {
			sc.honorTaints = *c.NodeTaintsPolicy == corev1.NodeInclusionPolicyHonor
		}
		out = append(out, sc)
	}
	return out, nil
}

// begin sets up the cycle: the constraints in effect for pod and empty domain counts.
func (p *podTopologySpread) begin(pod *cluster.Pod, info *specInfo, defaults bool) {
	p.ns = pod.Namespace
	p.podLabels = labels.Set(pod.Labels)
	p.required = &info.required
	p.tolerations = podSpec(pod).Tolerations

	p.hard = p.withPodLabels(p.hardBuf[:0], info.hardSpread)
	p.hardBuf = p.hard[:0]
	p.soft = p.softBuf[:0]
	p.softAll = true
	switch {
	case info.hasSpreadConstraints:
		p.soft = p.withPodLabels(p.soft, info.softSpread)
	case defaults && pod.OwnerSelector != nil && !pod.OwnerSelector.Empty():
		for _, c := range systemDefaultSpread {
			c.selector = pod.OwnerSelector
			p.soft = append(p.soft, c)
		}
		p.softAll = false // system defaults: nodes without a zone still get hostname spreading
	}
	p.softBuf = p.soft[:0]

	p.hardSelf = p.hardSelf[:0]
	for i := range p.hard {
		p.hard[i].m = p.matcher(i, p.hard[i].selector)
		self := 0
		if p.hard[i].m.matches(pod.Labels) {
			self = 1
		}
		p.hardSelf = append(p.hardSelf, self)
	}
	for i := range p.soft {
		p.soft[i].m = p.matcher(len(p.hard)+i, p.soft[i].selector)
	}
}

// count sets up the domain counts from the index (PreFilter's calPreFilterState and PreScore's
// processAllNode, without the visit of every pod).
func (p *podTopologySpread) count(x *podIndex) {
	p.x = x
	p.hardDom = p.hardDom[:0]
	if len(p.hard) > 0 {
		all := true
		for i := range p.hard {
			c := &p.hard[i]
			t := x.topology(c.topologyKey)
			all = all && t.missing == 0 && p.includesAll(c)
			p.hardDom = append(p.hardDom, domainView{topo: t})
		}
		for i := range p.hard {
			t, v := p.table(&p.hard[i]), &p.hardDom[i]
			if all {
				d := x.domains(t, v.topo)
				v.count, v.domains, v.min = d.count, v.topo.n, int(d.minimum())
				continue
			}
			// calPreFilterState over the nodes with every key that pass the inclusion policies
			v.count, v.domains, v.min = p.sum(i, v.topo), 0, math.MaxInt32
			mark := p.mark(i, v.topo)
			for ni, n := range x.st.Nodes {
				if !hasAllKeys(n, p.hard) || !p.includes(&p.hard[i], n) {
					continue
				}
				d := v.topo.dom[ni]
				v.count[d] += t.node[ni]
				mark[d] = true
			}
			for d, ok := range mark {
				if ok {
					v.domains++
					v.min = min(v.min, int(v.count[d]))
				}
			}
		}
	}
	p.softTable, p.softDom = p.softTable[:0], p.softDom[:0]
	all := true
	for i := range p.soft {
		c := &p.soft[i]
		t := x.topology(c.topologyKey)
		p.softTable = append(p.softTable, p.table(c))
		p.softDom = append(p.softDom, domainView{topo: t})
		if (p.softAll || !c.hostname) && t.missing > 0 {
			all = false
		}
		if !c.hostname && !p.includesAll(c) {
			all = false
		}
	}
	for i := range p.soft {
		c, v, t := &p.soft[i], &p.softDom[i], p.softTable[i]
		if c.hostname {
			continue // scored from the node's own count
		}
		if all {
			v.count = x.domains(t, v.topo).count
			continue
		}
		// PreScore's processAllNode: with the system defaults (not requireAllTopologies) a node
		// without the key counts under the value "", which only a node labelled "" reads.
		slot := len(p.hard) + i
		v.count = p.sum(slot, v.topo)
		for ni, n := range x.st.Nodes {
			if (p.softAll && !hasAllKeys(n, p.soft)) || !p.includes(c, n) {
				continue
			}
			d := v.topo.dom[ni]
			if d < 0 {
				if d = v.topo.empty; d < 0 {
					continue
				}
			}
			v.count[d] += t.node[ni]
		}
	}
}

// table returns the index's counts of the pods c selects in the pod's namespace.
func (p *podTopologySpread) table(c *spreadConstraint) *countTable {
	if c.m.empty {
		return p.x.table(true, nil) // an empty selector counts nothing
	}
	p.parts = append(p.parts[:0], matchPart{nsOwn: true, ns: p.ns, sel: c.m})
	return p.x.table(true, p.parts)
}

// includesAll reports whether includes(c, n) holds for every node without looking at them.
func (p *podTopologySpread) includesAll(c *spreadConstraint) bool {
	return (!c.honorAffinity || p.required.empty()) && !c.honorTaints
}

// sum returns slot i's zeroed scratch counts for topo's domains.
func (p *podTopologySpread) sum(i int, topo *topology) []int32 {
	for i >= len(p.sums) {
		p.sums = append(p.sums, nil)
	}
	if cap(p.sums[i]) < topo.n {
		p.sums[i] = make([]int32, topo.n)
	}
	p.sums[i] = p.sums[i][:topo.n]
	clear(p.sums[i])
	return p.sums[i]
}

func (p *podTopologySpread) mark(i int, topo *topology) []bool {
	for i >= len(p.marks) {
		p.marks = append(p.marks, nil)
	}
	if cap(p.marks[i]) < topo.n {
		p.marks[i] = make([]bool, topo.n)
	}
	p.marks[i] = p.marks[i][:topo.n]
	clear(p.marks[i])
	return p.marks[i]
}

// withPodLabels appends cs to dst with matchLabelKeys merged into each selector from the incoming
// pod's labels (common.go filterTopologySpreadConstraints / mergeLabelSetWithSelector).
func (p *podTopologySpread) withPodLabels(dst, cs []spreadConstraint) []spreadConstraint {
	for _, c := range cs {
		if len(c.matchLabelKeys) > 0 {
			set := labels.Set{}
			for _, k := range c.matchLabelKeys {
				if v, ok := p.podLabels[k]; ok {
					set[k] = v
				}
			}
			if len(set) > 0 {
				if reqs, ok := c.selector.Requirements(); ok {
					merged := labels.SelectorFromSet(set)
					for _, r := range reqs {
						merged = merged.Add(r)
					}
					c.selector = merged
				}
			}
		}
		dst = append(dst, c)
	}
	return dst
}

// matcher builds the matcher of constraint slot i, reusing that slot's buffer.
func (p *podTopologySpread) matcher(i int, sel labels.Selector) labelMatcher {
	for i >= len(p.eqBufs) {
		p.eqBufs = append(p.eqBufs, nil)
	}
	m := newLabelMatcher(sel, p.eqBufs[i])
	if m.eq != nil {
		p.eqBufs[i] = m.eq[:0]
	}
	return m
}

// includes is matchNodeInclusionPolicies.
func (p *podTopologySpread) includes(c *spreadConstraint, n *cluster.Node) bool {
	if c.honorAffinity && !p.required.match(n) {
		return false
	}
	if c.honorTaints && untoleratedTaint(n.Taints, p.tolerations) >= 0 {
		return false
	}
	return true
}

func (p *podTopologySpread) filter(n *cluster.Node) reason {
	for i := range p.hard {
		c, v := &p.hard[i], &p.hardDom[i]
		d := v.topo.dom[n.Index]
		if d < 0 {
			return reasonSpreadMissingLabel
		}
		minMatch := v.min
		if v.domains < int(c.minDomains) {
			minMatch = 0
		}
		if int(v.count[d])+p.hardSelf[i]-minMatch > int(c.maxSkew) {
			return reasonSpreadSkew
		}
	}
	return reasonNone
}

func (p *podTopologySpread) score(_ *cluster.State, idx []int32, raw []int64) bool {
	if len(p.soft) == 0 {
		return false // PreScore: Skip
	}
	// initPreScoreState: ignored nodes (only with requireAllTopologies: a node missing a key) and
	// the number of domains among the feasible nodes.
	var ignored []bool
	nIgnored := 0
	if p.softAll {
		if cap(p.ignored) < len(idx) {
			p.ignored = make([]bool, len(idx))
		}
		ignored = p.ignored[:len(idx)]
		for j, ni := range idx {
			ignored[j] = !p.hasSoftKeys(ni)
			if ignored[j] {
				nIgnored++
			}
		}
	}
	p.prescore(idx, ignored, nIgnored)
	// Score.
	var minScore int64 = math.MaxInt64
	var maxScore int64
	if tab := p.hostZoneTable(); tab != nil {
		// the usual pair, hostname then one other key (the system defaults): a node's raw score
		// is read from the table by its domain and its own count
		host, dom := p.softTable[0].node, p.softDom[1].topo.dom
		for j, ni := range idx {
			if ignored != nil && ignored[j] {
				continue
			}
			var r int64
			if cnt := host[ni]; cnt >= 0 && cnt < hostZoneCounts {
				r = tab[(int(dom[ni])+1)*hostZoneCounts+int(cnt)]
			} else {
				r = p.rawScore(ni)
			}
			raw[j] = r
			minScore = min(minScore, r)
			maxScore = max(maxScore, r)
		}
	} else {
		for j, ni := range idx {
			if ignored != nil && ignored[j] {
				continue
			}
			r := p.rawScore(ni)
			raw[j] = r
			minScore = min(minScore, r)
			maxScore = max(maxScore, r)
		}
	}
	// NormalizeScore: 100 * (max + min - s) / max, read from a table of the few values s takes
	// when there are fewer of them than nodes; an ignored node scores 0.
	var tab []int64
	if maxScore != 0 && maxScore-minScore < int64(len(raw)/2) {
		tab = p.norm[:0]
		for r := minScore; r <= maxScore; r++ {
			tab = append(tab, maxNodeScore*(maxScore+minScore-r)/maxScore)
		}
		p.norm = tab
	}
	for j, r := range raw {
		switch {
		case ignored != nil && ignored[j]:
			raw[j] = 0
		case maxScore == 0:
			raw[j] = maxNodeScore
		case tab != nil:
			raw[j] = tab[r-minScore]
		default:
			raw[j] = maxNodeScore * (maxScore + minScore - r) / maxScore
		}
	}
	return true
}

// prescore sets, for the feasible nodes idx (less the ignored ones), each soft constraint's
// weight (the log of the number of its domains among them, plus 2) and term by domain.
func (p *podTopologySpread) prescore(idx []int32, ignored []bool, nIgnored int) {
	p.softWeight = p.softWeight[:0]
	p.stamp++
	if p.stamp == 0 { // wrapped: forget every mark
		for _, s := range p.seen {
			clear(s)
		}
		p.stamp = 1
	}
	for i := range p.soft {
		for i >= len(p.seen) {
			p.seen = append(p.seen, nil)
		}
		topo := p.softDom[i].topo
		if n := topo.n + 1; len(p.seen[i]) < n {
			p.seen[i] = make([]uint32, n)
		}
		if p.soft[i].hostname {
			p.softWeight = append(p.softWeight, math.Log(float64(len(idx)-nIgnored)+2))
			continue
		}
		// the domains among the feasible nodes, a node without the key counting as "": the count
		// stops early once it has seen as many domains as there can be
		limit := topo.n
		if topo.missing > 0 && topo.empty < 0 {
			limit++
		}
		seen, found := p.seen[i], 0
		for j, ni := range idx {
			if found == limit {
				break
			}
			if ignored != nil && ignored[j] {
				continue
			}
			d := topo.dom[ni]
			if d < 0 {
				if d = topo.empty; d < 0 {
					d = int32(topo.n)
				}
			}
			if seen[d] != p.stamp {
				seen[d] = p.stamp
				found++
			}
		}
		p.softWeight = append(p.softWeight, math.Log(float64(found)+2))
	}
	// Each constraint's term of a node's score, count * weight + maxSkew - 1, is computed once per
	// domain (the count is the domain's): the same operations on the same values as per node.
	if cap(p.terms) < len(p.soft) {
		p.terms = make([][]float64, len(p.soft))
	}
	p.terms = p.terms[:len(p.soft)]
	for i := range p.soft {
		c, v := &p.soft[i], &p.softDom[i]
		if c.hostname {
			continue
		}
		t := p.terms[i][:0]
		for _, cnt := range v.count {
			t = append(t, float64(int64(cnt))*p.softWeight[i]+float64(c.maxSkew-1))
		}
		p.terms[i] = t
	}
}

// keyed returns, when a feasible node's raw score can be read from hostZoneTable by its
// hostZoneKey (the system-default pair: no node is ignored), the hostname counts and the other
// key's domains by node index; otherwise nil, nil.
func (p *podTopologySpread) keyed() (host, dom []int32) {
	if p.softAll || !p.hostZoneShape() {
		return nil, nil
	}
	return p.softTable[0].node, p.softDom[1].topo.dom
}

// hostZoneKey is the index in hostZoneTable of node i's raw score, or -1 when its own count is
// beyond the table.
func hostZoneKey(host, dom []int32, i int32) int32 {
	if cnt := host[i]; cnt >= 0 && cnt < hostZoneCounts {
		return (dom[i]+1)*hostZoneCounts + cnt
	}
	return -1
}

// scoreKeyed is score for the feasible nodes idx when keyed applies and every node's
// hostZoneKey is in keys, fused with the weighted sum: it adds weight times each node's
// normalized score to total and returns the highest total. Its results are score's.
func (p *podTopologySpread) scoreKeyed(idx, keys []int32, weight int64, total []int64) int64 {
	p.prescore(idx, nil, 0)
	tab := p.hostZoneTable()
	var minScore int64 = math.MaxInt64
	var maxScore int64
	for _, k := range keys {
		r := tab[k]
		minScore = min(minScore, r)
		maxScore = max(maxScore, r)
	}
	// NormalizeScore by key: 100 * (max + min - s) / max
	norm := p.keyNorm[:0]
	for _, r := range tab {
		v := maxNodeScore
		if maxScore != 0 {
			v = maxNodeScore * (maxScore + minScore - r) / maxScore
		}
		norm = append(norm, weight*v)
	}
	p.keyNorm = norm
	best := int64(math.MinInt64)
	for j, k := range keys {
		t := total[j] + norm[k]
		total[j] = t
		best = max(best, t)
	}
	return best
}

// hostZoneShape reports whether the soft constraints are a hostname constraint (each node its
// own domain) followed by one constraint on another key with at most 64 domains.
func (p *podTopologySpread) hostZoneShape() bool {
	return len(p.soft) == 2 && p.soft[0].hostname && p.softDom[0].topo.unique && !p.soft[1].hostname && p.softDom[1].topo.n <= 64
}

// hostZoneCounts is how many of a node's own counts (0, 1, ...) hostZoneTable covers.
const hostZoneCounts = 16

// hostZoneTable returns, when the soft constraints are a hostname constraint (each node its own
// domain) followed by one constraint on another key with few domains, the raw score of a node
// by its domain d (-1: the node lacks the key) and its own count c < hostZoneCounts, at
// (d+1)*hostZoneCounts + c, computed as rawScore computes it; otherwise nil.
func (p *podTopologySpread) hostZoneTable() []int64 {
	if !p.hostZoneShape() {
		return nil
	}
	doms := p.softDom[1].topo.n
	tab := p.hostZone[:0]
	c0, w0 := &p.soft[0], p.softWeight[0]
	for d := -1; d < doms; d++ {
		for cnt := range hostZoneCounts {
			var s float64
			s += float64(int64(cnt))*w0 + float64(c0.maxSkew-1)
			if d >= 0 {
				s += p.terms[1][d]
			}
			tab = append(tab, int64(math.Round(s)))
		}
	}
	p.hostZone = tab
	return tab
}

// rawScore is node ni's score before normalization: per soft constraint, the matching pods in its
// domain times the constraint's weight plus maxSkew - 1, summed and rounded.
func (p *podTopologySpread) rawScore(ni int32) int64 {
	var s float64
	for i := range p.soft {
		c := &p.soft[i]
		topo := p.softDom[i].topo
		if c.hostname && topo.unique {
			s += float64(int64(p.softTable[i].node[ni]))*p.softWeight[i] + float64(c.maxSkew-1)
			continue
		}
		d := topo.dom[ni]
		if d < 0 {
			continue
		}
		if c.hostname {
			s += float64(int64(p.softTable[i].node[ni]))*p.softWeight[i] + float64(c.maxSkew-1)
		} else {
			s += p.terms[i][d]
		}
	}
	return int64(math.Round(s))
}

// hasSoftKeys is hasAllKeys(n, p.soft) read from the index's domains.
func (p *podTopologySpread) hasSoftKeys(ni int32) bool {
	for i := range p.softDom {
		if p.softDom[i].topo.dom[ni] < 0 {
			return false
		}
	}
	return true
}

// hasAllKeys is nodeLabelsMatchSpreadConstraints.
func hasAllKeys(n *cluster.Node, cs []spreadConstraint) bool {
	for i := range cs {
		if _, ok := n.Labels[cs[i].topologyKey]; !ok {
			return false
		}
	}
	return true
}
