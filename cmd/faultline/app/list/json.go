package list

import (
	"github.com/faultline-dev/faultline/cmd/faultline/app/cli"
	"github.com/faultline-dev/faultline/scenarios"
	"github.com/faultline-dev/faultline/sim"
)

// scenarioJSON is one built-in scenario in `list -o json`.
type scenarioJSON struct {
	Name     string   `json:"name"`
	Incident string   `json:"incident"`
	Summary  string   `json:"summary"`
	Variants []string `json:"variants"`
}

// indicatorJSON is one indicator in `list --indicators -o json`.
type indicatorJSON struct {
	Name           string `json:"name"`
	Unit           string `json:"unit"`
	HigherIsBetter bool   `json:"higherIsBetter"`
	Meaning        string `json:"meaning"`
}

// writeJSON prints the list as one JSON array: the scenarios, or with indicators the indicators.
func writeJSON(s cli.Streams, indicators bool) error {
	if indicators {
		out := make([]indicatorJSON, 0, len(sim.Indicators))
		for _, d := range sim.Indicators {
			out = append(out, indicatorJSON{d.Name, d.Unit, d.HigherIsBetter, d.Doc})
		}
		return cli.WriteJSON(s.Out, out)
	}
	entries, err := scenarios.Library()
	if err != nil {
		return err
	}
	out := make([]scenarioJSON, 0, len(entries))
	for _, e := range entries {
		out = append(out, scenarioJSON{e.Name, e.Incident, e.Summary, e.Variants})
	}
	return cli.WriteJSON(s.Out, out)
}
