package fidelity

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"html/template"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"github.com/faultline-dev/faultline/clusters/realrun"
	"github.com/faultline-dev/faultline/cmd/faultline/app/cli"
	"github.com/faultline-dev/faultline/cmd/faultline/app/run"
	"github.com/faultline-dev/faultline/measure"
	"github.com/faultline-dev/faultline/scenarios"
)

// libraryPlan is how fidelity --all plays one library scenario: a variant the real world can
// play and --set lines that compress the story into minutes, in both worlds alike (both play the
// same compressed scenario, so the comparison stays sound; what compression changes is the
// scenario, not the fidelity).
type libraryPlan struct {
	Variant string
	Sets    []string
	// NeedsKind, when set, says why only real kubelets can play the scenario.
	NeedsKind string
}

// libraryPlans holds a plan per library scenario; a scenario without one is listed with that
// reason.
var libraryPlans = map[string]libraryPlan{
	// 40 of the 400 per-app CronJobs, every minute, 5 minutes: before the consolidation (3 h in),
	// so the matrix holds the CronJob path (KWOK runs every Job pod to success, and no image is
	// pulled, so the deletions could not fail a run anyway). Runs of 1 s, as KWOK's pods end at
	// once: with the scenario's 40 s the simulated Jobs would still run at the next minute
	// (Forbid skips) and their completions would miss the busy second the real ones load.
	"cron-deleted-images": {Sets: []string{"spec.templates[0].count=40",
		`spec.templates[0].fields[0].choices=[{"value":"* * * * *","weight":1}]`,
		`spec.templates[0].object.metadata.annotations={"faultline.dev/run-time":"1s"}`, "spec.duration=5m"}},
	// the storm in miniature (the v2 controller, the only one Kubernetes 1.34 has): 120 CronJobs
	// every minute, 1 s runs, 4 minutes, without the controller-manager outage
	"cron-missed-start-storm": {Variant: "v2", Sets: []string{"spec.templates[0].count=120",
		`spec.templates[0].fields[2].choices=[{"value":"* * * * *","weight":1}]`,
		`spec.templates[0].fields[0].choices=[{"value":"1s","weight":1}]`, "spec.faults=[]", "spec.duration=4m"}},
	// both auth faults, shortened: one replica down 30 s at 0:30, all of auth down 1 min at 1:30
	"deep-readiness-cascade": {Sets: []string{"spec.faults[0].at=30s", "spec.faults[0].object.spec.duration=30s",
		"spec.faults[1].at=1m30s", "spec.faults[1].object.spec.duration=1m", "spec.duration=4m"}},
	// the API's rollout at 1:00 instead of 10:00, 3 minutes
	"ingress-502-graceful-shutdown": {Sets: []string{"spec.changes[0].at=1m", "spec.duration=3m"}},
	// three node resets 90 s apart, with the node-lifecycle timings and reboot scaled to match
	"kernel-panic-stacking": {Sets: []string{"spec.faults[0].at=20s", "spec.faults[1].at=110s", "spec.faults[2].at=200s", "spec.duration=5m",
		"spec.cluster.models.nodeLifecycle.gracePeriod=20s", "spec.cluster.models.nodeLifecycle.defaultTolerationSeconds=20",
		"spec.cluster.models.kernelPanic.rebootTime=60s"}},
	// the real apiserver is 1.34: its variant; upgrade steps of 10 s, OPA hangs at 0:50, 3 minutes
	"webhook-blocked-upgrade": {Variant: "kubernetes-1.34", Sets: []string{"spec.faults[0].at=20s", "spec.faults[0].object.spec.timeout=2m",
		"spec.faults[1].at=50s", "spec.cluster.models.controlPlane.upgradeInstanceTime=10s", "spec.duration=3m"}},
}

// AllReport is fidelity.json of --all: the matrix, one entry per library scenario.
type AllReport struct {
	Generated string  `json:"generated"`
	Cluster   string  `json:"cluster"`
	Reps      int     `json:"reps"`
	Seeds     int     `json:"seeds"`
	Tolerance float64 `json:"tolerance"`
	Entries   []Entry `json:"scenarios"`
	Took      string  `json:"took"`
}

