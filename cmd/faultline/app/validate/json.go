package validate

import (
	"strings"

	"github.com/faultline-dev/faultline/scenarios"
)

// fileJSON is one argument's outcome in `validate -o json`.
type fileJSON struct {
	Target    string   `json:"target"` // the argument as given
	File      string   `json:"file,omitempty"`
	Name      string   `json:"name,omitempty"`
	OK        bool     `json:"ok"`
	Objects   int      `json:"objects,omitempty"`
	Templates int      `json:"templates,omitempty"`
	Faults    int      `json:"faults,omitempty"`
	Variants  []string `json:"variants,omitempty"`
	// Errors are the located problems, one per line of the error ("FILE:LINE:COLUMN: FIELD: ...").
	Errors []string `json:"errors,omitempty"`
}

func resultOf(target string, sc *scenarios.Scenario, err error) fileJSON {
	if err != nil {
		var lines []string
		for _, l := range strings.Split(err.Error(), "\n") {
			if l = strings.TrimSpace(l); l != "" {
				lines = append(lines, l)
			}
		}
		return fileJSON{Target: target, Errors: lines}
	}
	return fileJSON{Target: target, File: sc.File, Name: sc.Name(), OK: true, Objects: len(sc.Objects),
		Templates: len(sc.Spec.Spec.Templates), Faults: len(sc.Faults), Variants: sc.VariantNames()}
}
