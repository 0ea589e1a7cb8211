package cluster_test

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/faultline-dev/faultline/cmd/faultline/app/cli"
	"github.com/faultline-dev/faultline/cmd/faultline/app/cluster"
)

// run executes `faultline cluster ARGS` with an empty state directory.
func run(t *testing.T, args ...string) (string, string, error) {
	t.Helper()
	t.Setenv("XDG_STATE_HOME", t.TempDir())
	var out, errOut bytes.Buffer
	cmd := cluster.NewCommand(cli.Streams{In: &bytes.Buffer{}, Out: &out, Err: &errOut})
	cmd.SetArgs(args)
	cmd.SetOut(&out)
	cmd.SetErr(&errOut)
	err := cmd.ExecuteContext(context.Background())
	return out.String(), errOut.String(), err
}

func TestClusterCommand(t *testing.T) {
	tests := []struct {
		name     string
		args     []string
		wantOut  string
		wantCode int
	}{
		{"help teaches", []string{"--help"}, "faultline cluster up", cli.ExitOK},
		{"status without clusters", []string{"status"}, "No clusters. Create one with: faultline cluster up", cli.ExitOK},
		{"down of a missing cluster", []string{"down", "--name", "nope"}, `No cluster "nope"; nothing to stop.`, cli.ExitOK},
		{"down --all without clusters", []string{"down", "--all"}, "", cli.ExitOK},
		{"unknown provider", []string{"up", "--provider", "bogus"}, "", cli.ExitBadInput},
		// checked before anything is installed or started
		{"node pools need the kind provider", []string{"up", "--scenario", "kernel-panic-stacking"}, "", cli.ExitBadInput},
		{"kind: a scenario that does not exist", []string{"up", "--provider", "kind", "--scenario", "no-such-scenario"}, "", cli.ExitBadInput},
		{"bad node size", []string{"up", "--node-cpu", "lots"}, "", cli.ExitBadInput},
		{"gc with nothing to do", []string{"gc"}, "Nothing left behind by dead faultline processes.", cli.ExitOK},
		{"gc help says what it removes", []string{"gc", "--help"}, "a reused PID is not mistaken", cli.ExitOK},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			out, _, err := run(t, tt.args...)
			assert.Equal(t, tt.wantCode, cli.Code(err), "%v", err)
			assert.Contains(t, out, tt.wantOut)
		})
	}
}

func TestStatusOfAnUnknownName(t *testing.T) {
	_, _, err := run(t, "status", "--name", "nope")
	require.Error(t, err)
	assert.Contains(t, err.Error(), "no such cluster")
}

func TestDownRefusesForeignState(t *testing.T) {
	state := t.TempDir()
	t.Setenv("XDG_STATE_HOME", state)
	dir := filepath.Join(state, "faultline", "clusters", "theirs")
	require.NoError(t, os.MkdirAll(dir, 0o755))
	var out bytes.Buffer
	cmd := cluster.NewCommand(cli.Streams{Out: &out, Err: &out})
	cmd.SetArgs([]string{"down", "--name", "theirs"})
	err := cmd.ExecuteContext(context.Background())
	require.Error(t, err)
	assert.Contains(t, err.Error(), "not created by faultline")
	_, statErr := os.Stat(dir)
	assert.NoError(t, statErr, "the directory was removed")
}

// gc removes a lock file left by a cluster that is gone, and says nothing of clusters in use.
func TestGCRemovesStaleLockFiles(t *testing.T) {
	state := t.TempDir()
	t.Setenv("XDG_STATE_HOME", state)
	root := filepath.Join(state, "faultline", "clusters")
	require.NoError(t, os.MkdirAll(root, 0o755))
	lock := filepath.Join(root, ".gone.lock")
	require.NoError(t, os.WriteFile(lock, nil, 0o644))
	var out bytes.Buffer
	cmd := cluster.NewCommand(cli.Streams{Out: &out, Err: &out})
	cmd.SetArgs([]string{"gc"})
	require.NoError(t, cmd.ExecuteContext(context.Background()))
	_, err := os.Stat(lock)
	assert.True(t, os.IsNotExist(err), "stale lock file kept")
}
