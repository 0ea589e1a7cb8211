package report

import (
	"bytes"
	"fmt"
	"strconv"
	"strings"
)

// Markdown returns report.md.
func (r *Run) Markdown() []byte {
	v := buildView(r)
	var b bytes.Buffer
	p := func(format string, a ...any) { fmt.Fprintf(&b, format, a...) }

	p("# faultline report: %s\n\n", mdText(v.Scenario))
	p("| | |\n|---|---|\n")
	p("| scenario | %s |\n", mdCell(v.Scenario))
	p("| digest | `%s` |\n", mdCode(v.Digest))
	p("| seeds | %s |\n", mdCell(v.Seeds))
	p("| baseline | %s |\n", mdCell(v.Baseline))
	p("| faultline | %s |\n", mdCell(v.Faultline))
	for _, set := range v.Sets {
		p("| --set | `%s` |\n", mdCode(set))
	}
	p("| alpha | %s (Holm across all comparisons) |\n", v.Alpha)
	p("| bootstrap resamples | %d |\n", v.Resamples)
	p("| interrupted | %t |\n\n", v.Interrupted)
	if v.Interrupted || len(v.Incomplete) > 0 {
		p("> **Incomplete run.** The figures cover only the seeds that finished")
		if len(v.Incomplete) > 0 {
			p(": %s", mdText(strings.Join(v.Incomplete, "; ")))
		}
		p(".\n\n")
	}

	p("## At a glance\n\n")
	p("Verdict of each variant against the baseline per objective, and the share of seeds that missed the objective's target.\n\n")
	if v.GlanceNote != "" {
		p("%s\n\n", mdText(v.GlanceNote))
	}
	hdr := []string{"variant", "seeds"}
	for _, h := range v.Glance.Heads {
		hdr = append(hdr, mdCell(h))
	}
	if v.HasTargets {
		hdr = append(hdr, "resilience score")
	}
	mdRow(&b, hdr)
	mdSep(&b, len(hdr))
	for _, g := range v.Glance.Rows {
		name := mdCell(g.Variant)
		if g.Baseline {
			name = "**" + name + "**"
		}
		row := []string{name, g.Complete}
		for _, c := range g.Cells {
			row = append(row, mdCell(c.Text))
		}
		if v.HasTargets {
			row = append(row, g.Resilience)
		}
		mdRow(&b, row)
	}
	b.WriteString("\n")

	for _, o := range v.Objectives {
		mdObjectiveHead(&b, o.Name, o.Indicator, o.Unit, o.Target)
		p(", %s, weight %s.\n\n", o.Direction, o.Weight)
		hdr := []string{"variant", "n", "mean [95% CI]", "median", "p5 / p95", "missed target [95% CI] (seeds)", "Δ median vs baseline [95% CI]", "p (Holm)", "A12", "verdict"}
		mdRow(&b, hdr)
		mdSep(&b, len(hdr))
		for _, row := range o.Rows {
			name := mdCell(row.Variant)
			verdict := mdCell(row.Verdict)
			if row.Baseline {
				name = "**" + name + "**"
			}
			if row.Class == "better" || row.Class == "worse" {
				verdict = "**" + verdict + "**"
			}
			mdRow(&b, []string{name, row.N, row.Mean, row.Median, row.P5P95, row.Missed, row.Diff, row.PHolm, row.A12, verdict})
		}
		b.WriteString("\n")
		if o.Censored != "" {
			p("%s\n\n", mdText(o.Censored))
		}
	}

	if len(v.Resilience) > 0 {
		p("## Resilience score\n\n")
		p("Weighted share of objectives met per seed, averaged over seeds (%%), with a bootstrap 95%% CI.\n\n")
		mdRow(&b, []string{"variant", "score [95% CI]"})
		mdSep(&b, 2)
		for _, rr := range v.Resilience {
			mdRow(&b, []string{mdCell(rr.Variant), rr.Score})
		}
		b.WriteString("\n")
	}

	if v.HasAlerts {
		p("## Alerts\n\n")
		p("The scenario's alerting rules on each variant's representative seed (virtual time from the run's start):\n\n")
		if len(v.Alerts) == 0 {
			p("No alert fired.\n\n")
		} else {
			mdRow(&b, []string{"variant", "seed", "alert", "labels", "firing from", "to"})
			mdRow(&b, []string{"---", "---", "---", "---", "---", "---"})
			for _, a := range v.Alerts {
				mdRow(&b, []string{mdCell(a.Variant), strconv.FormatUint(a.Seed, 10), mdCell(a.Alert), mdCell(a.Labels), a.From, mdCell(a.To)})
			}
			b.WriteString("\n")
		}
	}

	if len(v.Series) > 0 {
		p("## Time series\n\n")
		p("report.html plots, for one representative seed per variant, the request success ratio, the cron runs (cumulative: scheduled, started, succeeded, failed, skipped) and the CPU demand per node over the run, where the scenario has them:\n\n")
		for _, se := range v.Series {
			p("- %s: seed %d (`%s`)", mdText(se.Variant), se.Seed, mdCode(se.File))
			if se.Why != "" {
				p(", %s", mdText(se.Why))
			}
			b.WriteString("\n")
		}
		b.WriteString("\n")
	}

	p("## How to read this\n\n")
	for _, h := range v.HowTo {
		p("- %s\n", mdText(h))
	}
	p("\nPlots of the per-seed distributions, the paired differences and the time series are in report.html; junit.xml has one test case per variant and objective.\n")
	return b.Bytes()
}

