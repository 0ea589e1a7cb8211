package scenarios_test

import (
	"testing"
	"time"

	chaosv1alpha1 "github.com/chaos-mesh/chaos-mesh/api/v1alpha1"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"k8s.io/apimachinery/pkg/labels"

	"github.com/faultline-dev/faultline/scenarios"
	"github.com/faultline-dev/faultline/sim"
)

func TestCompile(t *testing.T) {
	sc := openGood(t)
	v, err := sc.Variant("baseline")
	require.NoError(t, err)
	in := sc.Compile(v)

	t.Run("input", func(t *testing.T) {
		assert.Equal(t, "good/baseline", in.Name)
		assert.Equal(t, scenarios.DefaultStart, in.Start)
		assert.Equal(t, 2*time.Hour, in.Duration)
		require.Len(t, in.Pools, 1)
		assert.Equal(t, "pool-a", in.Pools[0].Name)
		assert.Equal(t, []string{"a", "b", "c"}, in.Pools[0].Zones)
		assert.Len(t, in.Objects, 3)
		require.Len(t, in.Load, 2)
		assert.Equal(t, "deployment/web", in.Load[0].Target)
		assert.Equal(t, []string{"deployment/api"}, in.Load[0].DependsOn)
		assert.Equal(t, "250m", in.Load[1].CPUPerReplica.String())
		assert.Empty(t, sim.Validate(in))
		_, err := sim.New(in, 1, sim.Options{})
		assert.NoError(t, err, "the simulator accepts the compiled input")
	})

	t.Run("library scenario starts at spec.start", func(t *testing.T) {
		lib, err := scenarios.Open("kernel-panic-stacking")
		require.NoError(t, err)
		v, err := lib.Variant(lib.Baseline())
		require.NoError(t, err)
		assert.Equal(t, time.Date(2019, 1, 18, 0, 0, 0, 0, time.UTC), lib.Compile(v).Start)
	})

	require.Len(t, in.Faults, 3)
	tests := []struct {
		name  string
		got   sim.Fault
		check func(t *testing.T, f sim.Fault)
	}{
		{"GCPChaos node-reset", in.Faults[0], func(t *testing.T, f sim.Fault) {
			assert.Equal(t, "GCPChaos/reset-2", f.Name)
			assert.Equal(t, sim.NodeReset, f.Action)
			assert.Equal(t, []string{"pool-a-2"}, f.Nodes)
			assert.Equal(t, 30*time.Minute, f.At)
			assert.Zero(t, f.Duration)
		}},
		{"StressChaos cpu workers 2 load 50", in.Faults[1], func(t *testing.T, f sim.Fault) {
			assert.Equal(t, "StressChaos/burn-api", f.Name)
			assert.Equal(t, sim.CPUStress, f.Action)
			assert.Equal(t, 1.0, f.CPU)
			assert.Equal(t, 40*time.Minute, f.At)
			assert.Equal(t, 10*time.Minute, f.Duration)
			assert.Equal(t, sim.ModeAll, f.Pods.Mode)
			require.NotNil(t, f.Pods.Labels)
			assert.True(t, f.Pods.Labels.Matches(labels.Set{"app": "api"}))
			assert.False(t, f.Pods.Labels.Matches(labels.Set{"app": "web"}))
		}},
		{"PodChaos pod-kill mode one", in.Faults[2], func(t *testing.T, f sim.Fault) {
			assert.Equal(t, "PodChaos/kill-web", f.Name)
			assert.Equal(t, sim.PodKill, f.Action)
			assert.Equal(t, 50*time.Minute, f.At)
			assert.Equal(t, sim.ModeOne, f.Pods.Mode)
			assert.Equal(t, []string{"default"}, f.Pods.Namespaces)
			require.NotNil(t, f.Pods.Labels)
			assert.Equal(t, "app=web", f.Pods.Labels.String())
			assert.Empty(t, f.Nodes)
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) { tt.check(t, tt.got) })
	}

	t.Run("faults keep their Chaos Mesh objects", func(t *testing.T) {
		require.Len(t, sc.Faults, 3)
		gcp, ok := sc.Faults[0].Object.(*chaosv1alpha1.GCPChaos)
		require.True(t, ok, "%T", sc.Faults[0].Object)
		assert.Equal(t, chaosv1alpha1.NodeReset, gcp.Spec.Action)
		assert.Equal(t, "pool-a-2", gcp.Spec.Instance)
		stress, ok := sc.Faults[1].Object.(*chaosv1alpha1.StressChaos)
		require.True(t, ok, "%T", sc.Faults[1].Object)
		require.NotNil(t, stress.Spec.Stressors.CPUStressor)
		assert.Equal(t, 2, stress.Spec.Stressors.CPUStressor.Workers)
		pod, ok := sc.Faults[2].Object.(*chaosv1alpha1.PodChaos)
		require.True(t, ok, "%T", sc.Faults[2].Object)
		assert.Equal(t, chaosv1alpha1.OneMode, pod.Spec.Mode)
		assert.JSONEq(t, `{"apiVersion":"chaos-mesh.org/v1alpha1","kind":"GCPChaos","metadata":{"name":"reset-2"},"spec":{"action":"node-reset","project":"p","zone":"a","instance":"pool-a-2"}}`, string(sc.Faults[0].JSON))
	})
}
