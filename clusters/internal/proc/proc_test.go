package proc

import (
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func sleepBinary(t *testing.T) string {
	t.Helper()
	p, err := exec.LookPath("sleep")
	if err != nil {
		t.Fatalf("sleep: %v", err)
	}
	return p
}

func TestStopOnlyTheRecordedProcess(t *testing.T) {
	dir := t.TempDir()
	r, err := Start("sleeper", sleepBinary(t), []string{"300"}, filepath.Join(dir, "log"))
	require.NoError(t, err)
	t.Cleanup(func() { _ = syscall.Kill(-r.PID, syscall.SIGKILL) })

	info, err := Inspect(r.PID)
	require.NoError(t, err)
	assert.Equal(t, r.PID, info.PGID, "own process group")
	assert.NotZero(t, r.Start)
	running, err := r.Running()
	require.NoError(t, err)
	assert.True(t, running)

	// a record whose binary or start time does not match is someone else's process: never signalled
	for name, other := range map[string]Record{
		"other binary":     {Name: "x", PID: r.PID, Binary: "/usr/bin/not-sleep", Start: r.Start},
		"other start time": {Name: "x", PID: r.PID, Binary: r.Binary, Start: r.Start + 1},
	} {
		t.Run(name, func(t *testing.T) {
			running, err := other.Running()
			require.NoError(t, err)
			assert.False(t, running)
			require.NoError(t, Stop(context.Background(), other, time.Second))
			still, _ := r.Running()
			assert.True(t, still, "the process was signalled")
		})
	}

	require.NoError(t, Stop(context.Background(), r, 5*time.Second))
	running, err = r.Running()
	require.NoError(t, err)
	assert.False(t, running)
	_, err = os.Stat("/proc/" + itoa(r.PID))
	assert.True(t, err != nil || isZombie(r.PID), "pid %d still exists", r.PID)
}

func TestStopEscalatesToSIGKILL(t *testing.T) {
	dir := t.TempDir()
	sh, err := exec.LookPath("sh")
	require.NoError(t, err)
	r, err := Start("stubborn", sh, []string{"-c", "trap '' TERM; echo ready; while :; do sleep 1; done"}, filepath.Join(dir, "log"))
	require.NoError(t, err)
	t.Cleanup(func() { _ = syscall.Kill(-r.PID, syscall.SIGKILL) })
	require.Eventually(t, func() bool { b, _ := os.ReadFile(r.Log); return len(b) > 0 }, 5*time.Second, 10*time.Millisecond)
	start := time.Now()
	require.NoError(t, Stop(context.Background(), r, 300*time.Millisecond))
	assert.Less(t, time.Since(start), 5*time.Second)
	running, _ := r.Running()
	assert.False(t, running)
}

func TestFindUnrecorded(t *testing.T) {
	dir := t.TempDir()
	bin := filepath.Join(dir, "bin")
	require.NoError(t, os.MkdirAll(bin, 0o755))
	// a copy of sleep inside a "cache", started with an argument naming the "state directory"
	src, err := os.ReadFile(sleepBinary(t))
	require.NoError(t, err)
	require.NoError(t, os.WriteFile(filepath.Join(bin, "sleep"), src, 0o755))
	state := filepath.Join(dir, "state", "c1") + "/"
	r, err := Start("sleeper", filepath.Join(bin, "sleep"), []string{"300"}, filepath.Join(dir, "log"))
	require.NoError(t, err)
	t.Cleanup(func() { _ = syscall.Kill(-r.PID, syscall.SIGKILL) })
	found, err := Find(state, bin)
	require.NoError(t, err)
	assert.Empty(t, found, "its command line does not name the state directory")
	found, err = Find(bin, bin) // the binary path is in its command line
	require.NoError(t, err)
	require.Len(t, found, 1)
	assert.Equal(t, r.PID, found[0].PID)
	assert.Equal(t, r.Start, found[0].Start)
}

func itoa(i int) string { return strconv.Itoa(i) }

func isZombie(pid int) bool {
	info, err := Inspect(pid)
	return err == nil && info.State == 'Z'
}

// An owner is dead when its PID is gone, when the PID now runs a process started at another
// instant (reuse), or when the machine booted since; the running process itself is alive.
func TestOwnerAlive(t *testing.T) {
	me := Self()
	require.Equal(t, os.Getpid(), me.PID)
	require.NotZero(t, me.Start)
	assert.True(t, me.Alive())
	assert.NotEmpty(t, me.BootID)

	reused := me
	reused.Start++
	assert.False(t, reused.Alive(), "the same PID started at another instant is another process")
	rebooted := me
	rebooted.BootID = "00000000-0000-0000-0000-000000000000"
	assert.False(t, rebooted.Alive(), "a record from an earlier boot")

	cmd := exec.Command(sleepBinary(t), "300")
	require.NoError(t, cmd.Start())
	info, err := Inspect(cmd.Process.Pid)
	require.NoError(t, err)
	child := Owner{PID: cmd.Process.Pid, Start: info.Start, BootID: me.BootID}
	assert.True(t, child.Alive())
	require.NoError(t, cmd.Process.Kill())
	_ = cmd.Wait()
	assert.False(t, child.Alive(), "an exited process")
	assert.False(t, Owner{}.Alive())
}
