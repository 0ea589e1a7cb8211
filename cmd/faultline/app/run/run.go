// Package run is `faultline run`: replay a scenario's variants over many seeds and score them.
package run

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"slices"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/faultline-dev/faultline/cmd/faultline/app/cli"
	"github.com/faultline-dev/faultline/results"
	"github.com/faultline-dev/faultline/results/report"
	"github.com/faultline-dev/faultline/scenarios"
	"github.com/faultline-dev/faultline/scenarios/runner"
)

type flags struct {
	seed      uint64
	seeds     int
	variants  []string
	out       string
	overwrite bool
	trace     bool
	traceJSON bool // --trace-json
	workers   int
	json      bool
	quiet     bool
	precision float64
	maxSeeds  int
	failOn    string     // --junit-fail-on
	checkInv  bool       // --check-invariants
	real      realFlags  // --cluster, --kubeconfig, --context: the real world (real.go)
	shards    shardFlags // --shards: the seeds as a Kubernetes Indexed Job (shards.go)
}

// NewCommand returns the run verb.
func NewCommand(s cli.Streams) *cobra.Command {
	f := &flags{}
	cmd := &cobra.Command{
		Use:   "run NAME|PATH",
		Short: "Replay a scenario over many seeds and score each mitigation against the baseline",
		Long: `run replays every variant of a scenario (a built-in NAME from 'faultline list', a scenario
file, or a folder holding scenario.yaml) in the simulator, once per seed. Every variant sees the
same seeds and the same random streams per component (common random numbers), so differences
between variants come from the mitigation, not from luck.

It prints a table per variant and, per objective, the mean with its 95 % bootstrap interval,
the share of seeds that missed the target, the paired difference from the baseline and a
verdict (better / worse / no detectable difference). It writes the run directory
results/<scenario>/<run-id>/ (or --out): summary.json (versioned schema: seeds, scenario
digest, faultline version, every figure), seeds.csv (one row per variant and seed), the time
series of one representative seed per variant (the seed closest to the variant's median of
the first objective, replayed), report.md, a self-contained report.html with plots, and
junit.xml (one test case per variant and objective) for CI.

The same seed gives the same bytes: rerun with --seed S --seeds 1 --trace to see one replay's
event log with virtual timestamps, or --trace-json for the same events as JSON lines, one
object per event with its replay, virtual time, kind (the event's type) and fields in a fixed
order (durations in nanoseconds, wall times RFC 3339, CPU in cores):

  {"variant":"baseline","seed":42,"at":"+00d00:10:00.000","ns":600000000000,"kind":"PodBound","pod":"web-7d9c-1","node":"pool-a-2"}

With --trace-json the table goes to stderr, so stdout holds only the events. Ctrl-C stops early and still writes what finished; a second
Ctrl-C quits at once. The run directory is written beside its final place and renamed into it
whole; an existing --out that holds files is refused unless --overwrite.`,
		Example: `  faultline run kernel-panic-stacking
  faultline run kernel-panic-stacking --seeds 1000 --workers 2
  faultline run kernel-panic-stacking --variant baseline --variant topology-spread
  faultline run kernel-panic-stacking --seed 42 --seeds 1 --variant baseline --trace
  faultline run kernel-panic-stacking --seed 42 --seeds 1 --variant baseline --trace-json | jq -c 'select(.kind == "NodePanicked")'
  faultline run ./my-scenario.yaml --json > summary.json`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			return execute(cmd.Context(), s, f, args[0])
		},
	}
	fl := cmd.Flags()
	fl.Uint64Var(&f.seed, "seed", 1, "first seed; seeds are SEED, SEED+1, ...")
	fl.IntVar(&f.seeds, "seeds", 0, "number of seeds per variant (default: the scenario's spec.seeds, else 100)")
	fl.StringArrayVar(&f.variants, "variant", nil, "run only this variant (repeatable; the baseline is added for comparison)")
	fl.StringVar(&f.out, "out", "", "run directory (default results/<scenario>/run-<UTC time>, unique per run); refused if it holds files, unless --overwrite")
	fl.BoolVar(&f.overwrite, "overwrite", false, "replace a non-empty --out folder whole (the old files are deleted once the new run is in place)")
	fl.BoolVar(&f.trace, "trace", false, "print the event log of every replay with virtual timestamps (use with --seeds 1)")
	fl.BoolVar(&f.traceJSON, "trace-json", false, "print the event log of every replay as JSON lines: variant, seed, virtual time (at, ns), kind, then the event's fields (use with --seeds 1; the table goes to stderr)")
	fl.IntVar(&f.workers, "workers", 0, "parallel seeds (default: all cores); results do not depend on it")
	fl.BoolVar(&f.json, "json", false, "print summary.json to stdout instead of the table")
	fl.BoolVarP(&f.quiet, "quiet", "q", false, "no progress display")
	fl.Float64Var(&f.precision, "precision", 0, "add seeds (doubling) until every objective's CI half-width/|mean| <= P, e.g. 0.05")
	fl.IntVar(&f.maxSeeds, "max-seeds", 10000, "with --precision: stop adding seeds at this many")
	fl.StringVar(&f.failOn, "junit-fail-on", "mitigations", "which variants' missed targets fail junit.xml: mitigations (all but the baseline, which reproduces the incident on purpose), all, or none")
	fl.BoolVar(&f.checkInv, "check-invariants", false, "check the simulator's invariants after every event (requests fit allocatable, Ready endpoints are running pods, succeeded+failed=offered, no pod on a deleted node, every Job has its CronJob, the clock never goes back, the incremental CPU demand equals a full recomputation); the first violation fails the run, naming the invariant, virtual time, event and object. Costs about 2x run time; off, nothing")
	addRealFlags(cmd, &f.real)
	addShardFlags(cmd, &f.shards)
	return cmd
}

