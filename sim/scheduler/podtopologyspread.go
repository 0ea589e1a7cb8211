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
// (upstream skips pods with a deletionTimestamp, #87621).
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

func (p *podTopologySpread) intMap(i int) map[string]int {
	if i == len(p.intMaps) {
		p.intMaps = append(p.intMaps, make(map[string]int))
	}
	clear(p.intMaps[i])
	return p.intMaps[i]
}

func (p *podTopologySpread) int64Map(i int) map[string]int64 {
	if i == len(p.int64Maps) {
		p.int64Maps = append(p.int64Maps, make(map[string]int64))
	}
	clear(p.int64Maps[i])
	return p.int64Maps[i]
}

func (p *podTopologySpread) seenMap(i int) map[string]struct{} {
	if i == len(p.seenMaps) {
		p.seenMaps = append(p.seenMaps, make(map[string]struct{}))
	}
	clear(p.seenMaps[i])
	return p.seenMaps[i]
}

// active reports whether the census must visit nodes for this plugin.
func (p *podTopologySpread) active() bool { return len(p.hard) > 0 || p.softZonal }

// censusNode adds node n's matching pods to the domain counts (filtering.go calPreFilterState for
// DoNotSchedule, scoring.go PreScore processAllNode for ScheduleAnyway).
func (p *podTopologySpread) censusNode(n *cluster.Node) {
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
func (p *podTopologySpread) endCensus() {
	for i, m := range p.hardCount {
		for _, v := range m {
			if v < p.hardMin[i] {
				p.hardMin[i] = v
			}
		}
	}
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

func (p *podTopologySpread) score(nodes []*cluster.Node, raw []int64) bool {
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

// hasAllKeys is nodeLabelsMatchSpreadConstraints.
func hasAllKeys(n *cluster.Node, cs []spreadConstraint) bool {
	for i := range cs {
		if _, ok := n.Labels[cs[i].topologyKey]; !ok {
			return false
		}
	}
	return true
}
