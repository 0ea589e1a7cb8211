// Package report is `faultline report`: re-render a run directory's report.md, report.html and
// junit.xml from its summary.json, seeds.csv and series CSVs.
package report

import (
	"fmt"
	"path/filepath"

	"github.com/spf13/cobra"

	"github.com/faultline-dev/faultline/cmd/faultline/app/cli"
	"github.com/faultline-dev/faultline/results/report"
)

// NewCommand returns the report verb.
func NewCommand(s cli.Streams) *cobra.Command {
	var quiet bool
	var failOn string
	cmd := &cobra.Command{
		Use:   "report DIR",
		Short: "Render a run directory into report.md, report.html and junit.xml",
		Long: `report reads a run directory written by 'faultline run' (summary.json, seeds.csv and the
series-<variant>-seed<N>.csv time series) and writes three files into it:

  report.md    the scenario, digest, seeds, faultline version and interrupted flag; a verdict
               matrix; per objective a table of every variant: mean [95% CI], median, p5/p95,
               share of seeds that missed the target [Wilson 95% CI], median paired difference
               from the baseline [95% CI], Holm-adjusted Wilcoxon p, A12 and the verdict;
               the resilience scores; how to read the figures.
  report.html  the same, as one self-contained page (no external CSS, fonts, scripts or images;
               open it from disk or attach it to a ticket), with plots: per objective every seed
               of every variant with a box plot and the target line, a forest plot of the paired
               differences with their CIs and a zero line, and the time series (request success,
               cron runs and CPU per node, where the scenario has them) of a representative seed
               per variant.
  junit.xml    one test case "<variant>/<objective>" per variant and objective; a case fails when
               the objective has a target, any seed missed it and --junit-fail-on counts the
               variant (default "mitigations": every variant but the baseline, which reproduces
               the incident on purpose; "all"; "none"); the message gives the rate and its CI.
               Objectives without a target are skipped; an interrupted run adds an error case.
               Feed it to your CI's test view.

Nothing is recomputed: the figures are those of summary.json, so the report of a run is the
same whenever and wherever it is rendered, byte for byte. Use it after changing faultline's
report format, or on a run directory copied from another machine.

A directory without summary.json is not a run directory: report says which file is missing and
exits with status 2.`,
		Example: `  faultline run kernel-panic-stacking --seeds 200 --out /tmp/kps
  faultline report /tmp/kps
  xdg-open /tmp/kps/report.html

  # the latest run of a scenario
  faultline report results/kernel-panic-stacking/latest`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			dir := args[0]
			policy, err := report.ParseFailOn(failOn)
			if err != nil {
				return cli.BadInput(err)
			}
			r, err := report.Load(dir)
			if err != nil {
				return cli.BadInput(err)
			}
			r.FailOn = policy
			if err := r.Write(dir); err != nil {
				return fmt.Errorf("write report into %s: %w", dir, err)
			}
			if !quiet {
				for _, f := range report.Files {
					fmt.Fprintln(s.Out, filepath.Join(dir, f))
				}
			}
			return nil
		},
	}
	cmd.Flags().BoolVarP(&quiet, "quiet", "q", false, "do not print the paths of the files written")
	cmd.Flags().StringVar(&failOn, "junit-fail-on", "mitigations", "which variants' missed targets fail junit.xml: mitigations, all or none")
	cmd.AddCommand(newMergeCommand(s))
	return cmd
}
