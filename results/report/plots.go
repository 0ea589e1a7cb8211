package report

import (
	"bytes"
	"fmt"
	"hash/fnv"
	"image/color"
	"math"
	"strconv"
	"strings"

	xfont "golang.org/x/image/font"
	"gonum.org/v1/plot"
	"gonum.org/v1/plot/font"
	"gonum.org/v1/plot/plotter"
	"gonum.org/v1/plot/vg"
	"gonum.org/v1/plot/vg/draw"
	"gonum.org/v1/plot/vg/vgsvg"

	"github.com/faultline-dev/faultline/results"
	"github.com/faultline-dev/faultline/results/stats"
)

// Fonts: Liberation Sans, which gonum/plot measures text with. It is metric-compatible with
// Arial and Helvetica, which the HTML names as fallbacks, so labels keep their measured width.
var (
	sansFont = font.Font{Typeface: "Liberation", Variant: "Sans"}
	boldFont = font.Font{Typeface: "Liberation", Variant: "Sans", Weight: xfont.WeightBold}
)

var (
	black      = color.RGBA{0x1f, 0x23, 0x28, 0xff}
	gridGrey   = color.RGBA{0xd0, 0xd7, 0xde, 0xff}
	targetRed  = color.RGBA{0xcf, 0x22, 0x2e, 0xff}
	betterCol  = color.RGBA{0x1a, 0x7f, 0x37, 0xff}
	worseCol   = color.RGBA{0xcf, 0x22, 0x2e, 0xff}
	sameCol    = color.RGBA{0x6e, 0x77, 0x81, 0xff}
	baseCol    = color.RGBA{0x57, 0x60, 0x6a, 0xff}
	successCol = color.RGBA{0x09, 0x69, 0xda, 0xff}
	// variant colours: Okabe–Ito without the greens and reds the verdicts use
	variantCols = []color.RGBA{
		{0x00, 0x72, 0xb2, 0xff}, {0xe6, 0x9f, 0x00, 0xff}, {0xcc, 0x79, 0xa7, 0xff},
		{0x56, 0xb4, 0xe9, 0xff}, {0x8c, 0x56, 0x4b, 0xff}, {0x6a, 0x3d, 0x9a, 0xff},
	}
	// node colours for the CPU panel
	nodeCols = []color.RGBA{
		{0x1f, 0x77, 0xb4, 0xff}, {0xff, 0x7f, 0x0e, 0xff}, {0x2c, 0xa0, 0x2c, 0xff}, {0xd6, 0x27, 0x28, 0xff},
		{0x94, 0x67, 0xbd, 0xff}, {0x8c, 0x56, 0x4b, 0xff}, {0xe3, 0x77, 0xc2, 0xff}, {0x7f, 0x7f, 0x7f, 0xff},
		{0xbc, 0xbd, 0x22, 0xff}, {0x17, 0xbe, 0xcf, 0xff},
	}
)

func variantColor(s *results.Summary, v int) color.RGBA {
	if s.Variants[v].Name == s.Baseline {
		return baseCol
	}
	k := 0
	for i := 0; i < v; i++ {
		if s.Variants[i].Name != s.Baseline {
			k++
		}
	}
	return variantCols[k%len(variantCols)]
}

func withAlpha(c color.RGBA, a uint8) color.NRGBA {
	return color.NRGBA{c.R, c.G, c.B, a}
}

// newPlot returns a plot with the report's fonts and sizes.
func newPlot(title string) *plot.Plot {
	p := plot.New()
	p.Title.Text = title
	p.Title.TextStyle.Font = font.From(boldFont, 11)
	p.Title.TextStyle.Color = black
	p.Title.Padding = vg.Points(8)
	for _, ax := range []*plot.Axis{&p.X, &p.Y} {
		ax.Label.TextStyle.Font = font.From(sansFont, 10)
		ax.Label.TextStyle.Color = black
		ax.Label.Padding = vg.Points(4)
		ax.Tick.Label.Font = font.From(sansFont, 9)
		ax.Tick.Label.Color = black
		ax.Tick.Length = vg.Points(4)
		ax.Color = black
		ax.Tick.Color = black
	}
	p.Legend.TextStyle.Font = font.From(sansFont, 9)
	p.Legend.TextStyle.Color = black
	return p
}

