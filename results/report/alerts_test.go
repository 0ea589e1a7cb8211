package report_test

import (
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/faultline-dev/faultline/results"
	"github.com/faultline-dev/faultline/results/report"
)

// A run with rule files shows when each alert fired; one whose alerts never fired says so; a run
// without rule files has no alerts section.
func TestAlertTimeline(t *testing.T) {
	in, s, series := synthetic(t, false)
	dir := t.TempDir()
	require.NoError(t, results.WriteDir(dir, in, s, series))
	require.NoError(t, report.Render(dir))
	md, err := os.ReadFile(filepath.Join(dir, "report.md"))
	require.NoError(t, err)
	assert.NotContains(t, string(md), "## Alerts")

	require.NoError(t, report.WriteAlerts(dir, []report.AlertFiring{
		{Variant: "baseline", Seed: 3, Alert: "CronJobSkippedStart", Labels: map[string]string{"severity": "page"}, From: 101*time.Minute + 30*time.Second, To: 2 * time.Hour},
		{Variant: "fix", Seed: 4, Alert: "KubeAPILatencyHigh", From: 26 * time.Hour, To: 84 * time.Hour, Open: true},
	}))
	require.NoError(t, report.Render(dir))
	md, err = os.ReadFile(filepath.Join(dir, "report.md"))
	require.NoError(t, err)
	assert.Contains(t, string(md), "## Alerts")
	assert.Contains(t, string(md), `| baseline | 3 | CronJobSkippedStart | severity="page" | 1:41:30 | 2:00:00 |`)
	assert.Contains(t, string(md), "| 26:00:00 | still firing at the end |")
	html, err := os.ReadFile(filepath.Join(dir, "report.html"))
	require.NoError(t, err)
	assert.Contains(t, string(html), `<h2 id="alerts">`)
	assert.Contains(t, string(html), "KubeAPILatencyHigh")

	require.NoError(t, report.WriteAlerts(dir, nil))
	require.NoError(t, report.Render(dir))
	md, err = os.ReadFile(filepath.Join(dir, "report.md"))
	require.NoError(t, err)
	assert.Contains(t, string(md), "No alert fired.")
}
