package report

import (
	"bytes"
	_ "embed"
	"html/template"
	"strings"
)

//go:embed report.html.tmpl
var htmlSource string

//go:embed style.css
var styleSource string

// funcs are the helpers both HTML templates use.
var funcs = template.FuncMap{"ci": ciHTML}

var htmlTemplate = template.Must(template.New("report.html").Funcs(funcs).Parse(htmlSource))

// runPage is what report.html.tmpl executes on: the report's view and the shared style sheet.
type runPage struct {
	*view
	Style template.CSS
}

// ciHTML keeps an interval on a line of its own: "0.97 [0.96, 0.98] (3)" becomes the value and,
// in a span that does not break inside, the rest, so a narrow table wraps between the two and
// never inside the brackets.
func ciHTML(s string) template.HTML {
	v, rest, ok := strings.Cut(s, " [")
	if !ok {
		return template.HTML(template.HTMLEscapeString(s)) //nolint:gosec // escaped
	}
	return template.HTML(template.HTMLEscapeString(v) + ` <span class="ci">[` + template.HTMLEscapeString(rest) + `</span>`) //nolint:gosec // escaped
}

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
	if err := htmlTemplate.Execute(&b, runPage{v, template.CSS(styleSource)}); err != nil {
		return nil, err
	}
	return b.Bytes(), nil
}
