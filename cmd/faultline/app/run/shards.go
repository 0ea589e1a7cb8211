package run

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"strconv"
	"time"

	"github.com/spf13/cobra"
	"k8s.io/apimachinery/pkg/api/resource"
	"k8s.io/client-go/kubernetes"

	"github.com/faultline-dev/faultline/clusters/realrun"
	"github.com/faultline-dev/faultline/clusters/shard"
	"github.com/faultline-dev/faultline/cmd/faultline/app/cli"
	"github.com/faultline-dev/faultline/results"
	"github.com/faultline-dev/faultline/scenarios"
)

// shardFlags fan a simulator run out over a Kubernetes cluster as an Indexed Job.
type shardFlags struct {
	count       int
	image       string
	namespace   string
	parallelism int
	retries     int32
	cpu, memory string
	worker      bool // set in the Job's pods: play this pod's index and print the shard
}

func addShardFlags(cmd *cobra.Command, sf *shardFlags) {
	fl := cmd.Flags()
	fl.IntVar(&sf.count, "shards", 0, "with --kubeconfig: play the seeds as an Indexed Job of N pods on that cluster (faultline's image, --image) and merge their results here")
	fl.StringVar(&sf.image, "image", "", "with --shards: faultline's own image, the same version as this program (entrypoint: the faultline program)")
	fl.StringVar(&sf.namespace, "namespace", "default", "with --shards: the namespace of the Job")
	fl.IntVar(&sf.parallelism, "parallelism", 0, "with --shards: pods at once (default: every shard)")
	fl.Int32Var(&sf.retries, "shard-retries", 2, "with --shards: retries per index after a failure (evictions and other disruptions are retried without counting)")
	fl.StringVar(&sf.cpu, "shard-cpu", "1", "with --shards: CPU request per pod")
	fl.StringVar(&sf.memory, "shard-memory", "512Mi", "with --shards: memory request and limit per pod")
	fl.BoolVar(&sf.worker, "shard-worker", false, "inside a shard pod: play the seeds of index $JOB_COMPLETION_INDEX and print the shard")
	_ = fl.MarkHidden("shard-worker")
	cmd.Long += `

With --kubeconfig K [--context C] --shards N --image IMG, the simulator's seeds run on a
Kubernetes cluster instead of this machine: one Indexed Job of N pods of faultline's image, each
playing a contiguous slice of the seeds; each pod prints its shard (summary.json, seeds.csv and
run.json, gzip and base64, checksummed) to its log, read back through the API as soon as it
succeeds, checked (index, seeds) and merged as 'faultline report merge' does: the run directory
is byte for byte the one a local run writes. Progress comes from the Job's status; Ctrl-C
deletes the Job and its pods. The context must be one faultline created, or be named with
--allow-context.`
	cmd.Example += `
  faultline run kernel-panic-stacking --seeds 2000 --kubeconfig kc --context lab --allow-context lab --shards 20 --image registry.example/faultline:v1`
}

// executeShardWorker is a pod of the shard Job: the seeds of its index, into a fresh directory,
// then the shard frame on stdout.
func executeShardWorker(ctx context.Context, s cli.Streams, f *flags, target string) error {
	if f.seeds <= 0 || f.shards.count <= 0 {
		return cli.BadInput(errors.New("--shard-worker needs --seeds and --shards"))
	}
	return shard.Worker(s.Out, f.seed, f.seeds, f.shards.count, func(rg shard.Range, dir string) error {
		g := *f
		g.shards = shardFlags{}
		g.seed, g.seeds, g.out, g.quiet, g.json = rg.First, rg.Count, dir, true, false
		return execute(ctx, cli.Streams{In: s.In, Out: io.Discard, Err: s.Err}, &g, target)
	})
}

