package runner_test

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/faultline-dev/faultline/scenarios/runner"
)

// The webhook incident's event log (INCIDENTS.md §3): upgrade, hung backend, apiserver exits,
// NotReady nodes, the latency alert and the auto-repair loop. Regenerate with
// `go test ./scenarios/runner/ -run Golden -update` and review the diff.
func TestGoldenTraceWebhookBlockedUpgrade(t *testing.T) {
	sc := open(t, "webhook-blocked-upgrade")
	var buf bytes.Buffer
	_, err := runner.Run(context.Background(), sc, runner.Config{Variants: []string{"baseline"}, Seeds: []uint64{1}, Trace: &buf})
	require.NoError(t, err)
	golden := filepath.Join("testdata", "webhook-blocked-upgrade-baseline-seed1.trace")
	if *update {
		require.NoError(t, os.WriteFile(golden, buf.Bytes(), 0o644))
	}
	want, err := os.ReadFile(golden)
	require.NoError(t, err, "missing golden file: run with -update")
	if !bytes.Equal(want, buf.Bytes()) {
		got, exp := strings.Split(buf.String(), "\n"), strings.Split(string(want), "\n")
		for i := 0; i < len(got) && i < len(exp); i++ {
			if got[i] != exp[i] {
				t.Fatalf("trace differs from %s at line %d:\n want: %s\n  got: %s\n(run with -update after reviewing the model change)", golden, i+1, exp[i], got[i])
			}
		}
		t.Fatalf("trace differs from %s in length: want %d lines, got %d", golden, len(exp), len(got))
	}
}
