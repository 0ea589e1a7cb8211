package app_test

import (
	"bytes"
	"context"
	"encoding/csv"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/faultline-dev/faultline/cmd/faultline/app"
	"github.com/faultline-dev/faultline/cmd/faultline/app/cli"
	"github.com/faultline-dev/faultline/scenarios"
)

// run executes one command line and returns its exit code, stdout and stderr.
func run(t *testing.T, args ...string) (code int, stdout, stderr string) {
	t.Helper()
	var out, errb bytes.Buffer
	var err error
	require.NotPanics(t, func() {
		err = app.Run(context.Background(), cli.Streams{In: strings.NewReader(""), Out: &out, Err: &errb}, args)
	})
	return cli.Code(err), out.String(), errb.String()
}

// assertOneLine checks that s is exactly one line with no Go stack trace in it.
func assertOneLine(t *testing.T, s string) {
	t.Helper()
	require.True(t, strings.HasSuffix(s, "\n"), "%q ends with a newline", s)
	assert.Equal(t, 1, strings.Count(s, "\n"), "exactly one line: %q", s)
	for _, bad := range []string{"goroutine ", "panic: ", ".go:", "runtime error"} {
		assert.NotContains(t, s, bad)
	}
}

func TestValidateBadInput(t *testing.T) {
	tests := []struct {
		name       string
		file       string
		wantPrefix string // FILE:LINE, the start of the line on stderr
		wantParts  []string
	}{
		{"YAML syntax error", "testdata/bad-yaml.yaml", "testdata/bad-yaml.yaml:11:",
			[]string{"syntax error"}},
		{"bad quantity", "testdata/bad-quantity.yaml", "testdata/bad-quantity.yaml:9:",
			[]string{"spec.cluster.nodePools[0].capacity.cpu", `invalid quantity "4 cores"`}},
		{"fault names an unknown node (found by the simulator)", "testdata/bad-fault-node.yaml", "testdata/bad-fault-node.yaml:11:",
			[]string{"spec.faults[0]", `node "i-0abc" does not exist`, "<pool>-<n>"}},
		{"error in an included file", "testdata/bad-include", "testdata/bad-include/manifests.yaml:10:",
			[]string{"spec.replicas", `got string "three"`}},
		{"empty file", "testdata/empty.yaml", "testdata/empty.yaml:",
			[]string{"apiVersion", `expected "faultline.dev/v1alpha1"`}},
		{"a list instead of a scenario", "testdata/list.yaml", "testdata/list.yaml:1:",
			[]string{"expected a mapping"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			code, stdout, stderr := run(t, "validate", tt.file)
			assert.Equal(t, cli.ExitBadInput, code)
			assert.Empty(t, stdout)
			t.Log(strings.TrimSpace(stderr))
			assertOneLine(t, stderr)
			assert.True(t, strings.HasPrefix(stderr, tt.file), "starts with the path given: %q", stderr)
			assert.True(t, strings.HasPrefix(stderr, tt.wantPrefix), "starts with %q: %q", tt.wantPrefix, stderr)
			for _, p := range tt.wantParts {
				assert.Contains(t, stderr, p)
			}
		})
	}

	t.Run("not a scenario", func(t *testing.T) {
		code, _, stderr := run(t, "validate", "testdata/no-such-file.yaml")
		assert.Equal(t, cli.ExitBadInput, code)
		assertOneLine(t, stderr)
		assert.Contains(t, stderr, `"testdata/no-such-file.yaml"`)
	})

	t.Run("one good and one bad: every file is checked", func(t *testing.T) {
		code, stdout, stderr := run(t, "validate", "kernel-panic-stacking", "testdata/bad-quantity.yaml")
		assert.Equal(t, cli.ExitBadInput, code)
		assert.Contains(t, stdout, "kernel-panic-stacking")
		assert.Contains(t, stdout, ": ok")
		assertOneLine(t, stderr)
		assert.True(t, strings.HasPrefix(stderr, "testdata/bad-quantity.yaml:9:"), stderr)
	})
}

func TestValidateGood(t *testing.T) {
	code, stdout, stderr := run(t, "validate", "kernel-panic-stacking")
	assert.Equal(t, cli.ExitOK, code)
	assert.Empty(t, stderr)
	assert.Equal(t, "scenarios/kernel-panic-stacking/scenario.yaml: ok (kernel-panic-stacking, 7 objects, 0 templates, 3 faults, variants: [baseline anti-affinity topology-spread cpu-limits right-sized-requests platform-spread])\n", stdout)
}

