package realrun

import (
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/faultline-dev/faultline/results"
	"github.com/faultline-dev/faultline/scenarios"
	"github.com/faultline-dev/faultline/scenarios/runner"
	"github.com/faultline-dev/faultline/sim"
)

// A run the world broke under is not scored, and summary.json says which one and why.
func TestScoresListInvalidRuns(t *testing.T) {
	sc, err := scenarios.Open("cron-missed-start-storm")
	require.NoError(t, err)
	base := sc.Baseline()
	res := sim.Result{Seed: 1, Indicators: []sim.Indicator{{Name: "missed-starts", Value: 3}}}
	out := &runner.Outcome{Scenario: sc, Variants: []string{base}, Seeds: []uint64{1, 2},
		Results: [][]sim.Result{{res, {}}}, Done: [][]bool{{true, false}}}
	reports := [][]*Report{{{Input: base}, {Input: base, Invalid: []string{"kube-apiserver (pid 7) died 20s into the run"}}}}
	in, _ := Scores(out, reports, "test")
	require.Equal(t, []results.InvalidRun{{Variant: base, Seed: 2, Reasons: []string{"kube-apiserver (pid 7) died 20s into the run"}}}, in.Invalid)
	in.Objectives = nil
	sum, err := results.Summarize(in)
	require.NoError(t, err)
	assert.Equal(t, in.Invalid, sum.Invalid)
	assert.Equal(t, 1, sum.Variants[0].Complete)
}
