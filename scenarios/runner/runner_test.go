package runner_test

import (
	"context"
	"encoding/json"
	"math"
	"path/filepath"
	"slices"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/faultline-dev/faultline/results"
	"github.com/faultline-dev/faultline/scenarios"
	"github.com/faultline-dev/faultline/scenarios/runner"
	"github.com/faultline-dev/faultline/sim"
)

func open(t *testing.T, name string) *scenarios.Scenario {
	t.Helper()
	sc, err := scenarios.Open(filepath.Join("..", name))
	require.NoError(t, err)
	return sc
}

// runBytes runs and renders everything a user keeps: summary.json and seeds.csv.
func runBytes(t *testing.T, sc *scenarios.Scenario, seeds []uint64, workers int) ([]byte, []byte) {
	t.Helper()
	out, err := runner.Run(context.Background(), sc, runner.Config{Seeds: seeds, Workers: workers, KeepSeries: true})
	require.NoError(t, err)
	in := out.Scores("test")
	sum, err := results.Summarize(in)
	require.NoError(t, err)
	js, err := json.Marshal(sum)
	require.NoError(t, err)
	return js, results.SeedsCSV(in)
}

// Same seed, same bytes: twice in one process, and with 1 or several workers.
func TestDeterminism(t *testing.T) {
	sc := open(t, "kernel-panic-stacking")
	seeds := runner.SeedRange(11, 6)
	sum1, csv1 := runBytes(t, sc, seeds, 1)
	sum2, csv2 := runBytes(t, sc, seeds, 1)
	sumN, csvN := runBytes(t, sc, seeds, 4)
	assert.Equal(t, string(csv1), string(csv2), "seeds.csv differs between two runs in one process")
	assert.Equal(t, string(sum1), string(sum2), "summary differs between two runs in one process")
	assert.Equal(t, string(csv1), string(csvN), "seeds.csv depends on the worker count")
	assert.Equal(t, string(sum1), string(sumN), "summary depends on the worker count")

	// and a different seed gives a different replay
	_, csvOther := runBytes(t, sc, runner.SeedRange(12, 6), 1)
	assert.NotEqual(t, string(csv1), string(csvOther))
}

// The Moonlight replay must show what scenarios/kernel-panic-stacking/README.md reports: without anti-affinity, stacking
// and a node-to-node panic cascade in most seeds; with anti-affinity (or topology spread), no node
// holds two replicas of a Deployment and no cascade happens.
func TestKernelPanicIncidentShape(t *testing.T) {
	if testing.Short() {
		t.Skip("40 replays")
	}
	sc := open(t, "kernel-panic-stacking")
	const n = 20
	out, err := runner.Run(context.Background(), sc, runner.Config{
		Variants: []string{"baseline", "anti-affinity", "topology-spread"},
		Seeds:    runner.SeedRange(1, n),
	})
	require.NoError(t, err)
	get := func(v, i int, ind string) float64 {
		x, ok := out.Results[v][i].Get(ind)
		require.True(t, ok, ind)
		return x
	}
	stacked, cascades := 0, 0
	for i := range n {
		if get(0, i, "max-replicas-per-node") >= 2 {
			stacked++
		}
		if get(0, i, "cascade") == 1 {
			cascades++
		}
	}
	assert.GreaterOrEqual(t, stacked, n*3/4, "baseline: replicas stacked in most seeds")
	assert.GreaterOrEqual(t, cascades, n*3/4, "baseline: panics cascade to other nodes in most seeds")
	for v := 1; v <= 2; v++ {
		for i := range n {
			assert.Equal(t, 1.0, get(v, i, "max-replicas-per-node"), "%s seed %d: two replicas on one node", out.Variants[v], out.Seeds[i])
			assert.Equal(t, 0.0, get(v, i, "cascade"), "%s seed %d: cascade", out.Variants[v], out.Seeds[i])
			assert.Greater(t, get(v, i, "request-success-ratio"), get(0, i, "request-success-ratio"), "%s seed %d: availability not better than baseline", out.Variants[v], out.Seeds[i])
		}
	}
}

