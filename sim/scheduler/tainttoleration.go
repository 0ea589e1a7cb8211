package scheduler

import (
	corev1 "k8s.io/api/core/v1"

	"github.com/faultline-dev/faultline/sim/cluster"
)

// taintToleration is the TaintToleration plugin (pkg/scheduler/framework/plugins/tainttoleration/
// taint_toleration.go).
//
//   - Filter: the node's first NoSchedule or NoExecute taint that no toleration of the pod
//     tolerates rejects it with "node(s) had untolerated taint {key: value}"
//     (v1helper.FindMatchingUntoleratedTaint with DoNotScheduleTaintsFilterFunc).
//   - Score: the number of PreferNoSchedule taints the pod does not tolerate, normalized reversed
//     with DefaultNormalizeScore (no such taint = 100).
//
// Matching is corev1.Toleration.ToleratesTaint with the alpha comparison operators (Gt, Lt) off.
type taintToleration struct {
	tolerations []corev1.Toleration
}

// filter returns the index of the first untolerated NoSchedule/NoExecute taint, or -1.
func (p *taintToleration) filter(n *cluster.Node) int {
	return untoleratedTaint(n.Taints, p.tolerations)
}

func untoleratedTaint(taints []corev1.Taint, tolerations []corev1.Toleration) int {
	for i := range taints {
		t := &taints[i]
		if t.Effect != corev1.TaintEffectNoSchedule && t.Effect != corev1.TaintEffectNoExecute {
			continue
		}
		if !toleratesTaint(tolerations, t) {
			return i
		}
	}
	return -1
}

// score scores the nodes st.Nodes[idx[i]], reading the taints of those whose mirror row says
// they have any.
func (p *taintToleration) score(st *cluster.State, idx []int32, rows []nodeRow, raw []int64) bool {
	var maxCount int64
	for i, ni := range idx {
		if !rows[ni].tainted {
			raw[i] = 0
			continue
		}
		n := st.Nodes[ni]
		var count int64
		for j := range n.Taints {
			t := &n.Taints[j]
			if t.Effect == corev1.TaintEffectPreferNoSchedule && !toleratesTaint(p.tolerations, t) {
				count++
			}
		}
		raw[i] = count
		if count > maxCount {
			maxCount = count
		}
	}
	if maxCount == 0 {
		return false // every node scores 100: a constant
	}
	defaultNormalizeScore(raw, maxCount, true)
	return true
}
