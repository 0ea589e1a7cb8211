package scheduler

import (
	"math"

	"github.com/faultline-dev/faultline/sim/cluster"
)

// hardPodAffinityWeight is InterPodAffinityArgs.HardPodAffinityWeight's default: the score an
// existing pod's REQUIRED affinity term gives to the domain of its node when the incoming pod
// matches it.
const hardPodAffinityWeight = 1

// interPodAffinity is the InterPodAffinity plugin (pkg/scheduler/framework/plugins/
// interpodaffinity/: filtering.go, scoring.go, plugin.go; terms as framework.AffinityTerm).
//
//   - PreFilter: over every bound pod on every node, counts per topology pair (key, value of the
//     node's label) the existing pods matching ALL the incoming pod's required affinity terms, the
//     existing pods matching each of its required anti-affinity terms, and the existing pods whose
//     own required anti-affinity terms match the incoming pod (symmetry).
//   - Filter, in upstream's order: required affinity ("node(s) didn't match pod affinity rules";
//     the node must carry every term's topology key; the first pod of a group whose terms match
//     itself is admitted when no pod matches yet), required anti-affinity ("node(s) didn't match
//     pod anti-affinity rules"), existing pods' required anti-affinity ("node(s) didn't satisfy
//     existing pods anti-affinity rules").
//   - PreScore/Score: per topology pair, plus the weight for each existing pod matching the
//     incoming pod's preferred affinity terms, minus it for its preferred anti-affinity terms, and
//     symmetrically plus hardPodAffinityWeight (1) for existing pods' required affinity terms and
//     plus / minus the weight of their preferred affinity / anti-affinity terms that match the
//     incoming pod; a node's score sums its pairs; NormalizeScore maps min..max to 0..100.
//
// A term's namespaces are its namespaces list, else the owning pod's namespace; a namespaceSelector
// sees only the kubernetes.io/metadata.name label (namespace labels are not modelled).
// matchLabelKeys / mismatchLabelKeys are applied as kube-apiserver merges them. Terminating pods
// count, as upstream. Left out: IgnorePreferredTermsOfExistingPods (default false) and
// HardPodAffinityWeight other than 1.
type interPodAffinity struct {
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

func (p *interPodAffinity) begin(pod *cluster.Pod, info *specInfo) {
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
func (p *interPodAffinity) censusNode(n *cluster.Node, specs *specCache) {
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
func (p *interPodAffinity) scoreTerms(terms []affinityTerm, owner, target *cluster.Pod, n *cluster.Node, sign int64, stamp uint64) {
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

func (p *interPodAffinity) endCensus() {
	p.needFilter = len(p.existing) > 0 || len(p.info.requiredAffinity) > 0 || len(p.info.requiredAntiAffinity) > 0
}

func (p *interPodAffinity) filter(n *cluster.Node) reason {
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

func (p *interPodAffinity) score(nodes []*cluster.Node, raw []int64) bool {
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
