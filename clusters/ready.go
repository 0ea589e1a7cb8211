package clusters

import corev1 "k8s.io/api/core/v1"

// NodeReady reports whether n's Ready condition is True.
func NodeReady(n *corev1.Node) bool {
	for _, c := range n.Status.Conditions {
		if c.Type == corev1.NodeReady {
			return c.Status == corev1.ConditionTrue
		}
	}
	return false
}

// LifecycleTainted reports whether the node lifecycle controller still has n tainted not-ready
// or unreachable: it taints every new node until it has seen it Ready, and the scheduler places
// nothing on it until then.
func LifecycleTainted(n *corev1.Node) bool {
	for _, t := range n.Spec.Taints {
		if t.Key == corev1.TaintNodeNotReady || t.Key == corev1.TaintNodeUnreachable {
			return true
		}
	}
	return false
}
