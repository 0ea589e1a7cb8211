package validate

import (
	"bytes"
	"encoding/json"
	"os"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/faultline-dev/faultline/cmd/faultline/app/cli"
)

func TestValidateOutputJSON(t *testing.T) {
	bad := filepath.Join(t.TempDir(), "bad.yaml")
	require.NoError(t, os.WriteFile(bad, []byte("apiVersion: faultline.dev/v1alpha1\nkind: Scenario\nmetadata: {name: bad}\nspec: {duration: soon}\n"), 0o644))
	var out, errb bytes.Buffer
	cmd := NewCommand(cli.Streams{Out: &out, Err: &errb})
	cmd.SetArgs([]string{"kernel-panic-stacking", bad, "-o", "json"})
	err := cmd.Execute()
	assert.Equal(t, cli.ExitBadInput, cli.Code(err), "one file is bad")
	var rows []fileJSON
	require.NoError(t, json.Unmarshal(out.Bytes(), &rows), "stdout is one JSON array: %s", out.String())
	require.Len(t, rows, 2)
	assert.True(t, rows[0].OK)
	assert.Equal(t, "kernel-panic-stacking", rows[0].Name)
	assert.NotEmpty(t, rows[0].Variants)
	assert.False(t, rows[1].OK)
	require.NotEmpty(t, rows[1].Errors)
	assert.Contains(t, rows[1].Errors[0], "bad.yaml")
}
