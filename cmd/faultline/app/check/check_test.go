package check_test

import (
	"bytes"
	"encoding/json"
	"encoding/xml"
	"os"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/faultline-dev/faultline/cmd/faultline/app/check"
	"github.com/faultline-dev/faultline/cmd/faultline/app/cli"
	"github.com/faultline-dev/faultline/results"
)

// runDir writes a scored run of a baseline and a fix over 20 seeds; shift moves the fix's
// availability on every seed (negative: a broken mitigation).
func runDir(t *testing.T, shift float64, sets ...string) string {
	t.Helper()
	target := 0.99
	in := results.Input{
		Scenario: "tiny", Digest: "sha256:feed", Version: "test", Sets: sets,
		Baseline: "baseline", Variants: []string{"baseline", "fix"},
		Indicators: []string{"success"},
		Objectives: []results.Objective{{Name: "availability", Indicator: "success", TargetOp: ">=", TargetValue: &target, HigherIsBetter: true, Weight: 1}},
	}
	for i := range 20 {
		in.Seeds = append(in.Seeds, uint64(i+1))
	}
	for _, v := range in.Variants {
		var vals [][]float64
		var done []bool
		for i := range in.Seeds {
			x := 0.95 + float64(i%7)/1000
			if v == "fix" {
				x = 0.995 + float64(i%5)/10000 + shift*(1+float64(i)/100)
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
	require.NoError(t, results.WriteDir(dir, in, s, nil))
	return dir
}

func run(t *testing.T, args ...string) (string, string, error) {
	t.Helper()
	var out, errb bytes.Buffer
	cmd := check.NewCommand(cli.Streams{Out: &out, Err: &errb})
	cmd.SetArgs(args)
	cmd.SetOut(&out)
	cmd.SetErr(&errb)
	err := cmd.Execute()
	return out.String(), errb.String(), err
}

type junit struct {
	Tests    int `xml:"tests,attr"`
	Failures int `xml:"failures,attr"`
	Suites   []struct {
		SystemErr string `xml:"system-err"`
		Cases     []struct {
			Name    string `xml:"name,attr"`
			Failure *struct {
				Message string `xml:"message,attr"`
			} `xml:"failure"`
		} `xml:"testcase"`
	} `xml:"testsuite"`
}

func TestCheckWritesJUnitAndJSON(t *testing.T) {
	base := filepath.Join(runDir(t, 0), "summary.json")
	for _, tc := range []struct {
		name      string
		dir       string
		regressed bool
		warning   string
	}{
		{"reproduced", runDir(t, 0), false, ""},
		{"mitigation broken", runDir(t, -0.01), true, ""},
		{"run with an override", runDir(t, 0, "spec.duration=1h"), false, "the scenario changed since the baseline was stored"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			tmp := t.TempDir()
			jx, jj := filepath.Join(tmp, "check.xml"), filepath.Join(tmp, "check.json")
			out, stderr, err := run(t, "--baseline", base, tc.dir, "--junit", jx, "--json", jj)
			if tc.regressed {
				require.Error(t, err)
				assert.Equal(t, cli.ExitFailure, cli.Code(err))
				assert.Contains(t, out, "WORSE")
			} else {
				require.NoError(t, err)
				assert.Contains(t, out, "no regression")
			}
			var doc junit
			raw, err := os.ReadFile(jx)
			require.NoError(t, err)
			require.NoError(t, xml.Unmarshal(raw, &doc))
			assert.Equal(t, 2, doc.Tests, "baseline and fix, one objective")
			if tc.regressed {
				require.Equal(t, 1, doc.Failures)
				assert.Contains(t, doc.Suites[0].Cases[1].Failure.Message, "fix/availability regressed")
				assert.Contains(t, doc.Suites[0].Cases[1].Failure.Message, "worse")
			} else {
				assert.Equal(t, 0, doc.Failures)
			}
			var res map[string]any
			raw, err = os.ReadFile(jj)
			require.NoError(t, err)
			require.NoError(t, json.Unmarshal(raw, &res))
			assert.Equal(t, tc.regressed, res["regressed"])
			if tc.warning != "" {
				assert.Contains(t, stderr, tc.warning)
				assert.Contains(t, doc.Suites[0].SystemErr, tc.warning)
				assert.Contains(t, string(raw), tc.warning)
				assert.Contains(t, string(raw), "spec.duration=1h")
			}
		})
	}
}

func TestCheckOutputJSON(t *testing.T) {
	base := filepath.Join(runDir(t, 0), "summary.json")
	out, _, err := run(t, "--baseline", base, runDir(t, 0), "-o", "json")
	require.NoError(t, err)
	var res struct {
		Regressed bool
		Findings  []struct {
			Variant, Objective, Method, Verdict string
		}
	}
	require.NoError(t, json.Unmarshal([]byte(out), &res), "stdout is one JSON document: %s", out)
	require.Len(t, res.Findings, 2)
	assert.Equal(t, "paired", res.Findings[1].Method)
	assert.Equal(t, "unchanged", res.Findings[1].Verdict)

	_, _, err = run(t, "--baseline", base, runDir(t, 0), "-o", "yaml")
	assert.Equal(t, cli.ExitBadInput, cli.Code(err))
}
