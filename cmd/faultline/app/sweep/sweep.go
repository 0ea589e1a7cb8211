// Package sweep is `faultline sweep`: a scenario over a grid of parameter values.
package sweep

import (
	"context"
	"errors"
	"fmt"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/faultline-dev/faultline/cmd/faultline/app/cli"
	"github.com/faultline-dev/faultline/cmd/faultline/app/run"
	"github.com/faultline-dev/faultline/results"
	"github.com/faultline-dev/faultline/results/report"
	"github.com/faultline-dev/faultline/scenarios"
	"github.com/faultline-dev/faultline/scenarios/runner"
)

type flags struct {
	sets     []string
	seed     uint64
	seeds    int
	variants []string
	out      string
	workers  int
	quiet    bool
	output   string
}

// NewCommand returns the sweep verb.
func NewCommand(s cli.Streams) *cobra.Command {
	f := &flags{}
	cmd := &cobra.Command{
		Use:   "sweep NAME|PATH --set PATH=VALUES [--set ...]",
		Short: "Run a scenario over a grid of parameter values and find where objectives cross their targets",
		Long: `sweep replays a scenario at every point of a parameter grid (the product of the --set lists),
each point over the same seeds, and reports each objective against the parameter with 95 %
intervals. For a one-parameter sweep it names the knee: the neighbouring values between which a
variant's objective starts or stops meeting its target.

PATH is spec.FIELD for anything in the scenario's spec (node pools, model parameters, load) or
KIND/NAME:FIELD for a manifest field; list indexes are written [i], and map keys that hold dots
or slashes in quoted brackets (metadata.annotations["platform.faultline.dev/cron"]). VALUES is a comma list
(1,2,4 or 10m,20m) or FROM:TO:STEP, numbers or Go durations (3:8:1, 5m:60m:5m). Each value is
what run's --set takes: commas inside [..], {..} or quotes belong to the value, so
--set 'deployment/api:spec.template.spec.readinessGates=[]' is one point and
--set 'spec.x=[a,b],[c]' two.

It writes results/<scenario>/sweep-<UTC time>/ (or --out): report.html and report.md (in the
run report's style: the knees, then per objective a table with one row per point and one column
per variant, mean with its 95 % interval, the share of seeds that missed the target and the
verdict against the baseline at that point, and for one numeric parameter a plot), sweep.json
(every point's full summary; each point records its values as --set overrides), sweep.csv and,
for one numeric parameter, an SVG plot per objective. -o json prints sweep.json on stdout
instead of the tables.`,
		Example: `  faultline sweep kernel-panic-stacking --set spec.cluster.nodePools[0].count=3:8:1 --seeds 50
  faultline sweep kernel-panic-stacking --set spec.cluster.models.kernelPanic.meanTimeToPanic=5m,20m,60m
  faultline sweep kernel-panic-stacking --set deployment/web:spec.replicas=2,3,4,6 --variant anti-affinity`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error { return execute(cmd.Context(), s, f, args[0]) },
	}
	fl := cmd.Flags()
	fl.StringArrayVar(&f.sets, "set", nil, "PATH=VALUES to vary (repeatable: the grid is the product)")
	fl.Uint64Var(&f.seed, "seed", 1, "first seed")
	fl.IntVar(&f.seeds, "seeds", 50, "seeds per variant at each point")
	fl.StringArrayVar(&f.variants, "variant", nil, "sweep only these variants (the baseline is added)")
	fl.StringVar(&f.out, "out", "", "sweep directory (default results/<scenario>/sweep-<UTC time>)")
	fl.IntVar(&f.workers, "workers", 0, "parallel seeds (default: all cores)")
	fl.BoolVarP(&f.quiet, "quiet", "q", false, "no progress lines")
	cli.AddOutputFlag(cmd, &f.output)
	return cmd
}

type param struct {
	path   string
	values []string
}

func execute(ctx context.Context, s cli.Streams, f *flags, target string) error {
	if err := cli.CheckOutput(f.output); err != nil {
		return err
	}
	if len(f.sets) == 0 {
		return cli.BadInput(errors.New("nothing to sweep: give --set PATH=VALUES"))
	}
	if f.seeds <= 0 {
		return cli.BadInput(fmt.Errorf("--seeds %d: expected a positive number", f.seeds))
	}
	var params []param
	for _, set := range f.sets {
		p, err := parseSet(set)
		if err != nil {
			return cli.BadInput(err)
		}
		params = append(params, p)
	}
	sc, err := scenarios.Open(target)
	if err != nil {
		return cli.BadInput(err)
	}
	grid := product(params)
	// check every point before running any, so a bad value fails fast
	scs := make([]*scenarios.Scenario, len(grid))
	for i, values := range grid {
		if scs[i], err = point(sc, params, values); err != nil {
			return cli.BadInput(err)
		}
	}
	variants := f.variants
	if len(variants) > 0 && !contains(variants, sc.Baseline()) {
		variants = append([]string{sc.Baseline()}, variants...)
	}
	sw := &results.Sweep{Schema: results.SchemaVersion, Scenario: sc.Name(), Digest: sc.Digest, Faultline: cli.Version}
	for _, p := range params {
		sw.Params = append(sw.Params, p.path)
	}
	started := time.Now()
	dir := f.out
	if dir == "" {
		dir = filepath.Join("results", sc.Name(), "sweep-"+started.UTC().Format("20060102T150405Z"))
	}
	var interrupted bool
	for i, c := range scs {
		out, err := runner.Run(ctx, c, runner.Config{Variants: variants, Seeds: runner.SeedRange(f.seed, f.seeds), Workers: f.workers})
		if errors.Is(err, context.Canceled) {
			interrupted = true
			break
		}
		if err != nil {
			return err
		}
		in := out.Scores(cli.Version)
		for pi, p := range params { // the point, as the overrides that made it
			in.Sets = append(in.Sets, p.path+"="+grid[i][pi])
		}
		sum, err := results.Summarize(in)
		if err != nil {
			return err
		}
		sw.Points = append(sw.Points, results.SweepPoint{Values: grid[i], Summary: sum})
		if !f.quiet {
			fmt.Fprintf(s.Err, "point %d/%d (%s) done, %s elapsed\n", i+1, len(grid), strings.Join(grid[i], ", "), time.Since(started).Round(time.Millisecond))
		}
	}
	sw.FindCrossings()
	if err := results.WriteSweep(dir, sw); err != nil {
		return fmt.Errorf("write %s: %w", dir, err)
	}
	reportErr := report.RenderSweep(dir, sw)
	if f.output == cli.OutputJSON {
		if err := cli.WriteJSON(s.Out, sw); err != nil {
			return err
		}
	} else {
		results.PrintSweep(s.Out, sw)
		fmt.Fprintf(s.Out, "\nwrote %s (%d of %d points)\n", dir, len(sw.Points), len(grid))
	}
	if reportErr != nil {
		fmt.Fprintf(s.Err, "warning: sweep report not rendered (%v); the figures are in %s/sweep.json\n", reportErr, dir)
	}
	if interrupted {
		return &cli.ExitError{Code: cli.ExitInterrupted, Err: fmt.Errorf("interrupted: wrote the %d points that finished to %s", len(sw.Points), dir)}
	}
	return nil
}

