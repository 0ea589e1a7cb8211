package cli

import (
	"encoding/json"
	"fmt"
	"io"

	"github.com/spf13/cobra"
)

// Output formats of -o/--output.
const (
	OutputText = "text"
	OutputJSON = "json"
)

// AddOutputFlag adds -o/--output (text or json) to a verb that has machine-readable output.
func AddOutputFlag(cmd *cobra.Command, out *string) {
	cmd.Flags().StringVarP(out, "output", "o", OutputText, "output format: text (for people) or json (for scripts; one JSON document on stdout)")
}

// CheckOutput validates an -o value.
func CheckOutput(out string) error {
	if out != OutputText && out != OutputJSON {
		return BadInput(fmt.Errorf("-o %q: expected text or json", out))
	}
	return nil
}

// WriteJSON writes v as indented JSON and a newline.
func WriteJSON(w io.Writer, v any) error {
	b, err := json.MarshalIndent(v, "", "  ")
	if err != nil {
		return err
	}
	_, err = fmt.Fprintln(w, string(b))
	return err
}
