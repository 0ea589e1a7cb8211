package kind

import (
	"encoding/json"
	"os"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/faultline-dev/faultline/clusters/internal/proc"
	"github.com/faultline-dev/faultline/clusters/kind/internal/dockerd"
)

// A throwaway kind cluster whose run was SIGKILLed: its owner record names a dead process, so
// status calls it a leftover and GC removes it; a cluster whose owner runs, and one without an
// owner (cluster up, --keep), are left alone.
func TestGCRemovesClustersOfDeadOwnersOnly(t *testing.T) {
	root := t.TempDir()
	// a daemon of the test's own that is not running: kind lists no cluster, nothing is deleted
	// through Docker, the host is not touched
	d := &dockerd.Daemon{DataRoot: filepath.Join(root, "docker"), ExecRoot: filepath.Join(root, "run")}
	t.Setenv("DOCKER_HOST", "")
	p, err := New(WithStateDir(filepath.Join(root, "state")), WithDaemon(d))
	require.NoError(t, err)

	dead, err := proc.ExitedOwner()
	require.NoError(t, err)
	write := func(name string, o *proc.Owner) {
		dir := filepath.Join(root, "state", name)
		require.NoError(t, os.MkdirAll(dir, 0o755))
		require.NoError(t, os.WriteFile(filepath.Join(dir, "kubeconfig"), []byte("apiVersion: v1\n"), 0o600))
		if o != nil {
			b, _ := json.Marshal(o)
			require.NoError(t, os.WriteFile(filepath.Join(dir, ownerFile), b, 0o600))
		}
	}
	write("run-dead-1", &dead)
	write("run-alive-1", ptr(proc.Self()))
	write("kept", nil)
	require.NoError(t, p.recordOwner("run-mine-1"))

	st, err := p.Status(t.Context(), "run-dead-1")
	require.NoError(t, err)
	assert.Contains(t, st.Orphaned, "is gone")
	st, err = p.Status(t.Context(), "run-alive-1")
	require.NoError(t, err)
	assert.Empty(t, st.Orphaned)

	removed, err := p.GC(t.Context())
	require.NoError(t, err)
	require.Len(t, removed, 1)
	assert.Contains(t, removed[0], "faultline-run-dead-1")
	assert.NoDirExists(t, filepath.Join(root, "state", "run-dead-1"))
	for _, kept := range []string{"run-alive-1", "kept", "run-mine-1"} {
		assert.DirExists(t, filepath.Join(root, "state", kept))
	}

	// --keep: the cluster outlives its run, so its owner record goes
	require.NoError(t, p.Keep("run-mine-1"))
	o, err := p.owner("run-mine-1")
	require.NoError(t, err)
	assert.Nil(t, o)
}

func ptr[T any](v T) *T { return &v }
