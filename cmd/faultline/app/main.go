// Package app is the faultline command: Main wires the process to Run, which tests call directly.
package app

import (
	"context"
	"fmt"
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
	"github.com/faultline-dev/faultline/cmd/faultline/app/fidelity"
	importcmd "github.com/faultline-dev/faultline/cmd/faultline/app/import"
	"github.com/faultline-dev/faultline/cmd/faultline/app/list"
	"github.com/faultline-dev/faultline/cmd/faultline/app/platform"
	"github.com/faultline-dev/faultline/cmd/faultline/app/record"
	"github.com/faultline-dev/faultline/cmd/faultline/app/report"
	"github.com/faultline-dev/faultline/cmd/faultline/app/run"
	"github.com/faultline-dev/faultline/cmd/faultline/app/sweep"
	"github.com/faultline-dev/faultline/cmd/faultline/app/validate"
)

// Main runs the command line and exits with its status.
func Main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	err := Run(ctx, cli.StdStreams(), os.Args[1:])
	stop()
	if err != nil {
		if msg := err.Error(); msg != "" {
			fmt.Fprintln(os.Stderr, "faultline:", msg)
		}
	}
	os.Exit(cli.Code(err))
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
