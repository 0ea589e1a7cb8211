package fidelity_test

import (
	"bytes"
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/faultline-dev/faultline/cmd/faultline/app/cli"
	"github.com/faultline-dev/faultline/cmd/faultline/app/fidelity"
)

// The fidelity verb end to end on a throwaway local cluster, kept short: the Moonlight
// Deployments placed on three nodes without faults (20 s, one real run, 20 seeds). The real
// kube-scheduler spreads the replicas (its default PodTopologySpread scoring); the simulator's
// scheduler model must place them the same way.
func TestFidelityPlacementsOnALocalCluster(t *testing.T) {
	if testing.Short() {
		t.Skip("end-to-end: starts a local control plane; skipped with -short")
	}
	t.Setenv("XDG_STATE_HOME", t.TempDir()) // the throwaway cluster's state, removed with it
	out := t.TempDir()
	var stdout, stderr bytes.Buffer
	cmd := fidelity.NewCommand(cli.Streams{Out: &stdout, Err: &stderr})
	cmd.SilenceUsage, cmd.SilenceErrors = true, true
	cmd.SetArgs([]string{"kernel-panic-stacking", "--reps", "1", "--seeds", "20", "--out", out, "-q",
		"--set", "spec.faults=[]", "--set", "spec.duration=20s"})
	err := cmd.ExecuteContext(context.Background())
	t.Log(stdout.String())
	require.NoError(t, err, stderr.String())

	b, err := os.ReadFile(filepath.Join(out, "fidelity.json"))
	require.NoError(t, err)
	var rep fidelity.Report
	require.NoError(t, json.Unmarshal(b, &rep))
	assert.Equal(t, 1, rep.Reps)
	rows := map[string]fidelity.Row{}
	for _, r := range rep.Rows {
		rows[r.Indicator] = r
	}
	place, ok := rows["max-replicas-per-node"]
	require.True(t, ok, "placements are compared: %+v", rep.Rows)
	assert.Equal(t, 1.0, place.RealMedian, "the real scheduler spreads 3 replicas over 3 empty nodes")
	assert.True(t, place.Within, "simulated %v against real %v", place.SimMedian, place.RealMedian)
	assert.Contains(t, rep.OnlySim, "node-panics", "what the real world cannot measure is not compared")
	assert.Contains(t, stdout.String(), "pods per node at the end")
	require.Len(t, rep.Real, 1)
	assert.Len(t, rep.Real[0].Placements, 3, "web, ssr and api have three replicas each")
}
