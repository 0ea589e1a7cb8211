package check_test

import (
	"bytes"
	"context"
	"encoding/xml"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/faultline-dev/faultline/cmd/faultline/app/cli"
	runcmd "github.com/faultline-dev/faultline/cmd/faultline/app/run"
)

// The nightly gate of ci/nightly.sh on a real library scenario and its stored baseline: the
// replay at the baseline's seeds passes; the same replay with the anti-affinity mitigation broken
// on purpose (its patches dropped with --set) fails, and the JUnit file names the regression.
func TestNightlyGateGreenThenRedOnABrokenMitigation(t *testing.T) {
	if testing.Short() {
		t.Skip("replays kernel-panic-stacking twice at the baseline's 100 seeds")
	}
	baseline := filepath.Join("..", "..", "..", "..", "results", "baselines", "kernel-panic-stacking.json")
	require.FileExists(t, baseline)
	replay := func(extra ...string) string {
		dir := filepath.Join(t.TempDir(), "run")
		var out, errb bytes.Buffer
		cmd := runcmd.NewCommand(cli.Streams{In: strings.NewReader(""), Out: &out, Err: &errb})
		cmd.SetArgs(append([]string{"kernel-panic-stacking", "--seed", "1", "--seeds", "100", "--quiet", "--out", dir}, extra...))
		cmd.SetOut(&out)
		cmd.SetErr(&errb)
		cmd.SilenceErrors, cmd.SilenceUsage = true, true
		require.NoError(t, cmd.ExecuteContext(context.Background()), errb.String())
		return dir
	}

	jx := filepath.Join(t.TempDir(), "green.xml")
	out, _, err := run(t, "--baseline", baseline, replay(), "--junit", jx)
	require.NoError(t, err, "the gate passes on this build: %s", out)
	assert.Contains(t, out, "no regression")

	jx = filepath.Join(t.TempDir(), "red.xml")
	out, _, err = run(t, "--baseline", baseline, replay("--set", "spec.variants[1].patches=[]"), "--junit", jx)
	require.Error(t, err, "a broken mitigation fails the gate: %s", out)
	assert.Equal(t, cli.ExitFailure, cli.Code(err))
	assert.Contains(t, out, "WORSE")
	var doc junit
	raw, err := os.ReadFile(jx)
	require.NoError(t, err)
	require.NoError(t, xml.Unmarshal(raw, &doc))
	require.Positive(t, doc.Failures)
	var failed []string
	for _, s := range doc.Suites {
		for _, c := range s.Cases {
			if c.Failure != nil {
				failed = append(failed, c.Name+": "+c.Failure.Message)
			}
		}
	}
	assert.Contains(t, strings.Join(failed, "\n"), "anti-affinity", "the failing case names the broken variant")
}