func TestInterruptKeepsFinishedRuns(t *testing.T) {
	sc := open(t, "kernel-panic-stacking")
	ctx, cancel := context.WithCancel(context.Background())
	var stopped int
	out, err := runner.Run(ctx, sc, runner.Config{
		Variants: []string{"baseline", "anti-affinity"},
		Seeds:    runner.SeedRange(1, 50),
		Workers:  1,
		Progress: func(done, total int) {
			if done == 6 {
				cancel()
				stopped = done
			}
		},
	})
	require.ErrorIs(t, err, context.Canceled)
	require.NotNil(t, out)
	assert.True(t, out.Interrupted)
	assert.GreaterOrEqual(t, out.Complete(), stopped)
	assert.Less(t, out.Complete(), 100)
	// what finished is scoreable, and the baseline/variant pairs of finished seeds are complete
	in := out.Scores("test")
	sum, err := results.Summarize(in)
	require.NoError(t, err)
	assert.True(t, sum.Interrupted)
	assert.Equal(t, 3, sum.Variants[1].Objectives[0].Comparison.Pairs)
}

func TestUnknownVariant(t *testing.T) {
	sc := open(t, "kernel-panic-stacking")
	_, err := runner.Run(context.Background(), sc, runner.Config{Variants: []string{"nope"}, Seeds: []uint64{1}})
	require.Error(t, err)
	assert.Contains(t, err.Error(), `no variant "nope"`)
}

func TestSeriesKeptForFirstSeed(t *testing.T) {
	sc := open(t, "kernel-panic-stacking")
	out, err := runner.Run(context.Background(), sc, runner.Config{Variants: []string{"baseline"}, Seeds: []uint64{5, 6}, KeepSeries: true})
	require.NoError(t, err)
	series := out.Series()
	require.Len(t, series, 1)
	assert.Equal(t, uint64(5), series[0].Seed)
	assert.Equal(t, "hours", series[0].Columns[0])
	assert.Len(t, series[0].Rows, 84*12+1, "one row per 5 minutes over 84 h")
	assert.Nil(t, out.Results[0][1].Series, "only the first seed keeps its series")
	_ = sim.Indicators
}

func TestAppendExtendsSeeds(t *testing.T) {
	sc := open(t, "kernel-panic-stacking")
	cfg := runner.Config{Variants: []string{"baseline", "anti-affinity"}, Seeds: runner.SeedRange(1, 3)}
	a, err := runner.Run(context.Background(), sc, cfg)
	require.NoError(t, err)
	cfg.Seeds = runner.SeedRange(4, 2)
	b, err := runner.Run(context.Background(), sc, cfg)
	require.NoError(t, err)
	require.NoError(t, a.Append(b))
	whole, err := runner.Run(context.Background(), sc, runner.Config{Variants: cfg.Variants, Seeds: runner.SeedRange(1, 5)})
	require.NoError(t, err)
	assert.Equal(t, whole.Seeds, a.Seeds)
	assert.Equal(t, string(results.SeedsCSV(whole.Scores("t"))), string(results.SeedsCSV(a.Scores("t"))), "5 seeds in two batches = 5 seeds at once")
}

func TestKeepRepresentativeReplaysTheMedianSeed(t *testing.T) {
	sc := open(t, "kernel-panic-stacking")
	out, err := runner.Run(context.Background(), sc, runner.Config{Variants: []string{"baseline"}, Seeds: runner.SeedRange(1, 9)})
	require.NoError(t, err)
	before := out.Results[0]
	require.NoError(t, out.KeepRepresentative("request-success-ratio"))
	rep := out.Rep[0]
	require.GreaterOrEqual(t, rep, 0)
	// the chosen seed is as close to the median as any other seed
	var vals []float64
	for _, r := range before {
		v, _ := r.Get("request-success-ratio")
		vals = append(vals, v)
	}
	sorted := append([]float64(nil), vals...)
	slices.Sort(sorted)
	med := sorted[4]
	for i, v := range vals {
		assert.LessOrEqual(t, math.Abs(vals[rep]-med), math.Abs(v-med), "seed index %d is closer to the median", i)
	}
	series := out.Series()
	require.Len(t, series, 1)
	assert.Equal(t, out.Seeds[rep], series[0].Seed)
	assert.NotEmpty(t, series[0].Rows)
	assert.Equal(t, before[rep].Indicators, out.Results[0][rep].Indicators, "the replay scores exactly as the run did")

	t.Run("unknown indicator", func(t *testing.T) {
		assert.ErrorContains(t, out.KeepRepresentative("nope"), `no indicator "nope"`)
	})
}
