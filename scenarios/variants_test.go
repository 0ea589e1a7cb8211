package scenarios_test

import (
	"encoding/json"
	"strings"
	"testing"
	"testing/fstest"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	appsv1 "k8s.io/api/apps/v1"
	"k8s.io/apimachinery/pkg/api/resource"

	"github.com/faultline-dev/faultline/scenarios"
)

func openGood(t *testing.T) *scenarios.Scenario {
	t.Helper()
	sc, err := scenarios.Open(goodDir)
	require.NoError(t, err)
	return sc
}

// deployment returns the decoded Deployment NAME of a variant.
func deployment(t *testing.T, objs []scenarios.Object, name string) *appsv1.Deployment {
	t.Helper()
	for _, o := range objs {
		if o.GVK.Kind == "Deployment" && o.Name == name {
			d, ok := o.Obj.(*appsv1.Deployment)
			require.True(t, ok, "%s decodes to %T", o.Ref(), o.Obj)
			return d
		}
	}
	require.FailNow(t, "no deployment "+name)
	return nil
}

// minimal is a scenario with the given variants block (YAML, indented for spec).
func minimal(variants string) fstest.MapFS {
	return fstest.MapFS{"scenario.yaml": {Data: []byte(`apiVersion: faultline.dev/v1alpha1
kind: Scenario
metadata: {name: minimal}
spec:
  duration: 1h
  cluster:
    nodePools: [{name: p, count: 1, capacity: {cpu: "2", memory: 4Gi}}]
` + variants)}}
}

func TestVariantNamesAndBaseline(t *testing.T) {
	tests := []struct {
		name         string
		variants     string
		wantNames    []string
		wantBaseline string
	}{
		{"no variants: one implicit baseline", "", []string{"baseline"}, "baseline"},
		{"baseline named explicitly, not first", "  variants: [{name: fix}, {name: baseline}]\n", []string{"fix", "baseline"}, "baseline"},
		{"no variant named baseline: the first", "  variants: [{name: as-is}, {name: fix}]\n", []string{"as-is", "fix"}, "as-is"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			sc, err := scenarios.LoadFS(minimal(tt.variants), "scenario.yaml", "minimal.yaml")
			require.NoError(t, err)
			assert.Equal(t, tt.wantNames, sc.VariantNames())
			assert.Equal(t, tt.wantBaseline, sc.Baseline())
			v, err := sc.Variant(tt.wantBaseline)
			require.NoError(t, err)
			assert.Equal(t, tt.wantBaseline, v.Name)
		})
	}

	t.Run("good scenario", func(t *testing.T) {
		sc := openGood(t)
		assert.Equal(t, []string{"baseline", "strategic", "merge", "json", "bigger-pool"}, sc.VariantNames())
		assert.Equal(t, "baseline", sc.Baseline())
	})

	t.Run("unknown variant", func(t *testing.T) {
		sc := openGood(t)
		_, err := sc.Variant("nope")
		require.Error(t, err)
		assert.Contains(t, err.Error(), `no variant "nope"`)
		assert.Contains(t, err.Error(), "baseline, strategic, merge, json, bigger-pool")
		assert.True(t, strings.HasPrefix(err.Error(), "testdata/good/scenario.yaml: "), err.Error())
	})
}

