package explore

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
	"github.com/faultline-dev/faultline/scenarios"
)

func TestExploreJSON(t *testing.T) {
	var out, errb bytes.Buffer
	cmd := NewCommand(cli.Streams{Out: &out, Err: &errb})
	outDir := filepath.Join(t.TempDir(), "explore")
	cmd.SetArgs([]string{"../../../../scenarios/search/testdata/planted-weakness", "--variant", "pinned", "--against", "baseline",
		"--budget", "60", "--max-finds", "1", "--json", "--out", outDir})
	require.NoError(t, cmd.ExecuteContext(context.Background()))
	var res struct {
		Runs  int `json:"runs"`
		Finds []struct {
			Dir    string            `json:"dir"`
			Shrunk []json.RawMessage `json:"shrunk"`
		} `json:"finds"`
	}
	require.NoError(t, json.Unmarshal(out.Bytes(), &res), out.String())
	require.Len(t, res.Finds, 1)
	assert.Len(t, res.Finds[0].Shrunk, 1)
	assert.Contains(t, errb.String(), "ETA")
	// printed: where the find is now; explore.json: relative to itself, so the folder can move
	assert.Equal(t, filepath.Join(outDir, "find-1"), res.Finds[0].Dir)
	_, err := scenarios.Open(res.Finds[0].Dir)
	assert.NoError(t, err)
	b, err := os.ReadFile(filepath.Join(outDir, "explore.json"))
	require.NoError(t, err)
	assert.Contains(t, string(b), `"dir": "find-1"`)
	// a second explore into the same --out is refused before it runs
	cmd = NewCommand(cli.Streams{Out: &out, Err: &errb})
	cmd.SetArgs([]string{"../../../../scenarios/search/testdata/planted-weakness", "--budget", "10", "--out", outDir})
	cmd.SilenceUsage, cmd.SilenceErrors = true, true
	assert.ErrorContains(t, cmd.ExecuteContext(context.Background()), "not empty")
}
