package scheduler

// The reference implementation of PodTopologySpread's and InterPodAffinity's counting, as it was
// before the podIndex: every cycle visits every bound pod on every node (a census). It is kept for
// the differential test, which checks that the incremental counts give the same placements.

import (
	"math"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/labels"

	"github.com/faultline-dev/faultline/sim/cluster"
)

// newReference returns a scheduler that recounts every bound pod in every cycle.
func newReference(cfg Config) *Scheduler {
	s := New(cfg)
	s.counting = &censusCounting{}
	return s
}

type censusCounting struct {
	spread   refSpread
	interPod refInterPod
}

func (c *censusCounting) reset() { *c = censusCounting{} }

func (c *censusCounting) begin(s *Scheduler, st *cluster.State, pod *cluster.Pod, info *specInfo) (countingPlugin, countingPlugin) {
	c.spread.begin(pod, info, !s.cfg.DisableDefaultSpread)
	c.interPod.begin(pod, info)
	spread := c.spread.active()
	for _, n := range st.Nodes {
		if spread {
			c.spread.censusNode(n)
		}
		c.interPod.censusNode(n, &s.specs)
	}
	c.spread.endCensus()
	c.interPod.endCensus()
	return &c.spread, &c.interPod
}

type refSpread struct {
	ns          string
	podLabels   labels.Set
	required    *requiredNodeAffinity
	tolerations []corev1.Toleration

	hard      []spreadConstraint
	hardCount []map[string]int // per hard constraint: domain -> matching pods
	hardMin   []int
	hardSelf  []int // 1 when the incoming pod matches the constraint's selector

	soft       []spreadConstraint
	softAll    bool               // requireAllTopologies
	softZonal  bool               // some soft constraint is not on hostname
	softCount  []map[string]int64 // per soft constraint (not hostname): domain -> matching pods
	softSeen   []map[string]struct{}
	softWeight []float64
	ignored    []bool

	// scratch
	hardBuf, softBuf []spreadConstraint
	intMaps          []map[string]int
	int64Maps        []map[string]int64
	seenMaps         []map[string]struct{}
	eqBufs           [][]labelKV
}

// begin sets up the cycle: the constraints in effect for pod and empty domain counts.
func (p *refSpread) begin(pod *cluster.Pod, info *specInfo, defaults bool) {
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

	p.hardCount = p.hardCount[:0]
	p.hardMin = p.hardMin[:0]
	p.hardSelf = p.hardSelf[:0]
	for i := range p.hard {
		p.hard[i].m = p.matcher(i, p.hard[i].selector)
		p.hardCount = append(p.hardCount, p.intMap(i))
		self := 0
		if p.hard[i].m.matches(pod.Labels) {
			self = 1
		}
		p.hardSelf = append(p.hardSelf, self)
		p.hardMin = append(p.hardMin, math.MaxInt32)
	}
	p.softCount = p.softCount[:0]
	p.softSeen = p.softSeen[:0]
	p.softZonal = false
	for i := range p.soft {
		p.soft[i].m = p.matcher(len(p.hard)+i, p.soft[i].selector)
		p.softCount = append(p.softCount, p.int64Map(i))
		p.softSeen = append(p.softSeen, p.seenMap(i))
		if !p.soft[i].hostname {
			p.softZonal = true
		}
	}
}