// point is the scenario at one point of the grid: each parameter set as `run --set` and
// `fidelity --set` set it (run.ApplySets: missing parents are created).
func point(sc *scenarios.Scenario, params []param, values []string) (*scenarios.Scenario, error) {
	sets := make([]string, len(params))
	for i, p := range params {
		sets[i] = p.path + "=" + values[i]
	}
	return run.ApplySets(sc, sets)
}

// parseSet parses PATH=V1,V2 or PATH=FROM:TO:STEP.
func parseSet(set string) (param, error) {
	path, spec, ok := strings.Cut(set, "=")
	if !ok || path == "" || spec == "" {
		return param{}, fmt.Errorf("--set %q: expected PATH=V1,V2,... or PATH=FROM:TO:STEP", set)
	}
	p := param{path: path}
	values := splitValues(spec)
	if parts := strings.Split(spec, ":"); len(parts) == 3 && len(values) == 1 && !strings.ContainsAny(spec, "[]{}\"'") {
		vals, err := expandRange(parts[0], parts[1], parts[2])
		if err != nil {
			return param{}, fmt.Errorf("--set %q: %v", set, err)
		}
		p.values = vals
		return p, nil
	}
	for _, v := range values {
		if v = strings.TrimSpace(v); v != "" {
			p.values = append(p.values, v)
		}
	}
	if len(p.values) == 0 {
		return param{}, fmt.Errorf("--set %q: no values", set)
	}
	return p, nil
}

// splitValues splits a sweep's value list at its top-level commas only, so that one value may be
// a list or a map written as run's --set takes it ("[]", "[a,b]", "{cpu: 1, memory: 2Gi}",
// "'a,b'"): --set means the same value in run, fidelity and sweep, sweep only adds the commas
// between the values it varies.
func splitValues(spec string) []string {
	var out []string
	depth, start := 0, 0
	var quote rune
	for i, c := range spec {
		switch {
		case quote != 0:
			if c == quote {
				quote = 0
			}
		case c == '"' || c == '\'':
			quote = c
		case c == '[' || c == '{':
			depth++
		case (c == ']' || c == '}') && depth > 0:
			depth--
		case c == ',' && depth == 0:
			out = append(out, spec[start:i])
			start = i + 1
		}
	}
	return append(out, spec[start:])
}

const maxPoints = 1000

func expandRange(from, to, step string) ([]string, error) {
	if a, err1 := strconv.ParseFloat(from, 64); err1 == nil {
		b, err2 := strconv.ParseFloat(to, 64)
		st, err3 := strconv.ParseFloat(step, 64)
		if err2 != nil || err3 != nil || st <= 0 || b < a {
			return nil, fmt.Errorf("FROM:TO:STEP needs numbers with FROM <= TO and STEP > 0")
		}
		var out []string
		for i := 0; ; i++ {
			x := a + float64(i)*st
			if x > b+st*1e-9 || len(out) > maxPoints {
				break
			}
			out = append(out, strconv.FormatFloat(x, 'g', -1, 64))
		}
		return out, nil
	}
	a, err1 := time.ParseDuration(from)
	b, err2 := time.ParseDuration(to)
	st, err3 := time.ParseDuration(step)
	if err1 != nil || err2 != nil || err3 != nil || st <= 0 || b < a {
		return nil, fmt.Errorf("FROM:TO:STEP needs numbers or durations with FROM <= TO and STEP > 0")
	}
	var out []string
	for x := a; x <= b && len(out) <= maxPoints; x += st {
		out = append(out, x.String())
	}
	return out, nil
}

// product is the grid: every combination, the last parameter varying fastest.
func product(ps []param) [][]string {
	grid := [][]string{{}}
	for _, p := range ps {
		var next [][]string
		for _, g := range grid {
			for _, v := range p.values {
				next = append(next, append(append([]string{}, g...), v))
			}
		}
		grid = next
	}
	return grid
}

func contains(xs []string, x string) bool {
	for _, y := range xs {
		if y == x {
			return true
		}
	}
	return false
}
