package report_test

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/faultline-dev/faultline/results"
	"github.com/faultline-dev/faultline/results/report"
)

// syntheticSweep scores the synthetic run at three node counts; the fix's availability falls
// below its target at the last one.
func syntheticSweep(t *testing.T) *results.Sweep {
	sw := &results.Sweep{Schema: results.SchemaVersion, Scenario: "synthetic-incident", Digest: "sha256:0123", Faultline: "test", Params: []string{"spec.cluster.nodePools[0].count"}}
	for pi, n := range []string{"3", "4", "5"} {
		in, _, _ := synthetic(t, false)
		for i := range in.Values[1] {
			in.Values[1][i][0] -= 0.004 * float64(pi)
		}
		in.Sets = []string{sw.Params[0] + "=" + n}
		s, err := results.Summarize(in)
		require.NoError(t, err)
		sw.Points = append(sw.Points, results.SweepPoint{Values: []string{n}, Summary: s})
	}
	sw.FindCrossings()
	return sw
}

func TestSweepReport(t *testing.T) {
	dir := t.TempDir()
	sw := syntheticSweep(t)
	require.NoError(t, report.RenderSweep(dir, sw))
	md := read(t, filepath.Join(dir, "report.md"))
	html := read(t, filepath.Join(dir, "report.html"))
	for _, doc := range []string{md, html} {
		assert.Contains(t, doc, "faultline sweep")
		assert.Contains(t, doc, "Objective availability")
		assert.Contains(t, strings.ReplaceAll(doc, `\`, ""), "fix: availability starts missing its target between spec.cluster.nodePools[0].count = 4 and 5")
		assert.Contains(t, doc, "missed 100%")
	}
	assert.Contains(t, md, "| spec.cluster.nodePools\\[0\\].count | baseline | fix |")
	// one plot per objective (numeric parameter), in the run report's style sheet
	assert.Equal(t, 3, strings.Count(html, "<svg"))
	assert.Contains(t, html, "td .ci { white-space: nowrap;")
	assert.NotContains(t, html, "ZgotmplZ")
	assert.NotContains(t, html, "<script")

	// the same sweep renders to the same bytes
	again := t.TempDir()
	require.NoError(t, report.RenderSweep(again, sw))
	for _, f := range report.SweepFiles {
		a, err := os.ReadFile(filepath.Join(dir, f))
		require.NoError(t, err)
		b, err := os.ReadFile(filepath.Join(again, f))
		require.NoError(t, err)
		assert.Equal(t, a, b, f)
	}
}

func TestSweepReportWithoutNumericParameterHasNoPlot(t *testing.T) {
	sw := syntheticSweep(t)
	for i := range sw.Points {
		sw.Points[i].Values = []string{"v" + sw.Points[i].Values[0]}
	}
	dir := t.TempDir()
	require.NoError(t, report.RenderSweep(dir, sw))
	html := read(t, filepath.Join(dir, "report.html"))
	assert.Equal(t, 0, strings.Count(html, "<svg"))
	assert.Contains(t, html, "v4")
}
