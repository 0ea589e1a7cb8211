package scenarios_test

import (
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	appsv1 "k8s.io/api/apps/v1"

	"github.com/faultline-dev/faultline/scenarios"
)

func TestSet(t *testing.T) {
	sc, err := scenarios.Open("kernel-panic-stacking")
	require.NoError(t, err)

	t.Run("spec field with index", func(t *testing.T) {
		c, err := sc.Set("spec.cluster.nodePools[0].count", "5")
		require.NoError(t, err)
		v, err := c.Variant("anti-affinity")
		require.NoError(t, err)
		assert.Equal(t, 5, c.Compile(v).Pools[0].Count, "every variant sees the value")
		assert.Equal(t, 3, sc.Spec.Spec.Cluster.NodePools[0].Count, "the original is unchanged")
	})
	t.Run("model parameter as a bare duration", func(t *testing.T) {
		c, err := sc.Set("spec.cluster.models.kernelPanic.meanTimeToPanic", "45m")
		require.NoError(t, err)
		v, err := c.Variant("baseline")
		require.NoError(t, err)
		assert.Equal(t, 45*time.Minute, v.Models.KernelPanic.MeanTimeToPanic.Duration)
	})
	t.Run("manifest field", func(t *testing.T) {
		c, err := sc.Set("deployment/web:spec.replicas", "4")
		require.NoError(t, err)
		v, err := c.Variant("anti-affinity")
		require.NoError(t, err)
		for _, o := range v.Objects {
			if d, ok := o.Obj.(*appsv1.Deployment); ok && d.Name == "web" {
				assert.Equal(t, int32(4), *d.Spec.Replicas)
				assert.NotNil(t, d.Spec.Template.Spec.Affinity, "the variant's patch still applies")
			}
		}
	})
	t.Run("map key with dots and slashes in quoted brackets", func(t *testing.T) {
		for _, path := range []string{
			`deployment/web:metadata.labels["app.kubernetes.io/part-of"]`,
			`deployment/web:metadata.labels['app.kubernetes.io/part-of']`,
		} {
			c, err := sc.Set(path, "shop")
			require.NoError(t, err, path)
			v, err := c.Variant("baseline")
			require.NoError(t, err)
			found := false
			for _, o := range v.Objects {
				if d, ok := o.Obj.(*appsv1.Deployment); ok && d.Name == "web" {
					found = true
					assert.Equal(t, "shop", d.Labels["app.kubernetes.io/part-of"], path)
					assert.Equal(t, "web", d.Labels["app"], "the other labels stay")
				}
			}
			assert.True(t, found)
		}
	})
	for name, c := range map[string][2]string{
		"unclosed key":   {`deployment/web:metadata.labels["a.b/c`, "bad key"},
		"empty key":      {`deployment/web:metadata.labels[""]`, "empty key"},
		"dot before [":   {"spec.cluster.nodePools.[0].count", "expected a name after the dot"},
		"junk after ]":   {"spec.cluster.nodePools[0]count", "expected . or ["},
		"negative index": {"spec.cluster.nodePools[-1].count", "bad index"},
		"not spec":       {"cluster.nodePools[0].count", "spec.FIELD"},
		"bad index":      {"spec.cluster.nodePools[x].count", "bad index"},
		"missing parent": {"spec.nope.deeper", "parents must exist"},
		"bad value":      {"spec.cluster.nodePools[0].count", "unmarshal"},
		"unknown object": {"deployment/nope:spec.replicas", "does not exist"},
		"invalid result": {"spec.cluster.nodePools[0].count", "positive"},
	} {
		t.Run(name, func(t *testing.T) {
			val := "3"
			switch name {
			case "bad value":
				val = `"three"`
			case "invalid result":
				val = "0"
			}
			_, err := sc.Set(c[0], val)
			require.Error(t, err)
			assert.Contains(t, err.Error(), c[1])
		})
	}
}
