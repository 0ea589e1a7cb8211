package results

import (
	"os"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func point(v string, panics float64) SweepPoint {
	s := summaryWith(0.99, panics)
	target := 0.0
	s.Objectives[1].TargetOp, s.Objectives[1].TargetValue = "<=", &target
	return SweepPoint{Values: []string{v}, Summary: s}
}

func TestSweepCrossingsAndFiles(t *testing.T) {
	sw := &Sweep{Schema: SchemaVersion, Scenario: "s", Params: []string{"spec.n"},
		Points: []SweepPoint{point("3", 4), point("4", 0), point("5", 0), point("6", 1)}}
	sw.FindCrossings()
	require.Len(t, sw.Crossings, 2)
	assert.Equal(t, Crossing{Variant: "fix", Objective: "panics", From: "3", To: "4", Meets: true}, sw.Crossings[0])
	assert.Equal(t, Crossing{Variant: "fix", Objective: "panics", From: "5", To: "6", Meets: false}, sw.Crossings[1])

	dir := t.TempDir()
	require.NoError(t, WriteSweep(dir, sw))
	for _, f := range []string{"sweep.json", "sweep.csv", "sweep-availability.svg", "sweep-panics.svg"} {
		_, err := os.Stat(filepath.Join(dir, f))
		assert.NoError(t, err, f)
	}
	svg, err := os.ReadFile(filepath.Join(dir, "sweep-panics.svg"))
	require.NoError(t, err)
	assert.Contains(t, string(svg), "<svg")
	assert.Contains(t, string(svg), "target")
}
