package app

import (
	"bytes"
	"context"
	"os"
	"strings"
	"syscall"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/faultline-dev/faultline/cmd/faultline/app/cli"
)

// TestWatchSignals: the first Ctrl-C cancels (the run writes what finished), the second ends the
// process at once with 130; SIGTERM ends it at once with 143.
func TestWatchSignals(t *testing.T) {
	t.Run("interrupt twice", func(t *testing.T) {
		sigs := make(chan os.Signal, 2)
		cancelled := make(chan struct{})
		exited := make(chan int, 1)
		var errb bytes.Buffer
		go watchSignals(sigs, func() { close(cancelled) }, &errb, func(code int) { exited <- code })
		sigs <- os.Interrupt
		<-cancelled
		assert.Empty(t, exited, "the first Ctrl-C only cancels")
		sigs <- os.Interrupt
		assert.Equal(t, cli.ExitInterrupted, <-exited)
	})
	t.Run("terminate", func(t *testing.T) {
		sigs := make(chan os.Signal, 1)
		exited := make(chan int, 1)
		var errb bytes.Buffer
		go watchSignals(sigs, func() { t.Error("SIGTERM does not wait for the run to wind down") }, &errb, func(code int) { exited <- code })
		sigs <- syscall.SIGTERM
		assert.Equal(t, cli.ExitTerminated, <-exited)
		assert.Contains(t, errb.String(), "terminated")
	})
}

// panicWriter panics on the first write, standing for a bug anywhere in a command.
type panicWriter struct{}

func (panicWriter) Write([]byte) (int, error) { panic("boom\nwith a second line") }

// TestPanicIsOneLine: a panic becomes one line and exit status 3.
func TestPanicIsOneLine(t *testing.T) {
	t.Setenv("FAULTLINE_TRACEBACK", "")
	var err error
	require.NotPanics(t, func() {
		err = runSafely(context.Background(), cli.Streams{In: strings.NewReader(""), Out: panicWriter{}, Err: panicWriter{}}, []string{"list"})
	})
	require.Error(t, err)
	assert.Equal(t, cli.ExitInternal, cli.Code(err))
	assert.Contains(t, err.Error(), "internal error (a bug; please report it with the command line): ")
	assert.Contains(t, err.Error(), "boom with a second line")
	assert.NotContains(t, err.Error(), "\n")
}
