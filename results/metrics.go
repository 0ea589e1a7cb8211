package results

import (
	"bufio"
	"bytes"
	"fmt"
	"strings"
)

// LabelMetrics turns each run's metrics from OpenMetrics text (what the simulator's registries
// encode) into the Prometheus text exposition format (version 0.0.4) with the labels scenario,
// variant and seed on every sample, so that files from many runs can be loaded side by side
// (promtool, a textfile collector, a TSDB backfill) and a series says which run it came from.
//
// The Prometheus text format is what `promtool check metrics` and most tools read. The two
// formats differ where counters are concerned: OpenMetrics names a counter family without its
// _total suffix (# TYPE cron_started counter, sample cron_started_total), so a reader of the
// text format finds samples without HELP or TYPE. Here HELP and TYPE carry the sample's name. The
// OpenMetrics-only lines go: # UNIT (a comment to the text format), # EOF, and the _created
// samples of counters and histograms (they would carry wall-clock time and are untyped in the
// text format). Families of types the text format lacks (info, stateset, gaugehistogram) are an
// error naming the family.
func LabelMetrics(scenario string, ms []MetricsText) ([]MetricsText, error) {
	out := make([]MetricsText, 0, len(ms))
	for _, m := range ms {
		labels := fmt.Sprintf(`scenario=%s,variant=%s,seed="%d"`, quoteLabel(scenario), quoteLabel(m.Variant), m.Seed)
		text, err := relabel(m.Text, labels)
		if err != nil {
			return nil, fmt.Errorf("metrics of variant %s seed %d: %w", m.Variant, m.Seed, err)
		}
		out = append(out, MetricsText{Variant: m.Variant, Seed: m.Seed, Text: text})
	}
	return out, nil
}

// quoteLabel quotes a label value as the text format escapes it: backslash, double quote and
// line feed.
func quoteLabel(v string) string {
	return `"` + strings.NewReplacer(`\`, `\\`, `"`, `\"`, "\n", `\n`).Replace(v) + `"`
}

func relabel(om []byte, labels string) ([]byte, error) {
	// first pass: the family types, so that HELP lines (which come first) can be renamed
	types := map[string]string{}
	sc := bufio.NewScanner(bytes.NewReader(om))
	sc.Buffer(make([]byte, 0, 64*1024), 16<<20)
	for sc.Scan() {
		if f := strings.Fields(sc.Text()); len(f) == 4 && f[0] == "#" && f[1] == "TYPE" {
			types[f[2]] = f[3]
		}
	}
	if err := sc.Err(); err != nil {
		return nil, err
	}
	for name, t := range types {
		switch t {
		case "counter", "gauge", "histogram", "summary", "unknown":
		default:
			return nil, fmt.Errorf("family %s: type %s has no Prometheus text format equivalent", name, t)
		}
	}
	var b bytes.Buffer
	sc = bufio.NewScanner(bytes.NewReader(om))
	sc.Buffer(make([]byte, 0, 64*1024), 16<<20)
	for line := 1; sc.Scan(); line++ {
		l := sc.Text()
		switch {
		case l == "" || l == "# EOF" || strings.HasPrefix(l, "# UNIT "):
			continue
		case strings.HasPrefix(l, "# HELP ") || strings.HasPrefix(l, "# TYPE "):
			kind, rest := l[2:6], l[7:]
			name, tail, _ := strings.Cut(rest, " ")
			t := types[name]
			if t == "counter" && !strings.HasSuffix(name, "_total") {
				name += "_total"
			}
			if kind == "TYPE" && t == "unknown" {
				tail = "untyped"
			}
			fmt.Fprintf(&b, "# %s %s %s\n", kind, name, tail)
		case strings.HasPrefix(l, "#"):
			continue // other comments
		default:
			name, rest := splitName(l)
			if name == "" {
				return nil, fmt.Errorf("line %d: %q is not a sample", line, l)
			}
			if fam, ok := strings.CutSuffix(name, "_created"); ok && (types[fam] == "counter" || types[fam] == "histogram" || types[fam] == "summary") {
				continue
			}
			// exemplars (" # {...} v") exist only in OpenMetrics
			if i := strings.Index(rest, " # "); i >= 0 {
				rest = rest[:i]
			}
			if strings.HasPrefix(rest, "{") {
				if strings.HasPrefix(rest, "{}") {
					rest = rest[2:]
					fmt.Fprintf(&b, "%s{%s}%s\n", name, labels, rest)
				} else {
					fmt.Fprintf(&b, "%s{%s,%s\n", name, labels, rest[1:])
				}
			} else {
				fmt.Fprintf(&b, "%s{%s}%s\n", name, labels, rest)
			}
		}
	}
	return b.Bytes(), sc.Err()
}

// splitName splits a sample line into its metric name and the rest ("{...} v" or " v").
func splitName(l string) (string, string) {
	i := 0
	for i < len(l) {
		c := l[i]
		if c == '_' || c == ':' || c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || i > 0 && c >= '0' && c <= '9' {
			i++
			continue
		}
		break
	}
	if i == 0 || i == len(l) || (l[i] != '{' && l[i] != ' ') {
		return "", ""
	}
	return l[:i], l[i:]
}
