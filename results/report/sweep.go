package report

import (
	"bytes"
	_ "embed"
	"fmt"
	"html/template"
	"math"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"gonum.org/v1/plot/plotter"
	"gonum.org/v1/plot/vg"
	"gonum.org/v1/plot/vg/draw"

	"github.com/faultline-dev/faultline/results"
)

// SweepFiles are the names RenderSweep writes into the sweep directory.
var SweepFiles = []string{"report.md", "report.html"}

//go:embed sweep.html.tmpl
var sweepSource string

var sweepTemplate = template.Must(template.New("sweep.html").Funcs(funcs).Parse(sweepSource))

// sweepView is what the sweep's report.md and report.html show, formatted once for both.
type sweepView struct {
	Scenario, Digest, Faultline, Baseline string
	Params                                []string
	Points                                string // "6 of 6"
	Seeds                                 string
	Alpha                                 string
	Interrupted                           bool
	Knees                                 []string
	Objectives                            []sweepObj
	HowTo                                 []string
}

type sweepObj struct {
	Name, Indicator, Unit, Target, Direction string
	Variants                                 []string
	Rows                                     []sweepRow
	Censored                                 bool
	SVG                                      template.HTML
}

type sweepRow struct {
	Values []string // the point's parameter values
	Cells  []sweepCell
}

type sweepCell struct {
	Mean  string // "0.9719 [0.9698, 0.9738]", "≥ " when censored seeds are in it
	Sub   string // "missed 10%, better"
	Class string // better, worse, same, base, miss
}

// RenderSweep writes the sweep's report.md and report.html into dir, in the run report's style:
// the grid, the knees (where an objective starts or stops meeting its target), and per objective
// a table (one row per grid point, one column per variant: mean with its 95 % interval, the share
// of seeds that missed the target and the verdict against the baseline at that point) and, for a
// one-parameter numeric sweep, a plot of the means against the parameter.
func RenderSweep(dir string, sw *results.Sweep) error {
	v := buildSweepView(sw)
	md := sweepMarkdown(v)
	for oi := range v.Objectives {
		svg, ok, err := sweepSVG(sw, oi)
		if err != nil {
			return fmt.Errorf("report.html: %w", err)
		}
		if ok {
			v.Objectives[oi].SVG = template.HTML(svg) //nolint:gosec // gonum/plot escapes its text
		}
	}
	var b bytes.Buffer
	if err := sweepTemplate.Execute(&b, struct {
		*sweepView
		Style template.CSS
	}{v, template.CSS(styleSource)}); err != nil {
		return fmt.Errorf("report.html: %w", err)
	}
	for i, data := range [][]byte{md, b.Bytes()} {
		if err := writeAtomic(filepath.Join(dir, SweepFiles[i]), data); err != nil {
			return err
		}
	}
	return nil
}

