// Package check is `faultline check`: compare a run with a stored baseline for regressions.
package check

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"text/tabwriter"

	"github.com/spf13/cobra"

	"github.com/faultline-dev/faultline/cmd/faultline/app/cli"
	"github.com/faultline-dev/faultline/results"
	"github.com/faultline-dev/faultline/results/report"
)

type flags struct {
	baseline string
	junit    string
	json     string
	output   string
}

// NewCommand returns the check verb.
func NewCommand(s cli.Streams) *cobra.Command {
	f := &flags{}
	cmd := &cobra.Command{
		Use:   "check --baseline FILE RUN_DIR",
		Short: "Fail when any objective of a run got worse than a stored baseline",
		Long: `check compares RUN_DIR/summary.json with a stored baseline summary (results/baselines/
<scenario>.json) per variant and objective.

With the baseline's seeds (as 'make regress' runs them) the builds are compared seed by seed:
each seed's value in this run against the same seed's stored value. Runs are deterministic, so
an unchanged model reproduces every seed ("unchanged"). Where seeds changed, the paired
differences go through the Wilcoxon signed-rank test, Holm-adjusted across every comparison of
the check, and the verdict is "worse" (fails the check), "better", "no detectable difference",
or "inconclusive: needs at least N seeds" when the seed count could not reach significance at
all. A baseline without per-seed values, or a run with other seeds, is compared by interval
instead: worse when the mean leaves the baseline's 95 % interval in the bad direction.

A changed scenario digest (the scenario file, or --set overrides, differ from the baseline's),
different seeds or a missing variant are warnings: on stderr, in --json and in the JUnit suite's
system-err.

--junit FILE writes one JUnit test case per variant and objective (failed when it regressed);
--json FILE writes the findings as JSON; -o json prints that JSON on stdout instead of the table.

Exit status: 0 no regression, 1 regression, 2 bad input. 'make regress' runs the whole library at
the baselines' seeds; 'make baselines' stores new baselines after a deliberate change (review
the diff).`,
		Example: `  faultline run kernel-panic-stacking --seeds 100 --out /tmp/run
  faultline check --baseline results/baselines/kernel-panic-stacking.json /tmp/run
  faultline check --baseline results/baselines/kernel-panic-stacking.json /tmp/run --junit check.xml --json check.json`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error { return execute(s, f, args[0]) },
	}
	fl := cmd.Flags()
	fl.StringVar(&f.baseline, "baseline", "", "stored baseline summary (results/baselines/<scenario>.json)")
	fl.StringVar(&f.junit, "junit", "", "write the findings as JUnit XML to FILE (one test case per variant and objective)")
	fl.StringVar(&f.json, "json", "", "write the findings as JSON to FILE")
	cli.AddOutputFlag(cmd, &f.output)
	return cmd
}

// Result is what --json and -o json write.
type Result struct {
	Baseline  string `json:"baseline"`
	Run       string `json:"run"`
	Regressed bool   `json:"regressed"`
	*results.CheckReport
}

func execute(s cli.Streams, f *flags, runDir string) error {
	if err := cli.CheckOutput(f.output); err != nil {
		return err
	}
	if f.baseline == "" {
		return cli.BadInput(fmt.Errorf("--baseline FILE is required"))
	}
	stored, err := results.ReadSummary(f.baseline)
	if err != nil {
		return cli.BadInput(err)
	}
	path := runDir
	if st, err := os.Stat(path); err == nil && st.IsDir() {
		path = filepath.Join(path, "summary.json")
	}
	current, err := results.ReadSummary(path)
	if err != nil {
		return cli.BadInput(err)
	}
	rep := results.Check(stored, current)
	res := Result{Baseline: f.baseline, Run: path, Regressed: rep.Regressed(), CheckReport: rep}
	if f.junit != "" {
		x, err := report.CheckJUnit(f.baseline, rep)
		if err != nil {
			return err
		}
		if err := os.WriteFile(f.junit, x, 0o644); err != nil {
			return fmt.Errorf("--junit: %w", err)
		}
	}
	if f.json != "" {
		b, _ := json.MarshalIndent(res, "", "  ")
		if err := os.WriteFile(f.json, append(b, '\n'), 0o644); err != nil {
			return fmt.Errorf("--json: %w", err)
		}
	}
	for _, w := range rep.Warnings {
		fmt.Fprintln(s.Err, "warning:", w)
	}
	if f.output == cli.OutputJSON {
		if err := cli.WriteJSON(s.Out, res); err != nil {
			return err
		}
	} else {
		printFindings(s, rep)
	}
	if rep.Regressed() {
		return &cli.ExitError{Code: cli.ExitFailure, Err: fmt.Errorf("%s regressed against %s", current.Scenario, f.baseline)}
	}
	if f.output != cli.OutputJSON {
		fmt.Fprintf(s.Out, "%s: no regression against %s\n", current.Scenario, f.baseline)
	}
	return nil
}

func printFindings(s cli.Streams, rep *results.CheckReport) {
	tw := tabwriter.NewWriter(s.Out, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "variant\tobjective\tbaseline mean [95% CI]\tthis run\tresult")
	for _, f := range rep.Findings {
		res := "ok"
		switch {
		case f.Worse:
			res = "WORSE: " + f.Note
		case f.Note != "":
			res = "ok (" + f.Note + ")"
		}
		fmt.Fprintf(tw, "%s\t%s\t%.6g [%.6g, %.6g]\t%.6g\t%s\n", f.Variant, f.Objective, f.Baseline, f.Lo, f.Hi, f.Current, res)
	}
	_ = tw.Flush()
}