// Entry is one scenario's row of the matrix.
type Entry struct {
	Scenario string   `json:"scenario"`
	Variant  string   `json:"variant,omitempty"`
	Sets     []string `json:"sets,omitempty"`
	// Unmeasured says why the scenario was not played in the real world (no cell is measured).
	Unmeasured string `json:"unmeasured,omitempty"`
	Cells      []Cell `json:"cells"`
	// Report is the scenario's full comparison (absent when unmeasured).
	Report *Report `json:"report,omitempty"`
}

// Cell is one scenario × indicator: compared, or why not.
type Cell struct {
	Indicator  string  `json:"indicator"`
	Unit       string  `json:"unit,omitempty"`
	Measured   bool    `json:"measured"`
	SimMedian  float64 `json:"simMedian,omitempty"`
	RealMedian float64 `json:"realMedian,omitempty"`
	KS         float64 `json:"ks,omitempty"`
	Allowed    float64 `json:"allowed,omitempty"`
	Within     bool    `json:"within,omitempty"`
	Calibrate  string  `json:"calibrate,omitempty"`
	Reason     string  `json:"reason,omitempty"`
}

func executeAll(ctx context.Context, s cli.Streams, f *flags) error {
	lib, err := scenarios.Library()
	if err != nil {
		return err
	}
	logger := newLogger(s, f)
	rw, err := run.OpenRealWorld(ctx, f.cluster, realrun.Target{KubeConfig: f.kubeconfig, Context: f.context, AllowContexts: f.allow}, false, logger)
	if err != nil {
		return err
	}
	defer closeWorld(s, rw)
	world := measure.KWOK
	if f.cluster == "kind" {
		world = measure.Kind
	}
	started := time.Now()
	all := &AllReport{Generated: started.UTC().Format(time.RFC3339), Cluster: f.cluster, Reps: f.reps, Seeds: f.seeds, Tolerance: f.tolerance}
	var failed []string
	for _, e := range lib {
		if ctx.Err() != nil {
			return ctx.Err()
		}
		plan, ok := libraryPlans[e.Name]
		entry := Entry{Scenario: e.Name, Variant: plan.Variant, Sets: append(slices.Clone(plan.Sets), f.sets...)}
		sc, err := scenarios.Open(e.Name)
		switch {
		case err != nil:
			entry.Unmeasured = "does not load: " + err.Error()
		case !ok:
			entry.Unmeasured = "no fidelity plan (cmd/faultline/app/fidelity/all.go): its real run would last " + sc.Spec.Spec.Duration.String()
		case plan.NeedsKind != "" && world != measure.Kind:
			entry.Unmeasured = "needs kind: " + plan.NeedsKind
		}
		if entry.Unmeasured == "" {
			fmt.Fprintf(s.Err, "== %s\n", e.Name)
			rep, _, err := measureOne(ctx, s, f, sc, plan.Variant, entry.Sets, rw, logger)
			if err != nil {
				failed = append(failed, e.Name)
				if rep == nil {
					entry.Unmeasured = "the real run failed: " + firstLine(err)
				}
			}
			entry.Report = rep
			if rep != nil {
				entry.Variant = rep.Variant
			}
		}
		entry.Cells = cells(entry, world)
		all.Entries = append(all.Entries, entry)
	}
	all.Took = time.Since(started).Round(time.Second).String()
	dir := f.out
	if dir == "" {
		dir = filepath.Join("results", "fidelity-"+started.UTC().Format("20060102T150405Z"))
	}
	if err := writeAll(dir, all); err != nil {
		return err
	}
	if f.json {
		b, _ := json.MarshalIndent(all, "", "  ")
		fmt.Fprintln(s.Out, string(b))
	} else {
		WriteMarkdown(s.Out, all)
		fmt.Fprintf(s.Out, "\nwrote %s/fidelity.{json,md,html} (%s)\n", dir, all.Took)
	}
	if len(failed) > 0 {
		return fmt.Errorf("fidelity --all: the real runs of %s failed (their reasons are in the matrix)", strings.Join(failed, ", "))
	}
	return nil
}

