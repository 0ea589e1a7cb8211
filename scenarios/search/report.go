package search

import (
	"bytes"
	"encoding/json"
	"fmt"
	"html"
	"image/color"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"

	"gonum.org/v1/plot"
	"gonum.org/v1/plot/plotter"
	"gonum.org/v1/plot/vg"
)

// WriteOptimize writes optimize.json, report.md, report.html and one SVG per knob and objective (the missed
// share of seeds and its upper bound against the knob, the allowed share and the chosen value
// marked) into dir.
func WriteOptimize(dir string, r *OptimizeResult) error {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return err
	}
	js, err := json.MarshalIndent(r, "", "  ")
	if err != nil {
		return err
	}
	if err := os.WriteFile(filepath.Join(dir, "optimize.json"), append(js, '\n'), 0o644); err != nil {
		return err
	}
	var md bytes.Buffer
	fmt.Fprintf(&md, "# optimize %s, variant %s\n\n", r.Scenario, r.Variant)
	if r.Found {
		fmt.Fprintf(&md, "Cheapest setting that meets every objective:\n\n")
		for k, path := range r.Knobs {
			fmt.Fprintf(&md, "- `%s` = **%s**\n", path, r.cfg.Knobs[k].Values[r.chosen[k]])
		}
		fmt.Fprintf(&md, "\nconfidence %.3f that each objective's missed share is at most %g (%s bound at %g)\n\n", r.Confidence, r.Allowed, r.Bound, r.Level)
	} else {
		fmt.Fprintf(&md, "No setting in range meets every objective (missed share at most %g, %s bound at %g).\n\n", r.Allowed, r.Bound, r.Level)
	}
	fmt.Fprintf(&md, "Method: %s (monotone per knob: %v). %d simulation runs over %d settings, %.2f s.\n\n", r.Method, r.Monotone, r.Evaluations, r.Settings, r.Seconds)
	if r.Interrupted {
		md.WriteString("Interrupted: what is above was decided before the stop.\n\n")
	}
	md.WriteString("| " + strings.Join(r.Knobs, " | ") + " | seeds |")
	for _, o := range r.cfg.Objectives {
		fmt.Fprintf(&md, " %s (%s): missed, upper |", o.Name, o.Target)
	}
	md.WriteString(" verdict |\n|" + strings.Repeat(" --- |", len(r.Knobs)+len(r.cfg.Objectives)+2) + "\n")
	for _, p := range sortedPoints(r) {
		md.WriteString("| " + strings.Join(p.Values, " | ") + fmt.Sprintf(" | %d |", p.Tally.Seeds))
		for i, k := range p.Tally.Missed {
			fmt.Fprintf(&md, " %d, %.3f |", k, p.Upper[i])
		}
		fmt.Fprintf(&md, " %s |\n", p.Verdict)
	}
	var plots []string
	for k := range r.Knobs {
		xs, line := lineThrough(r, k)
		if len(line) < 2 {
			continue
		}
		for oi, o := range r.cfg.Objectives {
			name := fmt.Sprintf("optimize-%s-%s.svg", safe(r.Knobs[k]), safe(o.Name))
			svg, err := boundaryPlot(r, k, oi, xs, line)
			if err != nil {
				return fmt.Errorf("plot %s: %w", name, err)
			}
			if err := os.WriteFile(filepath.Join(dir, name), svg, 0o644); err != nil {
				return err
			}
			fmt.Fprintf(&md, "\n![%s against %s](%s)\n", o.Name, r.Knobs[k], name)
			plots = append(plots, string(svg))
		}
	}
	if err := os.WriteFile(filepath.Join(dir, "report.md"), md.Bytes(), 0o644); err != nil {
		return err
	}
	return os.WriteFile(filepath.Join(dir, "report.html"), optimizeHTML(r, plots), 0o644)
}

// optimizeHTML is a self-contained page: the verdict, the played settings and the plots inline.
func optimizeHTML(r *OptimizeResult, plots []string) []byte {
	var b bytes.Buffer
	esc := html.EscapeString
	fmt.Fprintf(&b, "<!doctype html><meta charset=utf-8><title>optimize %s</title>\n", esc(r.Scenario))
	b.WriteString("<style>body{font:14px sans-serif;margin:2em}table{border-collapse:collapse}td,th{border:1px solid #ccc;padding:2px 6px;text-align:right}</style>\n")
	fmt.Fprintf(&b, "<h1>optimize %s, variant %s</h1>\n", esc(r.Scenario), esc(r.Variant))
	if r.Found {
		b.WriteString("<p>Cheapest setting that meets every objective:</p><ul>")
		for k, path := range r.Knobs {
			fmt.Fprintf(&b, "<li><code>%s</code> = <b>%s</b></li>", esc(path), esc(r.cfg.Knobs[k].Values[r.chosen[k]]))
		}
		fmt.Fprintf(&b, "</ul><p>confidence %.3f that each objective's missed share is at most %g (%s bound at %g)</p>\n", r.Confidence, r.Allowed, esc(r.Bound), r.Level)
	} else {
		fmt.Fprintf(&b, "<p>No setting in range meets every objective (missed share at most %g).</p>\n", r.Allowed)
	}
	fmt.Fprintf(&b, "<p>Method: %s. %d simulation runs over %d settings, %.2f s.</p>\n<table><tr>", esc(r.Method), r.Evaluations, r.Settings, r.Seconds)
	for _, k := range r.Knobs {
		fmt.Fprintf(&b, "<th>%s</th>", esc(k))
	}
	b.WriteString("<th>seeds</th>")
	for _, o := range r.cfg.Objectives {
		fmt.Fprintf(&b, "<th>%s (%s): missed, upper</th>", esc(o.Name), esc(o.Target.String()))
	}
	b.WriteString("<th>verdict</th></tr>\n")
	for _, p := range sortedPoints(r) {
		b.WriteString("<tr>")
		for _, v := range p.Values {
			fmt.Fprintf(&b, "<td>%s</td>", esc(v))
		}
		fmt.Fprintf(&b, "<td>%d</td>", p.Tally.Seeds)
		for i, k := range p.Tally.Missed {
			fmt.Fprintf(&b, "<td>%d, %.3f</td>", k, p.Upper[i])
		}
		fmt.Fprintf(&b, "<td>%s</td></tr>\n", esc(p.Verdict))
	}
	b.WriteString("</table>\n")
	for _, svg := range plots {
		// gonum's SVG starts with an XML declaration, which has no place inside HTML
		if i := strings.Index(svg, "<svg"); i >= 0 {
			svg = svg[i:]
		}
		b.WriteString("<div>" + svg + "</div>\n")
	}
	return b.Bytes()
}

