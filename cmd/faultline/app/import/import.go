// Package importcmd is `faultline import`: a cluster (live, written to files, or recorded by
// `faultline record`) into a scenario folder. The directory is named for the verb; `import` is
// a Go keyword, hence the package name.
package importcmd

import (
	"compress/gzip"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"time"

	"github.com/spf13/cobra"

	"github.com/faultline-dev/faultline/clusters/importer"
	"github.com/faultline-dev/faultline/clusters/record"
	"github.com/faultline-dev/faultline/cmd/faultline/app/cli"
	"github.com/faultline-dev/faultline/cmd/faultline/app/fidelity"
	"github.com/faultline-dev/faultline/scenarios"
)

type flags struct {
	kubeconfig, context string
	include, exclude    []string
	out, name           string
	duration            time.Duration
	check, force        bool
	seed                uint64
}

// NewCommand returns the import verb.
func NewCommand(s cli.Streams) *cobra.Command {
	f := &flags{}
	cmd := &cobra.Command{
		Use:   "import [FILE|DIR|TRACE] -o DIR",
		Short: "Make a scenario of your own cluster: live, from files, or from a recorded trace",
		Long: `import writes a scenario folder (scenario.yaml, manifests.yaml, nodes.csv, README.md) from
  - a live cluster (no argument; --kubeconfig, --context): list requests only, nothing is written
    to the cluster;
  - FILE: a 'kubectl get -o yaml' List (kubectl get nodes,pods,deploy,sts,ds,cronjobs,jobs,pdb,
    priorityclasses,svc,ingress,validatingwebhookconfigurations,ns -A -o yaml), or any YAML stream;
  - DIR: every *.yaml, *.yml and *.json file under it;
  - TRACE: a gzip'd trace written by 'faultline record': the cluster as it was when the recording
    began, and its recorded Deployment scaling and rollouts as spec.changes at their offsets,
    node deletions and additions as node faults (an added node joins its pool at its offset),
    and Jobs created as CronJobs that run once, in the minute they were created.

Node pools are inferred by grouping the nodes (instance type, allocatable CPU and memory, taints,
labels; a group with unequal counts per zone is split per zone). Workloads become plain
manifests, stripped of status, managed fields and server-set metadata. Each workload's load is
its pods' mean CPU use from metrics.k8s.io where the cluster serves it (or PodMetrics in the
files), else its CPU requests. What the simulator cannot play is left out and listed, with the
reason, in the README; StatefulSets are played as Deployments. Namespaces kube-system,
kube-public and kube-node-lease are left out unless named with --namespace; their pods still
take their nodes' capacity.

--check runs the scenario for one seed and compares the simulator's placement of the imported
workloads with the cluster's: pods per pool and zone, and the Kolmogorov-Smirnov distance
between the pods-per-node distributions (for a trace: at the end of the recording, and the
start-up time of the pods created during it and every indicator both measured, recorded
against simulated, with faultline fidelity's tolerance).`,
		Example: `  faultline import --context prod -o my-cluster                  # a live cluster
  faultline import --context prod --namespace shop -o shop --check
  kubectl get nodes,pods,deploy,sts,ds,cronjobs,svc,ns -A -o yaml > cluster.yaml
  faultline import cluster.yaml -o my-cluster
  faultline record --context prod --duration 1h -o prod.jsonl.gz
  faultline import prod.jsonl.gz -o prod-hour --check
  faultline run my-cluster`,
		Args: cobra.MaximumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			return f.run(cmd, s, args)
		},
	}
	fl := cmd.Flags()
	fl.StringVarP(&f.out, "output", "o", "", "the scenario folder to write (required)")
	fl.StringVar(&f.kubeconfig, "kubeconfig", "", "read this cluster (default $KUBECONFIG or ~/.kube/config); read-only")
	fl.StringVar(&f.context, "context", "", "the kubeconfig context to read (default: the current context)")
	fl.StringArrayVar(&f.include, "namespace", nil, "import only this namespace (repeatable)")
	fl.StringArrayVar(&f.exclude, "exclude-namespace", nil, "leave this namespace out (repeatable)")
	fl.StringVar(&f.name, "name", "", "the scenario's name (default: the folder's name)")
	fl.DurationVar(&f.duration, "duration", 0, "the scenario's run length (default 1h; a trace: its length + 5m)")
	fl.BoolVar(&f.check, "check", false, "compare the simulator's placement with the cluster's")
	fl.Uint64Var(&f.seed, "seed", 1, "with --check: the seed")
	fl.BoolVar(&f.force, "force", false, "overwrite the files of an existing folder")
	_ = cmd.MarkFlagRequired("output")
	return cmd
}