func TestVariantPatches(t *testing.T) {
	sc := openGood(t)
	cpu := func(d *appsv1.Deployment) string {
		q := d.Spec.Template.Spec.Containers[0].Resources.Requests.Cpu()
		return q.String()
	}

	t.Run("baseline is the file as written", func(t *testing.T) {
		v, err := sc.Variant("baseline")
		require.NoError(t, err)
		web := deployment(t, v.Objects, "web")
		assert.Nil(t, web.Spec.Template.Spec.Affinity)
		assert.Equal(t, "example/web:1", web.Spec.Template.Spec.Containers[0].Image)
		assert.Equal(t, int32(2), *deployment(t, v.Objects, "api").Spec.Replicas)
	})

	t.Run("strategic merge (default type)", func(t *testing.T) {
		v, err := sc.Variant("strategic")
		require.NoError(t, err)
		assert.Equal(t, "strategic merge (the default type): anti-affinity for web, image by container name", v.Description)
		web := deployment(t, v.Objects, "web")
		spec := web.Spec.Template.Spec
		require.NotNil(t, spec.Affinity)
		require.NotNil(t, spec.Affinity.PodAntiAffinity)
		req := spec.Affinity.PodAntiAffinity.RequiredDuringSchedulingIgnoredDuringExecution
		require.Len(t, req, 1)
		assert.Equal(t, "kubernetes.io/hostname", req[0].TopologyKey)
		assert.Equal(t, map[string]string{"app": "web"}, req[0].LabelSelector.MatchLabels)
		// containers merge by name: the image changes, the requests stay
		require.Len(t, spec.Containers, 1)
		assert.Equal(t, "web", spec.Containers[0].Name)
		assert.Equal(t, "example/web:2", spec.Containers[0].Image)
		assert.Equal(t, "500m", cpu(web))
		assert.Equal(t, int32(3), *web.Spec.Replicas)
		// other objects are untouched
		assert.Nil(t, deployment(t, v.Objects, "api").Spec.Template.Spec.Affinity)
	})

	t.Run("JSON merge patch", func(t *testing.T) {
		v, err := sc.Variant("merge")
		require.NoError(t, err)
		api := deployment(t, v.Objects, "api")
		require.NotNil(t, api.Spec.Replicas)
		assert.Equal(t, int32(5), *api.Spec.Replicas)
		assert.Equal(t, map[string]string{"app": "api", "patched": "yes"}, api.Labels)
		assert.Equal(t, "example/api:1", api.Spec.Template.Spec.Containers[0].Image)
	})

	t.Run("JSON patch", func(t *testing.T) {
		v, err := sc.Variant("json")
		require.NoError(t, err)
		web := deployment(t, v.Objects, "web")
		assert.Equal(t, "example/web:3", web.Spec.Template.Spec.Containers[0].Image)
		assert.Equal(t, "1500m", cpu(web))
		assert.Equal(t, "1Gi", web.Spec.Template.Spec.Containers[0].Resources.Requests.Memory().String())
	})

	t.Run("patches do not change the scenario's objects", func(t *testing.T) {
		for _, name := range sc.VariantNames() {
			_, err := sc.Variant(name)
			require.NoError(t, err)
		}
		web := deployment(t, sc.Objects, "web")
		assert.Equal(t, "example/web:1", web.Spec.Template.Spec.Containers[0].Image)
		assert.Nil(t, web.Spec.Template.Spec.Affinity)
		assert.Equal(t, int32(2), *deployment(t, sc.Objects, "api").Spec.Replicas)
		v, err := sc.Variant("baseline")
		require.NoError(t, err)
		assert.Equal(t, "example/web:1", deployment(t, v.Objects, "web").Spec.Template.Spec.Containers[0].Image)
	})
}