// TestUsageErrors runs from an empty folder, so a command that wrongly starts a run would leave
// a results folder behind. "TD" in an argument or message stands for this package's testdata.
func TestUsageErrors(t *testing.T) {
	td := filepath.Join(wd, "testdata")
	tests := []struct {
		name string
		args []string
		want string
	}{
		{"run: unknown variant", []string{"run", "kernel-panic-stacking", "--variant", "nope", "-q"}, `--variant "nope": the scenario has baseline, anti-affinity`},
		{"run: unknown flag", []string{"run", "kernel-panic-stacking", "--bogus"}, "unknown flag: --bogus"},
		{"run: no scenario", []string{"run"}, "accepts 1 arg(s)"},
		{"run: unknown scenario", []string{"run", "no-such-scenario", "-q"}, "scenario not found"},
		{"run: bad scenario", []string{"run", "TD/bad-quantity.yaml", "-q"}, "TD/bad-quantity.yaml:9:"},
		{"run: seeds not a number", []string{"run", "kernel-panic-stacking", "--seeds", "many"}, "invalid argument"},
		{"run: negative seeds", []string{"run", "kernel-panic-stacking", "--seeds", "-3", "-q"}, "--seeds -3"},
		{"validate: no file", []string{"validate"}, "requires at least 1 arg(s)"},
		{"list: unknown flag", []string{"list", "--bogus"}, "unknown flag: --bogus"},
		{"list: an argument", []string{"list", "extra"}, "unknown command"},
		{"unknown command", []string{"frobnicate"}, "unknown command"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dir := t.TempDir()
			t.Chdir(dir)
			args := make([]string, len(tt.args))
			for i, a := range tt.args {
				args[i] = strings.Replace(a, "TD", td, 1)
			}
			var out, errb bytes.Buffer
			var err error
			require.NotPanics(t, func() {
				err = app.Run(context.Background(), cli.Streams{Out: &out, Err: &errb}, args)
			})
			require.Error(t, err)
			assert.Equal(t, cli.ExitBadInput, cli.Code(err), "%v", err)
			assert.Contains(t, err.Error(), strings.Replace(tt.want, "TD", td, 1))
			assert.NotContains(t, err.Error(), "\n")
			_, statErr := os.Stat(filepath.Join(dir, "results"))
			assert.True(t, os.IsNotExist(statErr), "no results written")
		})
	}
}

// wd is the package folder, where `go test` starts.
var wd, _ = os.Getwd()

type summary struct {
	Schema   int      `json:"schema"`
	Scenario string   `json:"scenario"`
	Digest   string   `json:"digest"`
	Seeds    []uint64 `json:"seeds"`
	Baseline string   `json:"baseline"`
	Variants []struct {
		Name     string `json:"name"`
		Complete int    `json:"complete"`
	} `json:"variants"`
}

