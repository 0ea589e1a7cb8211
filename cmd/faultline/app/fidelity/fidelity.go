// Package fidelity is `faultline fidelity`: one scenario variant in both worlds with the same
// parameters (real: a few repetitions on throwaway local clusters or an allowed existing
// cluster; simulated: many seeds), then per shared indicator the medians side by side, the
// Kolmogorov-Smirnov distance, within or outside a tolerance, and where outside, which model
// parameter to calibrate.
package fidelity

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"maps"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"
	batchv1 "k8s.io/api/batch/v1"

	"github.com/faultline-dev/faultline/clusters/realrun"
	"github.com/faultline-dev/faultline/cmd/faultline/app/cli"
	"github.com/faultline-dev/faultline/cmd/faultline/app/run"
	"github.com/faultline-dev/faultline/scenarios"
	"github.com/faultline-dev/faultline/scenarios/runner"
)

type flags struct {
	variant    string
	sets       []string
	reps       int
	seeds      int
	seed       uint64
	workers    int
	cluster    string
	kubeconfig string
	context    string
	allow      []string
	tolerance  float64
	noKWOK     bool
	out        string
	json       bool
	quiet      bool
	all        bool
}

// KWOKWorld are the model parameters that describe what a KWOK node does, applied to both
// worlds (the real world ignores them): no image pulls, no sidecar or container start time, no
// CPU, hence no kernel panics; a Job's pod ends the moment it runs (KWOK's pod-done stage has no
// delay), inside the Job controller's one-second sync batch, so no separate status.ready write.
// Without them the simulator would be compared with a world it does not describe.
var KWOKWorld = []string{
	"spec.cluster.models.podStart.admission=0s",
	"spec.cluster.models.podStart.pullTime=0s",
	"spec.cluster.models.podStart.sidecarStart=0s",
	"spec.cluster.models.podStart.appStart=0s",
	"spec.cluster.models.pods.containerStart=0s",
	"spec.cluster.models.kernelPanic.enabled=false",
	"spec.cluster.models.job.writes.ready=0",
}

