// Package explore is `faultline explore`: generated fault schedules, steered toward states not
// seen before, looking for seeds where a variant misses an objective.
package explore

import (
	"context"
	"encoding/json"
	"fmt"
	"path/filepath"
	"time"

	"github.com/spf13/cobra"

	"github.com/faultline-dev/faultline/cmd/faultline/app/cli"
	"github.com/faultline-dev/faultline/scenarios"
	"github.com/faultline-dev/faultline/scenarios/search"
)

type flags struct {
	variant      string
	against      string
	objectives   []string
	budget       int
	seed         uint64
	seeds        int
	maxFaults    int
	maxFinds     int
	shrinkBudget int
	workers      int
	out          cli.OutFolder
	json         bool
	quiet        bool
}

// NewCommand returns the explore verb.
func NewCommand(s cli.Streams) *cobra.Command {
	f := &flags{}
	cmd := &cobra.Command{
		Use:   "explore NAME|PATH --variant V --budget N",
		Short: "Generate fault schedules no one wrote and keep those where a variant misses an objective",
		Long: `explore adds generated fault schedules (up to --max-faults faults each) to a scenario and plays
the variant on simulation seeds 1..--seeds, within --budget runs. Faults come from what the
simulator models: pod kill and pod failure, network loss, CPU stress on pods (the load spike the
format can express), node stop and reset, kube-controller-manager down, a control-plane upgrade
(a webhook's backend hangs when a pod fault hits its pods), at random times and targets drawn
from the scenario's own nodes and workloads.

It is steered like a coverage-guided fuzzer: each run gets a coverage signature (every
indicator in a power-of-two bucket, and the objectives missed); a schedule that reaches a
signature not seen before is kept, and most new schedules mutate a kept one (add, drop, move or
replace a fault). A find is a seed where the variant misses an objective it met on that seed
without the generated faults; with --against baseline, also only where the baseline meets it
under the same schedule (the mitigation's own weaknesses, not faults every variant fails
under). Each find is shrunk (as faultline shrink does, keeping the faults
the cause) and written to --out/find-N/ as a scenario ready for the library, with its trace and
a diff; explore.json lists them all.

Deterministic given --seed: schedules are drawn in batches from one stream and judged in batch
order, whatever --workers is. Ctrl-C keeps the finds written so far.`,
		Example: `  faultline explore kernel-panic-stacking --variant anti-affinity --budget 400
  faultline explore ingress-502-graceful-shutdown --variant prestop-45s --against baseline --budget 200 --seed 3 --json`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error { return execute(cmd.Context(), s, f, args[0]) },
	}
	fl := cmd.Flags()
	fl.StringVar(&f.variant, "variant", "", "the variant to attack (default: the baseline)")
	fl.StringVar(&f.against, "against", "", "count a miss only when this variant (the baseline, say) meets the objective on the same schedule and seed")
	fl.StringArrayVar(&f.objectives, "objective", nil, "objectives to watch (default: every objective with a target)")
	fl.IntVar(&f.budget, "budget", 200, "simulation runs to spend exploring (shrinking is counted apart)")
	fl.Uint64Var(&f.seed, "seed", 1, "the explorer's own seed")
	fl.IntVar(&f.seeds, "seeds", 2, "simulation seeds each schedule plays (1..N)")
	fl.IntVar(&f.maxFaults, "max-faults", 3, "most generated faults in one schedule")
	fl.IntVar(&f.maxFinds, "max-finds", 5, "stop after this many distinct finds")
	fl.IntVar(&f.shrinkBudget, "shrink-budget", 500, "most runs spent shrinking one find")
	fl.IntVar(&f.workers, "workers", 0, "parallel runs (default: all cores)")
	f.out.AddFlags(fl, "explore-")
	fl.BoolVar(&f.json, "json", false, "print the result as one JSON object")
	fl.BoolVarP(&f.quiet, "quiet", "q", false, "no progress lines")
	return cmd
}

func execute(ctx context.Context, s cli.Streams, f *flags, target string) error {
	sc, err := scenarios.Open(target)
	if err != nil {
		return cli.BadInput(err)
	}
	objs, err := search.Objectives(sc, f.objectives)
	if err != nil {
		return cli.BadInput(err)
	}
	variant := f.variant
	if variant == "" {
		variant = sc.Baseline()
	}
	if f.budget <= 0 || f.seeds <= 0 {
		return cli.BadInput(fmt.Errorf("--budget %d and --seeds %d: expected positive numbers", f.budget, f.seeds))
	}
	if err := f.out.Check(); err != nil {
		return cli.BadInput(fmt.Errorf("--out %w", err))
	}
	started := time.Now()
	// the finds are written as they are found, into a staged folder published whole at the end
	stage, err := f.out.Stage(sc.Name(), "explore-", started)
	if err != nil {
		return err
	}
	defer stage.Discard()
	cfg := search.ExploreConfig{Scenario: sc, Variant: variant, Objectives: objs, Budget: f.budget, Seed: f.seed,
		Seeds: f.seeds, MaxFaults: f.maxFaults, MaxFinds: f.maxFinds, ShrinkBudget: f.shrinkBudget, Workers: f.workers, Out: stage.Dir, Against: f.against}
	if !f.quiet {
		cfg.Progress = func(line string) { fmt.Fprintln(s.Err, line) }
	}
	res, err := search.Explore(ctx, cfg)
	if err != nil {
		return cli.BadInput(err)
	}
	// explore.json names each find's folder relative to itself, so the folder can move
	for i := range res.Finds {
		if res.Finds[i].Dir != "" {
			res.Finds[i].Dir = filepath.Base(res.Finds[i].Dir)
		}
	}
	if err := search.WriteExplore(stage.Dir, res); err != nil {
		return fmt.Errorf("write %s: %w", stage.Dir, err)
	}
	dir, err := stage.Publish()
	if err != nil {
		return fmt.Errorf("write results: %w", err)
	}
	for i := range res.Finds {
		if res.Finds[i].Dir != "" {
			res.Finds[i].Dir = filepath.Join(dir, res.Finds[i].Dir)
		}
	}
	if f.json {
		b, err := json.Marshal(res)
		if err != nil {
			return err
		}
		fmt.Fprintln(s.Out, string(b))
	} else {
		fmt.Fprintf(s.Out, "%d runs over %d schedules (%d refused), %d coverage signatures, corpus %d, in %.2f s\n",
			res.Runs, res.Schedules, res.Refused, res.Signatures, res.Corpus, res.Seconds)
		if len(res.Finds) == 0 {
			fmt.Fprintf(s.Out, "no find: %s met every objective under every schedule tried\n", variant)
		}
		for i, fd := range res.Finds {
			fmt.Fprintf(s.Out, "find %d: %s misses %s on seed %d (%g); %d generated faults shrunk to %d (%d runs): %s\n",
				i+1, variant, fd.Objective, fd.Seed, fd.Value, len(fd.Faults), len(fd.Shrunk), fd.Runs, fd.Dir)
		}
		fmt.Fprintf(s.Out, "wrote %s\n", dir)
	}
	if res.Interrupted {
		return &cli.ExitError{Code: cli.ExitInterrupted, Err: fmt.Errorf("interrupted: wrote the %d finds so far to %s", len(res.Finds), dir)}
	}
	return nil
}
