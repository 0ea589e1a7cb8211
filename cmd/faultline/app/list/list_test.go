package list_test

import (
	"bytes"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/faultline-dev/faultline/cmd/faultline/app/cli"
	"github.com/faultline-dev/faultline/cmd/faultline/app/list"
	"github.com/faultline-dev/faultline/measure"
)

// list --indicators prints every registry entry with one column per world, and a note for
// every "no".
func TestListIndicatorsHasAColumnPerWorld(t *testing.T) {
	var out bytes.Buffer
	cmd := list.NewCommand(cli.Streams{Out: &out, Err: &out})
	cmd.SetArgs([]string{"--indicators"})
	require.NoError(t, cmd.Execute())
	text := out.String()
	lines := strings.Split(text, "\n")
	head := strings.Fields(lines[0])
	assert.Equal(t, []string{"INDICATOR", "UNIT", "BETTER", "SIMULATED", "KWOK", "KIND", "MEANING"}, head)
	rows := map[string][]string{}
	for _, l := range lines[1:] {
		if f := strings.Fields(l); len(f) > 0 {
			rows[f[0]] = f
		}
	}
	for _, d := range measure.Indicators {
		require.Contains(t, rows, d.Name)
	}
	// pods lost: measured everywhere; node panics only in the simulator
	assert.Equal(t, []string{"yes", "yes", "yes"}, rows["pods-lost"][3:6])
	assert.Equal(t, "yes", rows["node-panics"][3])
	assert.Equal(t, "no", rows["node-panics"][4])
	stall, _ := measure.Lookup("stalled-cronjobs")
	assert.Contains(t, text, "kwok: "+stall.Unmeasurable[measure.KWOK])
	assert.Contains(t, text, "request-success-ratio/<target>")
}
