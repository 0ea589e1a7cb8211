package local

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/faultline-dev/faultline/clusters"
	"github.com/faultline-dev/faultline/clusters/internal/proc"
)

func deadOwner(t *testing.T) proc.Owner {
	t.Helper()
	o, err := proc.ExitedOwner()
	require.NoError(t, err)
	require.False(t, o.Alive())
	return o
}

func fakeCluster(t *testing.T, p *Provider, name string, owner *proc.Owner) {
	t.Helper()
	require.NoError(t, os.MkdirAll(filepath.Join(p.dir(name), "logs"), 0o755))
	require.NoError(t, p.save(&state{CreatedBy: createdBy, Provider: ProviderName, Name: name, Status: "running", Owner: owner}))
}

// GC removes the clusters whose owner is dead, the scratch directories of dead processes and
// the lock files of clusters that are gone, and nothing else; status calls a cluster with a dead
// owner a leftover, never healthy.
func TestGCRemovesOnlyLeftoversOfDeadProcesses(t *testing.T) {
	root := t.TempDir()
	p, err := New(WithStateDir(root), WithCacheDir(t.TempDir()))
	require.NoError(t, err)
	dead, me := deadOwner(t), proc.Self()

	fakeCluster(t, p, "orphan", &dead)
	fakeCluster(t, p, "mine", &me)
	fakeCluster(t, p, "kept", nil)
	require.NoError(t, os.MkdirAll(filepath.Join(root, "not-ours", "data"), 0o755))
	for _, d := range []string{scratchName(scratchCreating, dead, "half"), scratchName(scratchDeleting, dead, "gone"),
		scratchName(scratchCreating, me, "busy")} {
		require.NoError(t, os.MkdirAll(filepath.Join(root, d, "logs"), 0o755))
	}
	for _, n := range []string{"stale", "kept", "orphan"} {
		require.NoError(t, os.WriteFile(p.lockPath(n), nil, 0o644))
	}

	st, err := p.Status(t.Context(), "orphan")
	require.NoError(t, err)
	assert.Contains(t, st.Orphaned, "is gone")
	assert.False(t, st.Healthy())
	st, err = p.Status(t.Context(), "mine")
	require.NoError(t, err)
	assert.Empty(t, st.Orphaned)

	removed, err := p.GC(t.Context())
	require.NoError(t, err)
	assert.Len(t, removed, 3, "%v", removed)

	names, err := p.List()
	require.NoError(t, err)
	assert.Equal(t, []string{"kept", "mine"}, names)
	var left []string
	ents, err := os.ReadDir(root)
	require.NoError(t, err)
	for _, e := range ents {
		left = append(left, e.Name())
	}
	assert.ElementsMatch(t, []string{"kept", "mine", "not-ours", ".kept.lock", scratchName(scratchCreating, me, "busy")}, left)

	again, err := p.GC(t.Context())
	require.NoError(t, err)
	assert.Empty(t, again)
}

// Delete removes the lock file with the cluster; a process that was waiting on the removed file
// locks the file now at the path, so two processes never both hold the name.
func TestLockFileRemovedWithoutLosingMutualExclusion(t *testing.T) {
	p, err := New(WithStateDir(t.TempDir()), WithCacheDir(t.TempDir()))
	require.NoError(t, err)
	a, err := p.lockClusterFile(t.Context(), "c", true)
	require.NoError(t, err)
	got := make(chan *clusterLock)
	go func() {
		b, err := p.lockClusterFile(context.Background(), "c", true)
		assert.NoError(t, err)
		got <- b
	}()
	time.Sleep(300 * time.Millisecond)
	a.remove()
	b := <-got
	_, err = p.lockClusterFile(t.Context(), "c", false)
	assert.ErrorIs(t, err, errLocked, "b holds the lock on the file at the path")
	b.remove()
	_, err = os.Stat(p.lockPath("c"))
	assert.True(t, errors.Is(err, os.ErrNotExist))
}

// Delete leaves neither the directory nor the lock file.
func TestDeleteRemovesTheLockFile(t *testing.T) {
	p, err := New(WithStateDir(t.TempDir()), WithCacheDir(t.TempDir()))
	require.NoError(t, err)
	fakeCluster(t, p, "c", nil)
	require.NoError(t, p.Delete(t.Context(), "c"))
	ents, err := os.ReadDir(p.StateDir())
	require.NoError(t, err)
	assert.Empty(t, ents)
	assert.ErrorIs(t, p.Delete(t.Context(), "c"), clusters.ErrNotFound)
}
