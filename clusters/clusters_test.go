package clusters_test

import (
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"

	"github.com/faultline-dev/faultline/clusters"
)

func TestBuildCreateOptions(t *testing.T) {
	o, err := clusters.BuildCreateOptions()
	require.NoError(t, err)
	assert.Equal(t, 0, o.Nodes)
	assert.Equal(t, 2*time.Minute, o.Wait)

	o, err = clusters.BuildCreateOptions(clusters.WithNodes(3),
		clusters.WithNodeCapacity(corev1.ResourceList{corev1.ResourceCPU: resource.MustParse("8")}),
		clusters.WithWaitForReady(time.Minute))
	require.NoError(t, err)
	assert.Equal(t, 3, o.Nodes)
	assert.Equal(t, time.Minute, o.Wait)
	cpu, mem := o.NodeCapacity[corev1.ResourceCPU], o.NodeCapacity[corev1.ResourceMemory]
	assert.Equal(t, "8", cpu.String())
	assert.Equal(t, "16Gi", mem.String(), "unnamed resources keep their default")

	for name, opt := range map[string]clusters.CreateOption{
		"negative nodes": clusters.WithNodes(-1),
		"zero wait":      clusters.WithWaitForReady(0),
	} {
		t.Run(name, func(t *testing.T) {
			_, err := clusters.BuildCreateOptions(opt)
			assert.Error(t, err)
		})
	}
}

func TestFakeNode(t *testing.T) {
	n := clusters.FakeNode("pool-a-1", corev1.ResourceList{corev1.ResourceCPU: resource.MustParse("4")},
		map[string]string{"topology.kubernetes.io/zone": "b"}, nil)
	assert.Equal(t, "fake", n.Annotations[clusters.FakeNodeAnnotation])
	assert.Equal(t, "pool-a-1", n.Labels["kubernetes.io/hostname"])
	assert.Equal(t, "b", n.Labels["topology.kubernetes.io/zone"])
	assert.Empty(t, n.Spec.Taints, "no kwok taint: scenario manifests carry no toleration for it")
	pods := n.Status.Allocatable[corev1.ResourcePods]
	assert.Equal(t, "110", pods.String())
}

func TestStatusHealthy(t *testing.T) {
	assert.False(t, (&clusters.Status{}).Healthy())
	s := &clusters.Status{Processes: []clusters.ProcessStatus{{Running: true, Healthy: true}, {Running: true}}}
	assert.False(t, s.Healthy())
	s.Processes[1].Healthy = true
	assert.True(t, s.Healthy())
}
