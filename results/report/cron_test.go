package report_test

import (
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/faultline-dev/faultline/results"
	"github.com/faultline-dev/faultline/results/report"
)

// A cron scenario's series carry the cron counters and a success ratio of 1 throughout (no
// requests): the time-series figure draws the cron runs and leaves the empty success panel out.
func TestCronSeriesArePlotted(t *testing.T) {
	in, s, _ := synthetic(t, false)
	cols := []string{"hours", "success", "cron/started", "cron/success", "cron/failure", "cron/invoke",
		"cron/skip/concurrencyPolicy", "cron/skip/missedDeadline", "cron/skip/error", "cron/throttle-seconds"}
	var series []results.Series
	for _, v := range in.Variants {
		se := results.Series{Variant: v, Seed: 1, Columns: cols}
		for m := 0; m <= 120; m++ {
			h := float64(m) / 60
			invoked := float64(10 * m)
			started := invoked
			if v == "baseline" && m > 30 {
				started = 300 // the v1 controller stalls
			}
			se.Rows = append(se.Rows, []float64{h, 1, started, started, 0, invoked, 0, invoked - started, 0, 0})
		}
		series = append(series, se)
	}
	dir := t.TempDir()
	require.NoError(t, results.WriteDir(dir, in, s, series))
	require.NoError(t, report.Render(dir))
	html := read(t, filepath.Join(dir, "report.html"))
	start := strings.Index(html, `id="series"`)
	require.Positive(t, start)
	panels := html[start:]
	for _, want := range []string{"cron runs (cumulative)", "scheduled", "started", "succeeded", "failed", "skipped"} {
		assert.Contains(t, panels, want)
	}
	assert.NotContains(t, panels, ">success ratio<", "no requests: no success panel")
	// (and that is how the panel's label reads where there are requests)
	plain := writeRun(t, false)
	require.NoError(t, report.Render(plain))
	assert.Contains(t, read(t, filepath.Join(plain, "report.html")), ">success ratio<")
	assert.Equal(t, len(in.Variants), strings.Count(panels, "cron runs (cumulative)"))
}

// Tables fit a 1024 px screen by wrapping between a value and its interval, never inside it
// (checked by eye with headless chromium at 1024 px; here: the markup that makes it so).
func TestTablesWrapBetweenValueAndInterval(t *testing.T) {
	dir := writeRun(t, false)
	require.NoError(t, report.Render(dir))
	html := read(t, filepath.Join(dir, "report.html"))
	assert.Contains(t, html, `<span class="ci">[`)
	assert.Contains(t, html, "td .ci { white-space: nowrap;")
	assert.NotContains(t, html, "ZgotmplZ", "the style sheet is inlined, not rejected by html/template")
}