func buildSweepView(sw *results.Sweep) *sweepView {
	v := &sweepView{Scenario: sw.Scenario, Digest: sw.Digest, Faultline: sw.Faultline, Params: sw.Params,
		Points: fmt.Sprint(len(sw.Points))}
	if len(sw.Points) == 0 {
		return v
	}
	first := sw.Points[0].Summary
	v.Baseline, v.Alpha = first.Baseline, fmt.Sprintf("%g", first.Alpha)
	v.Seeds = fmt.Sprintf("%s (%d seeds per variant and point)", seedSpan(first.Seeds), len(first.Seeds))
	for _, p := range sw.Points {
		v.Interrupted = v.Interrupted || p.Summary.Interrupted
	}
	for _, c := range sw.Crossings {
		verb := "starts missing"
		if c.Meets {
			verb = "meets"
		}
		v.Knees = append(v.Knees, fmt.Sprintf("%s: %s %s its target between %s = %s and %s", c.Variant, c.Objective, verb, sw.Params[0], c.From, c.To))
	}
	for oi, o := range first.Objectives {
		so := sweepObj{Name: o.Name, Indicator: o.Indicator, Unit: o.Unit, Target: o.Target(), Direction: direction(o)}
		for _, vs := range first.Variants {
			so.Variants = append(so.Variants, vs.Name)
		}
		for _, p := range sw.Points {
			row := sweepRow{Values: p.Values}
			for _, name := range so.Variants {
				vi := variantIndex(p.Summary, name)
				if vi < 0 || p.Summary.Variants[vi].Complete == 0 {
					row.Cells = append(row.Cells, sweepCell{Mean: "n/a", Class: "same"})
					continue
				}
				os := p.Summary.Variants[vi].Objectives[oi]
				c := sweepCell{Mean: fmt.Sprintf("%s%s [%s, %s]", results.CensorMark(os.Censored), num(os.Mean), num(os.MeanCI.Lo), num(os.MeanCI.Hi)), Class: "base"}
				so.Censored = so.Censored || os.Censored > 0
				var sub []string
				if vio := os.Violations; vio != nil {
					sub = append(sub, "missed "+pct(vio.Rate))
				}
				if cmp := os.Comparison; cmp != nil {
					sub = append(sub, shortVerdict(cmp.Verdict))
					c.Class = verdictClass(cmp.Verdict)
				}
				c.Sub = strings.Join(sub, ", ")
				row.Cells = append(row.Cells, c)
			}
			so.Rows = append(so.Rows, row)
		}
		v.Objectives = append(v.Objectives, so)
	}
	v.HowTo = []string{
		"Every grid point replays every variant over the same seeds as the baseline at that point; each cell is that point's mean over seeds with its percentile-bootstrap 95% interval.",
		"missed: the share of seeds that missed the objective's target at that point. The verdict compares the variant with the baseline at the same point (paired Wilcoxon signed-rank, Holm-adjusted within the point, alpha " + v.Alpha + "); \"inconclusive\" means that point's seeds could not reach significance at all.",
		"Knee: for a one-parameter sweep, the neighbouring values between which a variant's mean crosses the objective's target.",
		"≥ marks a mean that includes censored seeds (the timed event never happened, so the value is the run's length, a lower bound).",
	}
	return v
}

func sweepMarkdown(v *sweepView) []byte {
	var b bytes.Buffer
	p := func(format string, a ...any) { fmt.Fprintf(&b, format, a...) }
	p("# faultline sweep: %s\n\n", mdText(v.Scenario))
	p("| | |\n|---|---|\n")
	p("| scenario | %s |\n", mdCell(v.Scenario))
	p("| digest | `%s` |\n", mdCode(v.Digest))
	p("| parameters | %s |\n", mdCell(strings.Join(v.Params, ", ")))
	p("| points | %s |\n", v.Points)
	p("| seeds | %s |\n", mdCell(v.Seeds))
	p("| baseline | %s |\n", mdCell(v.Baseline))
	p("| faultline | %s |\n", mdCell(v.Faultline))
	p("| interrupted | %t |\n\n", v.Interrupted)
	if v.Interrupted {
		p("> **Incomplete sweep.** Only the points that finished are shown.\n\n")
	}
	if len(v.Params) == 1 {
		p("## Knees\n\n")
		if len(v.Knees) == 0 {
			p("No objective crosses its target over this range.\n\n")
		}
		for _, k := range v.Knees {
			p("- %s\n", mdText(k))
		}
		if len(v.Knees) > 0 {
			p("\n")
		}
	}
	for _, o := range v.Objectives {
		mdObjectiveHead(&b, o.Name, o.Indicator, o.Unit, o.Target)
		p(", %s. Mean [95%% CI]; missed target; verdict against the baseline at the same point.\n\n", o.Direction)
		hdr := make([]string, 0, len(v.Params)+len(o.Variants))
		for _, pa := range v.Params {
			hdr = append(hdr, mdCell(pa))
		}
		for _, name := range o.Variants {
			hdr = append(hdr, mdCell(name))
		}
		mdRow(&b, hdr)
		mdSep(&b, len(hdr))
		for _, r := range o.Rows {
			row := make([]string, 0, len(hdr))
			for _, x := range r.Values {
				row = append(row, mdCell(x))
			}
			for _, c := range r.Cells {
				cell := mdCell(c.Mean)
				if c.Sub != "" {
					cell += "<br>" + mdCell(c.Sub)
				}
				if c.Class == "better" || c.Class == "worse" {
					cell = "**" + cell + "**"
				}
				row = append(row, cell)
			}
			mdRow(&b, row)
		}
		b.WriteString("\n")
	}
	p("## How to read this\n\n")
	for _, h := range v.HowTo {
		p("- %s\n", mdText(h))
	}
	p("\nsweep.json holds every point's full summary; sweep.csv one row per point, variant and objective.\n")
	return b.Bytes()
}

