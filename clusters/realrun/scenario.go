package realrun

import (
	"context"
	"fmt"
	"slices"

	"github.com/faultline-dev/faultline/results"
	"github.com/faultline-dev/faultline/scenarios"
	"github.com/faultline-dev/faultline/scenarios/runner"
	"github.com/faultline-dev/faultline/sim"
)

// Plan says which runs of a scenario to make in the real world.
type Plan struct {
	Variants []string // empty: all, in file order
	// Repetitions per variant; their seeds are FirstSeed, FirstSeed+1, ...
	Repetitions int
	FirstSeed   uint64
	Options     Options
	// Progress is told about each run as it starts.
	Progress func(variant string, rep, of int, cluster string)
}

// RunScenario makes every run of the plan, each on a cluster from src, and returns them as the
// simulator's runner would, so that package results scores them unchanged. Runs that failed are
// left not Done; the first error is returned with what finished.
func RunScenario(ctx context.Context, sc *scenarios.Scenario, plan Plan, src Source) (*runner.Outcome, [][]*Report, error) {
	names := plan.Variants
	if len(names) == 0 {
		names = sc.VariantNames()
	}
	reps := max(plan.Repetitions, 1)
	out := &runner.Outcome{Scenario: sc, Variants: names, Seeds: runner.SeedRange(plan.FirstSeed, reps)}
	out.Results = make([][]sim.Result, len(names))
	out.Done = make([][]bool, len(names))
	reports := make([][]*Report, len(names))
	for v := range names {
		out.Results[v] = make([]sim.Result, reps)
		out.Done[v] = make([]bool, reps)
		reports[v] = make([]*Report, reps)
	}
	var firstErr error
	for i := range reps {
		for v, name := range names {
			if ctx.Err() != nil {
				out.Interrupted = true
				return out, reports, ctx.Err()
			}
			variant, err := sc.Variant(name)
			if err != nil {
				return out, reports, err
			}
			in := sc.Compile(variant)
			opts := plan.Options
			opts.Seed = out.Seeds[i]
			opts.Platform = variant.Spec.Platform // the platform under test runs in both worlds
			opts.Chaos = map[string][]byte{}
			for _, f := range variant.Faults {
				opts.Chaos[f.Sim.Name] = f.JSON
			}
			cl, err := src.Acquire(ctx, in, i+1)
			if err != nil {
				return out, reports, fmt.Errorf("variant %s repetition %d: cluster: %w", name, i+1, err)
			}
			if plan.Progress != nil {
				plan.Progress(name, i+1, reps, cl.Name)
			}
			opts.PromQL = sc.PromQL(in)
			opts.Platform = variant.Spec.Platform
			opts.ControlPlane = cl.ControlPlane
			opts.Real = cl.Real
			opts.Cleanup = !cl.Throwaway
			res, rep, err := Run(ctx, cl.Config, in, opts)
			if rerr := cl.Release(context.WithoutCancel(ctx)); rerr != nil && err == nil {
				err = fmt.Errorf("delete cluster %s: %w", cl.Name, rerr)
			}
			reports[v][i] = rep
			if err != nil && rep != nil && ctx.Err() != nil && rep.Invalid == nil {
				rep.Partial = res.Indicators // cut short by the user: kept, not scored
			}
			if err != nil {
				if firstErr == nil {
					firstErr = fmt.Errorf("variant %s repetition %d: %w", name, i+1, err)
				}
				if ctx.Err() != nil {
					out.Interrupted = true
					return out, reports, ctx.Err()
				}
				continue
			}
			out.Results[v][i] = res
			out.Done[v][i] = true
		}
	}
	return out, reports, firstErr
}

// Measured returns the indicator names the outcome's finished runs hold, in first-seen order.
func Measured(out *runner.Outcome) []string {
	var names []string
	for v := range out.Results {
		for i, r := range out.Results[v] {
			if !out.Done[v][i] {
				continue
			}
			for _, ind := range r.Indicators {
				if !slices.Contains(names, ind.Name) {
					names = append(names, ind.Name)
				}
			}
		}
	}
	return names
}

// Scores is runner.Outcome.Scores for a real run: the objectives whose indicator the real world
// did not measure are dropped (and returned), rather than scored as zeros.
//
// Runs the reports mark invalid (the world under them broke) are listed in the input's Invalid
// with their reasons, so that summary.json says which runs are missing and why.
func Scores(out *runner.Outcome, reports [][]*Report, version string) (results.Input, []string) {
	in := out.Scores(version)
	for v := range reports {
		for i, rep := range reports[v] {
			if rep != nil && len(rep.Invalid) > 0 && v < len(out.Done) && !out.Done[v][i] {
				in.Invalid = append(in.Invalid, results.InvalidRun{Variant: out.Variants[v], Seed: out.Seeds[i], Reasons: rep.Invalid})
			}
		}
	}
	var kept []results.Objective
	var dropped []string
	for _, o := range in.Objectives {
		if slices.Contains(in.Indicators, o.Indicator) {
			kept = append(kept, o)
		} else {
			dropped = append(dropped, o.Name+" ("+o.Indicator+")")
		}
	}
	in.Objectives = kept
	return in, dropped
}
