package placement

import (
	"context"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	appsv1 "k8s.io/api/apps/v1"
	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/utils/ptr"
)

func deployment(name string, replicas int32, cpu string, mut ...func(*appsv1.Deployment)) *appsv1.Deployment {
	d := &appsv1.Deployment{
		ObjectMeta: metav1.ObjectMeta{Name: name},
		Spec: appsv1.DeploymentSpec{
			Replicas: ptr.To(replicas),
			Selector: &metav1.LabelSelector{MatchLabels: map[string]string{"app": name}},
			Template: corev1.PodTemplateSpec{
				ObjectMeta: metav1.ObjectMeta{Labels: map[string]string{"app": name, "tier": "x"}},
				Spec: corev1.PodSpec{Containers: []corev1.Container{{Name: name,
					Resources: corev1.ResourceRequirements{Requests: corev1.ResourceList{corev1.ResourceCPU: resource.MustParse(cpu)}}}}},
			},
		},
	}
	for _, m := range mut {
		m(d)
	}
	return d
}

func TestSpread(t *testing.T) {
	cfg := SpreadConfig{CPUThreshold: resource.MustParse("250m")}
	tests := []struct {
		name   string
		cfg    SpreadConfig
		d      *appsv1.Deployment
		change bool
	}{
		{"CPU-heavy, 3 replicas: anti-affinity", cfg, deployment("web", 3, "500m"), true},
		{"at the threshold counts", cfg, deployment("api", 3, "250m"), true},
		{"below the threshold", cfg, deployment("redis", 3, "100m"), false},
		{"one replica", cfg, deployment("web", 1, "2"), false},
		{"has anti-affinity already", cfg, deployment("web", 3, "1", func(d *appsv1.Deployment) {
			d.Spec.Template.Spec.Affinity = &corev1.Affinity{PodAntiAffinity: &corev1.PodAntiAffinity{}}
		}), false},
		{"has topology spread already", cfg, deployment("web", 3, "1", func(d *appsv1.Deployment) {
			d.Spec.Template.Spec.TopologySpreadConstraints = []corev1.TopologySpreadConstraint{{MaxSkew: 1}}
		}), false},
		{"node affinity is kept, anti-affinity added", cfg, deployment("web", 3, "1", func(d *appsv1.Deployment) {
			d.Spec.Template.Spec.Affinity = &corev1.Affinity{NodeAffinity: &corev1.NodeAffinity{}}
		}), true},
		{"sidecar requests count", cfg, deployment("web", 3, "200m", func(d *appsv1.Deployment) {
			d.Spec.Template.Spec.InitContainers = []corev1.Container{{Name: "proxy", RestartPolicy: ptr.To(corev1.ContainerRestartPolicyAlways),
				Resources: corev1.ResourceRequirements{Requests: corev1.ResourceList{corev1.ResourceCPU: resource.MustParse("100m")}}}}
		}), true},
		{"topology spread mode", SpreadConfig{CPUThreshold: resource.MustParse("250m"), Mode: ModeTopologySpread}, deployment("web", 3, "1"), true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			d := tt.d.DeepCopy()
			changed, why, err := tt.cfg.MutateObject(d)
			require.NoError(t, err)
			assert.Equal(t, tt.change, changed, why)
			if !changed {
				assert.Equal(t, tt.d, d, "left alone")
				return
			}
			sel := d.Spec.Selector
			if tt.cfg.Mode == ModeTopologySpread {
				require.Len(t, d.Spec.Template.Spec.TopologySpreadConstraints, 1)
				c := d.Spec.Template.Spec.TopologySpreadConstraints[0]
				assert.Equal(t, LabelHostname, c.TopologyKey)
				assert.Equal(t, corev1.DoNotSchedule, c.WhenUnsatisfiable)
				assert.Equal(t, sel, c.LabelSelector)
				return
			}
			terms := d.Spec.Template.Spec.Affinity.PodAntiAffinity.RequiredDuringSchedulingIgnoredDuringExecution
			require.Len(t, terms, 1)
			assert.Equal(t, LabelHostname, terms[0].TopologyKey)
			assert.Equal(t, sel, terms[0].LabelSelector, "the workload's own selector")
			if a := tt.d.Spec.Template.Spec.Affinity; a != nil {
				assert.Equal(t, a.NodeAffinity, d.Spec.Template.Spec.Affinity.NodeAffinity)
			}
			assert.NotEmpty(t, d.Annotations[AnnSpread])
		})
	}
}

