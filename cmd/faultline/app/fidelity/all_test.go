package fidelity

import (
	"bytes"
	"slices"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/faultline-dev/faultline/clusters/realrun"
	"github.com/faultline-dev/faultline/cmd/faultline/app/run"
	"github.com/faultline-dev/faultline/measure"
	"github.com/faultline-dev/faultline/scenarios"
)

// Every library scenario has a fidelity plan whose --set lines apply to it and whose variant it
// has: --all never reports "no fidelity plan" for a scenario of the library.
func TestEveryLibraryScenarioHasAPlanThatApplies(t *testing.T) {
	lib, err := scenarios.Library()
	require.NoError(t, err)
	for _, e := range lib {
		plan, ok := libraryPlans[e.Name]
		require.True(t, ok, "%s has no fidelity plan", e.Name)
		sc, err := scenarios.Open(e.Name)
		require.NoError(t, err)
		sc, err = run.ApplySets(sc, append(slices.Clone(KWOKWorld), plan.Sets...))
		require.NoError(t, err, "%s: the plan's --set lines", e.Name)
		if plan.Variant != "" {
			_, err := sc.Variant(plan.Variant)
			require.NoError(t, err, "%s: variant %s", e.Name, plan.Variant)
		}
	}
}

// A cell is compared, or carries a reason: the registry's for this world, the real run's own,
// or the scenario's when it was not played.
func TestCellsReasons(t *testing.T) {
	rep := &Report{
		Rows:     Compare(map[string][]float64{"pods-lost": {1, 1, 2}}, map[string][]float64{"pods-lost": {5}}, DefaultTolerance()),
		OnlySim:  []string{"node-panics", "failure-span-hours"},
		OnlyReal: nil,
		Real:     []*realrun.Report{{Unmeasured: []string{"failure-span-hours: KWOK runs every Job pod to success"}}},
	}
	cs := cells(Entry{Scenario: "s", Report: rep}, measure.KWOK)
	byName := map[string]Cell{}
	for _, c := range cs {
		byName[c.Indicator] = c
	}
	require.Len(t, cs, 3)
	assert.Equal(t, "pods-lost", cs[1].Indicator, "registry order: node-panics, pods-lost, then the cron indicator")
	lost := byName["pods-lost"]
	assert.True(t, lost.Measured)
	assert.False(t, lost.Within, "1 simulated against 5 real")
	assert.Contains(t, lost.Calibrate, "nodeLifecycle")
	assert.Equal(t, "kernel panics come from real CPU saturation; KWOK pods use no CPU", byName["node-panics"].Reason)
	assert.Equal(t, "KWOK runs every Job pod to success", byName["failure-span-hours"].Reason)

	skipped := cells(Entry{Scenario: "k", Unmeasured: "needs kind: no container runtime"}, measure.KWOK)
	require.Len(t, skipped, len(measure.Indicators))
	for _, c := range skipped {
		assert.Equal(t, "needs kind: no container runtime", c.Reason)
	}

	all := &AllReport{Cluster: "local", Reps: 1, Seeds: 3, Tolerance: 0.25, Entries: []Entry{
		{Scenario: "s", Variant: "baseline", Report: rep, Cells: cs}, {Scenario: "k", Unmeasured: "needs kind: no container runtime", Cells: skipped}}}
	var md bytes.Buffer
	WriteMarkdown(&md, all)
	assert.Contains(t, md.String(), "| s/baseline | pods-lost | 1 | 5 | 1.00 | OUTSIDE |")
	assert.Contains(t, md.String(), "| k | (all) | | | | unmeasured: needs kind: no container runtime |")
	assert.Contains(t, md.String(), "0 cells within tolerance, 1 outside")
	var html bytes.Buffer
	require.NoError(t, WriteHTML(&html, all))
	assert.Contains(t, html.String(), `<tr class="OUTSIDE"><td>pods-lost</td>`)
}
