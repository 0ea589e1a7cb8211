package kind

import (
	"syscall"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/faultline-dev/faultline/clusters/kind/internal/dockerd"
)

// A node image build holds the daemon lock shared; the last cluster's RestoreHost, which would
// stop the daemon, cannot take it exclusively meanwhile and leaves the daemon running.
func TestDaemonLock(t *testing.T) {
	p, err := New(WithStateDir(t.TempDir()), WithDaemon(&dockerd.Daemon{DataRoot: t.TempDir(), ExecRoot: t.TempDir()}))
	require.NoError(t, err)
	releaseBuild, err := p.useDaemon(syscall.LOCK_SH)
	require.NoError(t, err)
	_, err = p.useDaemon(syscall.LOCK_EX | syscall.LOCK_NB)
	assert.Error(t, err, "exclusive while a build holds it shared")
	releaseBuild()
	release, err := p.useDaemon(syscall.LOCK_EX | syscall.LOCK_NB)
	require.NoError(t, err, "exclusive once the build is done")
	release()
}

func TestNewUsesDockerHostWhenSet(t *testing.T) {
	t.Setenv("DOCKER_HOST", "unix:///somewhere/else.sock")
	p, err := New(WithStateDir(t.TempDir()))
	require.NoError(t, err)
	assert.True(t, p.external, "another Docker: start and stop none")
	t.Setenv("DOCKER_HOST", dockerd.Default().Host())
	p, err = New(WithStateDir(t.TempDir()))
	require.NoError(t, err)
	assert.False(t, p.external, "faultline's own Docker")
}