func TestSpecPatch(t *testing.T) {
	sc := openGood(t)
	base, err := sc.Variant("baseline")
	require.NoError(t, err)
	big, err := sc.Variant("bigger-pool")
	require.NoError(t, err)
	bin, pin := sc.Compile(base), sc.Compile(big)

	tests := []struct {
		name      string
		base, got any
		wantBase  any
		wantPatch any
	}{
		{"nodePools[0].count (json patch)", bin.Pools[0].Count, pin.Pools[0].Count, 3, 5},
		{"duration (merge patch)", bin.Duration, pin.Duration, 2 * time.Hour, 3 * time.Hour},
		{"models.kernelPanic.rebootTime (merge patch)", bin.Models.KernelPanic.RebootTime.Duration, pin.Models.KernelPanic.RebootTime.Duration, 8 * time.Minute, 2 * time.Minute},
		{"models.kernelPanic.meanTimeToPanic (from the file, kept)", bin.Models.KernelPanic.MeanTimeToPanic.Duration, pin.Models.KernelPanic.MeanTimeToPanic.Duration, 30 * time.Minute, 30 * time.Minute},
		{"pool name kept", bin.Pools[0].Name, pin.Pools[0].Name, "pool-a", "pool-a"},
		{"faults kept", len(bin.Faults), len(pin.Faults), 3, 3},
		{"load kept", len(bin.Load), len(pin.Load), 2, 2},
		{"input name", bin.Name, pin.Name, "good/baseline", "good/bigger-pool"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			assert.Equal(t, tt.wantBase, tt.base)
			assert.Equal(t, tt.wantPatch, tt.got)
		})
	}
	t.Run("the scenario's own spec is unchanged", func(t *testing.T) {
		assert.Equal(t, 3, sc.Spec.Spec.Cluster.NodePools[0].Count)
		assert.Equal(t, 2*time.Hour, sc.Spec.Spec.Duration.Duration)
	})
}

func TestSetSpec(t *testing.T) {
	sc := openGood(t)

	t.Run("merge patch applies before every variant", func(t *testing.T) {
		c, err := sc.SetSpec(json.RawMessage(`{"seeds": 7, "cluster": {"models": {"kernelPanic": {"shape": 2}}}}`))
		require.NoError(t, err)
		assert.Equal(t, 7, c.Seeds())
		assert.Equal(t, 3, sc.Seeds(), "the original is unchanged")
		for _, name := range []string{"baseline", "json", "bigger-pool"} {
			v, err := c.Variant(name)
			require.NoError(t, err, name)
			in := c.Compile(v)
			assert.Equal(t, 2.0, in.Models.KernelPanic.Shape, name)
			assert.Equal(t, 30*time.Minute, in.Models.KernelPanic.MeanTimeToPanic.Duration, name)
		}
		v, err := sc.Variant("baseline")
		require.NoError(t, err)
		assert.Equal(t, 1.5, sc.Compile(v).Models.KernelPanic.Shape, "the original keeps the default shape")
		assert.Equal(t, sc.Digest, c.Digest)
	})

	t.Run("node pool replaced", func(t *testing.T) {
		c, err := sc.SetSpec(json.RawMessage(`{"cluster": {"nodePools": [{"name": "pool-a", "count": 6, "capacity": {"cpu": "8", "memory": "32Gi"}}]}}`))
		require.NoError(t, err)
		v, err := c.Variant("baseline")
		require.NoError(t, err)
		in := c.Compile(v)
		require.Len(t, in.Pools, 1)
		assert.Equal(t, 6, in.Pools[0].Count)
		assert.True(t, in.Pools[0].Capacity.Cpu().Equal(resource.MustParse("8")))
	})

	errs := []struct {
		name    string
		patch   string
		wantMsg []string
	}{
		{"unknown field", `{"bogus": 1}`, []string{`unknown field "bogus"`}},
		{"zero duration", `{"duration": "0s"}`, []string{"spec.duration", "missing or not positive"}},
		{"objects cannot change", `{"objects": []}`, []string{"a spec patch cannot change objects"}},
		{"fault names a node that is gone", `{"cluster": {"nodePools": [{"name": "pool-a", "count": 1, "capacity": {"cpu": "4", "memory": "16Gi"}}]}}`,
			[]string{`node "pool-a-2" does not exist`}},
		{"not JSON", `{`, []string{"testdata/good/scenario.yaml"}},
	}
	for _, tt := range errs {
		t.Run(tt.name, func(t *testing.T) {
			c, err := sc.SetSpec(json.RawMessage(tt.patch))
			require.Error(t, err)
			assert.Nil(t, c)
			assertOneLine(t, err.Error())
			assert.True(t, strings.HasPrefix(err.Error(), "testdata/good/scenario.yaml"), err.Error())
			for _, m := range tt.wantMsg {
				assert.Contains(t, err.Error(), m)
			}
		})
	}
}
