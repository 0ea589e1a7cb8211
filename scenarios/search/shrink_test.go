package search

import (
	"context"
	"os"
	"path/filepath"
	"slices"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"sigs.k8s.io/yaml"

	"github.com/faultline-dev/faultline/scenarios"
)

func shrinkFor(t *testing.T, target string, seed uint64, variant, objective string) *ShrinkResult {
	t.Helper()
	sc, err := scenarios.Open(target)
	require.NoError(t, err)
	objs, err := Objectives(sc, []string{objective})
	require.NoError(t, err)
	res, err := Shrink(context.Background(), ShrinkConfig{Scenario: sc, Seed: seed, Variant: variant, Objective: objs[0]})
	require.NoError(t, err)
	t.Logf("%s: %v -> %v in %d runs", target, res.Before, res.After, res.Runs)
	return res
}

// Twelve faults are planted; only the stop of pool-a-1, where web is pinned, takes web down.
func TestShrinkKeepsTheFaultThatMatters(t *testing.T) {
	res := shrinkFor(t, "testdata/planted-faults", 1, "baseline", "web-availability")
	require.Len(t, res.Scenario.Faults, 1)
	assert.Equal(t, "GCPChaos/stop-1", res.Scenario.Faults[0].Sim.Name)
	assert.Equal(t, 0, res.After["changes"], "the deploy of batch does not matter")
	assert.Equal(t, 1, res.After["objects"], "only web is needed")
	assert.Equal(t, 1, res.After["load"])

	dir := t.TempDir()
	require.NoError(t, WriteShrink(dir, res, "baseline", 1))
	// the written file loads with the scenario loader and still misses on the seed
	sc, err := scenarios.Open(filepath.Join(dir, scenarios.ScenarioFile))
	require.NoError(t, err)
	rs, err := play(context.Background(), sc, "baseline", []uint64{1}, 1)
	require.NoError(t, err)
	objs, _ := Objectives(sc, []string{"web-availability"})
	assert.True(t, Missed(rs[0], objs[0]))
	for _, f := range []string{"original.yaml", "shrink.diff", "trace.log"} {
		b, err := os.ReadFile(filepath.Join(dir, f))
		require.NoError(t, err)
		assert.NotEmpty(t, b, f)
	}
	var d map[string]any
	require.NoError(t, yaml.Unmarshal(res.Shrunk, &d))
}

func TestShrinkRefusesAPassingSeed(t *testing.T) {
	sc, err := scenarios.Open("testdata/ingress-lag")
	require.NoError(t, err)
	sc, err = sc.Set("deployment/api:spec.template.spec.containers[0].lifecycle.preStop.sleep.seconds", "30")
	require.NoError(t, err)
	objs, _ := Objectives(sc, nil)
	_, err = Shrink(context.Background(), ShrinkConfig{Scenario: sc, Seed: 1, Variant: "baseline", Objective: objs[0]})
	assert.ErrorContains(t, err, "nothing to shrink")
}

func TestDDMinFindsPairs(t *testing.T) {
	// a plain delta-debugging check on the list reducer's core: keep items 3 and 7 of 10
	tests := 0
	keep, err := ddmin(10, func(c []int) (bool, error) {
		tests++
		return slices.Contains(c, 3) && slices.Contains(c, 7), nil
	})
	require.NoError(t, err)
	assert.Equal(t, []int{3, 7}, keep)
	assert.Less(t, tests, 40)
	none, _ := ddmin(5, func(c []int) (bool, error) { return true, nil })
	assert.Empty(t, none)
}
