package scheduler

import (
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/selection"

	"github.com/faultline-dev/faultline/sim/cluster"
)

// nodeAffinity is the NodeAffinity plugin (pkg/scheduler/framework/plugins/nodeaffinity/
// node_affinity.go), with the node selector matching of k8s.io/component-helpers/scheduling/corev1/
// nodeaffinity re-expressed here (that module is not a dependency).
//
//   - PreFilter: required terms that all name nodes with matchFields metadata.name In restrict the
//     nodes examined (PreFilterResult); terms that name no node at all fail the pod with
//     "pod affinity terms conflict". Upstream visits the named nodes in map order; here they keep
//     the node-tree order.
//   - Filter: spec.nodeSelector (every label equal) and required node affinity (terms ORed,
//     expressions ANDed; operators In, NotIn, Exists, DoesNotExist, Gt, Lt on node labels;
//     matchFields only metadata.name In/NotIn with one value, as upstream). A term that fails to
//     parse matches nothing, as upstream's LazyErrorNodeSelector.
//   - Score: sum of the weights of the preferred terms the node matches, normalized with
//     DefaultNormalizeScore (highest = 100). Invalid preferred terms are ignored (upstream fails the
//     cycle with an error).
//
// Left out: the profile's addedAffinity (NodeAffinityArgs) and its "scheduler-enforced" reason.
type nodeAffinity struct {
	preferred []preferredNodeTerm
}

// score scores the nodes st.Nodes[idx[i]].
func (p *nodeAffinity) score(st *cluster.State, idx []int32, raw []int64) bool {
	if len(p.preferred) == 0 {
		return false // PreScore: Skip
	}
	var maxCount int64
	for i, ni := range idx {
		n := st.Nodes[ni]
		var s int64
		for j := range p.preferred {
			if p.preferred[j].term.match(n) {
				s += p.preferred[j].weight
			}
		}
		raw[i] = s
		if s > maxCount {
			maxCount = s
		}
	}
	defaultNormalizeScore(raw, maxCount, false)
	return maxCount > 0
}

// defaultNormalizeScore is helper.DefaultNormalizeScore (plugins/helper/normalize_score.go): scale
// so the highest score is 100, optionally reversed. maxCount is the highest raw score.
func defaultNormalizeScore(scores []int64, maxCount int64, reverse bool) {
	if maxCount == 0 {
		if reverse {
			for i := range scores {
				scores[i] = maxNodeScore
			}
		}
		return
	}
	for i, s := range scores {
		s = maxNodeScore * s / maxCount
		if reverse {
			s = maxNodeScore - s
		}
		scores[i] = s
	}
}

// requiredNodeAffinity is component-helpers' RequiredNodeAffinity: spec.nodeSelector AND the
// required node affinity.
type requiredNodeAffinity struct {
	nodeSelector map[string]string
	hasAffinity  bool               // requiredDuringSchedulingIgnoredDuringExecution is set
	terms        []nodeSelectorTerm // parsed non-empty terms; ORed
}

// empty reports whether the pod constrains nodes at all (NodeAffinity's PreFilter Skip).
func (r *requiredNodeAffinity) empty() bool { return len(r.nodeSelector) == 0 && !r.hasAffinity }

func (r *requiredNodeAffinity) match(n *cluster.Node) bool {
	for k, v := range r.nodeSelector {
		if nv, ok := n.Labels[k]; !ok || nv != v {
			return false
		}
	}
	if !r.hasAffinity {
		return true
	}
	for i := range r.terms {
		if r.terms[i].match(n) {
			return true
		}
	}
	return false
}

func newRequiredNodeAffinity(spec *corev1.PodSpec) requiredNodeAffinity {
	r := requiredNodeAffinity{nodeSelector: spec.NodeSelector}
	if a := spec.Affinity; a != nil && a.NodeAffinity != nil && a.NodeAffinity.RequiredDuringSchedulingIgnoredDuringExecution != nil {
		r.hasAffinity = true
		for _, t := range a.NodeAffinity.RequiredDuringSchedulingIgnoredDuringExecution.NodeSelectorTerms {
			if len(t.MatchExpressions) == 0 && len(t.MatchFields) == 0 {
				continue // an empty term selects no objects
			}
			if pt, ok := newNodeSelectorTerm(&t); ok {
				r.terms = append(r.terms, pt)
			}
		}
	}
	return r
}

