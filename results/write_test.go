package results

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// TestStageUniqueAtOnce: 20 runs that start in the same second under the same default name
// publish 20 folders, each holding only its own files, and leave no temporary folder.
func TestStageUniqueAtOnce(t *testing.T) {
	parent := t.TempDir()
	final := filepath.Join(parent, "run-20260101T000000Z")
	const n = 20
	var wg sync.WaitGroup
	dirs := make([]string, n)
	errs := make([]error, n)
	for i := range n {
		wg.Go(func() {
			st, err := Stage(final, false, true)
			if err != nil {
				errs[i] = err
				return
			}
			defer st.Discard()
			for _, name := range []string{"summary.json", "seeds.csv"} {
				if err := os.WriteFile(filepath.Join(st.Dir, name), []byte(fmt.Sprint(i)), 0o644); err != nil {
					errs[i] = err
					return
				}
			}
			dirs[i], errs[i] = st.Publish()
		})
	}
	wg.Wait()
	seen := map[string]bool{}
	for i := range n {
		require.NoError(t, errs[i])
		assert.False(t, seen[dirs[i]], "%s published twice", dirs[i])
		seen[dirs[i]] = true
		entries, err := os.ReadDir(dirs[i])
		require.NoError(t, err)
		assert.Len(t, entries, 2, dirs[i])
		for _, e := range entries {
			b, err := os.ReadFile(filepath.Join(dirs[i], e.Name()))
			require.NoError(t, err)
			assert.Equal(t, fmt.Sprint(i), string(b), "%s/%s holds another run's file", dirs[i], e.Name())
		}
	}
	all, err := os.ReadDir(parent)
	require.NoError(t, err)
	assert.Len(t, all, n, "no temporary folder left")
}

// TestStageOut: a non-empty --out is refused unless overwrite, which replaces it whole (no file of
// the old run stays, metrics included); an empty or missing one is fine; Discard cleans up.
func TestStageOut(t *testing.T) {
	write := func(t *testing.T, dir string, names ...string) {
		t.Helper()
		for _, n := range names {
			require.NoError(t, os.WriteFile(filepath.Join(dir, n), []byte("old"), 0o644))
		}
	}
	t.Run("non-empty refused", func(t *testing.T) {
		out := t.TempDir()
		write(t, out, "summary.json")
		err := CheckOut(out, false)
		require.ErrorIs(t, err, ErrOutNotEmpty)
		assert.Contains(t, err.Error(), "--overwrite")
		assert.NoError(t, CheckOut(out, true))
		// and Publish refuses too when the folder filled up during the run, keeping the results
		st, err := Stage(out, false, false)
		require.NoError(t, err)
		write(t, st.Dir, "summary.json")
		_, err = st.Publish()
		require.ErrorIs(t, err, ErrOutNotEmpty)
		st.Discard()
		assert.DirExists(t, st.Dir, "kept: the error says where the results are")
		assert.Contains(t, err.Error(), st.Dir)
	})
	t.Run("empty or missing", func(t *testing.T) {
		assert.NoError(t, CheckOut(t.TempDir(), false))
		missing := filepath.Join(t.TempDir(), "a", "b")
		assert.NoError(t, CheckOut(missing, false))
		st, err := Stage(missing, false, false)
		require.NoError(t, err)
		write(t, st.Dir, "summary.json")
		got, err := st.Publish()
		require.NoError(t, err)
		assert.Equal(t, missing, got)
		assert.FileExists(t, filepath.Join(missing, "summary.json"))
	})
	t.Run("overwrite replaces whole", func(t *testing.T) {
		out := filepath.Join(t.TempDir(), "out")
		require.NoError(t, os.Mkdir(out, 0o755))
		write(t, out, "summary.json", "metrics-baseline-seed1.txt", "series-baseline-seed1.csv")
		st, err := Stage(out, true, false)
		require.NoError(t, err)
		require.NoError(t, os.WriteFile(filepath.Join(st.Dir, "summary.json"), []byte("new"), 0o644))
		_, err = st.Publish()
		require.NoError(t, err)
		entries, err := os.ReadDir(out)
		require.NoError(t, err)
		require.Len(t, entries, 1, "no stale metrics or series")
		b, _ := os.ReadFile(filepath.Join(out, "summary.json"))
		assert.Equal(t, "new", string(b))
		siblings, _ := os.ReadDir(filepath.Dir(out))
		assert.Len(t, siblings, 1, "the old folder is gone, no temporary left")
	})
	t.Run("discard", func(t *testing.T) {
		parent := t.TempDir()
		st, err := Stage(filepath.Join(parent, "x"), false, true)
		require.NoError(t, err)
		assert.True(t, strings.HasPrefix(filepath.Base(st.Dir), ".x.tmp-"), st.Dir)
		st.Discard()
		entries, _ := os.ReadDir(parent)
		assert.Empty(t, entries)
	})
}

func TestSetLatest(t *testing.T) {
	parent := t.TempDir()
	for _, name := range []string{"run-1", "run-2"} {
		dir := filepath.Join(parent, name)
		require.NoError(t, os.Mkdir(dir, 0o755))
		require.NoError(t, SetLatest(dir))
		got, err := os.Readlink(filepath.Join(parent, "latest"))
		require.NoError(t, err)
		assert.Equal(t, name, got)
	}
}
