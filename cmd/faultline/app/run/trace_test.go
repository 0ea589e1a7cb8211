package run_test

import (
	"encoding/json"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/faultline-dev/faultline/cmd/faultline/app/cli"
)

// --trace-json prints the events --trace prints, one JSON object per line, and nothing else on
// stdout: each line's virtual time and fields are those of the text line at the same place.
func TestTraceJSONIsTheTextTrace(t *testing.T) {
	args := []string{"kernel-panic-stacking", "--seed", "3", "--seeds", "1", "--variant", "baseline", "--quiet", "--overwrite"}
	text, err := runArgs(t, append(args, "--trace", "--out", filepath.Join(t.TempDir(), "a"))...)
	require.NoError(t, err)
	js, err := runArgs(t, append(args, "--trace-json", "--out", filepath.Join(t.TempDir(), "b"))...)
	require.NoError(t, err)

	var events []string // the text log's event lines, without the replay header and the table
	for l := range strings.Lines(text) {
		if strings.HasPrefix(l, "+") {
			events = append(events, strings.TrimSuffix(l, "\n"))
		}
	}
	lines := strings.Split(strings.TrimSuffix(js, "\n"), "\n")
	require.Greater(t, len(events), 10)
	require.Len(t, lines, len(events), "one JSON line per text line, and nothing else on stdout")
	for i, l := range lines {
		var ev map[string]any
		require.NoError(t, json.Unmarshal([]byte(l), &ev), l)
		assert.Equal(t, "baseline", ev["variant"])
		assert.EqualValues(t, 3, ev["seed"])
		assert.NotEmpty(t, ev["kind"])
		stamp, _, _ := strings.Cut(events[i], "  ")
		assert.Equal(t, stamp, ev["at"], "line %d", i)
		if pod, ok := ev["pod"].(string); ok {
			assert.Contains(t, events[i], " pod="+pod, "line %d", i)
		}
	}
}

func TestTraceJSONRefusesOtherStdout(t *testing.T) {
	for _, other := range []string{"--trace", "--json"} {
		_, err := runArgs(t, "kernel-panic-stacking", "--seeds", "1", "--trace-json", other)
		require.Error(t, err)
		assert.Equal(t, cli.ExitBadInput, cli.Code(err))
		assert.Contains(t, err.Error(), "--trace-json prints to stdout")
	}
}
