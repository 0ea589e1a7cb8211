package results

import (
	"github.com/faultline-dev/faultline/results/stats"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func summaryWith(avail, panics float64) *Summary {
	return &Summary{
		Schema: SchemaVersion, Scenario: "s", Digest: "sha256:1", Seeds: []uint64{1, 2},
		Objectives: []Objective{{Name: "availability", HigherIsBetter: true}, {Name: "panics"}},
		Variants: []VariantSummary{{Name: "fix", Objectives: []ObjectiveSummary{
			{Name: "availability", Mean: avail, MeanCI: Estimate{avail, avail - 0.01, avail + 0.01}},
			{Name: "panics", Mean: panics, MeanCI: Estimate{panics, panics - 1, panics + 1}},
		}}},
	}
}

func TestCheck(t *testing.T) {
	stored := summaryWith(0.99, 2)
	cases := []struct {
		name          string
		avail, panics float64
		regressed     bool
	}{
		{"identical", 0.99, 2, false},
		{"better on both", 0.999, 0, false},
		{"worse within the interval", 0.985, 2.5, false},
		{"availability below the interval", 0.97, 2, true},
		{"panics above the interval", 0.99, 3.5, true},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			rep := Check(stored, summaryWith(c.avail, c.panics))
			assert.Equal(t, c.regressed, rep.Regressed())
			assert.Empty(t, rep.Warnings)
			require.Len(t, rep.Findings, 2)
		})
	}
	t.Run("changed scenario and missing variant warn", func(t *testing.T) {
		cur := summaryWith(0.99, 2)
		cur.Digest = "sha256:2"
		cur.Variants[0].Name = "other"
		rep := Check(stored, cur)
		assert.False(t, rep.Regressed())
		assert.Len(t, rep.Warnings, 2)
	})
}

func TestWorstPrecision(t *testing.T) {
	s := summaryWith(0.99, 2) // availability half-width 0.01 (1 %), panics half-width 1 (50 %)
	w, where := s.WorstPrecision()
	assert.InDelta(t, 0.5, w, 1e-12)
	assert.Equal(t, "fix/panics", where)
	s.Variants[0].Objectives[1] = ObjectiveSummary{Name: "panics"} // 0 everywhere, zero width
	w, where = s.WorstPrecision()
	assert.InDelta(t, 0.01/0.99, w, 1e-12, "a zero-width interval counts as precise")
	assert.Equal(t, "fix/availability", where)
}

// pairedRun is a summary of one variant over n seeds whose availability per seed is avail(i).
func pairedRun(n int, avail func(i int) float64) *Summary {
	s := &Summary{Schema: SchemaVersion, Scenario: "s", Digest: "sha256:1", Alpha: 0.05,
		Objectives: []Objective{{Name: "availability", HigherIsBetter: true}}}
	o := ObjectiveSummary{Name: "availability"}
	for i := range n {
		s.Seeds = append(s.Seeds, uint64(i+1))
		x := avail(i)
		o.Values = append(o.Values, &x)
		o.Mean += x / float64(n)
	}
	o.MeanCI = Estimate{o.Mean, o.Mean - 0.01, o.Mean + 0.01}
	s.Variants = []VariantSummary{{Name: "fix", Complete: n, Objectives: []ObjectiveSummary{o}}}
	return s
}

func TestCheckPairsSeedsAcrossBuilds(t *testing.T) {
	base := func(i int) float64 { return 0.99 - float64(i%7)/1000 }
	stored := pairedRun(30, base)
	t.Run("reproduced seed by seed", func(t *testing.T) {
		rep := Check(stored, pairedRun(30, base))
		require.Len(t, rep.Findings, 1)
		f := rep.Findings[0]
		assert.Equal(t, "paired", f.Method)
		assert.Equal(t, unchanged, f.Verdict)
		assert.False(t, rep.Regressed())
	})
	t.Run("slightly worse on every seed: worse, although within the interval", func(t *testing.T) {
		rep := Check(stored, pairedRun(30, func(i int) float64 { return base(i) - 0.001 - float64(i)/1e6 }))
		f := rep.Findings[0]
		assert.Equal(t, stats.Worse, f.Verdict)
		assert.Equal(t, 30, f.Changed)
		assert.True(t, rep.Regressed())
		assert.Contains(t, f.Note, "30 of 30 seeds changed")
	})
	t.Run("better on every seed", func(t *testing.T) {
		rep := Check(stored, pairedRun(30, func(i int) float64 { return base(i) + 0.002 + float64(i)/1e6 }))
		assert.Equal(t, stats.Better, rep.Findings[0].Verdict)
		assert.False(t, rep.Regressed())
	})
	t.Run("too few seeds to tell", func(t *testing.T) {
		few := pairedRun(4, base)
		rep := Check(few, pairedRun(4, func(i int) float64 { return base(i) - 0.05 }))
		f := rep.Findings[0]
		assert.Equal(t, stats.Inconclusive, f.Verdict)
		assert.Equal(t, "inconclusive: needs at least 6 seeds", f.VerdictText())
		assert.False(t, rep.Regressed(), "inconclusive does not fail: it says to run more seeds")
	})
	t.Run("a baseline without per-seed values: the interval rule", func(t *testing.T) {
		old := pairedRun(30, base)
		old.Variants[0].Objectives[0].Values = nil
		rep := Check(old, pairedRun(30, func(i int) float64 { return base(i) - 0.05 }))
		assert.Equal(t, "interval", rep.Findings[0].Method)
		assert.True(t, rep.Regressed())
	})
}
