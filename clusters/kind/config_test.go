package kind

import (
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	corev1 "k8s.io/api/core/v1"
	"sigs.k8s.io/kind/pkg/apis/config/v1alpha4"

	"github.com/faultline-dev/faultline/sim"
)

func TestConfigFromNodePools(t *testing.T) {
	pools := []sim.NodePool{
		{Name: "general", Count: 3, Zones: []string{"a", "b"}, Labels: map[string]string{"tier": "web"}},
		{Name: "batch", Count: 1, Taints: []corev1.Taint{{Key: "batch", Value: "true", Effect: corev1.TaintEffectNoSchedule}}},
		{Name: "empty", Count: 0},
	}
	c, err := Config("faultline-x", pools, "s.yaml")
	require.NoError(t, err)
	assert.Equal(t, "faultline-x", c.Name)
	require.Len(t, c.Nodes, 5)
	assert.Equal(t, v1alpha4.ControlPlaneRole, c.Nodes[0].Role)
	assert.Empty(t, c.Nodes[0].Labels)
	assert.Equal(t, 4, Workers(c))

	tests := []struct {
		i    int
		want map[string]string
	}{
		{1, map[string]string{"tier": "web", PoolLabel: "general", NodeLabel: "general-1", ZoneLabel: "a"}},
		{2, map[string]string{"tier": "web", PoolLabel: "general", NodeLabel: "general-2", ZoneLabel: "b"}},
		{3, map[string]string{"tier": "web", PoolLabel: "general", NodeLabel: "general-3", ZoneLabel: "a"}},
		{4, map[string]string{PoolLabel: "batch", NodeLabel: "batch-1"}},
	}
	for _, tt := range tests {
		t.Run(tt.want[NodeLabel], func(t *testing.T) {
			assert.Equal(t, v1alpha4.WorkerRole, c.Nodes[tt.i].Role)
			assert.Equal(t, tt.want, c.Nodes[tt.i].Labels)
		})
	}
	t.Run("taints become a join patch of the pool's nodes only", func(t *testing.T) {
		assert.Empty(t, c.Nodes[1].KubeadmConfigPatches)
		require.Len(t, c.Nodes[4].KubeadmConfigPatches, 1)
		p := c.Nodes[4].KubeadmConfigPatches[0]
		assert.Contains(t, p, "kind: JoinConfiguration")
		assert.Contains(t, p, "key: batch")
		assert.Contains(t, p, "effect: NoSchedule")
		assert.Contains(t, p, `value: "true"`)
	})
	t.Run("the pools' label maps are not modified", func(t *testing.T) {
		assert.Equal(t, map[string]string{"tier": "web"}, pools[0].Labels)
	})
}

func TestConfigRejectsBadPools(t *testing.T) {
	tests := []struct {
		name  string
		pools []sim.NodePool
		want  string
	}{
		{"no name", []sim.NodePool{{Count: 1}}, "s.yaml: cluster.nodePools[0].name: expected a name"},
		{"duplicate", []sim.NodePool{{Name: "a", Count: 1}, {Name: "a", Count: 1}}, "cluster.nodePools[1].name: \"a\" is used"},
		{"negative", []sim.NodePool{{Name: "a", Count: -1}}, "cluster.nodePools[0].count: -1"},
		{"restricted label", []sim.NodePool{{Name: "a", Count: 1, Labels: map[string]string{"node-role.kubernetes.io/worker": ""}}}, `labels: "node-role.kubernetes.io/worker"`},
		{"taint without effect", []sim.NodePool{{Name: "a", Count: 1, Taints: []corev1.Taint{{Key: "k"}}}}, "cluster.nodePools[0].taints: [0]: expected a key and an effect"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := Config("c", tt.pools, "s.yaml")
			assert.ErrorContains(t, err, tt.want)
		})
	}
}

func TestKubeletMaySet(t *testing.T) {
	tests := map[string]bool{
		"tier":                             true,
		"example.com/team":                 true,
		"topology.kubernetes.io/zone":      true,
		"node.kubernetes.io/instance-type": true,
		"node.kubernetes.io/pool":          true,
		"kubernetes.io/hostname":           true,
		"node-role.kubernetes.io/worker":   false,
		"kubernetes.io/custom":             false,
		"foo.k8s.io/bar":                   false,
	}
	for k, want := range tests {
		t.Run(k, func(t *testing.T) { assert.Equal(t, want, kubeletMaySet(k)) })
	}
}
