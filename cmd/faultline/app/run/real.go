package run

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/faultline-dev/faultline/clusters/kind"
	"github.com/faultline-dev/faultline/clusters/local"
	"github.com/faultline-dev/faultline/clusters/realrun"
	"github.com/faultline-dev/faultline/cmd/faultline/app/cli"
	"github.com/faultline-dev/faultline/results"
	"github.com/faultline-dev/faultline/scenarios"
)

// realFlags select the real world instead of the simulator.
type realFlags struct {
	cluster    string
	kubeconfig string
	context    string
	allow      []string
	keep       bool
	timeScale  float64
	sets       []string
}

func (r *realFlags) enabled() bool {
	return r.cluster != "" || r.kubeconfig != "" || r.context != ""
}

func addRealFlags(cmd *cobra.Command, r *realFlags) {
	fl := cmd.Flags()
	fl.StringVar(&r.cluster, "cluster", "", "run in the real world on a throwaway cluster per run, deleted afterwards unless --keep: local (a local control plane, KWOK nodes) or kind (real kubelets in node containers, one per pool node)")
	fl.StringVar(&r.kubeconfig, "kubeconfig", "", "run in the real world on an existing cluster from this kubeconfig (faultline's own clusters, or --allow-context)")
	fl.StringVar(&r.context, "context", "", "with --kubeconfig: the context to use (default: the file's current context)")
	fl.StringArrayVar(&r.allow, "allow-context", nil, "allow writes and faults in this context although faultline did not create its cluster (repeatable)")
	fl.BoolVar(&r.keep, "keep", false, "with --cluster: keep each run's cluster (faultline cluster down [--provider kind] --name NAME removes it)")
	fl.StringArrayVar(&r.sets, "set", nil, "PATH=VALUE: change the scenario before running it, as in sweep (repeatable; both worlds)")
	fl.Float64Var(&r.timeScale, "time-scale", 1, "real runs: multiply fault times and the run's length (0.1 plays 1 h in 6 min; controllers and cron schedules keep real time)")
	cmd.Long += `

With --cluster local (or --kubeconfig/--context for an existing cluster), run plays the same
scenario in the real world instead: KWOK nodes for the node pools, the objects applied with
server-side apply, the faults injected on the wall clock, the indicators measured from the real
objects; --seeds is then the number of repetitions (default 1). Writes and faults go only to
clusters faultline created, or to a context named with --allow-context.

With --cluster kind (or --kubeconfig of a faultline kind cluster) the pools' nodes are real
kubelets (kind node containers, one per pool node; needs root and the node image, see make
kind-image). Nothing can be pulled, so every image is replaced by faultline-echo (HTTP 200 on the
probe ports; Job containers exit after faultline.dev/run-time), CPU and memory requests and limits
are scaled by real allocatable over pool capacity, node-stop/node-reset freeze the node container
(docker pause) for the fault's window, pod-kill deletes pods, and Chaos Mesh objects are applied
when Chaos Mesh's CRDs are served. Each run's report notes every such difference.`
	cmd.Example += `
  faultline run cron-missed-start-storm --variant v2 --cluster local
  faultline run kernel-panic-stacking --variant baseline --cluster kind --time-scale 0.05
  faultline run kernel-panic-stacking --kubeconfig ~/.kube/config --context kind-test --allow-context kind-test`
}

