// Package report renders a faultline run directory into the files a person or a CI system reads:
//
//   - report.md: the scenario, its digest, the seeds, the faultline version and whether the run was
//     interrupted; an at-a-glance matrix of verdicts; per objective a table (variant, mean with its
//     95 % bootstrap CI, median, p5 / p95, the share of seeds that missed the target with its
//     Wilson interval, the median paired difference from the baseline with its CI, the
//     Holm-adjusted Wilcoxon p-value, A12 and the verdict); the resilience scores; and how to read
//     all of it.
//   - report.html: the same content as one self-contained page (inline CSS, no script, no external
//     reference of any kind) with SVG plots made by gonum.org/v1/plot and inlined: per objective
//     the per-seed distribution of every variant (box plot plus one jittered dot per seed; the
//     jitter is a hash of variant and seed, so it is the same on every render) with the target as
//     a dashed line, and a forest plot of the median paired difference with its 95 % CI per
//     variant, coloured by verdict, with a line at zero; then, per variant, the time series of a
//     representative seed (request success ratio on top, CPU demand over allocatable per node
//     below, shared axes across variants).
//   - junit.xml: one <testsuite> named after the scenario and one <testcase> per variant ×
//     objective, named "<variant>/<objective>" with classname "<scenario>.<variant>".
//
// # JUnit rule
//
// A test case fails when its objective has a target, at least one seed of that variant missed it
// (violation count > 0) and the policy counts that variant's misses. The policy
// (--junit-fail-on) is "mitigations" by default: every variant but the baseline, because a
// library scenario's baseline reproduces the incident on purpose and would otherwise fail every
// run; "all" counts the baseline too and "none" fails nothing on targets. A miss the policy does
// not count is stated in the case's system-out. The failure message states the target, the
// count and the rate with its Wilson 95 % interval, e.g. "missed target request-success-ratio >=
// 0.999 on 5 of 50 seeds: rate 10% (95% CI 4.3% to 21.4%)". An objective without a target is
// reported as <skipped> (nothing to check), a variant that finished no seed as an <error>, and an
// interrupted run adds the case "<scenario>/run" as an <error>. The rule is deliberately strict
// (any missed seed fails) and is about targets only; whether a mitigation beats the baseline is
// the verdict, which every test case's system-out (or failure text) reports as well.
//
// # Determinism
//
// The same run directory renders to byte-identical files: nothing reads the clock, every list
// follows the order of summary.json (variants, objectives) or is sorted (series files), the
// jitter is a hash and gonum/plot's SVG backend writes fixed-precision numbers in drawing order.
//
// # Fonts
//
// gonum/plot measures text with Liberation Sans. report.html asks the browser for Liberation Sans,
// Arimo, Arial or Helvetica for the plot text, which all share its metrics, so labels keep the
// width they were laid out with; no font file is embedded.
package report

import (
	"fmt"
	"os"
	"path/filepath"
)

// Files are the names Render writes into the run directory.
var Files = []string{"report.md", "report.html", "junit.xml"}

// Render reads the run directory dir (summary.json, seeds.csv, series-*.csv) and writes
// report.md, report.html and junit.xml into it.
func Render(dir string) error {
	return RenderWith(dir, Options{})
}

// Options change how Render writes a run directory.
type Options struct {
	// FailOn is the JUnit policy ("": FailMitigations).
	FailOn FailOn
}

// RenderWith is Render with options.
func RenderWith(dir string, o Options) error {
	if _, err := ParseFailOn(string(o.FailOn)); err != nil {
		return err
	}
	r, err := Load(dir)
	if err != nil {
		return err
	}
	r.FailOn = o.FailOn
	return r.Write(dir)
}

// Write renders the run into dir. Each file is written to a temporary name and renamed, so a
// failed render never leaves a truncated report behind.
func (r *Run) Write(dir string) error {
	md := r.Markdown()
	html, err := r.HTML()
	if err != nil {
		return fmt.Errorf("report.html: %w", err)
	}
	junit, err := r.JUnit()
	if err != nil {
		return fmt.Errorf("junit.xml: %w", err)
	}
	for i, data := range [][]byte{md, html, junit} {
		if err := writeAtomic(filepath.Join(dir, Files[i]), data); err != nil {
			return err
		}
	}
	return nil
}

func writeAtomic(path string, data []byte) error {
	tmp := path + ".tmp"
	if err := os.WriteFile(tmp, data, 0o644); err != nil {
		return err
	}
	if err := os.Rename(tmp, path); err != nil {
		_ = os.Remove(tmp)
		return err
	}
	return nil
}
