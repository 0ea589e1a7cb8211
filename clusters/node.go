package clusters

import (
	"maps"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// FakeNodeAnnotation marks the nodes that KWOK animates (kwok's
// --manage-nodes-with-annotation-selector); nodes without it are left alone.
const FakeNodeAnnotation = "kwok.x-k8s.io/node"

// FakeNode returns a Node for KWOK to animate: created with its capacity in status (as a
// kubelet registers itself), marked with FakeNodeAnnotation, labelled like a Linux node.
//
// It carries no taint. KWOK's README taints fake nodes (kwok.x-k8s.io/node=fake:NoSchedule) to
// keep real workloads off them in clusters that mix real and fake nodes; a faultline cluster has
// only fake nodes, and a taint would make every scenario manifest need a toleration that its
// production original does not have. Pass taints (a node pool's) explicitly.
func FakeNode(name string, capacity corev1.ResourceList, labels map[string]string, taints []corev1.Taint) *corev1.Node {
	l := map[string]string{
		"kubernetes.io/hostname": name,
		"kubernetes.io/os":       "linux",
		"kubernetes.io/arch":     "amd64",
		"type":                   "kwok",
	}
	maps.Copy(l, labels)
	c := capacity.DeepCopy()
	if _, ok := c[corev1.ResourcePods]; !ok {
		c[corev1.ResourcePods] = DefaultNodeCapacity()[corev1.ResourcePods]
	}
	return &corev1.Node{
		TypeMeta: metav1.TypeMeta{APIVersion: "v1", Kind: "Node"},
		ObjectMeta: metav1.ObjectMeta{
			Name:   name,
			Labels: l,
			Annotations: map[string]string{
				FakeNodeAnnotation:             "fake",
				"node.alpha.kubernetes.io/ttl": "0",
			},
		},
		Spec: corev1.NodeSpec{Taints: taints},
		Status: corev1.NodeStatus{
			Capacity:    c,
			Allocatable: c.DeepCopy(),
			Phase:       corev1.NodeRunning,
		},
	}
}
