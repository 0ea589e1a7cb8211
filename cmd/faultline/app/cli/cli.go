// Package cli holds what every faultline verb shares: I/O streams, exit codes and errors.
package cli

import (
	"errors"
	"io"
	"os"

	"golang.org/x/term"
)

// Version is set at build time with -ldflags "-X .../cli.Version=...".
var Version = "dev"

// Streams are the verb's standard streams, so that tests can capture them.
type Streams struct {
	In  io.Reader
	Out io.Writer
	Err io.Writer
}

// StdStreams are the process's streams.
func StdStreams() Streams { return Streams{In: os.Stdin, Out: os.Stdout, Err: os.Stderr} }

// IsTerminal reports whether w is an interactive terminal.
func IsTerminal(w io.Writer) bool {
	f, ok := w.(*os.File)
	return ok && term.IsTerminal(int(f.Fd()))
}

// Exit codes.
const (
	ExitOK          = 0
	ExitFailure     = 1   // a run failed
	ExitBadInput    = 2   // the scenario or the command line is wrong
	ExitInternal    = 3   // a bug in faultline: a panic, reported as one line
	ExitInterrupted = 130 // stopped by Ctrl-C; partial results were written
	ExitTerminated  = 143 // ended at once by SIGTERM
)

// ExitError carries an exit code to Main.
type ExitError struct {
	Code int
	Err  error
}

func (e *ExitError) Error() string {
	if e.Err == nil {
		return ""
	}
	return e.Err.Error()
}

func (e *ExitError) Unwrap() error { return e.Err }

// BadInput wraps err with exit status 2.
func BadInput(err error) error { return &ExitError{Code: ExitBadInput, Err: err} }

// Code returns the exit code for err.
func Code(err error) int {
	if err == nil {
		return ExitOK
	}
	var ee *ExitError
	if errors.As(err, &ee) {
		return ee.Code
	}
	return ExitFailure
}
