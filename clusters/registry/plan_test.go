package registry_test

import (
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/faultline-dev/faultline/clusters/registry"
	"github.com/faultline-dev/faultline/scenarios"
	"github.com/faultline-dev/faultline/sim"
)

func plan(t *testing.T, variant string, sets ...[2]string) *registry.Plan {
	t.Helper()
	sc, err := scenarios.Open("cron-deleted-images")
	require.NoError(t, err)
	for _, s := range sets {
		sc, err = sc.Set(s[0], s[1])
		require.NoError(t, err)
	}
	v, err := sc.Variant(variant)
	require.NoError(t, err)
	p, err := registry.PlanFor(sc.Compile(v))
	require.NoError(t, err)
	require.NotNil(t, p)
	return p
}

func TestPlanBaseline(t *testing.T) {
	p := plan(t, "baseline")
	assert.Equal(t, []string{"registry.mittwald.example"}, p.Hosts)
	// 400 per-app images and the shared one
	require.Len(t, p.Seed, 401)
	assert.Contains(t, p.Seed, "registry.mittwald.example/shared:php-8.2.10")
	assert.True(t, p.Served("registry.mittwald.example/app-7:php-8.2.10"))
	assert.False(t, p.Served("nginx:1.27"))
	// every per-app image deleted once, inside the rollout window 03:00-06:30, in time order
	require.Len(t, p.Events, 400)
	for i, e := range p.Events {
		assert.False(t, e.Restore)
		assert.GreaterOrEqual(t, e.At, 3*time.Hour)
		assert.Less(t, e.At, 6*time.Hour+30*time.Minute)
		if i > 0 {
			assert.GreaterOrEqual(t, e.At, p.Events[i-1].At)
		}
		assert.NotEqual(t, "registry.mittwald.example/shared:php-8.2.10", e.Image)
	}
	// the rollout walks the apps in an order of its own, not app-1, app-2, ...
	assert.NotEqual(t, "registry.mittwald.example/app-1:php-8.2.10", p.Events[0].Image)
	// the fix forward at 12:00: every customer CronJob resolves then (its image went before)
	require.Len(t, p.Resolutions, 400)
	for _, r := range p.Resolutions {
		assert.Equal(t, 12*time.Hour, r.At)
		assert.Equal(t, "registry.mittwald.example/shared:php-8.2.10", r.Image)
	}
	assert.Empty(t, p.NotPlayed)
}

func TestPlanVariants(t *testing.T) {
	// the fix in place before the rollout: each CronJob resolves the moment its image goes
	p := plan(t, "runtime-resolution")
	at := map[string]time.Duration{}
	for _, e := range p.Events {
		at[e.Image] = e.At
	}
	require.Len(t, p.Resolutions, 400)
	for _, r := range p.Resolutions {
		assert.Contains(t, []time.Duration{at["registry.mittwald.example/"+r.CronJob[len("customers/"):len(r.CronJob)-len("-cron")]+":php-8.2.10"]}, r.At, r.CronJob)
	}
	// roll-back from 08:00: each image comes back 5 h after it went, in the same order
	p = plan(t, "roll-back")
	require.Len(t, p.Events, 800)
	del := map[string]time.Duration{}
	for _, e := range p.Events {
		if !e.Restore {
			del[e.Image] = e.At
			continue
		}
		assert.Equal(t, 5*time.Hour, e.At-del[e.Image], e.Image)
	}
	// the canary: its project first, at 03:00; fixing forward after the alert is not played
	p = plan(t, "canary-cron")
	assert.Equal(t, registry.Event{At: 3 * time.Hour, Image: "registry.mittwald.example/app-smoke-test:php-8.2.10"}, p.Events[0])
	assert.Len(t, p.NotPlayed, 1)
}

// A compressed plan (the one README.md's real-cluster section runs) keeps the same order.
func TestPlanCompressed(t *testing.T) {
	p := plan(t, "baseline", [2]string{"spec.templates[0].count", "20"},
		[2]string{"spec.cluster.models.registry.deletions[0].start", "3m"},
		[2]string{"spec.cluster.models.registry.deletions[0].over", "3m"},
		[2]string{"spec.cluster.models.registry.deletions[0].resolveFrom", "9m"})
	require.Len(t, p.Events, 20)
	for _, e := range p.Events {
		assert.GreaterOrEqual(t, e.At, 3*time.Minute)
		assert.Less(t, e.At, 6*time.Minute)
	}
	require.Len(t, p.Resolutions, 20)
	assert.Equal(t, 9*time.Minute, p.Resolutions[0].At)
}

func TestPlanErrors(t *testing.T) {
	in := &sim.Input{Name: "x.yaml"}
	p, err := registry.PlanFor(in)
	require.NoError(t, err)
	assert.Nil(t, p, "no deletions: no registry")
	in.Models.Registry.Deletions = []sim.ImageDeletion{{Images: "app-*", Over: metav1.Duration{Duration: time.Hour}}}
	_, err = registry.PlanFor(in)
	assert.ErrorContains(t, err, `x.yaml: models.registry.deletions[0].images "app-*": expected an image name starting with a registry host`)
	in.Models.Registry.Deletions[0].Images = "reg*.example/app-*"
	_, err = registry.PlanFor(in)
	assert.ErrorContains(t, err, "without wildcards")
}

// sim.ImageDeletion.Offset places an image where the simulator's model does: inside the window, the same
// for the same name, at 0 for a First glob.
func TestDeletionOffsetIsTheSimulators(t *testing.T) {
	d := sim.ImageDeletion{Images: "r.example/app-*", Over: metav1.Duration{Duration: time.Hour}, First: []string{"r.example/app-canary:*"}}
	a, ok := d.Offset("r.example/app-1:v1")
	require.True(t, ok)
	b, _ := d.Offset("r.example/app-1:v1")
	assert.Equal(t, a, b)
	assert.Less(t, a, time.Hour)
	c, ok := d.Offset("r.example/app-canary:v1")
	assert.True(t, ok)
	assert.Zero(t, c)
	_, ok = d.Offset("other.example/app-1:v1")
	assert.False(t, ok)
}