// executeReal runs the variants in the real world and scores them like simulated runs.
func executeReal(ctx context.Context, s cli.Streams, f *flags, sc *scenarios.Scenario, variants []string) error {
	r := &f.real
	if r.cluster != "" && (r.kubeconfig != "" || r.context != "") {
		return cli.BadInput(errors.New("--cluster makes its own cluster; do not combine it with --kubeconfig/--context"))
	}
	if r.cluster != "" && r.cluster != local.ProviderName && r.cluster != kind.ProviderName {
		return cli.BadInput(fmt.Errorf("--cluster %q: expected local or kind", r.cluster))
	}
	if r.timeScale <= 0 {
		return cli.BadInput(fmt.Errorf("--time-scale %g: expected a positive factor", r.timeScale))
	}
	if f.trace || f.traceJSON || f.precision > 0 {
		return cli.BadInput(errors.New("--trace, --trace-json and --precision are for the simulator; real runs are measured, not traced"))
	}
	logger := slog.New(slog.NewTextHandler(s.Err, &slog.HandlerOptions{Level: slog.LevelInfo}))
	if f.quiet {
		logger = slog.New(slog.NewTextHandler(s.Err, &slog.HandlerOptions{Level: slog.LevelWarn}))
	}
	world, err := OpenRealWorld(ctx, r.cluster, realrun.Target{KubeConfig: r.kubeconfig, Context: r.context, AllowContexts: r.allow}, r.keep, logger)
	if err != nil {
		return err
	}
	defer func() {
		if err := world.Close(); err != nil {
			fmt.Fprintln(s.Err, "faultline:", err)
		}
	}()
	src, led := world.Source, world.Ledger
	reps := max(f.seeds, 1)
	started := time.Now()
	plan := realrun.Plan{
		Variants: variants, Repetitions: reps, FirstSeed: f.seed,
		Options: realrun.Options{TimeScale: r.timeScale, Logger: logger, Ledger: led},
		Progress: func(v string, rep, of int, cluster string) {
			fmt.Fprintf(s.Err, "real run: variant %s, repetition %d/%d, cluster %s\n", v, rep, of, cluster)
		},
	}
	out, reports, runErr := realrun.RunScenario(ctx, sc, plan, src)
	if out == nil || out.Complete() == 0 {
		PrintReports(s.Out, reports, nil) // why: what broke, what was not injected
		// nothing to score, but what the runs saw (what broke, a cut-short run's partial
		// measurements) is kept: written whole as real-runs.json alone
		dir, werr := writeReportsOnly(f, sc.Name(), reports)
		where := "nothing measured to write"
		if werr != nil {
			where = fmt.Sprintf("the run reports could not be written: %v", werr)
		} else if dir != "" {
			where = "what the runs saw, not scored, is in " + filepath.Join(dir, "real-runs.json")
		}
		if ctx.Err() != nil {
			return &cli.ExitError{Code: cli.ExitInterrupted, Err: fmt.Errorf("interrupted before the first real run finished: %s (%v)", where, runErr)}
		}
		if runErr == nil {
			runErr = errors.New("no real run finished")
		}
		if dir != "" {
			return fmt.Errorf("%w; %s", runErr, where)
		}
		return runErr
	}
	in, dropped := realrun.Scores(out, reports, cli.Version)
	in.Sets = r.sets
	sum, err := results.Summarize(in)
	if err != nil {
		return err
	}
	stage, err := stageOut(f, sc.Name(), "real-")
	if err != nil {
		return err
	}
	defer stage.Discard()
	if err := results.WriteDir(stage.Dir, in, sum, out.Series()); err != nil {
		return fmt.Errorf("write %s: %w", stage.Dir, err)
	}
	if err := writeRealRuns(stage.Dir, reports); err != nil {
		return fmt.Errorf("write %s: %w", stage.Dir, err)
	}
	dir, err := stage.Publish()
	if err != nil {
		return fmt.Errorf("write results: %w", err)
	}
	if f.json {
		b, _ := json.MarshalIndent(sum, "", "  ")
		fmt.Fprintln(s.Out, string(b))
	} else {
		results.PrintTable(s.Out, sum)
		PrintReports(s.Out, reports, dropped)
		fmt.Fprintf(s.Out, "\nwrote %s (%d of %d real runs, %s)\n", dir, out.Complete(), len(out.Seeds)*len(out.Variants), time.Since(started).Round(time.Second))
	}
	if runErr != nil {
		if ctx.Err() != nil {
			return &cli.ExitError{Code: cli.ExitInterrupted, Err: fmt.Errorf("interrupted: wrote the %d real runs that finished to %s", out.Complete(), dir)}
		}
		return runErr
	}
	return nil
}

// writeReportsOnly publishes a folder holding only real-runs.json when some run left a report;
// it returns "" when there was none.
func writeReportsOnly(f *flags, scenario string, reports [][]*realrun.Report) (string, error) {
	any := false
	for _, row := range reports {
		for _, r := range row {
			any = any || r != nil
		}
	}
	if !any {
		return "", nil
	}
	stage, err := stageOut(f, scenario, "real-")
	if err != nil {
		return "", err
	}
	defer stage.Discard()
	if err := writeRealRuns(stage.Dir, reports); err != nil {
		return "", err
	}
	return stage.Publish()
}

// writeRealRuns writes the runs' reports as dir/real-runs.json.
func writeRealRuns(dir string, reports [][]*realrun.Report) error {
	b, err := json.MarshalIndent(reports, "", "  ")
	if err != nil {
		return err
	}
	return os.WriteFile(filepath.Join(dir, "real-runs.json"), append(b, '\n'), 0o644)
}

