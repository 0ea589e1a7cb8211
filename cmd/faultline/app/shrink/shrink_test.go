package shrink

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/faultline-dev/faultline/cmd/faultline/app/cli"
)

func TestShrinkWritesScenarioTraceDiff(t *testing.T) {
	var out, errb bytes.Buffer
	dir := t.TempDir()
	cmd := NewCommand(cli.Streams{Out: &out, Err: &errb})
	cmd.SetArgs([]string{"../../../../scenarios/search/testdata/planted-faults", "--seed", "1", "--objective", "web-availability", "--out", dir})
	require.NoError(t, cmd.ExecuteContext(context.Background()))
	assert.Contains(t, out.String(), "spec.faults: 12 -> 1")
	for _, f := range []string{"scenario.yaml", "original.yaml", "shrink.diff", "trace.log"} {
		_, err := os.Stat(filepath.Join(dir, f))
		assert.NoError(t, err, f)
	}
}

func TestShrinkNeedsObjective(t *testing.T) {
	var out bytes.Buffer
	cmd := NewCommand(cli.Streams{Out: &out, Err: &out})
	cmd.SetArgs([]string{"../../../../scenarios/search/testdata/planted-faults", "--seed", "1", "--out", t.TempDir()})
	err := cmd.ExecuteContext(context.Background())
	require.Error(t, err)
	assert.Equal(t, cli.ExitBadInput, cli.Code(err))
}
