// Package optimize is `faultline optimize`: the cheapest setting of some knobs at which every
// objective meets its target with stated confidence.
package optimize

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/spf13/cobra"

	"github.com/faultline-dev/faultline/cmd/faultline/app/cli"
	"github.com/faultline-dev/faultline/scenarios"
	"github.com/faultline-dev/faultline/scenarios/search"
)

type flags struct {
	variant    string
	knobs      []string
	costs      []string
	objectives []string
	level      float64
	allowed    float64
	seed       uint64
	minSeeds   int
	maxSeeds   int
	workers    int
	out        cli.OutFolder
	json       bool
	quiet      bool
}

// NewCommand returns the optimize verb.
func NewCommand(s cli.Streams) *cobra.Command {
	f := &flags{}
	cmd := &cobra.Command{
		Use:   "optimize NAME|PATH --variant V --knob PATH=FROM:TO:STEP [--knob ...]",
		Short: "Find the cheapest setting of some knobs at which every objective meets its target",
		Long: `optimize searches knob values for the cheapest setting at which every objective (those named
with --objective, else every objective with a target) is met with stated confidence: the one-sided
Clopper-Pearson upper bound, at --level, of the share of seeds missing the target is at most
--allowed.

A knob is PATH=FROM:TO:STEP (numbers or Go durations) or PATH=V1,V2,..., PATH as in --set of run
and sweep (spec.FIELD or KIND/NAME:FIELD). FROM is the cheap end: 3:8:1 prefers fewer, 40:10:5
prefers more. Seeds are added to a setting in doubling batches (from --min-seeds, at most
--max-seeds) only while its verdict is open: a setting that misses on every seed is rejected
after a few, one that passes needs enough clean seeds for the bound (59 for 5 % at 95 %).

One knob is bisected when a coarse scan shows the missed share never rising toward the dear
end, and walked value by value (a grid) otherwise. Several knobs without --cost are optimized
one at a time in the order given (the first is kept cheapest), the later ones held at their
dear end; with --cost PATH=PER_UNIT the grid is walked in order of total cost, skipping settings
no dearer in any knob than one that missed. The output says which method ran.

It writes --out (default results/<scenario>/optimize-<UTC time>/): optimize.json, report.md, report.html and
an SVG per knob and objective with the boundary marked. --json prints the result as one JSON
object whose "setting" maps each knob's PATH to the value chosen.`,
		Example: `  faultline optimize ingress-502-graceful-shutdown --variant baseline \
    --knob 'deployment/api:spec.template.spec.containers[0].lifecycle.preStop.sleep.seconds=10:60:5' --objective no-502
  faultline optimize kernel-panic-stacking --variant baseline --knob 'spec.cluster.nodePools[0].count=3:8:1' \
    --objective cascade --objective node-panics --json`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error { return execute(cmd.Context(), s, f, args[0]) },
	}
	fl := cmd.Flags()
	fl.StringVar(&f.variant, "variant", "", "the variant to tune (default: the baseline)")
	fl.StringArrayVar(&f.knobs, "knob", nil, "PATH=FROM:TO:STEP or PATH=V1,V2,... to search, cheapest first (repeatable)")
	fl.StringArrayVar(&f.costs, "cost", nil, "PATH=PER_UNIT: the cost of one unit of a knob (repeatable; seconds for durations)")
	fl.StringArrayVar(&f.objectives, "objective", nil, "objectives to meet (default: every objective with a target)")
	fl.Float64Var(&f.level, "level", 0.95, "confidence level of the bounds")
	fl.Float64Var(&f.allowed, "allowed", 0.05, "share of seeds that may miss an objective")
	fl.Uint64Var(&f.seed, "seed", 1, "first seed (every setting plays the same seeds)")
	fl.IntVar(&f.minSeeds, "min-seeds", 4, "first batch of seeds at a setting")
	fl.IntVar(&f.maxSeeds, "max-seeds", 256, "most seeds at one setting; still undecided then counts as missing")
	fl.IntVar(&f.workers, "workers", 0, "parallel seeds (default: all cores)")
	f.out.AddFlags(fl, "optimize-")
	fl.BoolVar(&f.json, "json", false, "print the result as one JSON object")
	fl.BoolVarP(&f.quiet, "quiet", "q", false, "no progress lines")
	return cmd
}

