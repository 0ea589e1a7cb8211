package kind

import (
	"testing"

	jsonpatch "github.com/evanphx/json-patch/v5"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	corev1 "k8s.io/api/core/v1"
	"sigs.k8s.io/kind/pkg/apis/config/v1alpha4"
	"sigs.k8s.io/yaml"

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

func TestExtraArgsPatches(t *testing.T) {
	extra := map[string][]string{
		"kube-controller-manager": {"--node-monitor-grace-period=20s", "--node-monitor-period=5s"},
		"kube-apiserver":          {"--default-not-ready-toleration-seconds=0"},
	}
	t.Run("merged into kubeadm's v1beta3 map, that version only", func(t *testing.T) {
		merge, _, err := ExtraArgsPatches(extra)
		require.NoError(t, err)
		require.Len(t, merge, 1)
		got, err := yaml.YAMLToJSON([]byte(merge[0]))
		require.NoError(t, err)
		assert.JSONEq(t, `{"apiVersion":"kubeadm.k8s.io/v1beta3","kind":"ClusterConfiguration",
			"apiServer":{"extraArgs":{"default-not-ready-toleration-seconds":"0"}},
			"controllerManager":{"extraArgs":{"node-monitor-grace-period":"20s","node-monitor-period":"5s"}}}`, string(got))
		// what kind generates (trimmed), merged as kind does (RFC 7386 on the JSON form)
		doc := []byte(`{"apiServer":{"extraArgs":{"runtime-config":""}},"controllerManager":{"extraArgs":{"enable-hostpath-provisioner":"true"}}}`)
		doc, err = jsonpatch.MergePatch(doc, got)
		require.NoError(t, err)
		assert.JSONEq(t, `{"apiVersion":"kubeadm.k8s.io/v1beta3","kind":"ClusterConfiguration",
			"apiServer":{"extraArgs":{"runtime-config":"","default-not-ready-toleration-seconds":"0"}},
			"controllerManager":{"extraArgs":{"enable-hostpath-provisioner":"true","node-monitor-grace-period":"20s","node-monitor-period":"5s"}}}`, string(doc))
	})
	t.Run("appended after kind's own flags in kubeadm's v1beta4 list", func(t *testing.T) {
		_, patches, err := ExtraArgsPatches(extra)
		require.NoError(t, err)
		require.Len(t, patches, 2)
		for _, p := range patches {
			assert.Equal(t, "kubeadm.k8s.io", p.Group)
			assert.Equal(t, "v1beta4", p.Version)
			assert.Equal(t, "ClusterConfiguration", p.Kind)
		}
		// what kind generates (trimmed), patched as kind does: JSON 6902 on the JSON form
		doc := []byte(`{"apiServer":{"extraArgs":[{"name":"runtime-config","value":""}]},"controllerManager":{"extraArgs":[{"name":"enable-hostpath-provisioner","value":"true"}]}}`)
		for _, p := range patches {
			ops, err := yaml.YAMLToJSON([]byte(p.Patch))
			require.NoError(t, err)
			patch, err := jsonpatch.DecodePatch(ops)
			require.NoError(t, err)
			doc, err = patch.Apply(doc)
			require.NoError(t, err)
		}
		assert.JSONEq(t, `{
			"apiServer":{"extraArgs":[{"name":"runtime-config","value":""},{"name":"default-not-ready-toleration-seconds","value":"0"}]},
			"controllerManager":{"extraArgs":[{"name":"enable-hostpath-provisioner","value":"true"},
				{"name":"node-monitor-grace-period","value":"20s"},{"name":"node-monitor-period","value":"5s"}]}}`, string(doc))
	})
	for _, tc := range []struct {
		name  string
		extra map[string][]string
		err   string
	}{
		{"kwok is not part of a kind cluster", map[string][]string{"kwok": {"--x=1"}}, "only for kube-apiserver"},
		{"a flag without a value", map[string][]string{"kube-scheduler": {"--v"}}, "expected --name=value"},
		{"not a flag", map[string][]string{"kube-scheduler": {"v=2"}}, "expected --name=value"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, _, err := ExtraArgsPatches(tc.extra)
			assert.ErrorContains(t, err, tc.err)
		})
	}
	t.Run("none", func(t *testing.T) {
		m, p, err := ExtraArgsPatches(nil)
		require.NoError(t, err)
		assert.Empty(t, m)
		assert.Empty(t, p)
	})
}