// mdObjectiveHead writes an objective's heading and the start of its description line:
// "## Objective NAME", then "Indicator `IND` (UNIT), target T" (or ", no target"), unfinished, for
// the caller to end.
func mdObjectiveHead(b *bytes.Buffer, name, indicator, unit, target string) {
	fmt.Fprintf(b, "## Objective %s\n\nIndicator `%s`", mdText(name), mdCode(indicator))
	if unit != "" {
		fmt.Fprintf(b, " (%s)", mdText(unit))
	}
	if target != "" {
		fmt.Fprintf(b, ", target %s", mdText(target))
	} else {
		b.WriteString(", no target")
	}
}

func mdRow(b *bytes.Buffer, cells []string) {
	b.WriteString("| ")
	b.WriteString(strings.Join(cells, " | "))
	b.WriteString(" |\n")
}

func mdSep(b *bytes.Buffer, n int) {
	b.WriteString("|")
	for range n {
		b.WriteString("---|")
	}
	b.WriteString("\n")
}

// mdText escapes text for Markdown prose and table cells: emphasis, code, link and table
// characters are backslash-escaped, "<" or "&" that could open an HTML tag or entity is escaped and line breaks
// become spaces.
func mdText(s string) string {
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch c {
		case '\\', '`', '*', '_', '[', ']', '|':
			b.WriteByte('\\')
			b.WriteByte(c)
		case '<':
			if i+1 < len(s) && (isLetter(s[i+1]) || strings.IndexByte("/!?", s[i+1]) >= 0) {
				b.WriteString("&lt;")
			} else {
				b.WriteByte(c)
			}
		case '&':
			if i+1 < len(s) && (isLetter(s[i+1]) || s[i+1] == '#') {
				b.WriteString("&amp;")
			} else {
				b.WriteByte(c)
			}
		case '\r', '\n':
			b.WriteByte(' ')
		default:
			b.WriteByte(c)
		}
	}
	return b.String()
}

func isLetter(c byte) bool { return c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' }

// mdCell escapes text for a table cell.
func mdCell(s string) string { return mdText(s) }

// mdCode makes s safe inside a `code span`.
func mdCode(s string) string {
	return strings.NewReplacer("`", "'", "\n", " ", "\r", " ", "|", `\|`).Replace(s)
}