// svgOf draws the plot on a w×h point canvas and returns the SVG element, ready to inline.
func svgOf(w, h vg.Length, drawFn func(dc draw.Canvas)) (string, error) {
	c := vgsvg.New(w, h)
	dc := draw.New(c)
	drawFn(dc)
	var b bytes.Buffer
	if _, err := c.WriteTo(&b); err != nil {
		return "", err
	}
	return inlineSVG(b.String()), nil
}

// inlineSVG turns a standalone SVG document into an element for an HTML page: no XML prolog or
// generator comment, and no unused xlink namespace.
func inlineSVG(doc string) string {
	if i := strings.Index(doc, "<svg"); i >= 0 {
		doc = doc[i:]
	}
	if !strings.Contains(doc, "xlink:href") {
		doc = strings.Replace(doc, "\n\txmlns:xlink=\"http://www.w3.org/1999/xlink\"", "", 1)
	}
	doc = strings.Replace(doc, "<svg ", `<svg role="img" `, 1)
	return strings.TrimSpace(doc)
}

// jitter is a deterministic offset in [-1, 1] for one (variant, seed) point: the same seed always
// lands in the same place, whatever the order or number of seeds.
func jitter(variant string, seed uint64) float64 {
	h := fnv.New64a()
	_, _ = h.Write([]byte(variant))
	x := h.Sum64() ^ (seed * 0x9e3779b97f4a7c15)
	// splitmix64 finaliser
	x ^= x >> 30
	x *= 0xbf58476d1ce4e5b9
	x ^= x >> 27
	x *= 0x94d049bb133111eb
	x ^= x >> 31
	return float64(x>>11)/float64(1<<53)*2 - 1
}

// padRange widens [lo, hi] by 4% on each side, and gives an empty range a width.
func padRange(lo, hi float64) (float64, float64) {
	return padRangeBy(lo, hi, 0.04)
}

func padRangeBy(lo, hi, frac float64) (float64, float64) {
	if math.IsInf(lo, 0) || math.IsInf(hi, 0) || math.IsNaN(lo) || math.IsNaN(hi) {
		return 0, 1
	}
	span := hi - lo
	if span == 0 {
		span = math.Max(math.Abs(lo), 1)
		return lo - span/2, hi + span/2
	}
	return lo - frac*span, hi + frac*span
}

// rowTicks returns the nominal tick labels for rows drawn top (index 0) to bottom.
func rowTicks(names []string) plot.ConstantTicks {
	n := len(names)
	ticks := make(plot.ConstantTicks, n)
	for i, name := range names {
		ticks[i] = plot.Tick{Value: float64(n - 1 - i), Label: name}
	}
	return ticks
}

func nominalY(p *plot.Plot, names []string) {
	p.Y.Tick.Width = 0
	p.Y.Tick.Length = 0
	p.Y.Width = 0
	p.Y.Tick.Marker = rowTicks(names)
	n := float64(len(names))
	p.Y.Min, p.Y.Max = -0.6, n-0.4
}

// vline is a vertical line at x across the whole y range of the plot.
type vline struct {
	X     float64
	Style draw.LineStyle
}

func (l vline) Plot(c draw.Canvas, p *plot.Plot) {
	trX, _ := p.Transforms(&c)
	x := trX(l.X)
	if x < c.Min.X || x > c.Max.X {
		return
	}
	c.StrokeLine2(l.Style, x, c.Min.Y, x, c.Max.Y)
}

func (l vline) DataRange() (xmin, xmax, ymin, ymax float64) {
	return l.X, l.X, math.Inf(1), math.Inf(-1)
}

// hline is a horizontal line at y across the whole x range of the plot.
type hline struct {
	Y     float64
	Style draw.LineStyle
}

