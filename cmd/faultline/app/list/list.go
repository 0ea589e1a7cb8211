// Package list is `faultline list`: the built-in scenarios and the indicators objectives can use.
package list

import (
	"fmt"
	"strings"
	"text/tabwriter"

	"github.com/spf13/cobra"

	"github.com/faultline-dev/faultline/cmd/faultline/app/cli"
	"github.com/faultline-dev/faultline/scenarios"
	"github.com/faultline-dev/faultline/sim"
)

// NewCommand returns the list verb.
func NewCommand(s cli.Streams) *cobra.Command {
	var indicators bool
	var output string
	cmd := &cobra.Command{
		Use:   "list",
		Short: "List the built-in scenarios (or, with --indicators, what objectives can score)",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if err := cli.CheckOutput(output); err != nil {
				return err
			}
			if output == cli.OutputJSON {
				return writeJSON(s, indicators)
			}
			tw := tabwriter.NewWriter(s.Out, 0, 0, 2, ' ', 0)
			defer tw.Flush()
			if indicators {
				fmt.Fprintln(tw, "INDICATOR\tUNIT\tBETTER\tMEANING")
				for _, d := range sim.Indicators {
					better := "lower"
					if d.HigherIsBetter {
						better = "higher"
					}
					fmt.Fprintf(tw, "%s\t%s\t%s\t%s\n", d.Name, d.Unit, better, d.Doc)
				}
				fmt.Fprintf(tw, "request-success-ratio/<target>\tratio\thigher\tone load's share of successful requests\n")
				return nil
			}
			entries, err := scenarios.Library()
			if err != nil {
				return err
			}
			fmt.Fprintln(tw, "SCENARIO\tINCIDENT\tVARIANTS\tSUMMARY")
			for _, e := range entries {
				fmt.Fprintf(tw, "%s\t%s\t%s\t%s\n", e.Name, e.Incident, strings.Join(e.Variants, ","), e.Summary)
			}
			return nil
		},
	}
	cmd.Flags().BoolVar(&indicators, "indicators", false, "list the indicators objectives can name")
	cli.AddOutputFlag(cmd, &output)
	return cmd
}