func execute(ctx context.Context, s cli.Streams, f *flags, target string) error {
	if _, err := report.ParseFailOn(f.failOn); err != nil {
		return cli.BadInput(err)
	}
	if f.traceJSON && (f.trace || f.json) {
		return cli.BadInput(errors.New("--trace-json prints to stdout: do not combine it with --trace or --json"))
	}
	if f.shards.worker {
		return executeShardWorker(ctx, s, f, target)
	}
	sc, err := scenarios.OpenContext(ctx, target)
	if err != nil {
		if ctx.Err() != nil {
			return &cli.ExitError{Code: cli.ExitInterrupted, Err: fmt.Errorf("interrupted while loading %s; nothing was run", target)}
		}
		return cli.BadInput(err)
	}
	if sc, err = ApplySets(sc, f.real.sets); err != nil {
		return cli.BadInput(err)
	}
	count := f.seeds
	if count == 0 {
		count = sc.Seeds()
	}
	if err := scenarios.CheckSeeds(f.seed, count); err != nil {
		return cli.BadInput(err)
	}
	if f.precision > 0 {
		if err := scenarios.CheckSeeds(f.seed, f.maxSeeds); err != nil {
			return cli.BadInput(fmt.Errorf("--max-seeds: %w", err))
		}
	}
	variants, err := pickVariants(sc, f.variants)
	if err != nil {
		return cli.BadInput(err)
	}
	if f.out != "" {
		if err := (cli.OutFolder{Out: f.out, Overwrite: f.overwrite}).Check(); err != nil {
			return cli.BadInput(fmt.Errorf("--out %w", err))
		}
	}
	if f.shards.count > 0 {
		return executeShards(ctx, s, f, sc, target, count)
	}
	if f.real.enabled() {
		if f.checkInv {
			return cli.BadInput(errors.New("--check-invariants checks the simulator's state; a real cluster run has none to check"))
		}
		return executeReal(ctx, s, f, sc, variants)
	}
	// the results folder is staged before the run, so that a taken --out is refused at once
	stage, err := stageOut(f, sc.Name(), "run-")
	if err != nil {
		return err
	}
	defer stage.Discard() // a no-op once published
	seeds := runner.SeedRange(f.seed, count)
	cfg := runner.Config{Variants: variants, Seeds: seeds, Workers: f.workers, CheckInvariants: f.checkInv}
	table := s.Out
	if f.trace || f.traceJSON {
		if f.trace {
			cfg.Trace = s.Out
		} else {
			cfg.TraceJSON, table = s.Out, s.Err
		}
		if count*len(variants) > 4 {
			fmt.Fprintf(s.Err, "note: tracing %d replays prints them all; use --seeds 1 --variant V for one\n", count*len(variants))
		}
	}
	var prog *progress
	if !f.quiet {
		prog = newProgress(s.Err, cli.IsTerminal(s.Err), count*len(variants))
		cfg.Progress = prog.update
	}
	started := time.Now()
	out, runErr := runner.Run(ctx, sc, cfg)
	if prog != nil {
		prog.finish()
	}
	if f.precision > 0 && runErr == nil {
		out, runErr = refine(ctx, s, f, sc, cfg, out)
	}
	if out == nil {
		return runErr
	}
	interrupted := errors.Is(runErr, context.Canceled) || errors.Is(runErr, context.DeadlineExceeded)
	if runErr != nil && !interrupted {
		return runErr
	}
	// a typical seed per variant, replayed with its time series, for the report
	if obs := sc.Objectives(); len(obs) > 0 && out.Complete() > 0 {
		if err := out.KeepRepresentative(obs[0].Indicator); err != nil {
			return err
		}
	}
	in := out.Scores(cli.Version)
	in.Sets = f.real.sets // recorded in summary.json and folded into its digest
	sum, err := results.Summarize(in)
	if err != nil {
		return err
	}
	tmp := stage.Dir
	if err := results.WriteDir(tmp, in, sum, out.Series()); err != nil {
		return fmt.Errorf("write %s: %w", tmp, err)
	}
	metrics, err := results.LabelMetrics(sc.Name(), out.Metrics())
	if err != nil {
		return err
	}
	if err := results.WriteMetrics(tmp, metrics); err != nil {
		return fmt.Errorf("write %s: %w", tmp, err)
	}
	if fs := out.AlertFirings(); fs != nil { // scenarios with rule files: the report's alert timeline
		if err := report.WriteAlerts(tmp, fs); err != nil {
			return fmt.Errorf("write %s: %w", tmp, err)
		}
	}
	// how to make this scenario again: what 'faultline report merge' needs to merge shards
	if err := results.WriteRunInfo(tmp, results.RunInfo{Source: target, Sets: f.real.sets}); err != nil {
		return fmt.Errorf("write %s: %w", tmp, err)
	}
	reportErr := report.RenderWith(tmp, report.Options{FailOn: report.FailOn(f.failOn)})
	dir, err := stage.Publish()
	if err != nil {
		return fmt.Errorf("write results: %w", err)
	}
	if f.out == "" {
		_ = results.SetLatest(dir)
	}
	if f.json {
		b, _ := json.MarshalIndent(sum, "", "  ")
		fmt.Fprintln(s.Out, string(b))
	} else {
		results.PrintTable(table, sum)
		fmt.Fprintf(table, "\nwrote %s (%d of %d replays, %s)\n", dir, out.Complete(), len(out.Seeds)*len(out.Variants), time.Since(started).Round(time.Millisecond))
	}
	if reportErr != nil {
		// the figures are written; only the rendering failed: say so, keep the run
		fmt.Fprintf(s.Err, "warning: report not rendered (%v); the figures are in %s, retry with 'faultline report %s'\n", reportErr, dir, dir)
	}
	if interrupted {
		return &cli.ExitError{Code: cli.ExitInterrupted, Err: fmt.Errorf("interrupted: wrote the %d replays that finished to %s", out.Complete(), dir)}
	}
	return nil
}

