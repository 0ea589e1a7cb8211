package importer_test

import (
	"fmt"
	"os"
	goruntime "runtime"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/utils/ptr"

	"github.com/faultline-dev/faultline/clusters/importer"
)

// TestImportScale measures Build, Write and one placement check on a synthetic snapshot of
// FAULTLINE_IMPORT_SCALE nodes (30 pods per node, 100 per Deployment), e.g. 5000: 150,000 pods.
// It reads nothing from a cluster: it measures the importer and the simulator, not the listing.
// Not part of `make test`.
func TestImportScale(t *testing.T) {
	var nodes int
	if _, err := fmt.Sscan(os.Getenv("FAULTLINE_IMPORT_SCALE"), &nodes); err != nil || nodes <= 0 {
		t.Skip("set FAULTLINE_IMPORT_SCALE=N (nodes) to measure")
	}
	s := &importer.Snapshot{Source: "synthetic"}
	zones := []string{"a", "b", "c"}
	for i := range nodes {
		pool := []string{"m-8", "c-16"}[i%2]
		cpu := map[string]string{"m-8": "8", "c-16": "16"}[pool]
		s.Nodes = append(s.Nodes, corev1.Node{ObjectMeta: metav1.ObjectMeta{Name: fmt.Sprintf("n-%05d", i), Labels: map[string]string{
			corev1.LabelInstanceTypeStable: pool, corev1.LabelTopologyZone: zones[(i/2)%3]}},
			Status: corev1.NodeStatus{Allocatable: corev1.ResourceList{corev1.ResourceCPU: resource.MustParse(cpu), corev1.ResourceMemory: resource.MustParse("64Gi")}}})
	}
	pods := nodes * 30
	for d := range pods / 100 {
		name := fmt.Sprintf("app-%04d", d)
		l := map[string]string{"app": name}
		dep := &appsv1.Deployment{TypeMeta: metav1.TypeMeta{APIVersion: "apps/v1", Kind: "Deployment"},
			ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: "default"},
			Spec: appsv1.DeploymentSpec{Replicas: ptr.To(int32(100)), Selector: &metav1.LabelSelector{MatchLabels: l},
				Template: corev1.PodTemplateSpec{ObjectMeta: metav1.ObjectMeta{Labels: l}, Spec: corev1.PodSpec{Containers: []corev1.Container{{Name: "c", Image: "x",
					Resources: corev1.ResourceRequirements{Requests: corev1.ResourceList{corev1.ResourceCPU: resource.MustParse("100m"), corev1.ResourceMemory: resource.MustParse("128Mi")}}}}}}}}
		u, err := runtime.DefaultUnstructuredConverter.ToUnstructured(dep)
		require.NoError(t, err)
		s.Objects = append(s.Objects, &unstructured.Unstructured{Object: u})
		for r := range 100 {
			p := &corev1.Pod{ObjectMeta: metav1.ObjectMeta{Name: fmt.Sprintf("%s-%d", name, r), Namespace: "default", Labels: l,
				OwnerReferences: []metav1.OwnerReference{{Kind: "ReplicaSet", Name: name, Controller: ptr.To(true)}}},
				Spec:   corev1.PodSpec{NodeName: s.Nodes[(d*100+r)%nodes].Name, Containers: dep.Spec.Template.Spec.Containers},
				Status: corev1.PodStatus{Phase: corev1.PodRunning}}
			s.Pods = append(s.Pods, p)
		}
	}
	start := time.Now()
	res, err := importer.Build(s, importer.Options{Name: "scale", Duration: time.Hour})
	require.NoError(t, err)
	built := time.Since(start)
	dir := t.TempDir()
	require.NoError(t, res.Write(dir))
	written := time.Since(start)
	p, err := importer.ComparePlacement(dir, res.Live, 1, 10*time.Minute)
	require.NoError(t, err)
	var ms goruntime.MemStats
	goruntime.ReadMemStats(&ms)
	t.Logf("%d nodes, %d pods, %d Deployments: Build %s, Write %s, placement check %s (KS %.3f, equal per pool and zone: %v); Go heap high-water %d MiB",
		nodes, len(s.Pods), len(s.Objects), built.Round(time.Millisecond), (written - built).Round(time.Millisecond),
		(time.Since(start) - written).Round(time.Millisecond), p.KS, p.Equal(), ms.Sys>>20)
}
