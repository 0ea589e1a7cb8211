package explore

import (
	"bytes"
	"context"
	"encoding/json"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/faultline-dev/faultline/cmd/faultline/app/cli"
)

func TestExploreJSON(t *testing.T) {
	var out, errb bytes.Buffer
	cmd := NewCommand(cli.Streams{Out: &out, Err: &errb})
	cmd.SetArgs([]string{"../../../../scenarios/search/testdata/planted-weakness", "--variant", "pinned", "--against", "baseline",
		"--budget", "60", "--max-finds", "1", "--json", "--out", t.TempDir()})
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
}