func sortedPoints(r *OptimizeResult) []*Point {
	ps := slices.Clone(r.Points)
	slices.SortFunc(ps, func(a, b *Point) int { return slices.Compare(a.Index, b.Index) })
	return ps
}

// lineThrough is the played settings that differ from the chosen one (or, when none was found,
// from the first played) only in knob k, in knob order.
func lineThrough(r *OptimizeResult, k int) ([]float64, []*Point) {
	ref := r.chosen
	if ref == nil && len(r.Points) > 0 {
		ref = r.Points[0].Index
	}
	var line []*Point
	for _, p := range sortedPoints(r) {
		same := true
		for j := range p.Index {
			if j != k && p.Index[j] != ref[j] {
				same = false
			}
		}
		if same && p.Tally.Seeds > 0 {
			line = append(line, p)
		}
	}
	var xs []float64
	for _, p := range line {
		xs = append(xs, r.cfg.Knobs[k].X[p.Index[k]])
	}
	return xs, line
}

var unsafeChars = regexp.MustCompile(`[^A-Za-z0-9_.-]+`)

func safe(s string) string { return strings.Trim(unsafeChars.ReplaceAllString(s, "_"), "_") }

func boundaryPlot(r *OptimizeResult, k, oi int, xs []float64, line []*Point) ([]byte, error) {
	o := r.cfg.Objectives[oi]
	p := plot.New()
	p.Title.Text = fmt.Sprintf("%s (%s %s): seeds missing it", r.Scenario, o.Name, o.Target)
	p.X.Label.Text = r.Knobs[k]
	p.Y.Label.Text = "share of seeds missing the target"
	p.Y.Min, p.Y.Max = 0, 1
	p.Legend.Top = true
	share, upper := make(plotter.XYs, len(line)), make(plotter.XYs, len(line))
	for i, pt := range line {
		share[i] = plotter.XY{X: xs[i], Y: float64(pt.Tally.Missed[oi]) / float64(pt.Tally.Seeds)}
		upper[i] = plotter.XY{X: xs[i], Y: pt.Upper[oi]}
	}
	l, pts, err := plotter.NewLinePoints(share)
	if err != nil {
		return nil, err
	}
	l.Color, pts.Color = color.RGBA{R: 31, G: 119, B: 180, A: 255}, color.RGBA{R: 31, G: 119, B: 180, A: 255}
	u, err := plotter.NewScatter(upper)
	if err != nil {
		return nil, err
	}
	u.Color = color.RGBA{R: 214, G: 39, B: 40, A: 255}
	lo, hi := slices.Min(xs), slices.Max(xs)
	al, err := plotter.NewLine(plotter.XYs{{X: lo, Y: r.Allowed}, {X: hi, Y: r.Allowed}})
	if err != nil {
		return nil, err
	}
	al.Color = color.Gray{Y: 120}
	al.Dashes = []vg.Length{vg.Points(4), vg.Points(3)}
	p.Add(l, pts, u, al)
	p.Legend.Add("missed share", l, pts)
	p.Legend.Add(fmt.Sprintf("upper bound (%g)", r.Level), u)
	p.Legend.Add(fmt.Sprintf("allowed %g", r.Allowed), al)
	if r.Found {
		x := r.cfg.Knobs[k].X[r.chosen[k]]
		b, err := plotter.NewLine(plotter.XYs{{X: x, Y: 0}, {X: x, Y: 1}})
		if err != nil {
			return nil, err
		}
		b.Color = color.RGBA{G: 128, A: 255}
		b.Width = vg.Points(1.5)
		p.Add(b)
		p.Legend.Add(fmt.Sprintf("chosen %s", r.cfg.Knobs[k].Values[r.chosen[k]]), b)
	}
	w, err := p.WriterTo(7*vg.Inch, 4.5*vg.Inch, "svg")
	if err != nil {
		return nil, err
	}
	var buf bytes.Buffer
	if _, err := w.WriteTo(&buf); err != nil {
		return nil, err
	}
	return buf.Bytes(), nil
}
