package results

import (
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