// stageOut prepares the run's results folder (cli.OutFolder.Stage): --out, or a unique
// results/<scenario>/<prefix><UTC time>. A --out that holds files is refused (execute checks it
// before the run) unless --overwrite.
func stageOut(f *flags, scenario, prefix string) (*results.Staged, error) {
	return cli.OutFolder{Out: f.out, Overwrite: f.overwrite}.Stage(scenario, prefix, time.Now())
}

// refine adds seeds in doubling batches until the worst relative half-width is within
// --precision or --max-seeds is reached.
func refine(ctx context.Context, s cli.Streams, f *flags, sc *scenarios.Scenario, cfg runner.Config, out *runner.Outcome) (*runner.Outcome, error) {
	for {
		sum, err := results.Summarize(out.Scores(cli.Version))
		if err != nil {
			return out, err
		}
		worst, where := sum.WorstPrecision()
		n := len(out.Seeds)
		if worst <= f.precision || n >= f.maxSeeds {
			state := "reached"
			if worst > f.precision {
				state = "NOT reached (--max-seeds)"
			}
			fmt.Fprintf(s.Err, "precision %g %s with %d seeds: worst relative half-width %.3g (%s)\n", f.precision, state, n, worst, where)
			return out, nil
		}
		add := min(n, f.maxSeeds-n)
		if !f.quiet {
			fmt.Fprintf(s.Err, "precision: worst %.3g at %s with %d seeds; adding %d\n", worst, where, n, add)
		}
		cfg.Seeds = runner.SeedRange(out.Seeds[n-1]+1, add)
		cfg.KeepSeries = false
		cfg.Progress = nil
		more, err := runner.Run(ctx, sc, cfg)
		if more != nil {
			if aerr := out.Append(more); aerr != nil {
				return out, aerr
			}
		}
		if err != nil {
			return out, err
		}
	}
}

