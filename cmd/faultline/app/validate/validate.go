// Package validate is `faultline validate`: check scenario files without running them.
package validate

import (
	"fmt"

	"github.com/spf13/cobra"

	"github.com/faultline-dev/faultline/cmd/faultline/app/cli"
	"github.com/faultline-dev/faultline/scenarios"
)

// NewCommand returns the validate verb.
func NewCommand(s cli.Streams) *cobra.Command {
	var output string
	cmd := &cobra.Command{
		Use:   "validate FILE|NAME...",
		Short: "Check scenario files and report every problem with its file, line and field",
		Long: `validate loads each scenario as 'run' would: the YAML, every Kubernetes manifest (strictly,
against the k8s.io/api types), every Chaos Mesh fault, every variant's patches and the
objectives, and checks that the simulator can run each variant. It runs nothing.

A problem is reported as one line, FILE:LINE:COLUMN: FIELD: what is wrong and what was
expected (every problem of a file at once, including numbers past the limits that the README's
Limits section lists), and the exit status is 2.`,
		Example: `  faultline validate scenarios/kernel-panic-stacking/scenario.yaml
  faultline validate kernel-panic-stacking`,
		Args: cobra.MinimumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			if err := cli.CheckOutput(output); err != nil {
				return err
			}
			bad := 0
			var all []fileJSON // -o json: one entry per argument, printed at the end
			for _, a := range args {
				sc, err := scenarios.OpenContext(cmd.Context(), a)
				if err != nil && cmd.Context().Err() != nil {
					return &cli.ExitError{Code: cli.ExitInterrupted, Err: fmt.Errorf("interrupted while loading %s", a)}
				}
				if output == cli.OutputJSON {
					all = append(all, resultOf(a, sc, err))
					if err != nil {
						bad++
					}
					continue
				}
				if err != nil {
					fmt.Fprintln(s.Err, err)
					bad++
					continue
				}
				fmt.Fprintf(s.Out, "%s: ok (%s, %d objects, %d templates, %d faults, variants: %v)\n", sc.File, sc.Name(), len(sc.Objects), len(sc.Spec.Spec.Templates), len(sc.Faults), sc.VariantNames())
			}
			if output == cli.OutputJSON {
				if err := cli.WriteJSON(s.Out, all); err != nil {
					return err
				}
			}
			if bad > 0 {
				return &cli.ExitError{Code: cli.ExitBadInput}
			}
			return nil
		},
	}
	cli.AddOutputFlag(cmd, &output)
	return cmd
}