// sweepSVG plots objective oi's mean with its 95 % interval against the parameter, one line per
// variant, with the target as a dashed red line; only for a one-parameter sweep whose values are
// numbers (or durations, in seconds). ok is false when there is nothing to plot.
func sweepSVG(sw *results.Sweep, oi int) (svg string, ok bool, err error) {
	if len(sw.Params) != 1 || len(sw.Points) < 2 {
		return "", false, nil
	}
	xs := make([]float64, len(sw.Points))
	for i, p := range sw.Points {
		x, ok := paramNumber(p.Values[0])
		if !ok {
			return "", false, nil
		}
		xs[i] = x
	}
	first := sw.Points[0].Summary
	o := first.Objectives[oi]
	pl := newPlot(fmt.Sprintf("%s against %s", o.Name, sw.Params[0]))
	pl.X.Label.Text = sw.Params[0]
	pl.Y.Label.Text = axisLabel(o) + ", mean with 95% CI"
	pl.X.Tick.Marker = cleanTicks{}
	pl.Y.Tick.Marker = cleanTicks{}
	pl.Add(gridXY())
	pl.Legend.Top = true
	lo, hi := math.Inf(1), math.Inf(-1)
	for v, vs := range first.Variants {
		col := variantColor(first, v)
		var pts plotter.XYs
		var errs plotter.YErrors
		for i, p := range sw.Points {
			vi := variantIndex(p.Summary, vs.Name)
			if vi < 0 || p.Summary.Variants[vi].Complete == 0 {
				continue
			}
			os := p.Summary.Variants[vi].Objectives[oi]
			pts = append(pts, plotter.XY{X: xs[i], Y: os.Mean})
			errs = append(errs, struct{ Low, High float64 }{os.Mean - os.MeanCI.Lo, os.MeanCI.Hi - os.Mean})
			lo, hi = math.Min(lo, os.MeanCI.Lo), math.Max(hi, os.MeanCI.Hi)
		}
		if len(pts) == 0 {
			continue
		}
		line, points, err := plotter.NewLinePoints(pts)
		if err != nil {
			return "", false, err
		}
		line.Color, points.Color = col, col
		line.Width = vg.Points(1.2)
		bars, err := plotter.NewYErrorBars(struct {
			plotter.XYer
			plotter.YErrorer
		}{pts, errs})
		if err != nil {
			return "", false, err
		}
		bars.Color = col
		pl.Add(line, points, bars)
		pl.Legend.Add(vs.Name, line, points)
	}
	if t := o.TargetValue; t != nil {
		lo, hi = math.Min(lo, *t), math.Max(hi, *t)
		pl.Add(hline{Y: *t, Style: draw.LineStyle{Color: targetRed, Width: vg.Points(1), Dashes: []vg.Length{vg.Points(4), vg.Points(3)}}})
	}
	if !math.IsInf(lo, 0) {
		pl.Y.Min, pl.Y.Max = padRange(lo, hi)
	}
	svg, err = svgOf(vg.Points(2*plotWidth), vg.Points(300), pl.Draw)
	return svg, err == nil, err
}

// paramNumber reads a sweep value as a number: plain numbers, and durations in seconds.
func paramNumber(s string) (float64, bool) {
	if x, err := strconv.ParseFloat(s, 64); err == nil {
		return x, true
	}
	if d, err := time.ParseDuration(s); err == nil {
		return d.Seconds(), true
	}
	return 0, false
}
