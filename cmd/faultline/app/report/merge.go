package report

import (
	"fmt"
	"time"

	"github.com/spf13/cobra"

	"github.com/faultline-dev/faultline/clusters/shard"
	"github.com/faultline-dev/faultline/cmd/faultline/app/cli"
	"github.com/faultline-dev/faultline/cmd/faultline/app/run"
	"github.com/faultline-dev/faultline/results"
)

func newMergeCommand(s cli.Streams) *cobra.Command {
	cfg := shard.MergeConfig{}
	var quiet, overwrite bool
	cmd := &cobra.Command{
		Use:   "merge DIR... --out DIR",
		Short: "Merge shard run directories (seed ranges run anywhere) into one run directory",
		Long: `merge puts the run directories of one scenario's seed ranges back together: shards made on
separate machines with 'faultline run NAME --seed S --seeds K', or by 'faultline run --shards N'
on a Kubernetes cluster. The merged directory is what one 'faultline run' over all the seeds would
have written, byte for byte: summary.json (every figure recomputed from the shards' per-seed
values), seeds.csv, run.json, the time series and metrics of each variant's representative seed
(the median seed over all shards, replayed here and checked against the shard's values), and
report.md, report.html and junit.xml.

The shards must agree on the scenario (name and digest), the --set changes (run.json), the
faultline version (which must be this one), the variants, the baseline and the objectives; their
seeds must not overlap, and must leave no gap and no shard may be interrupted unless
--allow-gaps / --allow-partial say so. Each refusal names the directories and what differs.

A shard names its scenario as it was given to 'faultline run' (run.json "source"): a built-in
name works anywhere; for a scenario file from another machine pass --scenario with its path here
(its digest must match the shards').`,
		Example: `  # two machines, one scenario, 400 seeds
  faultline run kernel-panic-stacking --seed 1 --seeds 200 --out shard-a     # machine A
  faultline run kernel-panic-stacking --seed 201 --seeds 200 --out shard-b   # machine B
  faultline report merge shard-a shard-b --out merged
  # the same bytes as: faultline run kernel-panic-stacking --seed 1 --seeds 400 --out merged`,
		Args: cobra.MinimumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			cfg.Dirs = args
			cfg.Version = cli.Version
			cfg.Open = run.OpenWithSets
			if cfg.Out == "" {
				return cli.BadInput(fmt.Errorf("--out DIR is required: the merged run directory"))
			}
			sum, dir, err := run.MergeOut(cfg, cli.OutFolder{Out: cfg.Out, Overwrite: overwrite}, "", time.Now())
			if err != nil {
				if dir != "" {
					return err // the figures are written; only the report failed
				}
				return cli.BadInput(err)
			}
			if !quiet {
				results.PrintTable(s.Out, sum)
				fmt.Fprintf(s.Out, "\nmerged %d shards into %s (%d seeds)\n", len(args), dir, len(sum.Seeds))
			}
			return nil
		},
	}
	fl := cmd.Flags()
	fl.StringVar(&cfg.Out, "out", "", "the merged run directory (written whole; refused if it holds files, unless --overwrite)")
	fl.BoolVar(&overwrite, "overwrite", false, "replace a non-empty --out folder whole")
	fl.StringVar(&cfg.Source, "scenario", "", "open the shards' scenario from this NAME|PATH instead of run.json's source")
	fl.BoolVar(&cfg.AllowGaps, "allow-gaps", false, "merge although seeds are missing between the shards")
	fl.BoolVar(&cfg.AllowPartial, "allow-partial", false, "merge interrupted shards; the merged run is marked interrupted")
	fl.BoolVarP(&quiet, "quiet", "q", false, "print nothing on success")
	return cmd
}
