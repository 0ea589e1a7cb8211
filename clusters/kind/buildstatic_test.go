package kind

import (
	"context"
	"os"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// A program built inside the checkout is kept, and a build started elsewhere (no module at hand:
// `faultline run --cluster kind` from another folder) takes the kept one instead of failing; with
// nothing kept it fails and says how to get one.
func TestBuildStaticFallsBackToTheKeptProgram(t *testing.T) {
	if testing.Short() {
		t.Skip("builds faultline-echo (a few seconds)")
	}
	cache := t.TempDir()
	bin, cleanup, err := buildStaticIn(context.Background(), EchoPackage, cache)
	require.NoError(t, err)
	built, err := os.ReadFile(bin)
	require.NoError(t, err)
	cleanup()
	kept, err := os.ReadFile(filepath.Join(cache, filepath.Base(EchoPackage)))
	require.NoError(t, err)
	assert.Equal(t, built, kept)

	t.Chdir(t.TempDir()) // outside any module
	bin, cleanup, err = buildStaticIn(context.Background(), EchoPackage, cache)
	require.NoError(t, err)
	got, err := os.ReadFile(bin)
	require.NoError(t, err)
	cleanup()
	assert.Equal(t, built, got, "the kept program")

	_, _, err = buildStaticIn(context.Background(), EchoPackage, t.TempDir())
	require.Error(t, err)
	assert.Contains(t, err.Error(), "start it once inside its checkout")
}