func pickVariants(sc *scenarios.Scenario, want []string) ([]string, error) {
	all := sc.VariantNames()
	if len(want) == 0 {
		return all, nil
	}
	for _, w := range want {
		if !slices.Contains(all, w) {
			return nil, fmt.Errorf("--variant %q: the scenario has %s", w, strings.Join(all, ", "))
		}
	}
	base := sc.Baseline()
	var out []string
	if !slices.Contains(want, base) && len(want) > 0 {
		out = append(out, base)
	}
	for _, n := range all { // keep file order
		if slices.Contains(want, n) {
			out = append(out, n)
		}
	}
	return out, nil
}

// progress shows how far a run is: a redrawn bar with ETA on a terminal, a line per tenth
// otherwise (logs stay readable).
type progress struct {
	w        io.Writer
	tty      bool
	total    int
	start    time.Time
	lastDraw time.Time
	lastTen  int
}

func newProgress(w io.Writer, tty bool, total int) *progress {
	return &progress{w: w, tty: tty, total: total, start: time.Now()}
}

func (p *progress) update(done, total int) {
	now := time.Now()
	elapsed := now.Sub(p.start)
	eta := time.Duration(0)
	if done > 0 {
		eta = time.Duration(float64(elapsed) * float64(total-done) / float64(done))
	}
	if p.tty {
		if now.Sub(p.lastDraw) < 100*time.Millisecond && done < total {
			return
		}
		p.lastDraw = now
		const width = 30
		fill := width * done / total
		fmt.Fprintf(p.w, "\r[%s%s] %d/%d replays  %s elapsed  ETA %s ", strings.Repeat("#", fill), strings.Repeat(".", width-fill), done, total, elapsed.Round(time.Second), eta.Round(time.Second))
		return
	}
	if ten := 10 * done / total; ten > p.lastTen || done == total {
		p.lastTen = ten
		fmt.Fprintf(p.w, "progress: %d/%d replays (%d%%), ETA %s\n", done, total, 100*done/total, eta.Round(time.Second))
	}
}

func (p *progress) finish() {
	if p.tty {
		fmt.Fprint(p.w, "\r\033[K")
	}
}