func TestRun(t *testing.T) {
	sc, err := scenarios.Open("kernel-panic-stacking")
	require.NoError(t, err)

	runInto := func(t *testing.T, extra ...string) string {
		t.Helper()
		dir := t.TempDir()
		args := append([]string{"run", "kernel-panic-stacking", "--seeds", "2", "--variant", "anti-affinity", "--out", dir, "-q"}, extra...)
		code, stdout, stderr := run(t, args...)
		require.Equal(t, cli.ExitOK, code, "stderr: %s", stderr)
		assert.Empty(t, stderr, "-q prints no progress")
		assert.Contains(t, stdout, "wrote "+dir)
		assert.Contains(t, stdout, "anti-affinity")
		return dir
	}
	dir := runInto(t)

	t.Run("summary.json", func(t *testing.T) {
		b, err := os.ReadFile(filepath.Join(dir, "summary.json"))
		require.NoError(t, err)
		var s summary
		require.NoError(t, json.Unmarshal(b, &s))
		assert.Equal(t, 1, s.Schema)
		assert.Equal(t, "kernel-panic-stacking", s.Scenario)
		assert.Equal(t, []uint64{1, 2}, s.Seeds)
		assert.Equal(t, sc.Digest, s.Digest)
		assert.Equal(t, "baseline", s.Baseline)
		var names []string
		for _, v := range s.Variants {
			names = append(names, v.Name)
			assert.Equal(t, 2, v.Complete, v.Name)
		}
		assert.Equal(t, []string{"baseline", "anti-affinity"}, names)
	})

	t.Run("report and series", func(t *testing.T) {
		for _, name := range []string{"report.md", "report.html", "junit.xml"} {
			b, err := os.ReadFile(filepath.Join(dir, name))
			require.NoError(t, err, name)
			assert.Contains(t, string(b), "anti-affinity", name)
		}
		series, err := filepath.Glob(filepath.Join(dir, "series-*.csv"))
		require.NoError(t, err)
		assert.Len(t, series, 2, "one representative seed per variant")
	})

	t.Run("seeds.csv", func(t *testing.T) {
		f, err := os.Open(filepath.Join(dir, "seeds.csv"))
		require.NoError(t, err)
		defer f.Close()
		rows, err := csv.NewReader(f).ReadAll()
		require.NoError(t, err)
		require.Len(t, rows, 1+4, "a header and one row per variant and seed")
		assert.Equal(t, []string{"variant", "seed"}, rows[0][:2])
		assert.Contains(t, rows[0], "request-success-ratio")
		var keys []string
		for _, r := range rows[1:] {
			keys = append(keys, r[0]+"/"+r[1])
			assert.Len(t, r, len(rows[0]))
		}
		assert.Equal(t, []string{"baseline/1", "baseline/2", "anti-affinity/1", "anti-affinity/2"}, keys)
	})

	t.Run("same seeds, same bytes, whatever the workers", func(t *testing.T) {
		again := runInto(t, "--workers", "1")
		for _, name := range []string{"summary.json", "seeds.csv"} {
			a, err := os.ReadFile(filepath.Join(dir, name))
			require.NoError(t, err)
			b, err := os.ReadFile(filepath.Join(again, name))
			require.NoError(t, err)
			assert.Equal(t, string(a), string(b), name)
		}
	})

	t.Run("--json prints the summary", func(t *testing.T) {
		code, stdout, stderr := run(t, "run", "kernel-panic-stacking", "--seeds", "1", "--variant", "baseline", "--out", t.TempDir(), "-q", "--json")
		require.Equal(t, cli.ExitOK, code, stderr)
		var s summary
		require.NoError(t, json.Unmarshal([]byte(stdout), &s), stdout)
		assert.Equal(t, []uint64{1}, s.Seeds)
		require.Len(t, s.Variants, 1)
		assert.Equal(t, "baseline", s.Variants[0].Name)
	})
}

func TestList(t *testing.T) {
	t.Run("scenarios", func(t *testing.T) {
		code, stdout, stderr := run(t, "list")
		assert.Equal(t, cli.ExitOK, code)
		assert.Empty(t, stderr)
		assert.Contains(t, stdout, "SCENARIO")
		assert.Contains(t, stdout, "kernel-panic-stacking")
		assert.Contains(t, stdout, "baseline,anti-affinity")
	})
	t.Run("indicators", func(t *testing.T) {
		code, stdout, stderr := run(t, "list", "--indicators")
		assert.Equal(t, cli.ExitOK, code)
		assert.Empty(t, stderr)
		assert.Contains(t, stdout, "INDICATOR")
		assert.Contains(t, stdout, "request-success-ratio")
		assert.Contains(t, stdout, "node-panics")
		assert.NotContains(t, stdout, "kernel-panic-stacking")
	})
}

func TestHelp(t *testing.T) {
	tests := []struct {
		name string
		args []string
		want []string
	}{
		{"run --help", []string{"run", "--help"}, []string{"--seed ", "--seeds ", "--variant ", "--out ", "--trace", "--trace-json", "--workers", "--json", "--quiet"}},
		{"validate --help", []string{"validate", "--help"}, []string{"FILE:LINE:COLUMN", "exit status is 2"}},
		{"root --help", []string{"--help"}, []string{"run", "validate", "list"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			code, stdout, stderr := run(t, tt.args...)
			assert.Equal(t, cli.ExitOK, code)
			assert.Empty(t, stderr)
			for _, w := range tt.want {
				assert.Contains(t, stdout, w)
			}
		})
	}
}