// nodeSelectorTerm is one parsed NodeSelectorTerm.
type nodeSelectorTerm struct {
	labels labels.Selector // nil when the term has no matchExpressions
	fields []fieldRequirement
}

// fieldRequirement is metadata.name = name (or != name).
type fieldRequirement struct {
	name  string
	notIn bool
}

func (t *nodeSelectorTerm) match(n *cluster.Node) bool {
	if t.labels != nil && !t.labels.Matches(labels.Set(n.Labels)) {
		return false
	}
	if len(t.fields) > 0 && n.Name != "" {
		for _, f := range t.fields {
			if (n.Name == f.name) == f.notIn {
				return false
			}
		}
	}
	return true
}

func newNodeSelectorTerm(t *corev1.NodeSelectorTerm) (nodeSelectorTerm, bool) {
	var pt nodeSelectorTerm
	if len(t.MatchExpressions) > 0 {
		sel := labels.NewSelector()
		for _, e := range t.MatchExpressions {
			var op selection.Operator
			switch e.Operator {
			case corev1.NodeSelectorOpIn:
				op = selection.In
			case corev1.NodeSelectorOpNotIn:
				op = selection.NotIn
			case corev1.NodeSelectorOpExists:
				op = selection.Exists
			case corev1.NodeSelectorOpDoesNotExist:
				op = selection.DoesNotExist
			case corev1.NodeSelectorOpGt:
				op = selection.GreaterThan
			case corev1.NodeSelectorOpLt:
				op = selection.LessThan
			default:
				return pt, false
			}
			r, err := labels.NewRequirement(e.Key, op, e.Values)
			if err != nil {
				return pt, false
			}
			sel = sel.Add(*r)
		}
		pt.labels = sel
	}
	for _, f := range t.MatchFields {
		if f.Key != metav1.ObjectNameField || len(f.Values) != 1 {
			return pt, false
		}
		switch f.Operator {
		case corev1.NodeSelectorOpIn:
			pt.fields = append(pt.fields, fieldRequirement{name: f.Values[0]})
		case corev1.NodeSelectorOpNotIn:
			pt.fields = append(pt.fields, fieldRequirement{name: f.Values[0], notIn: true})
		default:
			return pt, false
		}
	}
	return pt, true
}

// preferredNodeTerm is one parsed PreferredSchedulingTerm.
type preferredNodeTerm struct {
	term   nodeSelectorTerm
	weight int64
}

func newPreferredNodeTerms(terms []corev1.PreferredSchedulingTerm) []preferredNodeTerm {
	var out []preferredNodeTerm
	for i := range terms {
		t := &terms[i]
		if t.Weight == 0 || (len(t.Preference.MatchExpressions) == 0 && len(t.Preference.MatchFields) == 0) {
			continue
		}
		if pt, ok := newNodeSelectorTerm(&t.Preference); ok {
			out = append(out, preferredNodeTerm{term: pt, weight: int64(t.Weight)})
		}
	}
	return out
}

// nodeAffinityNodeNames is NodeAffinity's PreFilter node restriction: when every required term has
// matchFields metadata.name In, the union over terms of the intersection within each term. nil means
// no restriction.
func nodeAffinityNodeNames(terms []corev1.NodeSelectorTerm) map[string]struct{} {
	if len(terms) == 0 {
		return nil
	}
	var names map[string]struct{}
	for _, t := range terms {
		var termNames map[string]struct{}
		for _, r := range t.MatchFields {
			if r.Key != metav1.ObjectNameField || r.Operator != corev1.NodeSelectorOpIn {
				continue
			}
			s := make(map[string]struct{}, len(r.Values))
			for _, v := range r.Values {
				if termNames == nil {
					s[v] = struct{}{}
				} else if _, ok := termNames[v]; ok {
					s[v] = struct{}{}
				}
			}
			termNames = s
		}
		if termNames == nil {
			return nil // a term without node names: all nodes are eligible
		}
		if names == nil {
			names = make(map[string]struct{})
		}
		for v := range termNames {
			names[v] = struct{}{}
		}
	}
	return names
}
