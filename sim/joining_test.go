package sim

import (
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/utils/ptr"
)

// A node stopped from 0 is a node that joins later: settling places nothing on it, and it takes
// pods once the fault ends.
func TestANodeStoppedFromTheStartJoinsWhenTheFaultEnds(t *testing.T) {
	l := map[string]string{"app": "web"}
	d := &appsv1.Deployment{ObjectMeta: metav1.ObjectMeta{Name: "web", Namespace: "default"},
		Spec: appsv1.DeploymentSpec{Replicas: ptr.To(int32(4)), Selector: &metav1.LabelSelector{MatchLabels: l},
			Template: corev1.PodTemplateSpec{ObjectMeta: metav1.ObjectMeta{Labels: l}, Spec: corev1.PodSpec{Containers: []corev1.Container{{Name: "c",
				Resources: corev1.ResourceRequirements{Requests: corev1.ResourceList{corev1.ResourceCPU: resource.MustParse("1")}}}}}}}}
	in := &Input{Duration: 10 * time.Minute, Models: DefaultModels(), Objects: []runtime.Object{d},
		Pools:  []NodePool{{Name: "p", Count: 2, Capacity: corev1.ResourceList{corev1.ResourceCPU: resource.MustParse("8"), corev1.ResourceMemory: resource.MustParse("8Gi")}}},
		Faults: []Fault{{Name: "joins-p-2", Action: NodeStop, Nodes: []string{"p-2"}, At: 0, Duration: time.Minute}}}
	podsOn := func(until time.Duration) (int, int, bool) {
		w, err := New(in, 1, Options{Until: until})
		require.NoError(t, err)
		r := w.Run()
		lost, _ := r.Get("pods-lost")
		n := w.State().Nodes
		return len(n[0].Pods), len(n[1].Pods), lost == 0 && n[1].Up == (until > time.Minute)
	}
	a, b, ok := podsOn(30 * time.Second)
	assert.Equal(t, []int{4, 0}, []int{a, b}, "p-2 has not joined: the scheduler spreads nothing onto it")
	assert.True(t, ok, "no pod lost, p-2 down")
	// the Deployment's pods stay where they are; a node that joins takes new pods only, and is up
	_, _, ok = podsOn(5 * time.Minute)
	assert.True(t, ok, "p-2 up after its fault, still no pod lost")
}
