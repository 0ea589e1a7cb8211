package report_test

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/faultline-dev/faultline/cmd/faultline/app/cli"
	"github.com/faultline-dev/faultline/cmd/faultline/app/report"
	"github.com/faultline-dev/faultline/results"
)

func runDir(t *testing.T) string {
	t.Helper()
	target := 0.99
	in := results.Input{
		Scenario: "tiny", Digest: "sha256:feed", Version: "test",
		Baseline: "baseline", Variants: []string{"baseline", "fix"},
		Indicators: []string{"success"},
		Objectives: []results.Objective{{Name: "availability", Indicator: "success", TargetOp: ">=", TargetValue: &target, HigherIsBetter: true, Weight: 1}},
	}
	for i := range 8 {
		in.Seeds = append(in.Seeds, uint64(i+1))
	}
	for _, v := range in.Variants {
		var vals [][]float64
		var done []bool
		for i := range in.Seeds {
			x := 0.95 + float64(i)/1000
			if v == "fix" {
				x = 0.995 + float64(i)/10000
			}
			vals = append(vals, []float64{x})
			done = append(done, true)
		}
		in.Values = append(in.Values, vals)
		in.Done = append(in.Done, done)
	}
	s, err := results.Summarize(in)
	require.NoError(t, err)
	dir := t.TempDir()
	series := []results.Series{{Variant: "baseline", Seed: 1, Columns: []string{"hours", "success", "cpu/n1"}, Rows: [][]float64{{0, 1, 0.5}, {1, 0.5, 1.2}, {2, 1, 0.4}}}}
	require.NoError(t, results.WriteDir(dir, in, s, series))
	return dir
}

func execute(args ...string) (string, string, error) {
	var out, errb bytes.Buffer
	cmd := report.NewCommand(cli.Streams{In: strings.NewReader(""), Out: &out, Err: &errb})
	cmd.SetArgs(args)
	cmd.SetOut(&out)
	cmd.SetErr(&errb)
	cmd.SilenceErrors = true
	cmd.SilenceUsage = true
	err := cmd.Execute()
	return out.String(), errb.String(), err
}

func TestReportRendersARunDirectory(t *testing.T) {
	dir := runDir(t)
	out, _, err := execute(dir)
	require.NoError(t, err)
	for _, f := range []string{"report.md", "report.html", "junit.xml"} {
		assert.FileExists(t, filepath.Join(dir, f))
		assert.Contains(t, out, filepath.Join(dir, f))
	}
	html, err := os.ReadFile(filepath.Join(dir, "report.html"))
	require.NoError(t, err)
	assert.Contains(t, string(html), "<svg")

	out, _, err = execute("-q", dir)
	require.NoError(t, err)
	assert.Empty(t, out)
}

func TestReportOnANonRunDirectoryIsBadInput(t *testing.T) {
	dir := t.TempDir()
	_, _, err := execute(dir)
	require.Error(t, err)
	assert.Equal(t, cli.ExitBadInput, cli.Code(err))
	assert.Contains(t, err.Error(), filepath.Join(dir, "summary.json"))
}

func TestReportHelpTeaches(t *testing.T) {
	out, _, err := execute("--help")
	require.NoError(t, err)
	for _, want := range []string{"report DIR", "summary.json", "seeds.csv", "report.md", "report.html", "junit.xml", "self-contained", "fails when", "Examples:"} {
		assert.Contains(t, out, want)
	}
}
