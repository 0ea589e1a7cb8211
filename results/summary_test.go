package results

import (
	"bytes"
	"encoding/json"
	"github.com/faultline-dev/faultline/results/stats"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// twoVariants is a run of a baseline and a fix over four seeds with two indicators: "errors"
// (target <= 0) and "latency" (no target).
func twoVariants() Input {
	zero := 0.0
	return Input{
		Scenario: "s", Digest: "sha256:1", Baseline: "baseline",
		Variants: []string{"baseline", "fix"}, Seeds: []uint64{1, 2, 3, 4},
		Indicators: []string{"errors", "latency"},
		Values: [][][]float64{
			{{3, 10}, {4, 11}, {5, 12}, {6, 13}},
			{{0, 10}, {0, 11}, {0, 12}, {0, 13}},
		},
		Done: [][]bool{{true, true, true, true}, {true, true, true, true}},
		Objectives: []Objective{
			{Name: "errors", Indicator: "errors", TargetOp: "<=", TargetValue: &zero, Weight: 1},
			{Name: "latency", Indicator: "latency", Weight: 1},
		},
	}
}

func TestSummarizeVariantWithNoFinishedSeed(t *testing.T) {
	in := twoVariants()
	in.Interrupted = true
	in.Done[1] = []bool{false, false, false, false} // Ctrl-C before any run of "fix" finished
	s, err := Summarize(in)
	require.NoError(t, err)
	assert.Equal(t, 0, s.Variants[1].Complete)
	assert.Empty(t, s.Variants[1].Means)
	assert.Nil(t, s.Variants[1].Objectives[0].Comparison, "no pairs to compare")
	// summary.json must still be writable: the finished baseline runs are not lost
	_, err = json.Marshal(s)
	require.NoError(t, err)
	var b bytes.Buffer
	PrintTable(&b, s)
	assert.Contains(t, b.String(), "no seed finished")
	assert.Contains(t, b.String(), "INTERRUPTED")

	dir := t.TempDir()
	require.NoError(t, WriteDir(dir, in, s, nil))
	back, err := ReadSummary(dir + "/summary.json")
	require.NoError(t, err)
	assert.Equal(t, s.Variants[0].Means, back.Variants[0].Means)
}

func TestResilienceScoreWeighsOnlyTargetedObjectives(t *testing.T) {
	s, err := Summarize(twoVariants())
	require.NoError(t, err)
	// the baseline misses its one target in every seed: 0 %, not the 50 % it would get if the
	// objective without a target counted as passed
	require.NotNil(t, s.Variants[0].Resilience)
	assert.Equal(t, 0.0, s.Variants[0].Resilience.Value)
	assert.Equal(t, 100.0, s.Variants[1].Resilience.Value)

	t.Run("no targets, no score", func(t *testing.T) {
		in := twoVariants()
		in.Objectives[0].TargetValue = nil
		s, err := Summarize(in)
		require.NoError(t, err)
		assert.Nil(t, s.Variants[0].Resilience)
	})
}

// With four seeds the smallest attainable Wilcoxon p is 2/16 = 0.125: the fix wins on every seed
// and still cannot be significant. The verdict says so, and how many seeds would do.
func TestInconclusiveWhenTheSeedsCannotReachSignificance(t *testing.T) {
	s, err := Summarize(twoVariants())
	require.NoError(t, err)
	c := s.Variants[1].Objectives[0].Comparison
	require.NotNil(t, c)
	assert.Equal(t, stats.Inconclusive, c.Verdict)
	// two comparisons (errors, latency): 2 × 2/2^n < 0.05 first at n = 7
	assert.Equal(t, 7, c.NeedsSeeds)
	assert.Equal(t, "inconclusive: needs at least 7 seeds", c.VerdictText())
	var b bytes.Buffer
	PrintTable(&b, s)
	assert.Contains(t, b.String(), "inconclusive: needs at least 7 seeds")

	t.Run("enough seeds: a real verdict", func(t *testing.T) {
		in := twoVariants()
		in.Seeds = []uint64{1, 2, 3, 4, 5, 6, 7}
		for v := range in.Values {
			for i := 4; i < 7; i++ {
				in.Values[v] = append(in.Values[v], []float64{float64(3*(1-v) + i), float64(10 + i)})
				in.Done[v] = append(in.Done[v], true)
			}
		}
		s, err := Summarize(in)
		require.NoError(t, err)
		assert.Equal(t, stats.Better, s.Variants[1].Objectives[0].Comparison.Verdict)
		// latency is identical per seed: no difference, and that is now a finding, not a shrug
		assert.Equal(t, stats.NoDifference, s.Variants[1].Objectives[1].Comparison.Verdict)
	})
}

func TestSetsAreRecordedAndFoldedIntoTheDigest(t *testing.T) {
	plain, err := Summarize(twoVariants())
	require.NoError(t, err)
	assert.Equal(t, "sha256:1", plain.Digest, "no --set: the scenario's own digest")
	assert.Empty(t, plain.Sets)

	in := twoVariants()
	in.Sets = []string{"spec.duration=4m", "spec.seeds=3"}
	s, err := Summarize(in)
	require.NoError(t, err)
	assert.Equal(t, in.Sets, s.Sets)
	assert.NotEqual(t, plain.Digest, s.Digest)
	in.Sets = []string{"spec.seeds=3", "spec.duration=4m"}
	again, err := Summarize(in)
	require.NoError(t, err)
	assert.NotEqual(t, s.Digest, again.Digest, "the order of overrides matters: the last one wins")

	rep := Check(plain, s)
	assert.Contains(t, rep.Warnings[0], "the scenario changed since the baseline was stored")
}

func TestPerSeedValuesAndCensoring(t *testing.T) {
	in := twoVariants()
	in.Indicators = []string{"errors", "latency", "node-panics", "time-to-first-panic"}
	in.Values = [][][]float64{
		{{3, 10, 1, 2}, {4, 11, 0, 84}, {5, 12, 2, 1}, {6, 13, 1, 3}},
		{{0, 10, 0, 84}, {0, 11, 0, 84}, {0, 12, 0, 84}, {0, 13, 0, 84}},
	}
	in.Done[1][3] = false
	in.Objectives = append(in.Objectives, Objective{Name: "first-panic", Indicator: "time-to-first-panic", HigherIsBetter: true, Weight: 1})
	s, err := Summarize(in)
	require.NoError(t, err)
	base, fix := s.Variants[0].Objectives[2], s.Variants[1].Objectives[2]
	assert.Equal(t, 1, base.Censored, "seed 2 of the baseline had no panic")
	assert.Equal(t, 3, fix.Censored, "the fix never panicked on its 3 finished seeds")
	require.Len(t, fix.Values, 4)
	assert.Nil(t, fix.Values[3], "seed 4 of the fix did not finish")
	assert.Equal(t, 84.0, *fix.Values[0])
	assert.Equal(t, 0, s.Variants[0].Objectives[0].Censored, "errors has no censoring rule")

	var b bytes.Buffer
	PrintTable(&b, s)
	assert.Contains(t, b.String(), "≥ 84.0 [")
	assert.Contains(t, b.String(), "time-to-first-panic censored on baseline 1 of 4, fix 3 of 3 seeds")
}