func (l hline) Plot(c draw.Canvas, p *plot.Plot) {
	_, trY := p.Transforms(&c)
	y := trY(l.Y)
	if y < c.Min.Y || y > c.Max.Y {
		return
	}
	c.StrokeLine2(l.Style, c.Min.X, y, c.Max.X, y)
}

// gridX draws light vertical lines at the labelled ticks of the X axis.
func gridX() plot.Plotter {
	g := plotter.NewGrid()
	g.Horizontal.Width = 0
	g.Vertical.Color = gridGrey
	g.Vertical.Width = vg.Points(0.4)
	return g
}

func gridXY() plot.Plotter {
	g := plotter.NewGrid()
	g.Horizontal.Color = gridGrey
	g.Horizontal.Width = vg.Points(0.4)
	g.Vertical.Color = gridGrey
	g.Vertical.Width = vg.Points(0.4)
	return g
}

func axisLabel(o results.Objective) string {
	l := o.Indicator
	if o.Unit != "" {
		l += " (" + o.Unit + ")"
	}
	return l
}

const plotWidth = 430 // points, each of the two objective figures

// distributionSVG draws, per variant, a horizontal box plot of the objective's per-seed values
// with every seed as a jittered point on top, and the target as a dashed red line. When the
// baseline is so far from the variants that they shrink to a sliver (less than a seventh of the
// axis), a second panel below zooms in on the variants other than the baseline.
func distributionSVG(r *Run, oi int) (string, error) {
	s := r.Summary
	o := s.Objectives[oi]
	all := make([]int, len(s.Variants))
	var rest []int
	for v, vs := range s.Variants {
		all[v] = v
		if vs.Name != s.Baseline {
			rest = append(rest, v)
		}
	}
	full, err := distributionPlot(r, oi, all, o.Name+": value per seed")
	if err != nil {
		return "", err
	}
	fullH := 80 + 36*len(all)
	var zoom *plot.Plot
	flo, fhi := valueRange(r, oi, all)
	zlo, zhi := valueRange(r, oi, rest)
	if len(rest) > 0 && zhi > zlo && (zhi-zlo) < (fhi-flo)/7 {
		if zoom, err = distributionPlot(r, oi, rest, o.Name+": zoom on the variants (baseline left out)"); err != nil {
			return "", err
		}
	}
	if zoom == nil {
		return svgOf(vg.Points(plotWidth), vg.Points(float64(fullH)), full.Draw)
	}
	zoomH := 80 + 36*len(rest)
	gap := 14
	return svgOf(vg.Points(plotWidth), vg.Points(float64(fullH+gap+zoomH)), func(dc draw.Canvas) {
		dc.SetColor(color.White)
		dc.Fill(dc.Rectangle.Path())
		full.Draw(draw.Crop(dc, 0, 0, vg.Points(float64(zoomH+gap)), 0))
		zoom.Draw(draw.Crop(dc, 0, 0, 0, -vg.Points(float64(fullH+gap))))
	})
}

// valueRange is the range of the objective's finite per-seed values of the variants vs and of its
// target.
func valueRange(r *Run, oi int, vs []int) (lo, hi float64) {
	lo, hi = math.Inf(1), math.Inf(-1)
	if t := r.Summary.Objectives[oi].TargetValue; t != nil {
		lo, hi = *t, *t
	}
	for _, v := range vs {
		for _, sv := range r.PerSeed[v][oi] {
			if math.IsNaN(sv.Value) || math.IsInf(sv.Value, 0) {
				continue
			}
			lo, hi = math.Min(lo, sv.Value), math.Max(hi, sv.Value)
		}
	}
	return lo, hi
}

