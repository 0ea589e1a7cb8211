package cli

import (
	"errors"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/faultline-dev/faultline/results"
)

// Commands started in the same second by default name their folder after that second: each
// must still get a folder of its own, whole, with only its own files.
func TestOutFolderSameSecondUnique(t *testing.T) {
	t.Chdir(t.TempDir())
	now := time.Date(2026, 12, 2, 15, 4, 5, 0, time.UTC)
	var dirs []string
	for i := range 5 {
		st, err := OutFolder{}.Stage("sc", "optimize-", now)
		require.NoError(t, err)
		require.NoError(t, os.WriteFile(filepath.Join(st.Dir, "who"), []byte{byte('0' + i)}, 0o644))
		dir, err := st.Publish()
		require.NoError(t, err)
		dirs = append(dirs, dir)
	}
	assert.Equal(t, []string{
		filepath.Join("results", "sc", "optimize-20261202T150405Z"),
		filepath.Join("results", "sc", "optimize-20261202T150405Z-2"),
		filepath.Join("results", "sc", "optimize-20261202T150405Z-3"),
		filepath.Join("results", "sc", "optimize-20261202T150405Z-4"),
		filepath.Join("results", "sc", "optimize-20261202T150405Z-5"),
	}, dirs)
	for i, d := range dirs {
		b, err := os.ReadFile(filepath.Join(d, "who"))
		require.NoError(t, err)
		assert.Equal(t, []byte{byte('0' + i)}, b)
		ents, _ := os.ReadDir(d)
		assert.Len(t, ents, 1, d)
	}
}

func TestOutFolderRefusesFullOut(t *testing.T) {
	dir := t.TempDir()
	require.NoError(t, os.WriteFile(filepath.Join(dir, "old"), nil, 0o644))
	err := OutFolder{Out: dir}.Check()
	assert.True(t, errors.Is(err, results.ErrOutNotEmpty), "%v", err)
	assert.NoError(t, OutFolder{Out: dir, Overwrite: true}.Check())
	assert.NoError(t, OutFolder{Out: filepath.Join(dir, "new")}.Check())
}