// NewCommand returns the fidelity verb.
func NewCommand(s cli.Streams) *cobra.Command {
	f := &flags{}
	cmd := &cobra.Command{
		Use:   "fidelity NAME|PATH | --all",
		Short: "Hold the simulator against a real control plane: the same scenario in both worlds, per indicator",
		Long: `fidelity runs one variant of a scenario in both worlds with the same parameters: a few
repetitions in the real world (each on a fresh local control plane: real kube-apiserver,
kube-scheduler and kube-controller-manager, KWOK nodes; or on an existing cluster named with
--kubeconfig/--context, which must be faultline's or allowed with --allow-context) and many
seeds in the simulator. For every indicator both worlds measure it prints the two medians, the
Kolmogorov-Smirnov distance between the samples, whether the medians agree within the tolerance
(relative, with a floor at the real world's resolution: 1 s, half a count), and where they do
not, which model parameters to calibrate.

Both worlds get the scenario after --set, plus the parameters of a KWOK world (no image pulls,
no container start time, no CPU and so no kernel panics; --no-kwok-world drops them). The real
cluster is started with the scenario's node-lifecycle timings, toleration seconds, controller
client QPS and CronJob workers. Indicators the real world cannot measure (request success,
kernel panics) are listed, not compared. It writes fidelity.json and the real runs' report into
results/<scenario>/fidelity-<time>/ (or --out).

With --all it plays every library scenario so, one after the other (one cluster at a time),
each with the fidelity plan kept for it in this command (library.go: the variant the real
world can play, and --set lines that compress its story into a few minutes in both worlds,
so both worlds play the same compressed scenario), and writes one matrix: per scenario and
indicator the simulated and real medians, the Kolmogorov-Smirnov distance and the verdict, or,
for a cell not measured, why (the indicator registry's reason for this world, the real run's
own, or the scenario's: needs kind, no plan, the run failed). Output: fidelity.json (one entry
per scenario), fidelity.md (a Markdown table) and fidelity.html. A scenario whose real run
fails does not stop the others; the command fails at the end if any did. make fidelity runs it
nightly.`,
		Example: `  # the whole library against a local control plane (about 30 minutes on 2 cores)
  faultline fidelity --all --reps 1 --seeds 20

  # the CronJob storm in miniature: 120 CronJobs every minute, 4 minutes, the v2 controller
  faultline fidelity cron-missed-start-storm --variant v2 --reps 3 \
    --set spec.templates[0].count=120 --set 'spec.templates[0].fields[2].choices=[{"value":"* * * * *","weight":1}]' \
    --set 'spec.templates[0].fields[0].choices=[{"value":"1s","weight":1}]' --set spec.faults=[] --set spec.duration=4m

  # placements: where the replicas land when nodes reset one after another (compressed timings)
  # (faults first: a fault outside the run is an error)
  faultline fidelity kernel-panic-stacking --reps 2 \
    --set spec.faults[0].at=20s --set spec.faults[1].at=110s --set spec.faults[2].at=200s --set spec.duration=5m \
    --set spec.cluster.models.nodeLifecycle.gracePeriod=20s --set spec.cluster.models.nodeLifecycle.defaultTolerationSeconds=20 \
    --set spec.cluster.models.kernelPanic.rebootTime=60s`,
		Args: cobra.MaximumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			target := ""
			if len(args) == 1 {
				target = args[0]
			}
			return execute(cmd.Context(), s, f, target)
		},
	}
	fl := cmd.Flags()
	fl.StringVar(&f.variant, "variant", "", "the variant to hold against reality (default: the baseline)")
	fl.StringArrayVar(&f.sets, "set", nil, "PATH=VALUE: change the scenario for both worlds, as in sweep (repeatable)")
	fl.IntVar(&f.reps, "reps", 3, "real-world repetitions")
	fl.IntVar(&f.seeds, "seeds", 100, "simulated seeds")
	fl.Uint64Var(&f.seed, "seed", 1, "first seed (both worlds)")
	fl.IntVar(&f.workers, "workers", 0, "parallel simulated seeds (default: all cores)")
	fl.StringVar(&f.cluster, "cluster", "local", "real world: local (a fresh local control plane per repetition); empty with --kubeconfig/--context")
	fl.StringVar(&f.kubeconfig, "kubeconfig", "", "real world: an existing cluster from this kubeconfig instead")
	fl.StringVar(&f.context, "context", "", "with --kubeconfig: the context (default: current)")
	fl.StringArrayVar(&f.allow, "allow-context", nil, "allow writes and faults in this context although faultline did not create its cluster")
	fl.Float64Var(&f.tolerance, "tolerance", 0.25, "relative tolerance on the medians")
	fl.BoolVar(&f.noKWOK, "no-kwok-world", false, "do not set the KWOK world's parameters in the simulator")
	fl.StringVar(&f.out, "out", "", "output directory (default results/<scenario>/fidelity-<UTC time>)")
	fl.BoolVar(&f.json, "json", false, "print fidelity.json instead of the table")
	fl.BoolVarP(&f.quiet, "quiet", "q", false, "less progress")
	fl.BoolVar(&f.all, "all", false, "every library scenario, each in its compressed fidelity plan (--set adds to every plan); writes the matrix as fidelity.json, fidelity.md and fidelity.html into results/fidelity-<UTC time>/ (or --out)")
	return cmd
}

// Report is fidelity.json.
type Report struct {
	Scenario  string   `json:"scenario"`
	Variant   string   `json:"variant"`
	Sets      []string `json:"sets"`
	Reps      int      `json:"reps"`
	Seeds     []uint64 `json:"seeds"`
	Tolerance float64  `json:"tolerance"`
	Rows      []Row    `json:"rows"`
	OnlySim   []string `json:"onlySimulated,omitempty"`
	OnlyReal  []string `json:"onlyReal,omitempty"`
	// RealOnly holds the values of the indicators only the real world measures, per run.
	RealOnly map[string][]float64 `json:"realOnlyValues,omitempty"`
	Real     []*realrun.Report    `json:"realRuns"`
	Took     string               `json:"took"`
}