// withPodLabels appends cs to dst with matchLabelKeys merged into each selector from the incoming
// pod's labels (common.go filterTopologySpreadConstraints / mergeLabelSetWithSelector).
func (p *refSpread) withPodLabels(dst, cs []spreadConstraint) []spreadConstraint {
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
func (p *refSpread) matcher(i int, sel labels.Selector) labelMatcher {
	for i >= len(p.eqBufs) {
		p.eqBufs = append(p.eqBufs, nil)
	}
	m := newLabelMatcher(sel, p.eqBufs[i])
	if m.eq != nil {
		p.eqBufs[i] = m.eq[:0]
	}
	return m
}

func (p *refSpread) intMap(i int) map[string]int {
	if i == len(p.intMaps) {
		p.intMaps = append(p.intMaps, make(map[string]int))
	}
	clear(p.intMaps[i])
	return p.intMaps[i]
}

func (p *refSpread) int64Map(i int) map[string]int64 {
	if i == len(p.int64Maps) {
		p.int64Maps = append(p.int64Maps, make(map[string]int64))
	}
	clear(p.int64Maps[i])
	return p.int64Maps[i]
}

func (p *refSpread) seenMap(i int) map[string]struct{} {
	if i == len(p.seenMaps) {
		p.seenMaps = append(p.seenMaps, make(map[string]struct{}))
	}
	clear(p.seenMaps[i])
	return p.seenMaps[i]
}

// active reports whether the census must visit nodes for this plugin.
func (p *refSpread) active() bool { return len(p.hard) > 0 || p.softZonal }

// censusNode adds node n's matching pods to the domain counts (filtering.go calPreFilterState for
// DoNotSchedule, scoring.go PreScore processAllNode for ScheduleAnyway).
func (p *refSpread) censusNode(n *cluster.Node) {
	if len(p.hard) > 0 && hasAllKeys(n, p.hard) {
		for i := range p.hard {
			c := &p.hard[i]
			if !p.includes(c, n) {
				continue
			}
			p.hardCount[i][n.Labels[c.topologyKey]] += countMatching(n.Pods, &c.m, p.ns)
		}
	}
	if p.softZonal && (!p.softAll || hasAllKeys(n, p.soft)) {
		for i := range p.soft {
			c := &p.soft[i]
			if c.hostname || !p.includes(c, n) {
				continue
			}
			p.softCount[i][n.Labels[c.topologyKey]] += int64(countMatching(n.Pods, &c.m, p.ns))
		}
	}
}

// endCensus computes the global minimum per DoNotSchedule constraint (upstream's critical paths).
func (p *refSpread) endCensus() {
	for i, m := range p.hardCount {
		for _, v := range m {
			if v < p.hardMin[i] {
				p.hardMin[i] = v
			}
		}
	}
}

// includes is matchNodeInclusionPolicies.
func (p *refSpread) includes(c *spreadConstraint, n *cluster.Node) bool {
	if c.honorAffinity && !p.required.match(n) {
		return false
	}
	if c.honorTaints && untoleratedTaint(n.Taints, p.tolerations) >= 0 {
		return false
	}
	return true
}

func (p *refSpread) filter(n *cluster.Node) reason {
	for i := range p.hard {
		c := &p.hard[i]
		v, ok := n.Labels[c.topologyKey]
		if !ok {
			return reasonSpreadMissingLabel
		}
		minMatch := p.hardMin[i]
		if len(p.hardCount[i]) < int(c.minDomains) {
			minMatch = 0
		}
		if p.hardCount[i][v]+p.hardSelf[i]-minMatch > int(c.maxSkew) {
			return reasonSpreadSkew
		}
	}
	return reasonNone
}

func (p *refSpread) score(st *cluster.State, idx []int32, raw []int64) bool {
	nodes := nodesOf(st, idx)
	if len(p.soft) == 0 {
		return false // PreScore: Skip
	}
	// initPreScoreState: ignored nodes and the number of domains among the feasible nodes.
	if cap(p.ignored) < len(nodes) {
		p.ignored = make([]bool, len(nodes))
	}
	ignored := p.ignored[:len(nodes)]
	clear(ignored)
	nIgnored := 0
	for j, n := range nodes {
		if p.softAll && !hasAllKeys(n, p.soft) {
			ignored[j] = true
			nIgnored++
			continue
		}
		for i := range p.soft {
			if !p.soft[i].hostname {
				p.softSeen[i][n.Labels[p.soft[i].topologyKey]] = struct{}{}
			}
		}
	}
	p.softWeight = p.softWeight[:0]
	for i := range p.soft {
		size := len(p.softSeen[i])
		if p.soft[i].hostname {
			size = len(nodes) - nIgnored
		}
		p.softWeight = append(p.softWeight, math.Log(float64(size+2)))
	}
	// Score.
	var minScore int64 = math.MaxInt64
	var maxScore int64
	for j, n := range nodes {
		if ignored[j] {
			continue
		}
		var s float64
		for i := range p.soft {
			c := &p.soft[i]
			v, ok := n.Labels[c.topologyKey]
			if !ok {
				continue
			}
			var cnt int64
			if c.hostname {
				cnt = int64(countMatching(n.Pods, &c.m, p.ns))
			} else {
				cnt = p.softCount[i][v]
			}
			s += float64(cnt)*p.softWeight[i] + float64(c.maxSkew-1)
		}
		r := int64(math.Round(s))
		raw[j] = r
		minScore = min(minScore, r)
		maxScore = max(maxScore, r)
	}
	// NormalizeScore.
	for j := range raw {
		switch {
		case ignored[j]:
			raw[j] = 0
		case maxScore == 0:
			raw[j] = maxNodeScore
		default:
			raw[j] = maxNodeScore * (maxScore + minScore - raw[j]) / maxScore
		}
	}
	return true
}

// countMatching is countPodsMatchSelector.
func countMatching(pods []*cluster.Pod, m *labelMatcher, ns string) int {
	if m.empty {
		return 0
	}
	count := 0
	for _, q := range pods {
		// Phase last: it sits on another cache line of the Pod than Namespace and Labels.
		if q.Namespace == ns && m.matches(q.Labels) && q.Phase != cluster.PodTerminating {
			count++
		}
	}
	return count
}

type refInterPod struct {
	pod  *cluster.Pod
	info *specInfo
	ns   nsLabels // scratch for namespaceSelector matching
	// stamp identifies this cycle's incoming pod for the memo of existing pods' terms
	stamp uint64

	needFilter   bool
	selfMatch    bool               // the incoming pod matches all its own required affinity terms
	affinity     map[topoPair]int64 // existing pods matching all required affinity terms
	anti         map[topoPair]int64 // existing pods matching a required anti-affinity term
	existing     map[topoPair]int64 // existing pods whose required anti-affinity matches the pod
	existingKeys []string           // distinct keys of existing
	preferredAll bool               // the incoming pod has preferred terms: visit every pod
	topoScore    map[topoPair]int64 // PreScore's topologyScore
	scoreKeys    []string           // distinct keys of topoScore
}

type topoPair struct{ key, value string }

func (p *refInterPod) begin(pod *cluster.Pod, info *specInfo) {
	p.pod, p.info = pod, info
	p.stamp++
	if p.affinity == nil {
		p.affinity = make(map[topoPair]int64)
		p.anti = make(map[topoPair]int64)
		p.existing = make(map[topoPair]int64)
		p.topoScore = make(map[topoPair]int64)
	}
	clear(p.affinity)
	clear(p.anti)
	clear(p.existing)
	clear(p.topoScore)
	p.existingKeys = p.existingKeys[:0]
	p.scoreKeys = p.scoreKeys[:0]
	p.selfMatch = matchesAll(info.requiredAffinity, pod, pod, &p.ns)
	p.preferredAll = len(info.preferredAffinity)+len(info.preferredAnti) > 0
}

// censusNode visits the pods on node n (getExistingAntiAffinityCounts,
// getIncomingAffinityAntiAffinityCounts and PreScore's processExistingPod).
func (p *refInterPod) censusNode(n *cluster.Node, specs *specCache) {
	pod, info := p.pod, p.info
	incoming := len(info.requiredAffinity)+len(info.requiredAntiAffinity) > 0
	labelled := len(n.Labels) > 0
	for _, q := range n.Pods {
		if incoming {
			if len(info.requiredAffinity) > 0 && matchesAll(info.requiredAffinity, pod, q, &p.ns) {
				for i := range info.requiredAffinity {
					addCount(p.affinity, n, info.requiredAffinity[i].topologyKey, 1)
				}
			}
			for i := range info.requiredAntiAffinity {
				if info.requiredAntiAffinity[i].matches(pod, q, &p.ns, 0) {
					addCount(p.anti, n, info.requiredAntiAffinity[i].topologyKey, 1)
				}
			}
		}
		if p.preferredAll && labelled {
			p.scoreTerms(info.preferredAffinity, pod, q, n, 1, 0)
			p.scoreTerms(info.preferredAnti, pod, q, n, -1, 0)
		}
		qs := podSpec(q)
		if !specHasPodAffinity(qs) {
			continue
		}
		qi, err := specs.get(qs)
		if err != nil {
			continue // an unparsable existing pod has no terms, as a PodInfo with a parse error
		}
		for i := range qi.requiredAntiAffinity {
			if qi.requiredAntiAffinity[i].matches(q, pod, &p.ns, p.stamp) {
				p.existingKeys = addPair(p.existing, p.existingKeys, n, qi.requiredAntiAffinity[i].topologyKey, 1)
			}
		}
		if labelled {
			for i := range qi.requiredAffinity {
				t := &qi.requiredAffinity[i]
				if t.matches(q, pod, &p.ns, p.stamp) {
					p.scoreKeys = addPair(p.topoScore, p.scoreKeys, n, t.topologyKey, hardPodAffinityWeight)
				}
			}
			p.scoreTerms(qi.preferredAffinity, q, pod, n, 1, p.stamp)
			p.scoreTerms(qi.preferredAnti, q, pod, n, -1, p.stamp)
		}
	}
}

// scoreTerms is processTerms: for each term of owner matching target, add weight*sign to the
// topology pair of node n (the existing pod's node).
func (p *refInterPod) scoreTerms(terms []affinityTerm, owner, target *cluster.Pod, n *cluster.Node, sign int64, stamp uint64) {
	for i := range terms {
		t := &terms[i]
		if t.matches(owner, target, &p.ns, stamp) {
			p.scoreKeys = addPair(p.topoScore, p.scoreKeys, n, t.topologyKey, sign*t.weight)
		}
	}
}

// addCount adds v to m at (key, n's value for key) when n has the label (topologyToMatchedTermCount
// update). It reports whether n has the label.
func addCount(m map[topoPair]int64, n *cluster.Node, key string, v int64) bool {
	tv, ok := n.Labels[key]
	if ok {
		m[topoPair{key, tv}] += v
	}
	return ok
}

// addPair is addCount that also records key in keys the first time it is counted.
func addPair(m map[topoPair]int64, keys []string, n *cluster.Node, key string, v int64) []string {
	if !addCount(m, n, key, v) {
		return keys
	}
	for _, k := range keys {
		if k == key {
			return keys
		}
	}
	return append(keys, key)
}

func (p *refInterPod) endCensus() {
	p.needFilter = len(p.existing) > 0 || len(p.info.requiredAffinity) > 0 || len(p.info.requiredAntiAffinity) > 0
}

func (p *refInterPod) filter(n *cluster.Node) reason {
	if !p.needFilter {
		return reasonNone // PreFilter: Skip
	}
	// satisfyPodAffinity
	if terms := p.info.requiredAffinity; len(terms) > 0 {
		podsExist := true
		for i := range terms {
			v, ok := n.Labels[terms[i].topologyKey]
			if !ok {
				return reasonPodAffinity
			}
			if p.affinity[topoPair{terms[i].topologyKey, v}] <= 0 {
				podsExist = false
			}
		}
		if !podsExist && !(len(p.affinity) == 0 && p.selfMatch) {
			return reasonPodAffinity
		}
	}
	// satisfyPodAntiAffinity
	if len(p.anti) > 0 {
		for i := range p.info.requiredAntiAffinity {
			key := p.info.requiredAntiAffinity[i].topologyKey
			if v, ok := n.Labels[key]; ok && p.anti[topoPair{key, v}] > 0 {
				return reasonPodAntiAffinity
			}
		}
	}
	// satisfyExistingPodsAntiAffinity
	for _, key := range p.existingKeys {
		if v, ok := n.Labels[key]; ok && p.existing[topoPair{key, v}] > 0 {
			return reasonExistingAntiAffinity
		}
	}
	return reasonNone
}

func (p *refInterPod) score(st *cluster.State, idx []int32, raw []int64) bool {
	nodes := nodesOf(st, idx)
	if len(p.topoScore) == 0 {
		return false // PreScore: Skip
	}
	var minCount int64 = math.MaxInt64
	var maxCount int64 = math.MinInt64
	for j, n := range nodes {
		var s int64
		for _, key := range p.scoreKeys {
			if v, ok := n.Labels[key]; ok {
				s += p.topoScore[topoPair{key, v}]
			}
		}
		raw[j] = s
		minCount = min(minCount, s)
		maxCount = max(maxCount, s)
	}
	diff := maxCount - minCount
	for j := range raw {
		var f float64
		if diff > 0 {
			f = float64(maxNodeScore) * (float64(raw[j]-minCount) / float64(diff))
		}
		raw[j] = int64(f)
	}
	return diff > 0
}

// nodesOf returns the nodes st.Nodes[idx[j]].
func nodesOf(st *cluster.State, idx []int32) []*cluster.Node {
	nodes := make([]*cluster.Node, len(idx))
	for j, i := range idx {
		nodes[j] = st.Nodes[i]
	}
	return nodes
}