func distributionPlot(r *Run, oi int, vs []int, title string) (*plot.Plot, error) {
	s := r.Summary
	o := s.Objectives[oi]
	names := make([]string, len(vs))
	for i, v := range vs {
		names[i] = s.Variants[v].Name
	}
	n := len(names)
	p := newPlot(title)
	label := axisLabel(o)
	if o.TargetValue != nil {
		label += "; dashed: target " + o.Target()
	}
	p.X.Label.Text = label
	nominalY(p, names)
	p.Add(gridX())
	if o.TargetValue != nil {
		p.Add(vline{X: *o.TargetValue, Style: draw.LineStyle{Color: targetRed, Width: vg.Points(1.2), Dashes: []vg.Length{vg.Points(4), vg.Points(3)}}})
	}
	for i, v := range vs {
		vals := r.PerSeed[v][oi]
		y := float64(n - 1 - i)
		xs := make(plotter.Values, 0, len(vals))
		pts := make(plotter.XYs, 0, len(vals))
		for _, sv := range vals {
			if math.IsNaN(sv.Value) || math.IsInf(sv.Value, 0) {
				continue
			}
			xs = append(xs, sv.Value)
			pts = append(pts, plotter.XY{X: sv.Value, Y: y + 0.28*jitter(names[i], sv.Seed)})
		}
		if len(xs) == 0 {
			continue
		}
		col := variantColor(s, v)
		sc, err := plotter.NewScatter(pts)
		if err != nil {
			return nil, err
		}
		sc.GlyphStyle = draw.GlyphStyle{Color: withAlpha(col, 0x90), Radius: vg.Points(2), Shape: draw.CircleGlyph{}}
		box, err := plotter.NewBoxPlot(vg.Points(18), y, xs)
		if err != nil {
			return nil, err
		}
		box.Horizontal = true
		box.GlyphStyle.Radius = 0 // every seed is drawn as a point already
		box.BoxStyle = draw.LineStyle{Color: black, Width: vg.Points(1)}
		box.MedianStyle = draw.LineStyle{Color: black, Width: vg.Points(2.5)}
		box.WhiskerStyle = draw.LineStyle{Color: black, Width: vg.Points(0.8)}
		box.FillColor = withAlpha(col, 0x30)
		p.Add(box, sc)
	}
	p.X.Min, p.X.Max = padRange(valueRange(r, oi, vs))
	p.X.Tick.Marker = cleanTicks{}
	p.Y.Min, p.Y.Max = -0.6, float64(n)-0.4
	return p, nil
}

// forestSVG draws the median paired difference (variant − baseline) with its 95% CI per
// variant, coloured by verdict, with a line at zero.
func forestSVG(r *Run, oi int) (string, bool, error) {
	s := r.Summary
	o := s.Objectives[oi]
	type row struct {
		name          string
		mid, lo, hi   float64
		verdict       stats.Verdict
		hasComparison bool
	}
	var rows []row
	for _, vs := range s.Variants {
		if vs.Name == s.Baseline {
			continue
		}
		c := vs.Objectives[oi].Comparison
		if c == nil {
			rows = append(rows, row{name: vs.Name + " (not compared)"})
			continue
		}
		rows = append(rows, row{name: vs.Name + " · " + shortVerdict(c.Verdict), mid: c.MedianDiff, lo: c.MedianDiffCI.Lo, hi: c.MedianDiffCI.Hi, verdict: c.Verdict, hasComparison: true})
	}
	if len(rows) == 0 {
		return "", false, nil
	}
	names := make([]string, len(rows))
	for i, rw := range rows {
		names[i] = rw.name
	}
	n := len(rows)
	p := newPlot(o.Name + ": variant − baseline, paired")
	better := "better →"
	if !o.HigherIsBetter {
		better = "← better"
	}
	unit := ""
	if o.Unit != "" {
		unit = " (" + o.Unit + ")"
	}
	p.X.Label.Text = "median difference per seed" + unit + " with 95% CI;  " + better
	nominalY(p, names)
	p.Add(gridX())
	p.Add(vline{X: 0, Style: draw.LineStyle{Color: black, Width: vg.Points(1), Dashes: []vg.Length{vg.Points(3), vg.Points(2)}}})
	lo, hi := 0.0, 0.0
	for i, rw := range rows {
		if !rw.hasComparison || math.IsNaN(rw.mid) {
			continue
		}
		col := sameCol
		switch rw.verdict {
		case stats.Better:
			col = betterCol
		case stats.Worse:
			col = worseCol
		}
		y := float64(n - 1 - i)
		xy := plotter.XYs{{X: rw.mid, Y: y}}
		eb, err := plotter.NewXErrorBars(struct {
			plotter.XYs
			plotter.XErrors
		}{xy, plotter.XErrors{{Low: math.Max(0, rw.mid-rw.lo), High: math.Max(0, rw.hi-rw.mid)}}})
		if err != nil {
			return "", false, err
		}
		eb.LineStyle = draw.LineStyle{Color: col, Width: vg.Points(2)}
		eb.CapWidth = vg.Points(10)
		sc, err := plotter.NewScatter(xy)
		if err != nil {
			return "", false, err
		}
		sc.GlyphStyle = draw.GlyphStyle{Color: col, Radius: vg.Points(4), Shape: draw.CircleGlyph{}}
		p.Add(eb, sc)
		lo = math.Min(lo, math.Min(rw.lo, rw.mid))
		hi = math.Max(hi, math.Max(rw.hi, rw.mid))
	}
	p.X.Min, p.X.Max = padRangeBy(lo, hi, 0.08)
	p.X.Tick.Marker = cleanTicks{}
	p.Y.Min, p.Y.Max = -0.6, float64(n)-0.4
	h := vg.Points(float64(80 + 36*n))
	svg, err := svgOf(vg.Points(plotWidth), h, p.Draw)
	return svg, true, err
}