func execute(ctx context.Context, s cli.Streams, f *flags, target string) error {
	if f.reps < 1 || f.seeds < 1 {
		return cli.BadInput(fmt.Errorf("--reps %d --seeds %d: expected at least one of each", f.reps, f.seeds))
	}
	if f.kubeconfig != "" || f.context != "" {
		f.cluster = ""
	}
	if f.all {
		if target != "" {
			return cli.BadInput(fmt.Errorf("--all plays the whole library: give no scenario (got %q)", target))
		}
		return executeAll(ctx, s, f)
	}
	if target == "" {
		return cli.BadInput(errors.New("name a scenario (or --all for the whole library)"))
	}
	sc, err := scenarios.Open(target)
	if err != nil {
		return cli.BadInput(err)
	}
	logger := newLogger(s, f)
	world, err := run.OpenRealWorld(ctx, f.cluster, realrun.Target{KubeConfig: f.kubeconfig, Context: f.context, AllowContexts: f.allow}, false, logger)
	if err != nil {
		return err
	}
	defer closeWorld(s, world)
	rep, reports, runErr := measureOne(ctx, s, f, sc, f.variant, f.sets, world, logger)
	if rep == nil {
		return runErr
	}
	dir := f.out
	if dir == "" {
		dir = filepath.Join("results", sc.Name(), "fidelity-"+time.Now().UTC().Format("20060102T150405Z"))
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return err
	}
	b, _ := json.MarshalIndent(rep, "", "  ")
	if err := os.WriteFile(filepath.Join(dir, "fidelity.json"), append(b, '\n'), 0o644); err != nil {
		return err
	}
	if f.json {
		fmt.Fprintln(s.Out, string(b))
	} else {
		Print(s.Out, rep)
		printPlacements(s.Out, rep.Real)
		run.PrintReports(s.Out, reports, nil)
		fmt.Fprintf(s.Out, "\nwrote %s (%s)\n", filepath.Join(dir, "fidelity.json"), rep.Took)
	}
	return runErr
}

// closeWorld closes the real world's ledger, saying so when that fails.
func closeWorld(s cli.Streams, w *run.RealWorld) {
	if err := w.Close(); err != nil {
		fmt.Fprintln(s.Err, "faultline:", err)
	}
}

func newLogger(s cli.Streams, f *flags) *slog.Logger {
	level := slog.LevelInfo
	if f.quiet {
		level = slog.LevelWarn
	}
	return slog.New(slog.NewTextHandler(s.Err, &slog.HandlerOptions{Level: level}))
}

// measureOne plays one variant of sc in both worlds and compares them; the report is nil when no
// real run finished.
func measureOne(ctx context.Context, s cli.Streams, f *flags, sc *scenarios.Scenario, variant string, extra []string,
	world *run.RealWorld, logger *slog.Logger) (*Report, [][]*realrun.Report, error) {
	sets := slices.Clone(extra)
	if !f.noKWOK {
		sets = append(slices.Clone(KWOKWorld), sets...)
	}
	sc, err := run.ApplySets(sc, sets)
	if err != nil {
		return nil, nil, cli.BadInput(err)
	}
	if variant == "" {
		variant = sc.Baseline()
	}
	v, err := sc.Variant(variant)
	if err != nil {
		return nil, nil, cli.BadInput(fmt.Errorf("--variant %q: %w (the scenario has %s)", variant, err, strings.Join(sc.VariantNames(), ", ")))
	}
	in := sc.Compile(v)
	for _, o := range in.Objects {
		// a variant whose CronJobs the platform's scheduler runs (suspended for the controller)
		// plays in the real world too: the platform runs beside the cluster
		if _, ok := o.(*batchv1.CronJob); ok && in.Models.CronJob.Controller != "v2" && (v.Spec.Platform == nil || v.Spec.Platform.Cron == nil) {
			return nil, nil, cli.BadInput(fmt.Errorf("variant %s models the %s CronJob controller; the real cluster (Kubernetes 1.34) runs only v2: choose a v2 variant or --set spec.cluster.models.cronJob.controller=v2", variant, in.Models.CronJob.Controller))
		}
	}
	started := time.Now()
	if !f.quiet {
		fmt.Fprintf(s.Err, "fidelity: %s/%s, simulated: %d seeds, real: %d repetitions (about %s each)\n", sc.Name(), variant, f.seeds, f.reps, in.Duration)
		if !f.noKWOK {
			fmt.Fprintf(s.Err, "both worlds with the KWOK world's parameters: %s\n", strings.Join(KWOKWorld, " "))
		}
	}
	simOut, err := runner.Run(ctx, sc, runner.Config{Variants: []string{variant}, Seeds: runner.SeedRange(f.seed, f.seeds), Workers: f.workers})
	if err != nil {
		return nil, nil, fmt.Errorf("simulated runs: %w", err)
	}
	plan := realrun.Plan{
		Variants: []string{variant}, Repetitions: f.reps, FirstSeed: f.seed,
		Options: realrun.Options{Logger: logger, Ledger: world.Ledger},
		Progress: func(v string, rep, of int, cluster string) {
			fmt.Fprintf(s.Err, "real run %d/%d on cluster %s\n", rep, of, cluster)
		},
	}
	realOut, reports, runErr := realrun.RunScenario(ctx, sc, plan, world.Source)
	if realOut == nil || realOut.Complete() == 0 {
		if runErr == nil {
			runErr = errors.New("no real run finished")
		}
		return nil, reports, runErr
	}
	simVals, realVals := values(simOut), values(realOut)
	tol := DefaultTolerance()
	tol.Relative = f.tolerance
	rep := &Report{Scenario: sc.Name(), Variant: variant, Sets: sets, Reps: realOut.Complete(), Seeds: simOut.Seeds,
		Tolerance: f.tolerance, Rows: Compare(simVals, realVals, tol), Real: reports[0]}
	for n := range simVals {
		if _, ok := realVals[n]; !ok {
			rep.OnlySim = append(rep.OnlySim, n)
		}
	}
	for n := range realVals {
		if _, ok := simVals[n]; !ok {
			rep.OnlyReal = append(rep.OnlyReal, n)
			if rep.RealOnly == nil {
				rep.RealOnly = map[string][]float64{}
			}
			rep.RealOnly[n] = realVals[n]
		}
	}
	slices.Sort(rep.OnlySim)
	slices.Sort(rep.OnlyReal)
	rep.Took = time.Since(started).Round(time.Second).String()
	return rep, reports, runErr
}

