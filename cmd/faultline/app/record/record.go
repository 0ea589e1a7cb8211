// Package record is `faultline record`: a live cluster's object events to a gzip'd trace.
package record

import (
	"errors"
	"fmt"
	"log/slog"
	"os"
	"time"

	"github.com/spf13/cobra"

	"github.com/faultline-dev/faultline/clusters/importer"
	"github.com/faultline-dev/faultline/clusters/record"
	"github.com/faultline-dev/faultline/cmd/faultline/app/cli"
)

type flags struct {
	kubeconfig, context string
	include, exclude    []string
	out                 string
	duration            time.Duration
	maxBytes            int64
	force               bool
}

// NewCommand returns the record verb.
func NewCommand(s cli.Streams) *cobra.Command {
	f := &flags{}
	cmd := &cobra.Command{
		Use:   "record --duration D -o TRACE.jsonl.gz",
		Short: "Record a live cluster's object events to a trace that import replays",
		Long: `record watches a cluster with client-go informers (list and watch requests only: nothing is
written to the cluster) and writes one JSON line per event to a gzip'd trace: the cluster as
listed first, then every add, update and delete of nodes, pods, Deployments, StatefulSets,
DaemonSets, Jobs, CronJobs, Services, Ingresses, PDBs, PriorityClasses, webhook configurations
and namespaces, with the time it was observed. Secrets and ConfigMaps are never read.

It stops after --duration (counted from when the cluster has been listed), when the trace
reaches --max-bytes, or on Ctrl-C, and always ends the file cleanly. 'faultline import TRACE'
turns the trace into a scenario that replays the recorded changes at their offsets, in seconds
of simulated time and under any seed.`,
		Example: `  faultline record --context prod --duration 1h -o prod.jsonl.gz
  faultline record --context prod --namespace shop --duration 10m --max-bytes 50000000 -o shop.jsonl.gz
  faultline import prod.jsonl.gz -o prod-hour --check`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if f.out == "" {
				return cli.BadInput(errors.New("-o: the trace file to write is required"))
			}
			mode := os.O_WRONLY | os.O_CREATE | os.O_EXCL
			if f.force {
				mode = os.O_WRONLY | os.O_CREATE | os.O_TRUNC
			}
			cfg, source, err := importer.RESTConfig(f.kubeconfig, f.context)
			if err != nil {
				return cli.BadInput(err)
			}
			out, err := os.OpenFile(f.out, mode, 0o644)
			if err != nil {
				return cli.BadInput(fmt.Errorf("%w (--force overwrites)", err))
			}
			fmt.Fprintf(s.Err, "recording %s for %v (at most %d bytes) to %s; watch requests only\n", source, f.duration, f.maxBytes, f.out)
			log := slog.New(slog.NewTextHandler(s.Err, nil))
			sum, err := record.Record(cmd.Context(), cfg, out, record.Options{Duration: f.duration, MaxBytes: f.maxBytes,
				Filter: importer.Filter{Include: f.include, Exclude: f.exclude}, Source: source, Logger: log})
			if cerr := out.Close(); err == nil {
				err = cerr
			}
			if err != nil {
				return err
			}
			fmt.Fprintf(s.Out, "%s: %d events, %d bytes, %v, stopped by %s\n", f.out, sum.Events, sum.Bytes, sum.Took.Round(time.Millisecond), sum.Reason)
			return nil
		},
	}
	fl := cmd.Flags()
	fl.StringVarP(&f.out, "output", "o", "", "the trace file to write (gzip'd JSON lines)")
	fl.StringVar(&f.kubeconfig, "kubeconfig", "", "the cluster's kubeconfig (default $KUBECONFIG or ~/.kube/config)")
	fl.StringVar(&f.context, "context", "", "the kubeconfig context (default: the current context)")
	fl.StringArrayVar(&f.include, "namespace", nil, "record only this namespace's objects (nodes and pods are always recorded; repeatable)")
	fl.StringArrayVar(&f.exclude, "exclude-namespace", nil, "leave this namespace's objects out (repeatable)")
	fl.DurationVar(&f.duration, "duration", 10*time.Minute, "how long to record once the cluster is listed")
	fl.Int64Var(&f.maxBytes, "max-bytes", 100<<20, "stop when the trace reaches this many bytes")
	fl.BoolVar(&f.force, "force", false, "overwrite an existing trace file")
	return cmd
}
