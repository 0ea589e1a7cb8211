package realrun

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

	"github.com/faultline-dev/faultline/measure"
	"github.com/faultline-dev/faultline/sim"
)

func nodeObj(name string, ready bool) *corev1.Node {
	st := corev1.ConditionFalse
	if ready {
		st = corev1.ConditionTrue
	}
	return &corev1.Node{ObjectMeta: metav1.ObjectMeta{Name: name},
		Status: corev1.NodeStatus{Conditions: []corev1.NodeCondition{{Type: corev1.NodeReady, Status: st}}}}
}

// The simulator's node transitions, shown to the recorder as the Node objects a real cluster
// would show at the same instants, come out as the same record and so as the same figures: the
// two worlds observe nodes alike. The run: auto-repair recreating a node that is down for good.
func TestRecorderRecordsTheSimulatorsNodeStream(t *testing.T) {
	replicas := int32(2)
	lbl := map[string]string{"app": "web"}
	in := &sim.Input{
		Name: "repair", Start: time.Date(2024, 1, 1, 0, 0, 0, 0, time.UTC), Duration: 3 * time.Hour,
		Pools: []sim.NodePool{{Name: "n", Count: 2, Capacity: corev1.ResourceList{
			corev1.ResourceCPU: resource.MustParse("4"), corev1.ResourceMemory: resource.MustParse("16Gi")}}},
		Objects: []runtime.Object{&appsv1.Deployment{ObjectMeta: metav1.ObjectMeta{Name: "web", Namespace: "default"},
			Spec: appsv1.DeploymentSpec{Replicas: &replicas, Selector: &metav1.LabelSelector{MatchLabels: lbl},
				Template: corev1.PodTemplateSpec{ObjectMeta: metav1.ObjectMeta{Labels: lbl},
					Spec: corev1.PodSpec{Containers: []corev1.Container{{Name: "web"}}}}}}},
		Models: sim.DefaultModels(),
		Faults: []sim.Fault{{Name: "stop", Action: sim.NodeStop, At: 10 * time.Minute, Duration: time.Hour, Nodes: []string{"n-1"}}},
	}
	in.Models.AutoRepair.Enabled = true
	w, err := sim.New(in, 1, sim.Options{})
	require.NoError(t, err)
	w.Run()
	want, win := w.Observations()
	require.NotEmpty(t, want.Nodes)
	require.Equal(t, 1, measure.FoldNodes(want).Recreated, "auto-repair recreated the stopped node once")

	t0 := in.Start
	rec := newRecorder(nil)
	rec.nodesSynced([]any{nodeObj("n-1", true), nodeObj("n-2", true)}, t0)
	for _, tr := range want.Nodes {
		at := t0.Add(tr.At)
		switch tr.To {
		case measure.NodeCreated:
			rec.node(nodeObj(tr.Node, false), at) // a fresh node registers NotReady
		case measure.NodeReady, measure.NodeNotReady:
			rec.node(nodeObj(tr.Node, tr.To == measure.NodeReady), at)
		case measure.NodeDeleted:
			rec.nodeGone(tr.Node, at)
		}
	}
	var got measure.Observations
	rec.nodeRecord(&got, t0, t0.Add(win.Length))
	assert.Equal(t, want.Nodes, got.Nodes)
	assert.Equal(t, measure.FoldNodes(want), measure.FoldNodes(&got))
}
