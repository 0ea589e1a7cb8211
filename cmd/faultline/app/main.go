// Package app is the faultline command: Main wires the process to Run, which tests call directly.
package app

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/signal"
	"strings"
	"syscall"

	"github.com/spf13/cobra"

	"github.com/faultline-dev/faultline/cmd/faultline/app/bench"
	"github.com/faultline-dev/faultline/cmd/faultline/app/check"
	"github.com/faultline-dev/faultline/cmd/faultline/app/cli"
	"github.com/faultline-dev/faultline/cmd/faultline/app/cluster"
	"github.com/faultline-dev/faultline/cmd/faultline/app/cron"
	"github.com/faultline-dev/faultline/cmd/faultline/app/explore"
	"github.com/faultline-dev/faultline/cmd/faultline/app/fidelity"
	importcmd "github.com/faultline-dev/faultline/cmd/faultline/app/import"
	"github.com/faultline-dev/faultline/cmd/faultline/app/list"
	"github.com/faultline-dev/faultline/cmd/faultline/app/optimize"
	"github.com/faultline-dev/faultline/cmd/faultline/app/platform"
	"github.com/faultline-dev/faultline/cmd/faultline/app/record"
	"github.com/faultline-dev/faultline/cmd/faultline/app/report"
	"github.com/faultline-dev/faultline/cmd/faultline/app/run"
	"github.com/faultline-dev/faultline/cmd/faultline/app/shrink"
	"github.com/faultline-dev/faultline/cmd/faultline/app/sweep"
	"github.com/faultline-dev/faultline/cmd/faultline/app/validate"
	"github.com/faultline-dev/faultline/scenarios/runner"
)

// Main runs the command line and exits with its status. The first Ctrl-C cancels the command's
// context (a run stops and writes what finished, exit 130); a second Ctrl-C ends the process at
// once with 130, and SIGTERM at once with 143. A panic of the command is one line and exit 3.
func Main() {
	ctx, cancel := context.WithCancel(context.Background())
	sigs := make(chan os.Signal, 2)
	signal.Notify(sigs, os.Interrupt, syscall.SIGTERM)
	go watchSignals(sigs, cancel, os.Stderr, os.Exit)
	err := runSafely(ctx, cli.StdStreams(), os.Args[1:])
	signal.Stop(sigs)
	cancel()
	if err != nil {
		if msg := err.Error(); msg != "" {
			fmt.Fprintln(os.Stderr, "faultline:", msg)
		}
	}
	os.Exit(cli.Code(err))
}

// watchSignals turns signals into the behaviour Main documents: the first interrupt calls
// cancel, the second calls exit(130); a SIGTERM calls exit(143).
func watchSignals(sigs <-chan os.Signal, cancel func(), errw io.Writer, exit func(int)) {
	interrupts := 0
	for sig := range sigs {
		if sig == syscall.SIGTERM {
			fmt.Fprintln(errw, "faultline: terminated")
			exit(cli.ExitTerminated)
			return
		}
		interrupts++
		if interrupts == 1 {
			fmt.Fprintln(errw, "faultline: interrupted; stopping and writing what finished (Ctrl-C again to quit at once)")
			cancel()
			continue
		}
		fmt.Fprintln(errw, "faultline: interrupted again; quitting at once")
		exit(cli.ExitInterrupted)
		return
	}
}

// runSafely is Run with a panic turned into an error with exit status 3: one line, the panic's
// value and where to report it, no stack trace (FAULTLINE_TRACEBACK=1 keeps Go's).
func runSafely(ctx context.Context, s cli.Streams, args []string) (err error) {
	if os.Getenv("FAULTLINE_TRACEBACK") == "" {
		defer func() {
			if r := recover(); r != nil {
				msg := strings.Join(strings.Fields(fmt.Sprint(r)), " ")
				err = &cli.ExitError{Code: cli.ExitInternal, Err: fmt.Errorf("internal error (a bug; please report it with the command line): %s", msg)}
			}
		}()
	}
	err = Run(ctx, s, args)
	// a panic in a simulation worker is caught there (it cannot unwind into this goroutine)
	var pe *runner.PanicError
	if errors.As(err, &pe) {
		if os.Getenv("FAULTLINE_TRACEBACK") != "" {
			fmt.Fprintf(s.Err, "%s\n", pe.Stack)
		}
		return &cli.ExitError{Code: cli.ExitInternal, Err: fmt.Errorf("internal error (a bug; please report it with the command line): %w", err)}
	}
	return err
}

// Run executes one command line.
func Run(ctx context.Context, s cli.Streams, args []string) error {
	root := NewCommand(s)
	root.SetArgs(args)
	root.SetIn(s.In)
	root.SetOut(s.Out)
	root.SetErr(s.Err)
	err := root.ExecuteContext(ctx)
	if err != nil && cli.Code(err) == cli.ExitFailure {
		// cobra's own usage errors (unknown flag, wrong arguments) are bad input
		if _, ok := err.(*cli.ExitError); !ok && isUsageError(err) {
			return cli.BadInput(err)
		}
	}
	return err
}

// NewCommand builds the command tree.
func NewCommand(s cli.Streams) *cobra.Command {
	root := &cobra.Command{
		Use:   "faultline",
		Short: "Replay Kubernetes incidents and measure which mitigation really helps",
		Long: `faultline replays production Kubernetes incidents (scheduler stacking and kernel-panic
cascades, webhook-blocked upgrades, CronJob missed-start storms, deep readiness cascades,
ingress 502s, cron jobs on deleted images) in a deterministic discrete-event simulator, over
many seeds, and scores every mitigation against the baseline with confidence intervals.

A scenario is one YAML file with real Kubernetes manifests, Chaos Mesh fault objects, the load,
the variants (baseline and mitigations, as patches) and the objectives. The same seed always
gives the same bytes out.`,
		Example: `  faultline list
  faultline run kernel-panic-stacking
  faultline run kernel-panic-stacking --seeds 500 --variant baseline --variant anti-affinity
  faultline run scenarios/kernel-panic-stacking/scenario.yaml --seed 7 --seeds 1 --trace
  faultline validate my-scenario.yaml`,
		SilenceUsage:  true,
		SilenceErrors: true,
		Version:       cli.Version,
	}
	root.AddCommand(run.NewCommand(s), validate.NewCommand(s), list.NewCommand(s), check.NewCommand(s), sweep.NewCommand(s), bench.NewCommand(s))
	root.AddCommand(report.NewCommand(s))
	root.AddCommand(cluster.NewCommand(s))
	root.AddCommand(platform.NewCommand(s))
	root.AddCommand(cron.NewCommand(s))
	root.AddCommand(fidelity.NewCommand(s))
	root.AddCommand(optimize.NewCommand(s))
	root.AddCommand(shrink.NewCommand(s))
	root.AddCommand(explore.NewCommand(s))
	root.AddCommand(importcmd.NewCommand(s))
	root.AddCommand(record.NewCommand(s))
	return root
}

func isUsageError(err error) bool {
	msg := err.Error()
	for _, p := range []string{"unknown flag", "unknown shorthand flag", "unknown command", "accepts ", "requires at least", "invalid argument", "flag needs an argument", "requires exactly"} {
		if strings.Contains(msg, p) {
			return true
		}
	}
	return false
}
