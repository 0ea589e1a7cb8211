package list

import (
	"bytes"
	"encoding/json"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/faultline-dev/faultline/cmd/faultline/app/cli"
)

func TestListOutputJSON(t *testing.T) {
	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"-o", "json"}, "kernel-panic-stacking"},
		{[]string{"--indicators", "-o", "json"}, "time-to-first-panic"},
	} {
		var out bytes.Buffer
		cmd := NewCommand(cli.Streams{Out: &out, Err: &out})
		cmd.SetArgs(tc.args)
		require.NoError(t, cmd.Execute())
		var rows []map[string]any
		require.NoError(t, json.Unmarshal(out.Bytes(), &rows), "one JSON array: %s", out.String())
		names := map[string]bool{}
		for _, r := range rows {
			names[r["name"].(string)] = true
		}
		assert.True(t, names[tc.want], "%v lists %s", tc.args, tc.want)
	}
}
