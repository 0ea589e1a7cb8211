package results

import (
	"bytes"
	"encoding/csv"
	"encoding/json"
	"fmt"
	"image/color"
	"io"
	"math"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"text/tabwriter"

	"gonum.org/v1/plot"
	"gonum.org/v1/plot/plotter"
	"gonum.org/v1/plot/plotutil"
	"gonum.org/v1/plot/vg"
)

// SweepPoint is one grid point of a sweep: a value per parameter and the scored run there.
type SweepPoint struct {
	Values  []string `json:"values"`
	Summary *Summary `json:"summary"`
}

// Sweep is a scenario scored over a grid of parameter values.
type Sweep struct {
	Schema    int          `json:"schema"`
	Scenario  string       `json:"scenario"`
	Digest    string       `json:"digest"`
	Faultline string       `json:"faultline"`
	Params    []string     `json:"params"`
	Points    []SweepPoint `json:"points"`
	// Crossings lists, for one-parameter sweeps, where each objective's mean crosses its target.
	Crossings []Crossing `json:"crossings"`
}

// Crossing is where a variant's objective changes between meeting and missing its target.
type Crossing struct {
	Variant   string `json:"variant"`
	Objective string `json:"objective"`
	// From and To are the neighbouring parameter values; Meets says whether the target is met at To.
	From  string `json:"from"`
	To    string `json:"to"`
	Meets bool   `json:"meets"`
}

// FindCrossings fills s.Crossings for a one-parameter sweep (points in grid order).
func (s *Sweep) FindCrossings() {
	s.Crossings = nil
	if len(s.Params) != 1 || len(s.Points) < 2 {
		return
	}
	first := s.Points[0].Summary
	for oi, o := range first.Objectives {
		if o.TargetValue == nil {
			continue
		}
		for _, v := range first.Variants {
			prev := o.Met(v.Objectives[oi].Mean)
			for pi := 1; pi < len(s.Points); pi++ {
				sv := findVariant(s.Points[pi].Summary, v.Name)
				if sv == nil {
					continue
				}
				met := o.Met(sv.Objectives[oi].Mean)
				if met != prev {
					s.Crossings = append(s.Crossings, Crossing{Variant: v.Name, Objective: o.Name, From: s.Points[pi-1].Values[0], To: s.Points[pi].Values[0], Meets: met})
				}
				prev = met
			}
		}
	}
}

// PrintSweep writes the sweep as a table per objective: one row per grid point, one column per
// variant with the mean and its interval, then the crossings.
func PrintSweep(w io.Writer, s *Sweep) {
	fmt.Fprintf(w, "%s sweep over %s  (%d points, %s, faultline %s)\n", s.Scenario, strings.Join(s.Params, ", "), len(s.Points), shortDigest(s.Digest), s.Faultline)
	if len(s.Points) == 0 {
		return
	}
	first := s.Points[0].Summary
	for oi, o := range first.Objectives {
		fmt.Fprintf(w, "\nobjective %s: %s", o.Name, o.Indicator)
		if t := o.Target(); t != "" {
			fmt.Fprintf(w, ", target %s", t)
		}
		fmt.Fprintln(w, "  (mean [95% CI]; * misses the target)")
		tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
		hdr := append([]string{}, s.Params...)
		for _, v := range first.Variants {
			hdr = append(hdr, v.Name)
		}
		fmt.Fprintln(tw, strings.Join(hdr, "\t"))
		for _, p := range s.Points {
			row := append([]string{}, p.Values...)
			for _, v := range first.Variants {
				sv := findVariant(p.Summary, v.Name)
				if sv == nil {
					row = append(row, "-")
					continue
				}
				os := sv.Objectives[oi]
				mark := ""
				if !o.Met(os.Mean) {
					mark = "*"
				}
				row = append(row, fmt.Sprintf("%s [%s, %s]%s", num(os.Mean), num(os.MeanCI.Lo), num(os.MeanCI.Hi), mark))
			}
			fmt.Fprintln(tw, strings.Join(row, "\t"))
		}
		_ = tw.Flush()
	}
	if len(s.Params) == 1 {
		fmt.Fprintln(w)
		if len(s.Crossings) == 0 {
			fmt.Fprintln(w, "no objective crosses its target over this range")
		}
		for _, c := range s.Crossings {
			verb := "starts missing"
			if c.Meets {
				verb = "meets"
			}
			fmt.Fprintf(w, "knee: %s %s %s its target between %s=%s and %s=%s\n", c.Variant, c.Objective, verb, s.Params[0], c.From, s.Params[0], c.To)
		}
	}
}