// tinyScenario is a scenario that replays in milliseconds, for tests that run many times.
const tinyScenario = `apiVersion: faultline.dev/v1alpha1
kind: Scenario
metadata: {name: tiny}
spec:
  duration: 10m
  seeds: 2
  cluster:
    nodePools: [{name: p, count: 2, capacity: {cpu: "4", memory: 8Gi}}]
  objects:
    - apiVersion: apps/v1
      kind: Deployment
      metadata: {name: web}
      spec:
        replicas: 2
        selector: {matchLabels: {app: web}}
        template:
          metadata: {labels: {app: web}}
          spec: {containers: [{name: web, image: web:1, resources: {requests: {cpu: "1", memory: 1Gi}}}]}
  load:
    - {target: deployment/web, requestsPerSecond: 10, cpuPerReplica: 500m}
`

// TestRunsAtOnce: 20 runs started together with the default --out leave 20 complete folders,
// none holding another run's files, and no temporary folder.
func TestRunsAtOnce(t *testing.T) {
	dir := t.TempDir()
	t.Chdir(dir)
	require.NoError(t, os.WriteFile("tiny.yaml", []byte(tinyScenario), 0o644))
	const n = 20
	var wg sync.WaitGroup
	codes := make([]int, n)
	outs := make([]string, n)
	for i := range n {
		wg.Go(func() {
			var out, errb bytes.Buffer
			err := app.Run(context.Background(), cli.Streams{Out: &out, Err: &errb}, []string{"run", "tiny.yaml", "-q", "--workers", "1", "--seed", strconv.Itoa(i + 1), "--seeds", "1"})
			codes[i], outs[i] = cli.Code(err), out.String()+errb.String()
		})
	}
	wg.Wait()
	wrote := map[string]bool{}
	for i := range n {
		require.Equal(t, cli.ExitOK, codes[i], outs[i])
		_, after, ok := strings.Cut(outs[i], "\nwrote ")
		require.True(t, ok, outs[i])
		d, _, _ := strings.Cut(after, " ")
		assert.False(t, wrote[d], "two runs wrote %s", d)
		wrote[d] = true
		b, err := os.ReadFile(filepath.Join(d, "summary.json"))
		require.NoError(t, err)
		var s summary
		require.NoError(t, json.Unmarshal(b, &s))
		assert.Equal(t, []uint64{uint64(i + 1)}, s.Seeds, "%s holds another run's summary", d)
		for _, name := range []string{"seeds.csv", "report.md", "report.html", "junit.xml"} {
			assert.FileExists(t, filepath.Join(d, name))
		}
		series, _ := filepath.Glob(filepath.Join(d, "series-*.csv"))
		assert.Equal(t, []string{filepath.Join(d, fmt.Sprintf("series-baseline-seed%d.csv", i+1))}, series)
	}
	entries, err := os.ReadDir(filepath.Join("results", "tiny"))
	require.NoError(t, err)
	var names []string
	for _, e := range entries {
		names = append(names, e.Name())
	}
	assert.Len(t, names, n+1, "20 folders and latest, nothing else: %v", names)
	assert.Contains(t, names, "latest")
}

// TestRunOut: a non-empty --out is refused before the run; --overwrite replaces it whole.
func TestRunOut(t *testing.T) {
	dir := t.TempDir()
	t.Chdir(dir)
	require.NoError(t, os.WriteFile("tiny.yaml", []byte(tinyScenario), 0o644))
	out := filepath.Join(dir, "out")
	require.NoError(t, os.Mkdir(out, 0o755))
	require.NoError(t, os.WriteFile(filepath.Join(out, "metrics-old-seed9.txt"), []byte("stale"), 0o644))
	code, stdout, stderr := run(t, "run", "tiny.yaml", "-q", "--out", out)
	assert.Equal(t, cli.ExitBadInput, code, stdout+stderr)
	assert.NoFileExists(t, filepath.Join(out, "summary.json"))
	code, stdout, stderr = run(t, "run", "tiny.yaml", "-q", "--out", out, "--overwrite")
	require.Equal(t, cli.ExitOK, code, stdout+stderr)
	assert.FileExists(t, filepath.Join(out, "summary.json"))
	assert.NoFileExists(t, filepath.Join(out, "metrics-old-seed9.txt"), "no stale files")
	entries, _ := os.ReadDir(dir)
	assert.Len(t, entries, 2, "tiny.yaml and out, no temporary folder")
}
