// Package shrink is `faultline shrink`: the smallest scenario that still misses an objective on
// one seed.
package shrink

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/spf13/cobra"

	"github.com/faultline-dev/faultline/cmd/faultline/app/cli"
	"github.com/faultline-dev/faultline/scenarios"
	"github.com/faultline-dev/faultline/scenarios/search"
)

type flags struct {
	seed      uint64
	variant   string
	objective string
	budget    int
	out       cli.OutFolder
	quiet     bool
}

// NewCommand returns the shrink verb.
func NewCommand(s cli.Streams) *cobra.Command {
	f := &flags{}
	cmd := &cobra.Command{
		Use:   "shrink NAME|PATH --seed N --variant V --objective O",
		Short: "Reduce a scenario to the smallest one that still misses an objective on one seed",
		Long: `shrink takes a scenario whose variant misses an objective on a seed and removes what does not
matter: delta debugging (ddmin) over the faults, changes, other variants, load entries, objects,
templates and node pools, then halving of numeric parameters (the duration, node-pool and
template counts, Deployment replicas), repeated until nothing more can go. Every candidate is
written as a scenario file and loaded by the scenario loader, so the result is valid; a
candidate that no longer measures the objective's indicator does not count as missing.

It writes --out (default results/<scenario>/shrink-<UTC time>/): scenario.yaml (the shrunk
scenario, self-contained, objects inlined), original.yaml (the original in the same form),
shrink.diff (a unified diff between them) and trace.log (the shrunk run's event log).`,
		Example: `  faultline shrink kernel-panic-stacking --seed 7 --variant baseline --objective cascade
  faultline shrink my-scenario.yaml --seed 3 --variant prestop-10s --objective no-502 --out shrunk/`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error { return execute(cmd.Context(), s, f, args[0]) },
	}
	fl := cmd.Flags()
	fl.Uint64Var(&f.seed, "seed", 1, "the seed on which the variant misses the objective")
	fl.StringVar(&f.variant, "variant", "", "the variant (default: the baseline)")
	fl.StringVar(&f.objective, "objective", "", "the objective missed (required; it must have a target)")
	fl.IntVar(&f.budget, "budget", 2000, "most simulation runs to spend")
	f.out.AddFlags(fl, "shrink-")
	fl.BoolVarP(&f.quiet, "quiet", "q", false, "no progress lines")
	return cmd
}

func execute(ctx context.Context, s cli.Streams, f *flags, target string) error {
	if f.objective == "" {
		return cli.BadInput(errors.New("--objective: required; name the objective the seed misses"))
	}
	sc, err := scenarios.Open(target)
	if err != nil {
		return cli.BadInput(err)
	}
	objs, err := search.Objectives(sc, []string{f.objective})
	if err != nil {
		return cli.BadInput(err)
	}
	variant := f.variant
	if variant == "" {
		variant = sc.Baseline()
	}
	if _, err := sc.Variant(variant); err != nil {
		return cli.BadInput(err)
	}
	cfg := search.ShrinkConfig{Scenario: sc, Seed: f.seed, Variant: variant, Objective: objs[0], Budget: f.budget}
	if err := f.out.Check(); err != nil {
		return cli.BadInput(fmt.Errorf("--out %w", err))
	}
	started := time.Now()
	if !f.quiet {
		cfg.Progress = func(line string) {
			fmt.Fprintf(s.Err, "%s, %s elapsed\n", line, time.Since(started).Round(time.Millisecond))
		}
	}
	res, err := search.Shrink(ctx, cfg)
	if err != nil {
		return cli.BadInput(err)
	}
	stage, err := f.out.Stage(sc.Name(), "shrink-", started)
	if err != nil {
		return err
	}
	defer stage.Discard()
	if err := search.WriteShrink(stage.Dir, res, variant, f.seed); err != nil {
		return fmt.Errorf("write %s: %w", stage.Dir, err)
	}
	dir, err := stage.Publish()
	if err != nil {
		return fmt.Errorf("write results: %w", err)
	}
	fmt.Fprintf(s.Out, "%s on seed %d still misses %s (%s %s: %g) after shrinking:\n", variant, f.seed, objs[0].Name, objs[0].Indicator, objs[0].Target, res.Value)
	for _, k := range []string{"faults", "changes", "variants", "load", "objects", "templates", "cluster.nodePools"} {
		if res.Before[k] > 0 {
			fmt.Fprintf(s.Out, "  spec.%s: %d -> %d\n", k, res.Before[k], res.After[k])
		}
	}
	fmt.Fprintf(s.Out, "%d runs in %s\nwrote %s\n", res.Runs, time.Since(started).Round(time.Millisecond), dir)
	if ctx.Err() != nil {
		return &cli.ExitError{Code: cli.ExitInterrupted, Err: fmt.Errorf("interrupted: wrote the smallest scenario so far to %s", dir)}
	}
	return nil
}
