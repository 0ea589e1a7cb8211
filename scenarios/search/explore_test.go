package search

import (
	"context"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/faultline-dev/faultline/scenarios"
	"github.com/faultline-dev/faultline/sim"
)

func exploreFixture(t *testing.T, seed uint64, workers, budget, finds int, against string) *ExploreResult {
	t.Helper()
	sc, err := scenarios.Open("testdata/planted-weakness")
	require.NoError(t, err)
	objs, err := Objectives(sc, nil)
	require.NoError(t, err)
	res, err := Explore(context.Background(), ExploreConfig{Scenario: sc, Variant: "pinned", Objectives: objs,
		Budget: budget, Seed: seed, MaxFinds: finds, Against: against, Workers: workers, Out: t.TempDir()})
	require.NoError(t, err)
	t.Logf("%d runs, %d schedules, %d signatures, corpus %d, %d finds (%d shrink runs), %.2f s",
		res.Runs, res.Schedules, res.Signatures, res.Corpus, len(res.Finds), res.ShrinkRuns, res.Seconds)
	return res
}

// The pinned variant's weakness is node pool-a-2: explore must find a fault schedule that shrinks
// to a stop or reset of that node alone, within 200 runs.
func TestExploreFindsPlantedNode(t *testing.T) {
	res := exploreFixture(t, 1, 0, 200, 3, "")
	var planted bool
	for _, f := range res.Finds {
		t.Logf("find: %s on seed %d: %d faults -> %d: %s", f.Objective, f.Seed, len(f.Faults), len(f.Shrunk), f.Shrunk)
		fs := f.Scenario.Faults
		if len(fs) == 1 && (fs[0].Sim.Action == sim.NodeStop || fs[0].Sim.Action == sim.NodeReset) {
			assert.Equal(t, []string{"pool-a-2"}, fs[0].Sim.Nodes)
			planted = true
		}
		// every find is written as a scenario that loads
		_, err := scenarios.Open(f.Dir)
		assert.NoError(t, err)
	}
	assert.True(t, planted, "no find shrinks to a node fault on pool-a-2")
	assert.LessOrEqual(t, res.Runs, 200)
}

// The explorer's choices come from its own seed, not from which worker finished first.
func TestExploreDeterministic(t *testing.T) {
	a, b := exploreFixture(t, 7, 1, 60, 1, ""), exploreFixture(t, 7, 4, 60, 1, "")
	assert.Equal(t, a.Runs, b.Runs)
	assert.Equal(t, a.Signatures, b.Signatures)
	require.Equal(t, len(a.Finds), len(b.Finds))
	for i := range a.Finds {
		assert.Equal(t, a.Finds[i].Faults, b.Finds[i].Faults)
		assert.Equal(t, a.Finds[i].Shrunk, b.Finds[i].Shrunk)
	}
}

// Against the baseline (replicas spread over three nodes), only the pinned node is the variant's
// own weakness: every find must shrink to a fault on pool-a-2's node or on what runs there.
func TestExploreAgainstBaseline(t *testing.T) {
	res := exploreFixture(t, 1, 0, 200, 2, "baseline")
	require.NotEmpty(t, res.Finds)
	for _, f := range res.Finds {
		t.Logf("find: %s on seed %d: %s", f.Objective, f.Seed, f.Shrunk)
		fs := f.Scenario.Faults
		require.Len(t, fs, 1)
		if fs[0].Sim.Action == sim.NodeStop || fs[0].Sim.Action == sim.NodeReset {
			assert.Equal(t, []string{"pool-a-2"}, fs[0].Sim.Nodes)
		}
	}
}
