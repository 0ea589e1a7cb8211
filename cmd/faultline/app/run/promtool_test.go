package run_test

import (
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/faultline-dev/faultline/clusters/local"
)

// The metrics files a run writes pass `promtool check metrics`, the check users run on their own
// exporters: promtool is built from the pinned Prometheus module with the server (make tools, which
// make test runs first; a cold build here takes minutes). Scenarios with cron families (their
// counters read as the Prometheus text format) and with apiserver and alert families (scenarios
// without such families write no metrics files).
func TestMetricsFilesPassPromtool(t *testing.T) {
	if testing.Short() {
		t.Skip("builds promtool when it is not cached")
	}
	p, err := local.New()
	require.NoError(t, err)
	promtool, err := p.EnsurePromtool(context.Background())
	require.NoError(t, err)

	for _, sc := range []string{"cron-missed-start-storm", "cron-deleted-images", "webhook-blocked-upgrade"} {
		dir := filepath.Join(t.TempDir(), sc)
		_, err := runArgs(t, sc, "--seed", "2", "--seeds", "1", "--quiet", "--out", dir)
		require.NoError(t, err, sc)
		files, err := filepath.Glob(filepath.Join(dir, "metrics-*.txt"))
		require.NoError(t, err)
		require.NotEmpty(t, files, "%s wrote no metrics files", sc)
		for _, f := range files {
			text, err := os.ReadFile(f)
			require.NoError(t, err)
			require.NotEmpty(t, text, f)
			cmd := exec.Command(promtool, "check", "metrics")
			in, err := os.Open(f)
			require.NoError(t, err)
			cmd.Stdin = in
			msg, err := cmd.CombinedOutput()
			_ = in.Close()
			assert.NoError(t, err, "promtool check metrics %s: %s", f, msg)
			assert.Empty(t, string(msg), "promtool check metrics %s", f)
		}
	}
}