// CleanUpDeadRuns undoes what killed faultline processes left behind (realrun.CollectGarbage:
// their changes to existing clusters, their throwaway local and kind clusters) and returns the directory of
// the run ledgers. A failure to clean up is reported, not fatal: it concerns other runs.
func CleanUpDeadRuns(ctx context.Context, logger *slog.Logger) (string, error) {
	lp, err := local.New(local.WithLogger(logger))
	if err != nil {
		return "", err
	}
	kp, err := kind.New(kind.WithLogger(logger))
	if err != nil {
		return "", err
	}
	if _, err := realrun.CollectGarbage(ctx, lp, logger, kp); err != nil {
		logger.Warn("cleaning up after dead faultline processes", "err", err)
	}
	return realrun.LedgerDir(lp), nil
}

// RealWorld is where a verb's real runs happen (RealSource), with the leftovers of dead
// faultline processes cleaned up first and, on an existing cluster, which outlives this process,
// a ledger in which the runs record what they create and apply before they do it: a run killed
// on it is undone by the next faultline command. run and fidelity both open it.
type RealWorld struct {
	Source realrun.Source
	Ledger *realrun.Ledger // nil on throwaway clusters (the cluster itself is recorded)
}

// OpenRealWorld cleans up after dead runs and opens where the runs happen.
func OpenRealWorld(ctx context.Context, cluster string, target realrun.Target, keep bool, logger *slog.Logger) (*RealWorld, error) {
	dir, err := CleanUpDeadRuns(ctx, logger)
	if err != nil {
		return nil, err
	}
	src, err := RealSource(cluster, target, keep, logger)
	if err != nil {
		return nil, err
	}
	w := &RealWorld{Source: src}
	if ex, ok := src.(*realrun.Existing); ok {
		if w.Ledger, err = realrun.OpenLedger(dir, ex.LedgerTarget(target.KubeConfig)); err != nil {
			return nil, err
		}
	}
	return w, nil
}

// Close closes the ledger: the runs ended and undid what they recorded.
func (w *RealWorld) Close() error {
	if w == nil || w.Ledger == nil {
		return nil
	}
	return w.Ledger.Close()
}

// RealSource is where real runs happen: a throwaway local or kind cluster per run (cluster
// "local", "kind"), or the existing cluster a kubeconfig names, after the safety check
// (realrun.Resolve); a faultline kind cluster's nodes are then used as real nodes. The fidelity
// verb uses it too.
func RealSource(cluster string, target realrun.Target, keep bool, logger *slog.Logger) (realrun.Source, error) {
	if cluster == kind.ProviderName {
		return &realrun.Kind{Options: []kind.Option{kind.WithLogger(logger)}, Keep: keep, Logger: logger}, nil
	}
	p, err := local.New(local.WithLogger(logger))
	if err != nil {
		return nil, err
	}
	if cluster == local.ProviderName {
		return &realrun.Local{Provider: p, Keep: keep, Logger: logger}, nil
	}
	owned, err := realrun.OwnedByLocal(p)
	if err != nil {
		return nil, err
	}
	kp, err := kind.New(kind.WithLogger(logger))
	if err != nil {
		return nil, err
	}
	ownedKind, err := realrun.OwnedByKind(kp)
	if err != nil {
		return nil, err
	}
	owned = append(owned, ownedKind...)
	res, err := realrun.Resolve(target, owned)
	if err != nil {
		if errors.Is(err, realrun.ErrNotAllowed) {
			return nil, &cli.ExitError{Code: cli.ExitBadInput, Err: err}
		}
		return nil, cli.BadInput(err)
	}
	ex := &realrun.Existing{Resolved: res}
	if res.Provider == kind.ProviderName {
		ex.RealNodes = realrun.KindNodes(kp, res.Owned)
	}
	return ex, nil
}

