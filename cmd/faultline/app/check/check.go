// Package check is `faultline check`: compare a run with a stored baseline for regressions.
package check

import (
	"fmt"
	"os"
	"path/filepath"
	"text/tabwriter"

	"github.com/spf13/cobra"

	"github.com/faultline-dev/faultline/cmd/faultline/app/cli"
	"github.com/faultline-dev/faultline/results"
)

// NewCommand returns the check verb.
func NewCommand(s cli.Streams) *cobra.Command {
	var baseline string
	cmd := &cobra.Command{
		Use:   "check --baseline FILE RUN_DIR",
		Short: "Fail when any objective of a run got worse than a stored baseline",
		Long: `check compares RUN_DIR/summary.json with a stored baseline summary (results/baselines/
<scenario>.json) per variant and objective. An objective regressed when the run's mean is worse
than the baseline's mean beyond the baseline's 95 % interval (below it when higher is better,
above it when lower is better). Runs are deterministic: with the baseline's seeds an unchanged
model reproduces its figures exactly.

Exit status: 0 no regression, 1 regression, 2 bad input. A changed scenario digest or different
seeds are reported as warnings. 'make regress' runs the whole library at the baselines' seeds;
'make baselines' stores new baselines after a deliberate change (review the diff).`,
		Example: `  faultline run kernel-panic-stacking --seeds 100 --out /tmp/run
  faultline check --baseline results/baselines/kernel-panic-stacking.json /tmp/run`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			if baseline == "" {
				return cli.BadInput(fmt.Errorf("--baseline FILE is required"))
			}
			stored, err := results.ReadSummary(baseline)
			if err != nil {
				return cli.BadInput(err)
			}
			path := args[0]
			if st, err := os.Stat(path); err == nil && st.IsDir() {
				path = filepath.Join(path, "summary.json")
			}
			current, err := results.ReadSummary(path)
			if err != nil {
				return cli.BadInput(err)
			}
			rep := results.Check(stored, current)
			for _, w := range rep.Warnings {
				fmt.Fprintln(s.Err, "warning:", w)
			}
			tw := tabwriter.NewWriter(s.Out, 0, 0, 2, ' ', 0)
			fmt.Fprintln(tw, "variant\tobjective\tbaseline mean [95% CI]\tthis run\tresult")
			for _, f := range rep.Findings {
				res := "ok"
				if f.Worse {
					res = "WORSE: " + f.Note
				} else if f.Note != "" {
					res = "ok (" + f.Note + ")"
				}
				fmt.Fprintf(tw, "%s\t%s\t%.6g [%.6g, %.6g]\t%.6g\t%s\n", f.Variant, f.Objective, f.Baseline, f.Lo, f.Hi, f.Current, res)
			}
			_ = tw.Flush()
			if rep.Regressed() {
				return &cli.ExitError{Code: cli.ExitFailure, Err: fmt.Errorf("%s regressed against %s", current.Scenario, baseline)}
			}
			fmt.Fprintf(s.Out, "%s: no regression against %s\n", current.Scenario, baseline)
			return nil
		},
	}
	cmd.Flags().StringVar(&baseline, "baseline", "", "stored baseline summary (results/baselines/<scenario>.json)")
	return cmd
}