// seriesLimits are the axis ranges shared by every variant's time-series figure, so that the small
// multiples compare at a glance.
type seriesLimits struct {
	hours, cpu, cron float64
}

func limitsOf(all []Series) seriesLimits {
	l := seriesLimits{hours: 0, cpu: 1.1, cron: 1}
	for _, se := range all {
		for _, row := range se.Rows {
			if row[0] > l.hours {
				l.hours = row[0]
			}
			skipped := 0.0
			for k, c := range se.Columns {
				if math.IsInf(row[k], 0) || math.IsNaN(row[k]) {
					continue
				}
				switch {
				case strings.HasPrefix(c, "cpu/") && row[k]*1.05 > l.cpu:
					l.cpu = row[k] * 1.05
				case strings.HasPrefix(c, "cron/skip/"):
					skipped += row[k]
				case isCronCount(c) && row[k]*1.05 > l.cron:
					l.cron = row[k] * 1.05
				}
			}
			l.cron = math.Max(l.cron, skipped*1.05)
		}
	}
	if l.hours == 0 {
		l.hours = 1
	}
	return l
}

// cronCounts are the cumulative cron counters of a series that the cron panel draws, with their
// legend names; the skip counters (cron/skip/<reason>) are drawn summed as "skipped".
var cronCounts = []struct{ column, label string }{
	{"cron/invoke", "scheduled"},
	{"cron/started", "started"},
	{"cron/success", "succeeded"},
	{"cron/failure", "failed"},
}

func isCronCount(c string) bool {
	for _, cc := range cronCounts {
		if cc.column == c {
			return true
		}
	}
	return false
}

// cleanTicks are gonum's default ticks with the shortest labels that keep their value: "25", not
// "25.00".
type cleanTicks struct{}

func (cleanTicks) Ticks(min, max float64) []plot.Tick {
	ts := plot.DefaultTicks{}.Ticks(min, max)
	for i, t := range ts {
		if t.Label == "" || strings.ContainsAny(t.Label, "eE") {
			continue
		}
		if x, err := strconv.ParseFloat(t.Label, 64); err == nil {
			if x == 0 {
				x = 0 // no "-0"
			}
			ts[i].Label = strconv.FormatFloat(x, 'f', -1, 64)
		}
	}
	return ts
}

// noLabels keeps the tick marks of t but drops their labels (the panel below labels the shared
// axis).
type noLabels struct{ t plot.Ticker }

