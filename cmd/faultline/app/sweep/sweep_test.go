package sweep

import (
	"bytes"
	"encoding/json"
	"path/filepath"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/faultline-dev/faultline/cmd/faultline/app/cli"
	"github.com/faultline-dev/faultline/results"
	"github.com/faultline-dev/faultline/scenarios"
)

func TestParseSet(t *testing.T) {
	cases := []struct {
		in   string
		path string
		want []string
		err  string
	}{
		{in: "spec.a=1,2,4", path: "spec.a", want: []string{"1", "2", "4"}},
		{in: "spec.a=3:8:1", path: "spec.a", want: []string{"3", "4", "5", "6", "7", "8"}},
		{in: "spec.a=0.1:0.3:0.1", path: "spec.a", want: []string{"0.1", "0.2", "0.30000000000000004"}},
		{in: "spec.t=5m:15m:5m", path: "spec.t", want: []string{"5m0s", "10m0s", "15m0s"}},
		{in: "deployment/web:spec.replicas=2,3", path: "deployment/web:spec.replicas", want: []string{"2", "3"}},
		// one value as run's --set takes it: lists, maps and quoted strings keep their commas
		{in: "deployment/api:spec.template.spec.readinessGates=[]", path: "deployment/api:spec.template.spec.readinessGates", want: []string{"[]"}},
		{in: "spec.z=[a,b],[c]", path: "spec.z", want: []string{"[a,b]", "[c]"}},
		{in: "spec.r={cpu: 1, memory: 2Gi},{cpu: 2}", path: "spec.r", want: []string{"{cpu: 1, memory: 2Gi}", "{cpu: 2}"}},
		{in: `spec.s="a,b",c`, path: "spec.s", want: []string{`"a,b"`, "c"}},
		{in: "spec.a", err: "expected PATH="},
		{in: "spec.a=5:1:1", err: "FROM <= TO"},
		{in: "spec.a=1:5:0", err: "STEP > 0"},
		{in: "spec.a=x:y:z", err: "numbers or durations"},
		{in: "spec.a=,", err: "no values"},
	}
	for _, c := range cases {
		t.Run(c.in, func(t *testing.T) {
			p, err := parseSet(c.in)
			if c.err != "" {
				require.Error(t, err)
				assert.Contains(t, err.Error(), c.err)
				return
			}
			require.NoError(t, err)
			assert.Equal(t, c.path, p.path)
			assert.Equal(t, c.want, p.values)
		})
	}
}

func TestProduct(t *testing.T) {
	g := product([]param{{values: []string{"a", "b"}}, {values: []string{"1", "2", "3"}}})
	assert.Equal(t, [][]string{{"a", "1"}, {"a", "2"}, {"a", "3"}, {"b", "1"}, {"b", "2"}, {"b", "3"}}, g)
}

// A small sweep end to end: report.html and report.md are written, each point records its value
// as a --set override, and -o json prints sweep.json.
func TestSweepWritesReportsAndJSON(t *testing.T) {
	dir := t.TempDir()
	var out, errb bytes.Buffer
	cmd := NewCommand(cli.Streams{Out: &out, Err: &errb})
	cmd.SetArgs([]string{"kernel-panic-stacking", "--set", "spec.cluster.nodePools[0].count=3,4", "--set", "spec.duration=6h",
		"--seeds", "2", "--variant", "anti-affinity", "--out", dir, "-q", "-o", "json"})
	require.NoError(t, cmd.Execute(), errb.String())
	var sw results.Sweep
	require.NoError(t, json.Unmarshal(out.Bytes(), &sw), "stdout is sweep.json: %s", out.String())
	require.Len(t, sw.Points, 2)
	assert.Equal(t, []string{"spec.cluster.nodePools[0].count=3", "spec.duration=6h"}, sw.Points[0].Summary.Sets)
	assert.NotEqual(t, sw.Points[0].Summary.Digest, sw.Points[1].Summary.Digest, "the overrides are in each point's digest")
	for _, f := range []string{"report.html", "report.md", "sweep.json", "sweep.csv"} {
		assert.FileExists(t, filepath.Join(dir, f))
	}
}

// A sweep point sets its parameters as run --set and fidelity --set do: a model parameter
// whose parent the scenario does not write is created, not refused.
func TestPointSetsAsRunDoes(t *testing.T) {
	sc, err := scenarios.Open("kernel-panic-stacking")
	require.NoError(t, err)
	p, err := parseSet("spec.cluster.models.podStart.pullTime=1s,3s")
	require.NoError(t, err)
	for _, v := range p.values {
		c, err := point(sc, []param{p}, []string{v})
		require.NoError(t, err, v)
		base, err := c.Variant(c.Baseline())
		require.NoError(t, err)
		want, _ := time.ParseDuration(v)
		assert.Equal(t, want, c.Compile(base).Models.PodStart.PullTime.Duration)
	}
}