// executeShards plays the run as an Indexed Job on the cluster of --kubeconfig and merges the
// shards into the run directory.
func executeShards(ctx context.Context, s cli.Streams, f *flags, sc *scenarios.Scenario, target string, count int) error {
	sf := &f.shards
	switch {
	case f.real.cluster != "":
		return cli.BadInput(errors.New("--shards runs on an existing cluster (--kubeconfig/--context); --cluster is not supported with it"))
	case f.trace || f.traceJSON || f.precision > 0:
		return cli.BadInput(errors.New("--trace, --trace-json and --precision run on this machine; they do not combine with --shards"))
	case sf.image == "":
		return cli.BadInput(errors.New("--shards needs --image: faultline's own image, built from this version (see README, Beyond one machine)"))
	}
	if _, err := os.Stat(target); err == nil {
		return cli.BadInput(fmt.Errorf("%s is a file here; the shard pods open scenarios from their image, so --shards runs built-in scenarios (faultline list)", target))
	}
	cpu, err := resource.ParseQuantity(sf.cpu)
	if err != nil {
		return cli.BadInput(fmt.Errorf("--shard-cpu %q: %w", sf.cpu, err))
	}
	mem, err := resource.ParseQuantity(sf.memory)
	if err != nil {
		return cli.BadInput(fmt.Errorf("--shard-memory %q: %w", sf.memory, err))
	}
	plan, err := shard.Plan(f.seed, count, sf.count)
	if err != nil {
		return cli.BadInput(fmt.Errorf("--shards: %w", err))
	}
	logger := slog.New(slog.NewTextHandler(s.Err, &slog.HandlerOptions{Level: slog.LevelWarn}))
	src, err := RealSource("", realrun.Target{KubeConfig: f.real.kubeconfig, Context: f.real.context, AllowContexts: f.real.allow}, false, logger)
	if err != nil {
		return err
	}
	ex, ok := src.(*realrun.Existing)
	if !ok {
		return fmt.Errorf("--shards: expected an existing cluster, got %T", src)
	}
	// client-go's default of 5 requests/s would make 1,000 shards' log reads take minutes; log
	// reads are proxied to the kubelets and cost the API server little
	rc := *ex.Resolved.Config
	rc.QPS, rc.Burst = 20, 40
	cs, err := kubernetes.NewForConfig(&rc)
	if err != nil {
		return err
	}
	args := []string{"run", target, "--seed", strconv.FormatUint(f.seed, 10), "--seeds", strconv.Itoa(count),
		"--shards", strconv.Itoa(sf.count), "--shard-worker",
		// as many workers as the pod requested cores: the pod has no CPU limit to size itself by
		"--workers", strconv.FormatInt(max(1, cpu.Value()), 10)}
	for _, v := range f.variants {
		args = append(args, "--variant", v)
	}
	for _, kv := range f.real.sets {
		args = append(args, "--set", kv)
	}
	job := shard.NewJob(shard.JobConfig{
		Namespace: sf.namespace, Scenario: sc.Name(), Image: sf.image, Args: args,
		Shards: sf.count, Parallelism: sf.parallelism, BackoffLimitPerIndex: sf.retries,
		CPU: cpu, Memory: mem, TTL: 3600,
	})
	tmp, err := os.MkdirTemp("", "faultline-shards-")
	if err != nil {
		return err
	}
	started := time.Now()
	var last shard.Progress
	r := &shard.Runner{Client: cs, Progress: func(p shard.Progress) {
		if !f.quiet && p != last {
			last = p
			fmt.Fprintf(s.Err, "shards: Job %s/%s: %d of %d done, %d running, %d failed pods, %d collected, %s\n", sf.namespace, p.Job, p.Done, p.Shards, p.Active, p.Failed, p.Collected, time.Since(started).Round(time.Second))
		}
	}}
	dirs, err := r.Run(ctx, job, plan, tmp)
	if err != nil {
		if ctx.Err() != nil {
			_ = os.RemoveAll(tmp)
			return &cli.ExitError{Code: cli.ExitInterrupted, Err: fmt.Errorf("interrupted: the shard Job was deleted, nothing written")}
		}
		return fmt.Errorf("%w (collected shards kept in %s: 'faultline report merge --allow-gaps' merges them)", err, tmp)
	}
	sum, dir, err := MergeOut(shard.MergeConfig{Dirs: dirs, Version: cli.Version, Open: OpenWithSets},
		cli.OutFolder{Out: f.out, Overwrite: f.overwrite}, sc.Name(), started)
	if err != nil {
		if dir != "" {
			_ = os.RemoveAll(tmp)
			return fmt.Errorf("merged into %s, but: %w", dir, err)
		}
		return fmt.Errorf("merge the shards (kept in %s): %w", tmp, err)
	}
	_ = os.RemoveAll(tmp)
	results.PrintTable(s.Out, sum)
	fmt.Fprintf(s.Out, "\nwrote %s (%d seeds in %d shards on %s, %s)\n", dir, count, sf.count, ex.Resolved.Context, time.Since(started).Round(time.Millisecond))
	return nil
}

// OpenWithSets opens a scenario as faultline run does: NAME or PATH, then the --set changes. A
// merge makes the shards' scenario again with it (shard.OpenFunc).
func OpenWithSets(source string, sets []string) (*scenarios.Scenario, error) {
	sc, err := scenarios.Open(source)
	if err != nil {
		return nil, err
	}
	return ApplySets(sc, sets)
}

// MergeOut merges shard directories as shard.Merge does, into a staged folder published whole
// (cli.OutFolder): the merged run appears complete or not at all, and never mixes with files a
// folder already held. scenario names the default folder when --out is empty. It returns the
// summary and where the run went; a summary with an error means the figures are written and only
// the report failed.
func MergeOut(cfg shard.MergeConfig, of cli.OutFolder, scenario string, now time.Time) (*results.Summary, string, error) {
	if of.Out != "" {
		for _, d := range cfg.Dirs {
			if filepath.Clean(d) == filepath.Clean(of.Out) {
				return nil, "", fmt.Errorf("--out %s is one of the shards: merge into a new directory", of.Out)
			}
		}
	}
	if err := of.Check(); err != nil {
		return nil, "", fmt.Errorf("--out %w", err)
	}
	stage, err := of.Stage(scenario, "run-", now)
	if err != nil {
		return nil, "", err
	}
	defer stage.Discard()
	cfg.Out = stage.Dir
	sum, mergeErr := shard.Merge(cfg)
	if sum == nil {
		return nil, "", mergeErr
	}
	dir, err := stage.Publish()
	if err != nil {
		return sum, "", err
	}
	return sum, dir, mergeErr
}