// PrintReports says, once per distinct line, which faults were injected, which could not be, and
// which indicators the real world does not measure.
func PrintReports(w interface{ Write([]byte) (int, error) }, reports [][]*realrun.Report, dropped []string) {
	seen := map[string]bool{}
	var notInj, unmeasured, notes, invalid, unreverted []string
	for v, row := range reports {
		for i, r := range row {
			if r == nil {
				continue
			}
			for _, n := range r.Invalid {
				invalid = append(invalid, fmt.Sprintf("run %d.%d (%s): %s", v+1, i+1, r.Input, n))
			}
			unreverted = append(unreverted, r.RevertFailed...)
			for _, n := range r.NotInjected {
				if !seen["n"+n] {
					seen["n"+n] = true
					notInj = append(notInj, n)
				}
			}
			for _, n := range r.Notes {
				if !seen["x"+n] {
					seen["x"+n] = true
					notes = append(notes, n)
				}
			}
			for _, u := range r.Unmeasured {
				if !seen["u"+u] {
					seen["u"+u] = true
					unmeasured = append(unmeasured, u)
				}
			}
		}
	}
	if len(invalid) > 0 {
		fmt.Fprintf(w, "\nINVALID runs (the cluster under them broke; not scored):\n  %s\n", strings.Join(invalid, "\n  "))
	}
	if len(unreverted) > 0 {
		fmt.Fprintf(w, "\nfaults NOT reverted (the cluster may still have them):\n  %s\n", strings.Join(unreverted, "\n  "))
	}
	if len(notes) > 0 {
		fmt.Fprintf(w, "\nnote:\n  %s\n", strings.Join(notes, "\n  "))
	}
	if len(notInj) > 0 {
		fmt.Fprintf(w, "\nfaults NOT injected in the real world:\n  %s\n", strings.Join(notInj, "\n  "))
	}
	if len(unmeasured) > 0 {
		fmt.Fprintf(w, "\nnot measurable in this real world:\n  %s\n", strings.Join(unmeasured, "\n  "))
	}
	if len(dropped) > 0 {
		fmt.Fprintf(w, "objectives not scored (indicator not measured): %s\n", strings.Join(dropped, ", "))
	}
}

// ApplySets applies PATH=VALUE changes (Scenario.Set), creating missing parents: a scenario
// without spec.cluster.models.podStart gets {"podStart": {"pullTime": "0s"}} instead of an error.
func ApplySets(sc *scenarios.Scenario, sets []string) (*scenarios.Scenario, error) {
	for _, kv := range sets {
		path, value, ok := strings.Cut(kv, "=")
		if !ok {
			return nil, fmt.Errorf("--set %q: expected PATH=VALUE", kv)
		}
		var err error
		if sc, err = setDeep(sc, path, value); err != nil {
			return nil, err
		}
	}
	return sc, nil
}

func setDeep(sc *scenarios.Scenario, path, value string) (*scenarios.Scenario, error) {
	out, err := sc.Set(path, value)
	if !errors.Is(err, scenarios.ErrNoParent) {
		return out, err
	}
	v := json.RawMessage(value)
	if !json.Valid(v) {
		v, _ = json.Marshal(value)
	}
	parent := path
	for {
		var leaf string
		var ok bool
		if parent, leaf, ok = splitLast(parent); !ok {
			return nil, err
		}
		v, _ = json.Marshal(map[string]json.RawMessage{leaf: v})
		if out, perr := sc.Set(parent, string(v)); perr == nil {
			return out, nil
		}
	}
}

// splitLast splits a set path into its parent and its last member name: a.b.c into a.b and c,
// a.b["x.y/z"] into a.b and x.y/z. It fails at a list index (a list item cannot be created) and
// when nothing but spec or KIND/NAME: would be left.
func splitLast(path string) (parent, leaf string, ok bool) {
	if q := len(path) - 2; q > 0 && path[len(path)-1] == ']' && (path[q] == '"' || path[q] == '\'') {
		open := strings.LastIndex(path[:q], "["+string(path[q]))
		if open < 0 {
			return "", "", false
		}
		parent, leaf = path[:open], path[open+2:q]
	} else {
		i := lastDot(path)
		if i < 0 {
			return "", "", false
		}
		parent, leaf = path[:i], path[i+1:]
		if strings.ContainsAny(leaf, "[]") {
			return "", "", false
		}
	}
	if parent == "spec" || strings.HasSuffix(parent, ":") || !strings.Contains(parent, ".") && !strings.Contains(parent, ":") {
		return "", "", false
	}
	return parent, leaf, leaf != ""
}

// lastDot is the index of the last dot of a set path outside quoted bracket keys
// (metadata.annotations["a.b/c"]), or -1.
func lastDot(path string) int {
	last := -1
	var quote byte
	for i := 0; i < len(path); i++ {
		switch c := path[i]; {
		case quote != 0:
			if c == quote {
				quote = 0
			}
		case c == '"' || c == '\'':
			quote = c
		case c == '.':
			last = i
		}
	}
	return last
}
