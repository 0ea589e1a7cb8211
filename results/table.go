package results

import (
	"fmt"
	"io"
	"math"
	"strings"
	"text/tabwriter"
)

// PrintTable writes the human summary: the headline figures per variant, then every objective
// with its interval, violation rate and verdict against the baseline.
func PrintTable(w io.Writer, s *Summary) {
	fmt.Fprintf(w, "%s  seeds %s (%d)  %s  faultline %s\n", s.Scenario, seedSpan(s.Seeds), len(s.Seeds), shortDigest(s.Digest), s.Faultline)
	for _, set := range s.Sets {
		fmt.Fprintf(w, "--set %s\n", set)
	}
	if s.Interrupted {
		fmt.Fprintln(w, "INTERRUPTED: figures cover the seeds that finished (see 'complete')")
	}
	fmt.Fprintln(w)
	// headline table: the mean of every objective's indicator, in the scenario's order
	col := map[string]int{}
	for k, n := range s.Indicators {
		col[n] = k
	}
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	hdr := []string{"variant", "complete"}
	for _, o := range s.Objectives {
		h := o.Name
		if o.Unit != "" && o.Unit != "ratio" && o.Unit != "count" && o.Unit != "0/1" {
			h += " (" + o.Unit + ")"
		}
		hdr = append(hdr, h)
	}
	fmt.Fprintln(tw, strings.Join(hdr, "\t"))
	for _, v := range s.Variants {
		row := []string{v.Name, fmt.Sprint(v.Complete)}
		for _, o := range s.Objectives {
			if len(v.Means) == 0 {
				row = append(row, "-")
				continue
			}
			m := v.Means[col[o.Indicator]]
			switch o.Unit {
			case "ratio":
				row = append(row, fmt.Sprintf("%.4f", m))
			case "0/1":
				row = append(row, fmt.Sprintf("%.0f%%", 100*m))
			default:
				row = append(row, num(m))
			}
		}
		fmt.Fprintln(tw, strings.Join(row, "\t"))
	}
	_ = tw.Flush()
	fmt.Fprintf(w, "(means over seeds; 0/1 indicators as the share of seeds)\n")

	for oi, o := range s.Objectives {
		fmt.Fprintf(w, "\nobjective %s: %s", o.Name, o.Indicator)
		if t := o.Target(); t != "" {
			fmt.Fprintf(w, ", target %s", t)
		}
		dir := "lower is better"
		if o.HigherIsBetter {
			dir = "higher is better"
		}
		fmt.Fprintf(w, " (%s)\n", dir)
		tw = tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
		fmt.Fprintln(tw, "variant\tmean [95% CI]\tmedian\tmissed target [95% CI]\tΔmedian vs baseline [95% CI]\tp (Holm)\tA12\tverdict")
		for _, v := range s.Variants {
			os := v.Objectives[oi]
			if v.Complete == 0 {
				fmt.Fprintf(tw, "%s\tno seed finished\t\t\t\t\t\t\n", v.Name)
				continue
			}
			viol := "-"
			if os.Violations != nil {
				viol = fmt.Sprintf("%.0f%% [%.0f, %.0f]", 100*os.Violations.Rate, 100*os.Violations.CI.Lo, 100*os.Violations.CI.Hi)
			}
			cmp, p, a, verdict := "(baseline)", "", "", ""
			if c := os.Comparison; c != nil {
				cmp = fmt.Sprintf("%s [%s, %s]", num(c.MedianDiff), num(c.MedianDiffCI.Lo), num(c.MedianDiffCI.Hi))
				p = pval(c.PHolm)
				a = fmt.Sprintf("%.2f", c.A12)
				verdict = c.VerdictText()
			}
			fmt.Fprintf(tw, "%s\t%s%s [%s, %s]\t%s\t%s\t%s\t%s\t%s\t%s\n", v.Name, CensorMark(os.Censored), num(os.Mean), num(os.MeanCI.Lo), num(os.MeanCI.Hi), num(os.Median), viol, cmp, p, a, verdict)
		}
		_ = tw.Flush()
		if note := CensorNote(s, oi); note != "" {
			fmt.Fprintln(w, note)
		}
	}
	if len(s.Variants) > 0 && s.Variants[0].Resilience != nil {
		fmt.Fprintf(w, "\nresilience score (weighted share of objectives met per seed, %%):\n")
		for _, v := range s.Variants {
			if r := v.Resilience; r != nil {
				fmt.Fprintf(w, "  %-24s %5.1f [%5.1f, %5.1f]\n", v.Name, r.Value, r.Lo, r.Hi)
			}
		}
	}
	fmt.Fprintf(w, "\nverdicts: paired Wilcoxon signed-rank over common seeds, Holm-corrected, alpha %.2f; \"better\" needs the median-difference CI to exclude 0\n", s.Alpha)
}

func num(v float64) string {
	switch {
	case math.IsNaN(v):
		return "n/a"
	case v == 0:
		return "0"
	case math.Abs(v) >= 1e7 || math.Abs(v) < 0.001:
		return fmt.Sprintf("%.3g", v)
	case math.Abs(v) >= 1000:
		return fmt.Sprintf("%.0f", v)
	case math.Abs(v) >= 10:
		return fmt.Sprintf("%.1f", v)
	default:
		return fmt.Sprintf("%.4g", v)
	}
}

func pval(p float64) string {
	if math.IsNaN(p) {
		return "n/a"
	}
	if p < 0.0001 {
		return "<0.0001"
	}
	return fmt.Sprintf("%.4f", p)
}

func seedSpan(s []uint64) string {
	if len(s) == 0 {
		return "-"
	}
	if len(s) == 1 {
		return fmt.Sprint(s[0])
	}
	return fmt.Sprintf("%d..%d", s[0], s[len(s)-1])
}

func shortDigest(d string) string {
	if len(d) > 19 {
		return d[:19]
	}
	return d
}
