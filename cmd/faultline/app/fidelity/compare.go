package fidelity

import (
	"fmt"
	"math"
	"slices"
	"strings"

	"gonum.org/v1/gonum/stat"

	"github.com/faultline-dev/faultline/measure"
)

// Row is one shared indicator, simulation against reality.
type Row struct {
	Indicator  string    `json:"indicator"`
	Unit       string    `json:"unit,omitempty"`
	SimMedian  float64   `json:"simMedian"`
	RealMedian float64   `json:"realMedian"`
	KS         float64   `json:"ks"` // Kolmogorov-Smirnov distance between the two samples
	Allowed    float64   `json:"allowed"`
	Within     bool      `json:"within"`
	Calibrate  string    `json:"calibrate,omitempty"` // where outside: which model parameter to look at
	Sim        []float64 `json:"sim"`
	Real       []float64 `json:"real"`
}

// Tolerance says how far the medians may differ: Relative of the simulated median, but never
// less than the unit's floor (the resolution at which the real world measures).
type Tolerance struct {
	Relative float64
	// Floors per unit; a unit without one uses Default.
	Floors  map[string]float64
	Default float64
}

// DefaultTolerance is 25 % with floors of 1 s (Kubernetes timestamps have one-second resolution,
// and observation adds its own jitter), half a count (integers must match) and 0.01 for ratios.
func DefaultTolerance() Tolerance {
	return Tolerance{Relative: 0.25, Floors: map[string]float64{"seconds": 1, "count": 0.5, "ratio": 0.01, "0/1": 0.5, "minutes": 1. / 60, "hours": 1. / 3600}, Default: 0}
}

func (t Tolerance) allowed(unit string, simMedian float64) float64 {
	floor, ok := t.Floors[unit]
	if !ok {
		floor = t.Default
	}
	return math.Max(t.Relative*math.Abs(simMedian), floor)
}

// Compare lines up every indicator present in both worlds, in the registry's report order.
func Compare(simVals, realVals map[string][]float64, tol Tolerance) []Row {
	var names []string
	for n := range simVals {
		if _, ok := realVals[n]; ok && len(simVals[n]) > 0 && len(realVals[n]) > 0 {
			names = append(names, n)
		}
	}
	slices.SortFunc(names, func(a, b string) int {
		if d := measure.Order(a) - measure.Order(b); d != 0 {
			return d
		}
		return strings.Compare(a, b)
	})
	rows := make([]Row, 0, len(names))
	for _, n := range names {
		s := slices.Sorted(slices.Values(simVals[n]))
		r := slices.Sorted(slices.Values(realVals[n]))
		doc := lookup(n)
		row := Row{Indicator: n, Unit: doc.Unit, Sim: s, Real: r,
			SimMedian: stat.Quantile(0.5, stat.Empirical, s, nil), RealMedian: stat.Quantile(0.5, stat.Empirical, r, nil),
			KS: stat.KolmogorovSmirnov(s, nil, r, nil)}
		row.Allowed = tol.allowed(doc.Unit, row.SimMedian)
		row.Within = math.Abs(row.RealMedian-row.SimMedian) <= row.Allowed
		if !row.Within {
			dir := "lower"
			if row.SimMedian > row.RealMedian {
				dir = "higher"
			}
			row.Calibrate = fmt.Sprintf("simulator %s than reality: calibrate %s", dir, doc.Calibration())
		}
		rows = append(rows, row)
	}
	return rows
}

// lookup documents an indicator: the registry's, or for a scenario's PromQL indicators (which
// both worlds evaluate from the same queries) what the query is: an alert's minutes, an
// objective's value in the query's own unit.
func lookup(name string) measure.Doc {
	if d, ok := measure.Lookup(name); ok {
		return d
	}
	d := measure.Doc{Name: name}
	switch {
	case strings.HasPrefix(name, "alert/"):
		d.Unit = "minutes"
		d.Calibrate = "the models behind the families the alert's expression reads (the rule file), and the scrape interval (models.alerts.scrapeInterval)"
	case strings.HasPrefix(name, "promql/"):
		d.Calibrate = "the models behind the families the objective's query reads"
	}
	return d
}
