package sim_test

import (
	"fmt"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"

	"github.com/faultline-dev/faultline/sim"
)

// A two-node cluster serving a web Deployment loses one node for half an hour. The control plane
// notices after the grace period, evicts the pod after its 300 s toleration and reschedules it:
// until the node is marked NotReady (about 45 s), half of the requests go to the dead pod:
// 0.5 × 45 s / 7,200 s = 0.3 % lost.
func ExampleRun() {
	replicas := int32(2)
	labels := map[string]string{"app": "web"}
	web := &appsv1.Deployment{
		ObjectMeta: metav1.ObjectMeta{Name: "web"},
		Spec: appsv1.DeploymentSpec{
			Replicas: &replicas,
			Selector: &metav1.LabelSelector{MatchLabels: labels},
			Template: corev1.PodTemplateSpec{
				ObjectMeta: metav1.ObjectMeta{Labels: labels},
				Spec:       corev1.PodSpec{Containers: []corev1.Container{{Name: "web"}}},
			},
		},
	}
	in := &sim.Input{
		Start:    time.Date(2024, 1, 1, 0, 0, 0, 0, time.UTC),
		Duration: 2 * time.Hour,
		Pools: []sim.NodePool{{Name: "node", Count: 2, Capacity: corev1.ResourceList{
			corev1.ResourceCPU: resource.MustParse("4"), corev1.ResourceMemory: resource.MustParse("8Gi")}}},
		Objects: []runtime.Object{web},
		Load:    []sim.Load{{Target: "deployment/web", RequestsPerSecond: 100, CPUPerReplica: resource.MustParse("500m")}},
		Faults:  []sim.Fault{{Name: "stop", Action: sim.NodeStop, At: 30 * time.Minute, Duration: 30 * time.Minute, Nodes: []string{"node-1"}}},
		Models:  sim.DefaultModels(),
	}
	r, err := sim.Run(in, 1, sim.Options{})
	if err != nil {
		fmt.Println(err)
		return
	}
	for _, name := range []string{"request-success-ratio", "evictions", "node-panics"} {
		v, _ := r.Get(name)
		fmt.Printf("%s: %.4f\n", name, v)
	}
	// Output:
	// request-success-ratio: 0.9969
	// evictions: 1.0000
	// node-panics: 0.0000
}
