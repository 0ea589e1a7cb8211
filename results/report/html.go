package report

import (
	"bytes"
	_ "embed"
	"html/template"
)

//go:embed report.html.tmpl
var htmlSource string

var htmlTemplate = template.Must(template.New("report.html").Parse(htmlSource))

// HTML returns report.html: one self-contained page (inline CSS, inline SVG plots, no scripts,
// no external resources).
func (r *Run) HTML() ([]byte, error) {
	v := buildView(r)
	for oi := range v.Objectives {
		svg, err := distributionSVG(r, oi)
		if err != nil {
			return nil, err
		}
		v.Objectives[oi].DistSVG = template.HTML(svg) //nolint:gosec // gonum/plot escapes its text
		fsvg, ok, err := forestSVG(r, oi)
		if err != nil {
			return nil, err
		}
		if ok {
			v.Objectives[oi].ForestSVG = template.HTML(fsvg) //nolint:gosec // as above
		}
	}
	lim := limitsOf(r.Series)
	for i, se := range r.Series {
		svg, err := seriesSVG(se, lim)
		if err != nil {
			return nil, err
		}
		v.Series[i].SVG = template.HTML(svg) //nolint:gosec // as above
	}
	var b bytes.Buffer
	if err := htmlTemplate.Execute(&b, v); err != nil {
		return nil, err
	}
	return b.Bytes(), nil
}
