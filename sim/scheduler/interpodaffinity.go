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
//   - PreFilter: counts per topology pair (key, value of the node's label) the existing pods
//     matching ALL the incoming pod's required affinity terms, the existing pods matching each of
//     its required anti-affinity terms, and the existing pods whose own required anti-affinity
//     terms match the incoming pod (symmetry). The counts come from the podIndex, kept up to date
//     on bind and unbind, instead of a visit of every bound pod.
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
	x    *podIndex
	pod  *cluster.Pod
	info *specInfo
	ns   nsLabels

	needFilter bool
	selfMatch  bool            // the incoming pod matches all its own required affinity terms
	affinity   []*domainCounts // per required affinity term: pods matching ALL the terms
	affEmpty   bool            // no pod matches all the terms on a node with one of their keys
	anti       []*domainCounts // per required anti-affinity term
	existing   []*domainCounts // existing pods' required anti-affinity terms matching the pod
	scores     []weightedDomains

	// scratch
	parts          []matchPart
	eqBufs, neqBuf [][]labelKV
}

// weightedDomains adds weight per counted pod to the score of the nodes of each domain.
type weightedDomains struct {
	d      *domainCounts
	weight int64
}

func (p *interPodAffinity) begin(x *podIndex, pod *cluster.Pod, info *specInfo) {
	p.x, p.pod, p.info = x, pod, info
	p.affinity, p.anti, p.existing, p.scores = p.affinity[:0], p.anti[:0], p.existing[:0], p.scores[:0]
	p.selfMatch = matchesAll(info.requiredAffinity, pod, pod, &p.ns)
	p.affEmpty = true
	if terms := info.requiredAffinity; len(terms) > 0 {
		// getIncomingAffinityAntiAffinityCounts: existing pods matching every term
		p.parts = p.parts[:0]
		for i := range terms {
			p.parts = append(p.parts, p.part(i, &terms[i]))
		}
		t := x.table(false, p.parts)
		for i := range terms {
			d := x.domains(t, x.topology(terms[i].topologyKey))
			p.affinity = append(p.affinity, d)
			if d.total > 0 {
				p.affEmpty = false
			}
		}
	}
	for i := range info.requiredAntiAffinity {
		p.anti = append(p.anti, p.termDomains(&info.requiredAntiAffinity[i]))
	}
	// PreScore: the incoming pod's preferred terms ...
	for i := range info.preferredAffinity {
		t := &info.preferredAffinity[i]
		p.scores = append(p.scores, weightedDomains{p.termDomains(t), t.weight})
	}
	for i := range info.preferredAnti {
		t := &info.preferredAnti[i]
		p.scores = append(p.scores, weightedDomains{p.termDomains(t), -t.weight})
	}
	// ... and the existing pods' terms that match it (getExistingAntiAffinityCounts and
	// processExistingPod), one evaluation per group of alike pods.
	x.matchGroups(pod, func(gt *groupTerm) {
		if gt.kind == existingAnti {
			p.existing = append(p.existing, gt.dom)
		} else {
			p.scores = append(p.scores, weightedDomains{gt.dom, gt.weight})
		}
	})
	p.needFilter = len(p.existing) > 0 || len(info.requiredAffinity) > 0 || len(info.requiredAntiAffinity) > 0
}

// part resolves term t against the incoming pod, in scratch slot i.
func (p *interPodAffinity) part(i int, t *affinityTerm) matchPart {
	for i >= len(p.eqBufs) {
		p.eqBufs = append(p.eqBufs, nil)
		p.neqBuf = append(p.neqBuf, nil)
	}
	m := termPart(t, p.pod, p.eqBufs[i], p.neqBuf[i])
	p.eqBufs[i], p.neqBuf[i] = m.eq[:0], m.neq[:0]
	return m
}

// termDomains returns the counts per domain of t's topology key of the existing pods matching t.
func (p *interPodAffinity) termDomains(t *affinityTerm) *domainCounts {
	p.parts = append(p.parts[:0], p.part(0, t))
	return p.x.domains(p.x.table(false, p.parts), p.x.topology(t.topologyKey))
}

func (p *interPodAffinity) filter(n *cluster.Node) reason {
	if !p.needFilter {
		return reasonNone // PreFilter: Skip
	}
	// satisfyPodAffinity
	if len(p.affinity) > 0 {
		podsExist := true
		for _, d := range p.affinity {
			dom := d.topo.dom[n.Index]
			if dom < 0 {
				return reasonPodAffinity
			}
			if d.count[dom] <= 0 {
				podsExist = false
			}
		}
		if !podsExist && !(p.affEmpty && p.selfMatch) {
			return reasonPodAffinity
		}
	}
	// satisfyPodAntiAffinity
	for _, d := range p.anti {
		if dom := d.topo.dom[n.Index]; dom >= 0 && d.count[dom] > 0 {
			return reasonPodAntiAffinity
		}
	}
	// satisfyExistingPodsAntiAffinity
	for _, d := range p.existing {
		if dom := d.topo.dom[n.Index]; dom >= 0 && d.count[dom] > 0 {
			return reasonExistingAntiAffinity
		}
	}
	return reasonNone
}

func (p *interPodAffinity) score(_ *cluster.State, idx []int32, raw []int64) bool {
	if len(p.scores) == 0 {
		return false // PreScore: Skip
	}
	var minCount int64 = math.MaxInt64
	var maxCount int64 = math.MinInt64
	for j, ni := range idx {
		var s int64
		for _, w := range p.scores {
			if dom := w.d.topo.dom[ni]; dom >= 0 {
				s += w.weight * int64(w.d.count[dom])
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