func TestConsolidate(t *testing.T) {
	cfg := ConsolidationConfig{Images: map[string]string{"php-8.2.10": "reg/shared:php-8.2.10"}}
	apps := []App{
		{Namespace: "c", Name: "b", Runtime: "php-8.2.10", Image: "reg/app-b:php-8.2.10"},
		{Namespace: "c", Name: "a", Runtime: "php-8.2.10", Image: "reg/app-a:php-8.2.10"},
		{Namespace: "c", Name: "old", Runtime: "php-7.4", Image: "reg/app-old:php-7.4"},
	}
	p := cfg.Consolidate(apps)
	require.Len(t, p.Groups, 1)
	assert.Equal(t, Group{Runtime: "php-8.2.10", Image: "reg/shared:php-8.2.10", Apps: []string{"c/a", "c/b"}}, p.Groups[0])
	img, ok := p.Image("c", "a")
	assert.True(t, ok)
	assert.Equal(t, "reg/shared:php-8.2.10", img)
	img, _ = p.Image("c", "old")
	assert.Equal(t, "reg/app-old:php-7.4", img, "an incompatible runtime keeps its own pods")
	d := p.Groups[0].Deployment("hosting", 2)
	assert.Equal(t, "shared-php-8-2-10", d.Name)
	assert.Equal(t, "c/a,c/b", d.Annotations[AnnApps])
	assert.Equal(t, "reg/shared:php-8.2.10", d.Spec.Template.Spec.Containers[0].Image)

	t.Run("resolver gives the app's current image per Job", func(t *testing.T) {
		cj := &batchv1.CronJob{ObjectMeta: metav1.ObjectMeta{Namespace: "c", Name: "a-cron", Annotations: map[string]string{AnnRuntime: "php-8.2.10"}}}
		cj.Spec.JobTemplate.Spec.Template.Spec.Containers = []corev1.Container{{Image: "reg/app-a:php-8.2.10"}}
		img, err := Resolver{Config: cfg}.Image(context.Background(), cj, "a")
		require.NoError(t, err)
		assert.Equal(t, "reg/shared:php-8.2.10", img)
		delete(cj.Annotations, AnnRuntime)
		_, err = Resolver{Config: cfg}.Image(context.Background(), cj, "a")
		assert.ErrorContains(t, err, AnnRuntime)
	})
}

func TestConfigValidate(t *testing.T) {
	assert.NoError(t, Config{}.Validate())
	assert.ErrorContains(t, Config{Spread: &SpreadConfig{}}.Validate(), "spread.cpuThreshold")
	assert.ErrorContains(t, Config{Spread: &SpreadConfig{CPUThreshold: resource.MustParse("1"), Mode: "x"}}.Validate(), "spread.mode")
	assert.ErrorContains(t, Config{Consolidation: &ConsolidationConfig{}}.Validate(), "consolidation.images")
}

func TestSharedDeployments(t *testing.T) {
	cfg := ConsolidationConfig{Images: map[string]string{"php-8.2.10": "reg/shared:php-8.2.10"}}
	mk := func(name, rt string) *appsv1.Deployment {
		d := deployment(name, 1, "100m")
		d.Namespace = "c"
		d.Labels = map[string]string{LabelApp: name}
		d.Annotations = map[string]string{AnnRuntime: rt}
		d.Spec.Template.Spec.Containers[0].Image = "reg/" + name
		return d
	}
	var apps []App
	for _, d := range []*appsv1.Deployment{mk("a", "php-8.2.10"), mk("b", "php-8.2.10"), mk("c", "php-7.4"), deployment("other", 1, "1")} {
		if a, ok := AppFromDeployment(d); ok {
			apps = append(apps, a)
		}
	}
	require.Len(t, apps, 3)
	ds := cfg.SharedDeployments("c", apps)
	require.Len(t, ds, 1)
	assert.Equal(t, "c", ds[0].Namespace)
	assert.Equal(t, int32(2), *ds[0].Spec.Replicas)
	assert.Equal(t, "c/a,c/b", ds[0].Annotations[AnnApps])
}