func (n noLabels) Ticks(min, max float64) []plot.Tick {
	ts := n.t.Ticks(min, max)
	out := make([]plot.Tick, 0, len(ts))
	for _, t := range ts {
		if t.Label != "" {
			out = append(out, plot.Tick{Value: t.Value, Label: ""})
		}
	}
	return out
}

const (
	seriesW      = 330
	seriesH      = 330
	maxNodeLines = 10
)

// seriesSVG draws one variant's representative seed as stacked panels sharing the hours axis:
// the request success ratio (when the scenario serves requests), the cron runs (when it has
// CronJobs: cumulative runs scheduled, started, succeeded, failed and skipped, so a stall shows as
// the gap between scheduled and started), and the CPU demand over allocatable per node (0 while a
// node is down), each with its legend on the right.
func seriesSVG(se Series, lim seriesLimits) (string, error) {
	hk, sk := -1, -1
	var cpu, skips []int
	cronK := map[string]int{}
	for k, c := range se.Columns {
		switch {
		case c == "hours":
			hk = k
		case c == "success":
			sk = k
		case strings.HasPrefix(c, "cpu/"):
			cpu = append(cpu, k)
		case strings.HasPrefix(c, "cron/skip/"):
			skips = append(skips, k)
		case isCronCount(c):
			cronK[c] = k
		}
	}
	if hk < 0 {
		return "", fmt.Errorf("%s: no hours column", se.File)
	}
	hasCron := len(cronK) > 0
	// the success ratio says nothing in a scenario without requests (cron only: 1 throughout)
	showSuccess := sk >= 0
	if sk >= 0 && hasCron {
		showSuccess = false
		for _, row := range se.Rows {
			if row[sk] != 1 && !math.IsNaN(row[sk]) {
				showSuccess = true
				break
			}
		}
	}
	// line is one series as points; inside a run of equal values only the first and the last
	// sample are kept, which draws the same line with far fewer points.
	line := func(value func(row []float64) float64) plotter.XYs {
		xy := make(plotter.XYs, 0, len(se.Rows))
		rows := se.Rows
		for i, row := range rows {
			y := value(row)
			if math.IsNaN(y) || math.IsInf(y, 0) {
				continue
			}
			if i > 0 && i < len(rows)-1 && value(rows[i-1]) == y && value(rows[i+1]) == y {
				continue
			}
			xy = append(xy, plotter.XY{X: row[hk], Y: y})
		}
		return xy
	}
	column := func(k int) plotter.XYs { return line(func(row []float64) float64 { return row[k] }) }
	newLegend := func() *plot.Legend {
		l := plot.NewLegend()
		l.TextStyle.Font = font.From(sansFont, 8)
		l.TextStyle.Color = black
		l.Top, l.Left = true, true
		l.ThumbnailWidth = vg.Points(12)
		return &l
	}
	type panel struct {
		p      *plot.Plot
		legend *plot.Legend
		labels []string
	}
	var panels []panel
	add := func(p *plot.Plot, lg *plot.Legend, labels []string) {
		p.X.Min, p.X.Max = 0, lim.hours
		p.X.Tick.Marker = noLabels{cleanTicks{}}
		p.Y.Tick.Marker = cleanTicks{}
		panels = append(panels, panel{p, lg, labels})
	}

	if showSuccess {
		top := newPlot("")
		top.Y.Label.Text = "success ratio"
		top.Add(gridXY())
		l, err := plotter.NewLine(column(sk))
		if err != nil {
			return "", err
		}
		l.LineStyle = draw.LineStyle{Color: successCol, Width: vg.Points(1.2)}
		top.Add(l)
		top.Y.Min, top.Y.Max = 0, 1.02
		add(top, nil, nil)
	}
	if hasCron {
		cp := newPlot("")
		cp.Y.Label.Text = "cron runs (cumulative)"
		cp.Add(gridXY())
		lg := newLegend()
		var labels []string
		i := 0
		addLine := func(xy plotter.XYs, label string) error {
			l, err := plotter.NewLine(xy)
			if err != nil {
				return err
			}
			l.LineStyle = draw.LineStyle{Color: nodeCols[i%len(nodeCols)], Width: vg.Points(1.1)}
			i++
			cp.Add(l)
			lg.Add(label, l)
			labels = append(labels, label)
			return nil
		}
		for _, cc := range cronCounts {
			if k, ok := cronK[cc.column]; ok {
				if err := addLine(column(k), cc.label); err != nil {
					return "", err
				}
			}
		}
		if len(skips) > 0 {
			sum := line(func(row []float64) float64 {
				t := 0.0
				for _, k := range skips {
					t += row[k]
				}
				return t
			})
			if err := addLine(sum, "skipped"); err != nil {
				return "", err
			}
		}
		cp.Y.Min, cp.Y.Max = 0, lim.cron
		add(cp, lg, labels)
	}
	// a cron scenario's pods may ask for no CPU: an empty panel says nothing
	busy := false
	for _, row := range se.Rows {
		for _, k := range cpu {
			busy = busy || row[k] != 0
		}
	}
	if (len(cpu) > 0 && (busy || !hasCron)) || len(panels) == 0 {
		bot := newPlot("")
		bot.Y.Label.Text = "CPU demand / alloc."
		bot.Add(gridXY())
		bot.Add(hline{Y: 1, Style: draw.LineStyle{Color: black, Width: vg.Points(0.8), Dashes: []vg.Length{vg.Points(3), vg.Points(2)}}})
		var lg *plot.Legend
		var labels []string
		if len(cpu) <= maxNodeLines {
			lg = newLegend()
		}
		for i, k := range cpu {
			l, err := plotter.NewLine(column(k))
			if err != nil {
				return "", err
			}
			l.LineStyle = draw.LineStyle{Color: nodeCols[i%len(nodeCols)], Width: vg.Points(0.9)}
			bot.Add(l)
			if lg != nil {
				name := strings.TrimPrefix(se.Columns[k], "cpu/")
				lg.Add(name, l)
				labels = append(labels, name)
			}
		}
		bot.Y.Min, bot.Y.Max = 0, lim.cpu
		add(bot, lg, labels)
	}
	panels[0].p.Title.Text = fmt.Sprintf("%s · seed %d", se.Variant, se.Seed)
	last := panels[len(panels)-1].p
	last.X.Label.Text = "hours"
	last.X.Tick.Marker = cleanTicks{}

	// one panel: the run report's original 330 x 330 pt figure with two; 165 pt per extra panel
	height := float64(seriesH) * float64(max(len(panels), 2)) / 2
	return svgOf(vg.Points(seriesW), vg.Points(height), func(dc draw.Canvas) {
		legendW := vg.Length(0)
		for _, pn := range panels {
			if pn.legend == nil {
				continue
			}
			for _, lb := range pn.labels {
				if w := pn.legend.TextStyle.Width(lb) + pn.legend.ThumbnailWidth + vg.Points(12); w > legendW {
					legendW = w
				}
			}
		}
		grid := make([][]*plot.Plot, len(panels))
		for i, pn := range panels {
			grid[i] = []*plot.Plot{pn.p}
		}
		area := draw.Crop(dc, 0, -legendW, 0, 0)
		dc.SetColor(color.White)
		dc.Fill(dc.Rectangle.Path())
		cs := plot.Align(grid, draw.Tiles{Rows: len(panels), Cols: 1, PadY: vg.Points(4), PadTop: vg.Points(2), PadBottom: vg.Points(2), PadLeft: vg.Points(2), PadRight: vg.Points(6)}, area)
		for i, pn := range panels {
			pn.p.Draw(cs[i][0])
			if pn.legend == nil || len(pn.labels) == 0 {
				continue
			}
			data := pn.p.DataCanvas(cs[i][0])
			lc := draw.Canvas{Canvas: dc.Canvas, Rectangle: vg.Rectangle{
				Min: vg.Point{X: dc.Max.X - legendW + vg.Points(4), Y: data.Min.Y},
				Max: vg.Point{X: dc.Max.X, Y: data.Max.Y},
			}}
			pn.legend.Draw(lc)
		}
	})
}