// values gathers each indicator's values over the finished runs of the outcome's one variant.
func values(out *runner.Outcome) map[string][]float64 {
	m := map[string][]float64{}
	for i, r := range out.Results[0] {
		if !out.Done[0][i] {
			continue
		}
		for _, ind := range r.Indicators {
			m[ind.Name] = append(m[ind.Name], ind.Value)
		}
	}
	return m
}

// Print writes the side-by-side table.
func Print(w io.Writer, r *Report) {
	fmt.Fprintf(w, "fidelity of %s/%s: simulated %d seeds against %d real runs (tolerance %g %% of the simulated median)\n\n",
		r.Scenario, r.Variant, len(r.Seeds), r.Reps, r.Tolerance*100)
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "indicator\tsimulated\treal\tKS\tallowed\tverdict")
	within := 0
	for _, row := range r.Rows {
		verdict := "within"
		if row.Within {
			within++
		} else {
			verdict = "OUTSIDE"
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%.2f\t±%s\t%s\n", row.Indicator, num(row.SimMedian), num(row.RealMedian), row.KS, num(row.Allowed), verdict)
	}
	tw.Flush()
	fmt.Fprintf(w, "\n%d of %d shared indicators within tolerance\n", within, len(r.Rows))
	for _, row := range r.Rows {
		if !row.Within {
			fmt.Fprintf(w, "  %s: %s\n", row.Indicator, row.Calibrate)
		}
	}
	for _, n := range r.OnlyReal {
		v := slices.Sorted(slices.Values(r.RealOnly[n]))
		fmt.Fprintf(w, "measured only in the real world: %s, median %s (runs: %v)\n", n, num(v[len(v)/2]), v)
	}
	if len(r.OnlySim) > 0 {
		fmt.Fprintf(w, "simulated only: %s\n", strings.Join(r.OnlySim, ", "))
	}
}

// printPlacements shows where each multi-replica Deployment's pods were at the end of each real
// run: the placements behind max-replicas-per-node.
func printPlacements(w io.Writer, reps []*realrun.Report) {
	for i, r := range reps {
		if r == nil || len(r.Placements) == 0 {
			continue
		}
		var parts []string
		for _, d := range slices.Sorted(maps.Keys(r.Placements)) {
			var nodes []string
			for _, n := range slices.Sorted(maps.Keys(r.Placements[d])) {
				nodes = append(nodes, fmt.Sprintf("%s×%d", n, r.Placements[d][n]))
			}
			parts = append(parts, fmt.Sprintf("%s [%s]", d, strings.Join(nodes, " ")))
		}
		fmt.Fprintf(w, "real run %d, pods per node at the end: %s\n", i+1, strings.Join(parts, "; "))
	}
}

func num(v float64) string {
	return strings.TrimRight(strings.TrimRight(fmt.Sprintf("%.3f", v), "0"), ".")
}