// WriteSweep writes sweep.json, sweep.csv (one row per point, variant and objective) and, for a
// one-parameter sweep with numeric values, one SVG plot per objective.
func WriteSweep(dir string, s *Sweep) error {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return err
	}
	js, err := json.MarshalIndent(s, "", "  ")
	if err != nil {
		return err
	}
	if err := writeAtomic(filepath.Join(dir, "sweep.json"), append(js, '\n')); err != nil {
		return err
	}
	var b bytes.Buffer
	cw := csv.NewWriter(&b)
	_ = cw.Write(append(append([]string{}, s.Params...), "variant", "objective", "mean", "lo", "hi", "median", "missed"))
	for _, p := range s.Points {
		for _, v := range p.Summary.Variants {
			for oi, o := range v.Objectives {
				missed := ""
				if o.Violations != nil {
					missed = strconv.FormatFloat(o.Violations.Rate, 'g', -1, 64)
				}
				rec := append(append([]string{}, p.Values...), v.Name, p.Summary.Objectives[oi].Name,
					strconv.FormatFloat(o.Mean, 'g', -1, 64), strconv.FormatFloat(o.MeanCI.Lo, 'g', -1, 64),
					strconv.FormatFloat(o.MeanCI.Hi, 'g', -1, 64), strconv.FormatFloat(o.Median, 'g', -1, 64), missed)
				_ = cw.Write(rec)
			}
		}
	}
	cw.Flush()
	if err := writeAtomic(filepath.Join(dir, "sweep.csv"), b.Bytes()); err != nil {
		return err
	}
	if len(s.Params) != 1 || len(s.Points) == 0 {
		return nil
	}
	xs := make([]float64, len(s.Points))
	for i, p := range s.Points {
		x, err := strconv.ParseFloat(strings.TrimSuffix(p.Values[0], "s"), 64)
		if err != nil {
			return nil // non-numeric values: no plot
		}
		xs[i] = x
	}
	first := s.Points[0].Summary
	for oi, o := range first.Objectives {
		svg, err := sweepPlot(s, xs, oi)
		if err != nil {
			return fmt.Errorf("plot %s: %w", o.Name, err)
		}
		if err := writeAtomic(filepath.Join(dir, "sweep-"+safeName(o.Name)+".svg"), svg); err != nil {
			return err
		}
	}
	return nil
}

func sweepPlot(s *Sweep, xs []float64, oi int) ([]byte, error) {
	first := s.Points[0].Summary
	o := first.Objectives[oi]
	p := plot.New()
	p.Title.Text = fmt.Sprintf("%s: %s against %s", s.Scenario, o.Name, s.Params[0])
	p.X.Label.Text = s.Params[0]
	p.Y.Label.Text = o.Indicator + " (mean, 95% CI)"
	p.Legend.Top = true
	for vi, v := range first.Variants {
		pts := make(plotter.XYs, 0, len(xs))
		errs := make(plotter.YErrors, 0, len(xs))
		for i, pt := range s.Points {
			sv := findVariant(pt.Summary, v.Name)
			if sv == nil || math.IsNaN(sv.Objectives[oi].Mean) {
				continue
			}
			os := sv.Objectives[oi]
			pts = append(pts, plotter.XY{X: xs[i], Y: os.Mean})
			errs = append(errs, struct{ Low, High float64 }{os.Mean - os.MeanCI.Lo, os.MeanCI.Hi - os.Mean})
		}
		line, points, err := plotter.NewLinePoints(pts)
		if err != nil {
			return nil, err
		}
		c := plotutil.Color(vi)
		line.Color, points.Color = c, c
		points.Shape = plotutil.Shape(vi)
		bars, err := plotter.NewYErrorBars(struct {
			plotter.XYer
			plotter.YErrorer
		}{pts, errs})
		if err != nil {
			return nil, err
		}
		bars.Color = c
		p.Add(line, points, bars)
		p.Legend.Add(v.Name, line, points)
	}
	if o.TargetValue != nil {
		t := *o.TargetValue
		tl, err := plotter.NewLine(plotter.XYs{{X: xs[0], Y: t}, {X: xs[len(xs)-1], Y: t}})
		if err != nil {
			return nil, err
		}
		tl.Color = color.Gray{Y: 120}
		tl.Dashes = []vg.Length{vg.Points(4), vg.Points(3)}
		p.Add(tl)
		p.Legend.Add("target "+o.Target(), tl)
	}
	w, err := p.WriterTo(7*vg.Inch, 4.5*vg.Inch, "svg")
	if err != nil {
		return nil, err
	}
	var b bytes.Buffer
	if _, err := w.WriteTo(&b); err != nil {
		return nil, err
	}
	return b.Bytes(), nil
}
