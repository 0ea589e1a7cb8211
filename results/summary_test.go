package results

import (
	"bytes"
	"encoding/json"
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