func execute(ctx context.Context, s cli.Streams, f *flags, target string) error {
	if len(f.knobs) == 0 {
		return cli.BadInput(errors.New("nothing to change: give --knob PATH=FROM:TO:STEP"))
	}
	sc, err := scenarios.Open(target)
	if err != nil {
		return cli.BadInput(err)
	}
	cfg := search.OptimizeConfig{Scenario: sc, Variant: f.variant, Level: f.level, Allowed: f.allowed,
		FirstSeed: f.seed, MinSeeds: f.minSeeds, MaxSeeds: f.maxSeeds, Workers: f.workers}
	if cfg.Variant == "" {
		cfg.Variant = sc.Baseline()
	}
	for _, k := range f.knobs {
		kn, err := search.ParseKnob(k)
		if err != nil {
			return cli.BadInput(err)
		}
		cfg.Knobs = append(cfg.Knobs, kn)
	}
	for _, c := range f.costs {
		path, per, err := search.ParseCost(c)
		if err != nil {
			return cli.BadInput(err)
		}
		found := false
		for i := range cfg.Knobs {
			if cfg.Knobs[i].Path == path {
				cfg.Knobs[i].Cost, found = per, true
			}
		}
		if !found {
			return cli.BadInput(fmt.Errorf("--cost %q: no --knob with path %s", c, path))
		}
	}
	if cfg.Objectives, err = search.Objectives(sc, f.objectives); err != nil {
		return cli.BadInput(err)
	}
	if !f.quiet {
		cfg.Progress = func(line string) { fmt.Fprintln(s.Err, line) }
	}
	if err := f.out.Check(); err != nil {
		return cli.BadInput(fmt.Errorf("--out %w", err))
	}
	started := time.Now()
	res, err := search.Optimize(ctx, cfg)
	if err != nil {
		return cli.BadInput(err)
	}
	stage, err := f.out.Stage(sc.Name(), "optimize-", started)
	if err != nil {
		return err
	}
	defer stage.Discard()
	if err := search.WriteOptimize(stage.Dir, res); err != nil {
		return fmt.Errorf("write %s: %w", stage.Dir, err)
	}
	dir, err := stage.Publish()
	if err != nil {
		return fmt.Errorf("write results: %w", err)
	}
	if f.json {
		b, err := json.Marshal(res)
		if err != nil {
			return err
		}
		fmt.Fprintln(s.Out, string(b))
	} else {
		if res.Found {
			fmt.Fprintf(s.Out, "cheapest setting meeting %d objective(s) for %s/%s:\n", len(cfg.Objectives), sc.Name(), cfg.Variant)
			for _, k := range cfg.Knobs {
				fmt.Fprintf(s.Out, "  %s = %v\n", k.Path, res.Setting[k.Path])
			}
			fmt.Fprintf(s.Out, "confidence %.3f (%s bound at %g, allowed share %g)\n", res.Confidence, res.Bound, res.Level, res.Allowed)
			for _, o := range res.Objectives {
				fmt.Fprintf(s.Out, "  %s %s: missed %d of %d seeds, upper bound %.3f\n", o.Name, o.Target, o.Missed, o.Seeds, o.Upper)
			}
		} else {
			fmt.Fprintln(s.Out, "no setting in range meets every objective")
		}
		fmt.Fprintf(s.Out, "method %s; %d runs over %d settings in %.2f s\nwrote %s\n", res.Method, res.Evaluations, res.Settings, res.Seconds, dir)
	}
	if res.Interrupted {
		return &cli.ExitError{Code: cli.ExitInterrupted, Err: fmt.Errorf("interrupted: wrote what was decided to %s", dir)}
	}
	return nil
}
