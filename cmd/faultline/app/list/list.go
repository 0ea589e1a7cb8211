// Package list is `faultline list`: the built-in scenarios and the indicators objectives can use.
package list

import (
	"fmt"
	"io"
	"strings"
	"text/tabwriter"

	"github.com/spf13/cobra"

	"github.com/faultline-dev/faultline/cmd/faultline/app/cli"
	"github.com/faultline-dev/faultline/measure"
	"github.com/faultline-dev/faultline/scenarios"
)

// NewCommand returns the list verb.
func NewCommand(s cli.Streams) *cobra.Command {
	var indicators bool
	var output string
	cmd := &cobra.Command{
		Use:   "list",
		Short: "List the built-in scenarios (or, with --indicators, what objectives can score)",
		Long: `list prints the built-in scenarios. With --indicators it prints the indicator registry
(package measure): each indicator's unit, which direction is better, whether each world measures
it (simulated; kwok: a real control plane with KWOK nodes; kind: real kubelets) and its meaning;
a world that cannot measure an indicator says why in the notes below the table.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if err := cli.CheckOutput(output); err != nil {
				return err
			}
			if output == cli.OutputJSON {
				return writeJSON(s, indicators)
			}
			if indicators {
				printIndicators(s.Out)
				return nil
			}
			entries, err := scenarios.Library()
			if err != nil {
				return err
			}
			tw := tabwriter.NewWriter(s.Out, 0, 0, 2, ' ', 0)
			defer tw.Flush()
			fmt.Fprintln(tw, "SCENARIO\tINCIDENT\tVARIANTS\tSUMMARY")
			for _, e := range entries {
				fmt.Fprintf(tw, "%s\t%s\t%s\t%s\n", e.Name, e.Incident, strings.Join(e.Variants, ","), e.Summary)
			}
			return nil
		},
	}
	cmd.Flags().BoolVar(&indicators, "indicators", false, "list the indicators objectives can name, with a column per world")
	cli.AddOutputFlag(cmd, &output)
	return cmd
}

// printIndicators writes the registry as a table, a column per world ("yes", or "no [n]" with
// note n below saying why).
func printIndicators(w io.Writer) {
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	head := []string{"INDICATOR", "UNIT", "BETTER"}
	for _, wd := range measure.Worlds {
		head = append(head, strings.ToUpper(wd.String()))
	}
	fmt.Fprintln(tw, strings.Join(append(head, "MEANING"), "\t"))
	var notes []string
	note := map[string]int{}
	for _, d := range append(measure.Indicators[:len(measure.Indicators):len(measure.Indicators)], measure.PerLoad) {
		better := "lower"
		if d.HigherIsBetter {
			better = "higher"
		}
		row := []string{d.Name, d.Unit, better}
		for _, wd := range measure.Worlds {
			if d.MeasuredIn(wd) {
				row = append(row, "yes")
				continue
			}
			key := wd.String() + ": " + d.Unmeasurable[wd]
			n, ok := note[key]
			if !ok {
				notes = append(notes, key)
				n = len(notes)
				note[key] = n
			}
			row = append(row, fmt.Sprintf("no [%d]", n))
		}
		fmt.Fprintln(tw, strings.Join(append(row, d.Doc), "\t"))
	}
	tw.Flush()
	fmt.Fprintln(w, "\nwhy not:")
	for i, n := range notes {
		fmt.Fprintf(w, "  [%d] %s\n", i+1, n)
	}
}