func firstLine(err error) string {
	l, _, _ := strings.Cut(err.Error(), "\n")
	return l
}

// cells lists, in registry order, every indicator the scenario reports in either world: its
// comparison, or why it is not compared.
func cells(e Entry, world measure.World) []Cell {
	var names []string
	compared := map[string]Row{}
	realWhy := map[string]string{}
	if r := e.Report; r != nil {
		for _, row := range r.Rows {
			names = append(names, row.Indicator)
			compared[row.Indicator] = row
		}
		names = append(names, r.OnlySim...)
		names = append(names, r.OnlyReal...)
		for _, rr := range r.Real {
			for _, u := range rr.Unmeasured {
				if n, why, ok := strings.Cut(u, ": "); ok {
					realWhy[n] = why
				}
			}
		}
	} else {
		for _, d := range measure.Indicators {
			names = append(names, d.Name)
		}
	}
	slices.SortFunc(names, func(a, b string) int {
		if d := measure.Order(a) - measure.Order(b); d != 0 {
			return d
		}
		return strings.Compare(a, b)
	})
	names = slices.Compact(names)
	out := make([]Cell, 0, len(names))
	for _, n := range names {
		doc, _ := measure.Lookup(n)
		c := Cell{Indicator: n, Unit: doc.Unit}
		if row, ok := compared[n]; ok {
			c.Measured, c.SimMedian, c.RealMedian, c.KS, c.Allowed, c.Within, c.Calibrate =
				true, row.SimMedian, row.RealMedian, row.KS, row.Allowed, row.Within, row.Calibrate
		} else {
			c.Reason = reason(e, n, doc, world, realWhy)
		}
		out = append(out, c)
	}
	return out
}

func reason(e Entry, n string, doc measure.Doc, world measure.World, realWhy map[string]string) string {
	switch {
	case e.Unmeasured != "":
		return e.Unmeasured
	case !doc.MeasuredIn(world):
		return doc.Unmeasurable[world]
	case realWhy[n] != "":
		return realWhy[n]
	case slices.Contains(e.Report.OnlyReal, n):
		return "measured only in the real world"
	}
	return "not reported by the real run"
}

func writeAll(dir string, all *AllReport) error {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return err
	}
	b, _ := json.MarshalIndent(all, "", "  ")
	if err := os.WriteFile(filepath.Join(dir, "fidelity.json"), append(b, '\n'), 0o644); err != nil {
		return err
	}
	var md strings.Builder
	WriteMarkdown(&md, all)
	if err := os.WriteFile(filepath.Join(dir, "fidelity.md"), []byte(md.String()), 0o644); err != nil {
		return err
	}
	h, err := os.Create(filepath.Join(dir, "fidelity.html"))
	if err != nil {
		return err
	}
	return errors.Join(WriteHTML(h, all), h.Close())
}

// verdict is a cell's one-word state.
func (c Cell) verdict() string {
	switch {
	case !c.Measured:
		return "unmeasured"
	case c.Within:
		return "within"
	}
	return "OUTSIDE"
}

