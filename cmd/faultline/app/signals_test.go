package app_test

import (
	"bytes"
	"context"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/faultline-dev/faultline/cmd/faultline/app"
	"github.com/faultline-dev/faultline/cmd/faultline/app/cli"
)

// TestMain lets a test run this test binary as the faultline command (FAULTLINE_TEST_MAIN=1,
// arguments after --), so that signals reach a real process.
func TestMain(m *testing.M) {
	if os.Getenv("FAULTLINE_TEST_MAIN") == "1" {
		for i, a := range os.Args {
			if a == "--" {
				os.Args = append([]string{"faultline"}, os.Args[i+1:]...)
				break
			}
		}
		app.Main()
	}
	os.Exit(m.Run())
}

// faultline starts this binary as the command with args, in dir.
func faultline(t *testing.T, dir string, args ...string) (*exec.Cmd, *bytes.Buffer) {
	t.Helper()
	cmd := exec.Command(os.Args[0], append([]string{"-test.run=^$", "--"}, args...)...)
	cmd.Dir = dir
	cmd.Env = append(os.Environ(), "FAULTLINE_TEST_MAIN=1")
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	require.NoError(t, cmd.Start())
	t.Cleanup(func() { _ = cmd.Process.Kill() })
	return cmd, &out
}

func exitCode(err error) int {
	var ee *exec.ExitError
	if errors.As(err, &ee) {
		return ee.ExitCode()
	}
	if err != nil {
		return -1
	}
	return 0
}

// TestSignals: SIGTERM ends a run at once (143); one Ctrl-C stops it and writes what finished
// (130).
func TestSignals(t *testing.T) {
	if testing.Short() {
		t.Skip("starts processes")
	}
	long := []string{"run", "kernel-panic-stacking", "--seeds", "100000", "-q", "--workers", "1"}
	t.Run("SIGTERM", func(t *testing.T) {
		dir := t.TempDir()
		cmd, out := faultline(t, dir, append(long, "--out", filepath.Join(dir, "out"))...)
		time.Sleep(1500 * time.Millisecond)
		require.NoError(t, cmd.Process.Signal(syscall.SIGTERM))
		done := make(chan error, 1)
		go func() { done <- cmd.Wait() }()
		select {
		case err := <-done:
			assert.Equal(t, cli.ExitTerminated, exitCode(err), out.String())
		case <-time.After(3 * time.Second):
			t.Fatalf("SIGTERM did not end the process at once: %s", out.String())
		}
	})
	t.Run("SIGINT", func(t *testing.T) {
		dir := t.TempDir()
		cmd, out := faultline(t, dir, append(long, "--out", filepath.Join(dir, "out"))...)
		time.Sleep(1500 * time.Millisecond)
		require.NoError(t, cmd.Process.Signal(os.Interrupt))
		err := cmd.Wait()
		assert.Equal(t, cli.ExitInterrupted, exitCode(err), out.String())
		assert.FileExists(t, filepath.Join(dir, "out", "summary.json"), "what finished is written")
	})
}

// TestInterruptWhileLoading: Ctrl-C while a scenario with many template objects loads stops the
// load (exit 130) instead of finishing it.
func TestInterruptWhileLoading(t *testing.T) {
	dir := t.TempDir()
	file := filepath.Join(dir, "big.yaml")
	big := strings.Replace(tinyScenario, "  load:", `  templates:
    - count: 20000
      name: job-{i}
      object:
        apiVersion: batch/v1
        kind: CronJob
        spec:
          schedule: "0 * * * *"
          jobTemplate: {spec: {template: {spec: {restartPolicy: Never, containers: [{name: app, image: app:1}]}}}}
  load:`, 1)
	require.NoError(t, os.WriteFile(file, []byte(big), 0o644))
	for _, args := range [][]string{{"validate", file}, {"run", file, "-q"}} {
		t.Run(args[0], func(t *testing.T) {
			ctx, cancel := context.WithTimeout(context.Background(), 100*time.Millisecond)
			defer cancel()
			start := time.Now()
			var out, errb bytes.Buffer
			err := app.Run(ctx, cli.Streams{Out: &out, Err: &errb}, args)
			assert.Equal(t, cli.ExitInterrupted, cli.Code(err), "%v %s", err, errb.String())
			assert.Less(t, time.Since(start), 3*time.Second)
		})
	}
}