func (f *flags) run(cmd *cobra.Command, s cli.Streams, args []string) error {
	if len(args) == 1 && (f.kubeconfig != "" || f.context != "") {
		return cli.BadInput(errors.New("give a FILE, DIR or TRACE, or --kubeconfig/--context for a live cluster, not both"))
	}
	if _, err := os.Stat(filepath.Join(f.out, "scenario.yaml")); err == nil && !f.force {
		return cli.BadInput(fmt.Errorf("%s already holds a scenario; --force overwrites it", f.out))
	}
	filter := importer.Filter{Include: f.include, Exclude: f.exclude}
	name := f.name
	if name == "" {
		abs, _ := filepath.Abs(f.out)
		name = importer.DNSLabel(filepath.Base(abs))
	}
	opts := importer.Options{Name: name, Duration: f.duration}
	var res *importer.Result
	var rep *record.Replay
	switch {
	case len(args) == 1 && isGzip(args[0]):
		t, err := record.ReadTrace(args[0])
		if err != nil {
			return cli.BadInput(err)
		}
		if rep, err = record.Import(t, filter, opts); err != nil {
			return cli.BadInput(fmt.Errorf("%s: %w", args[0], err))
		}
		res = rep.Result
	case len(args) == 1:
		snap, err := importer.ReadFiles(args[0], filter)
		if err != nil {
			return cli.BadInput(err)
		}
		if res, err = importer.Build(snap, opts); err != nil {
			return cli.BadInput(err)
		}
	default:
		cfg, source, err := importer.RESTConfig(f.kubeconfig, f.context)
		if err != nil {
			return cli.BadInput(err)
		}
		fmt.Fprintf(s.Err, "reading %s (list requests only)\n", source)
		snap, err := importer.ReadCluster(cmd.Context(), cfg, source, filter)
		if err != nil {
			return err
		}
		if res, err = importer.Build(snap, opts); err != nil {
			return err
		}
	}
	if err := res.Write(f.out); err != nil {
		return err
	}
	sc, err := scenarios.Open(f.out)
	if err != nil {
		return fmt.Errorf("the imported scenario does not validate (a bug in import; please report it with the README): %w", err)
	}
	nodes := 0
	for _, p := range res.Pools {
		nodes += p.Count
	}
	fmt.Fprintf(s.Out, "%s: %s, %d nodes in %d pools, %d objects, %d changes, %d left out (README.md says which and why)\n",
		f.out, sc.Name(), nodes, len(res.Pools), len(sc.Objects), len(sc.Spec.Spec.Changes), len(res.LeftOut))
	if !f.check {
		return nil
	}
	live, at := res.Live, 10*time.Minute
	if rep != nil {
		live, at = rep.Final, 0
	}
	p, err := importer.ComparePlacement(f.out, live, f.seed, at)
	if err != nil {
		return err
	}
	p.Write(s.Out)
	if rep != nil {
		writeFidelity(s.Out, rep.Recorded, p)
	}
	return nil
}

// writeFidelity holds the recording's own figures against its simulated replay, as `faultline
// fidelity` holds a real run against the simulator: the start-up of the pods created during the
// recording, then every indicator both measured (package measure computed both), with
// fidelity's tolerance.
func writeFidelity(w io.Writer, rec record.Recorded, p *importer.Placement) {
	fmt.Fprintf(w, "start-up of pods created during the recording (created to Running): recorded p50 %.2f s p99 %.2f s (%d pods); simulated p50 %.2f s p99 %.2f s (%d pods)\n",
		rec.Startup.P(0.5), rec.Startup.P(0.99), rec.Startup.Started, p.Startup.P(0.5), p.Startup.P(0.99), p.Startup.Started)
	simVals, recVals := map[string][]float64{}, map[string][]float64{}
	for _, in := range p.Indicators {
		simVals[in.Name] = []float64{in.Value}
	}
	for _, in := range rec.Indicators {
		recVals[in.Name] = []float64{in.Value}
	}
	rows := fidelity.Compare(simVals, recVals, fidelity.DefaultTolerance())
	if len(rows) == 0 {
		return
	}
	fmt.Fprintf(w, "%-32s %10s %10s %10s  %s\n", "INDICATOR", "RECORDED", "SIMULATED", "ALLOWED", "")
	for _, r := range rows {
		mark := "within"
		if !r.Within {
			mark = r.Calibrate
		}
		fmt.Fprintf(w, "%-32s %10.3g %10.3g %10.3g  %s\n", r.Indicator, r.RealMedian, r.SimMedian, r.Allowed, mark)
	}
}

// isGzip reports whether the file starts with gzip's magic bytes.
func isGzip(path string) bool {
	fh, err := os.Open(path)
	if err != nil {
		return false
	}
	defer fh.Close()
	_, err = gzip.NewReader(io.LimitReader(fh, 1<<10))
	return err == nil
}