// WriteMarkdown writes the matrix as a Markdown table: measured cells first per scenario, then
// the unmeasured ones with their reasons.
func WriteMarkdown(w io.Writer, all *AllReport) {
	fmt.Fprintf(w, "Fidelity matrix, %s: cluster %s, %d real run(s) and %d simulated seeds per scenario, tolerance %g %% of the simulated median (floors: 1 s, half a count).\n\n",
		all.Generated, all.Cluster, all.Reps, all.Seeds, all.Tolerance*100)
	fmt.Fprintln(w, "| scenario | indicator | simulated | real | KS | verdict |")
	fmt.Fprintln(w, "|---|---|---|---|---|---|")
	for _, e := range all.Entries {
		name := e.Scenario
		if e.Variant != "" {
			name += "/" + e.Variant
		}
		if e.Unmeasured != "" {
			fmt.Fprintf(w, "| %s | (all) | | | | unmeasured: %s |\n", name, mdEscape(e.Unmeasured))
			continue
		}
		for _, c := range e.Cells {
			if c.Measured {
				fmt.Fprintf(w, "| %s | %s | %s | %s | %.2f | %s |\n", name, c.Indicator, num(c.SimMedian), num(c.RealMedian), c.KS, c.verdict())
			}
		}
		why := map[string][]string{}
		var order []string
		for _, c := range e.Cells {
			if !c.Measured {
				if _, ok := why[c.Reason]; !ok {
					order = append(order, c.Reason)
				}
				why[c.Reason] = append(why[c.Reason], c.Indicator)
			}
		}
		for _, r := range order {
			fmt.Fprintf(w, "| %s | %s | | | | unmeasured: %s |\n", name, strings.Join(why[r], ", "), mdEscape(r))
		}
	}
	in, out, un := 0, 0, 0
	for _, e := range all.Entries {
		for _, c := range e.Cells {
			switch c.verdict() {
			case "within":
				in++
			case "OUTSIDE":
				out++
			default:
				un++
			}
		}
	}
	fmt.Fprintf(w, "\n%d cells within tolerance, %d outside, %d unmeasured.\n", in, out, un)
	for _, e := range all.Entries {
		for _, c := range e.Cells {
			if c.verdict() == "OUTSIDE" {
				fmt.Fprintf(w, "- %s %s: %s\n", e.Scenario, c.Indicator, c.Calibrate)
			}
		}
	}
}

func mdEscape(s string) string { return strings.ReplaceAll(s, "|", `\|`) }

var page = template.Must(template.New("fidelity").Funcs(template.FuncMap{"num": num, "ks": func(v float64) string { return fmt.Sprintf("%.2f", v) }}).Parse(`<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>faultline fidelity matrix</title>
<style>
body{font-family:system-ui,sans-serif;margin:2em;color:#222}
table{border-collapse:collapse;margin-bottom:2em}
td,th{border:1px solid #ccc;padding:.25em .5em;text-align:left;vertical-align:top;font-size:90%}
td.n{text-align:right;font-variant-numeric:tabular-nums}
tr.within td.v{background:#d8f0d8} tr.OUTSIDE td.v{background:#f6d0d0} tr.unmeasured{color:#777}
</style></head><body>
<h1>Fidelity matrix</h1>
<p>{{.Generated}}: cluster {{.Cluster}}, {{.Reps}} real run(s) and {{.Seeds}} simulated seeds per scenario, tolerance {{.Tolerance}} of the simulated median; took {{.Took}}.</p>
{{range .Entries}}<h2>{{.Scenario}}{{if .Variant}}/{{.Variant}}{{end}}</h2>
{{if .Sets}}<p>sets: <code>{{range .Sets}}{{.}} {{end}}</code></p>{{end}}
{{if .Unmeasured}}<p>unmeasured: {{.Unmeasured}}</p>{{else}}
<table><tr><th>indicator</th><th>unit</th><th>simulated</th><th>real</th><th>KS</th><th>verdict or reason</th></tr>
{{range .Cells}}<tr class="{{.Verdict}}"><td>{{.Indicator}}</td><td>{{.Unit}}</td>{{if .Measured}}<td class="n">{{num .SimMedian}}</td><td class="n">{{num .RealMedian}}</td><td class="n">{{ks .KS}}</td><td class="v">{{.Verdict}}{{if .Calibrate}}: {{.Calibrate}}{{end}}</td>{{else}}<td></td><td></td><td></td><td class="v">{{.Reason}}</td>{{end}}</tr>
{{end}}</table>{{end}}
{{end}}</body></html>
`))

// Verdict is the cell's state for the HTML page.
func (c Cell) Verdict() string { return c.verdict() }

// WriteHTML writes the matrix as a standalone HTML page.
func WriteHTML(w io.Writer, all *AllReport) error { return page.Execute(w, all) }
