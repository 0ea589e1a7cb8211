package report_test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/faultline-dev/faultline/cmd/faultline/app/cli"
	"github.com/faultline-dev/faultline/cmd/faultline/app/run"
)

func runCmd(t *testing.T, args ...string) {
	t.Helper()
	var out, errb bytes.Buffer
	cmd := run.NewCommand(cli.Streams{In: strings.NewReader(""), Out: &out, Err: &errb})
	cmd.SetArgs(append(args, "-q"))
	cmd.SetOut(&out)
	cmd.SetErr(&errb)
	cmd.SilenceErrors, cmd.SilenceUsage = true, true
	require.NoError(t, cmd.ExecuteContext(context.Background()), "faultline run %v: %s", args, errb.String())
}

// files reads every file of dir by name.
func files(t *testing.T, dir string) map[string][]byte {
	t.Helper()
	ents, err := os.ReadDir(dir)
	require.NoError(t, err)
	out := map[string][]byte{}
	for _, e := range ents {
		b, err := os.ReadFile(filepath.Join(dir, e.Name()))
		require.NoError(t, err)
		out[e.Name()] = b
	}
	return out
}

func names(m map[string][]byte) []string {
	var n []string
	for k := range m {
		n = append(n, k)
	}
	sort.Strings(n)
	return n
}

// TestMergeOfShardsIsByteIdenticalToOneRun is the contract that makes sharding safe: the
// merge of shard runs over seed ranges gives the same files, byte for byte, as one run over all
// the seeds, whatever the number of shards and the order they are named in.
func TestMergeOfShardsIsByteIdenticalToOneRun(t *testing.T) {
	cases := []struct {
		name   string
		args   []string // scenario and options shared by every run
		seeds  int
		shards [][2]int // --seed, --seeds
	}{
		{"kernel panic, 2 shards", []string{"kernel-panic-stacking", "--variant", "anti-affinity"}, 10, [][2]int{{1, 4}, {5, 6}}},
		{"kernel panic with a --set, 4 uneven shards named out of order", []string{"kernel-panic-stacking", "--variant", "topology-spread",
			"--set", "spec.cluster.nodePools[0].count=4"}, 9, [][2]int{{8, 2}, {1, 1}, {2, 3}, {5, 3}}},
		{"webhook upgrade: metrics files", []string{"webhook-blocked-upgrade", "--variant", "failure-policy-ignore"}, 5, [][2]int{{1, 3}, {4, 2}}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			root := t.TempDir()
			whole := filepath.Join(root, "whole")
			runCmd(t, append(slicesClone(tc.args), "--seed", "1", "--seeds", fmt.Sprint(tc.seeds), "--out", whole)...)
			var dirs []string
			for i, sh := range tc.shards {
				d := filepath.Join(root, fmt.Sprintf("shard-%d", i))
				runCmd(t, append(slicesClone(tc.args), "--seed", fmt.Sprint(sh[0]), "--seeds", fmt.Sprint(sh[1]), "--out", d)...)
				dirs = append(dirs, d)
			}
			merged := filepath.Join(root, "merged")
			out, errOut, err := execute(append([]string{"merge", "--out", merged}, dirs...)...)
			require.NoError(t, err, errOut)
			assert.Contains(t, out, fmt.Sprintf("merged %d shards", len(dirs)))

			want, got := files(t, whole), files(t, merged)
			require.Equal(t, names(want), names(got), "the same files")
			for name, b := range want {
				assert.True(t, bytes.Equal(b, got[name]), "%s differs between the single run and the merge", name)
			}
			assert.Contains(t, names(want), "report.html")
		})
	}
}

func slicesClone(s []string) []string { return append([]string(nil), s...) }

func TestMergeRefusesShardsThatDoNotFit(t *testing.T) {
	root := t.TempDir()
	dir := func(n string) string { return filepath.Join(root, n) }
	base := []string{"kernel-panic-stacking", "--variant", "anti-affinity"}
	runCmd(t, append(slicesClone(base), "--seed", "1", "--seeds", "2", "--out", dir("a"))...)
	runCmd(t, append(slicesClone(base), "--seed", "3", "--seeds", "2", "--out", dir("b"))...)
	runCmd(t, append(slicesClone(base), "--seed", "2", "--seeds", "2", "--out", dir("overlap"))...)
	runCmd(t, append(slicesClone(base), "--seed", "7", "--seeds", "1", "--out", dir("gap"))...)
	runCmd(t, append(slicesClone(base), "--seed", "3", "--seeds", "2", "--set", "spec.cluster.nodePools[0].count=4", "--out", dir("set"))...)
	runCmd(t, "kernel-panic-stacking", "--variant", "topology-spread", "--seed", "3", "--seeds", "2", "--out", dir("variants"))

	// a shard from another faultline version
	raw, err := os.ReadFile(filepath.Join(dir("b"), "summary.json"))
	require.NoError(t, err)
	var sum map[string]any
	require.NoError(t, json.Unmarshal(raw, &sum))
	sum["faultline"] = "v0.0.0-other"
	raw, _ = json.MarshalIndent(sum, "", "  ")
	require.NoError(t, os.MkdirAll(dir("version"), 0o755))
	for _, f := range []string{"seeds.csv", "run.json"} {
		b, err := os.ReadFile(filepath.Join(dir("b"), f))
		require.NoError(t, err)
		require.NoError(t, os.WriteFile(filepath.Join(dir("version"), f), b, 0o644))
	}
	require.NoError(t, os.WriteFile(filepath.Join(dir("version"), "summary.json"), raw, 0o644))

	tests := []struct {
		name string
		args []string
		want []string
	}{
		{"overlapping seeds", []string{dir("a"), dir("overlap")}, []string{"seed 2 is in both", dir("a"), dir("overlap"), "must not overlap"}},
		{"a gap", []string{dir("a"), dir("gap")}, []string{"seeds 3 to 6 are in no shard", "--allow-gaps"}},
		{"different --set", []string{dir("a"), dir("set")}, []string{"--set changes", "nodePools[0].count=4", dir("set")}},
		{"different variants", []string{dir("a"), dir("variants")}, []string{"variants", "anti-affinity", "topology-spread"}},
		{"different faultline version", []string{dir("a"), dir("version")}, []string{"faultline version", "v0.0.0-other"}},
		{"not a run directory", []string{dir("a"), root}, []string{filepath.Join(root, "summary.json"), "is missing"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			_, _, err := execute(append([]string{"merge", "--out", dir("m")}, tc.args...)...)
			require.Error(t, err)
			assert.Equal(t, cli.ExitBadInput, cli.Code(err))
			for _, w := range tc.want {
				assert.Contains(t, err.Error(), w)
			}
		})
	}

	t.Run("a gap the user accepts", func(t *testing.T) {
		_, errOut, err := execute("merge", "-q", "--allow-gaps", "--out", dir("m"), dir("a"), dir("gap"))
		require.NoError(t, err, errOut)
		raw, err := os.ReadFile(filepath.Join(dir("m"), "summary.json"))
		require.NoError(t, err)
		var s struct{ Seeds []uint64 }
		require.NoError(t, json.Unmarshal(raw, &s))
		assert.Equal(t, []uint64{1, 2, 7}, s.Seeds)
	})
	t.Run("a shard whose values were not made by this scenario", func(t *testing.T) {
		// change every baseline value of the first objective's column: the replayed
		// representative seed no longer matches what the shard says it measured
		b, err := os.ReadFile(filepath.Join(dir("a"), "seeds.csv"))
		require.NoError(t, err)
		lines := strings.Split(string(b), "\n")
		for i := 1; i < len(lines); i++ {
			if f := strings.Split(lines[i], ","); len(f) > 2 && f[0] == "baseline" {
				f[2] = "0.5"
				lines[i] = strings.Join(f, ",")
			}
		}
		require.NoError(t, os.MkdirAll(dir("forged"), 0o755))
		for _, f := range []string{"summary.json", "run.json"} {
			b, err := os.ReadFile(filepath.Join(dir("a"), f))
			require.NoError(t, err)
			require.NoError(t, os.WriteFile(filepath.Join(dir("forged"), f), b, 0o644))
		}
		require.NoError(t, os.WriteFile(filepath.Join(dir("forged"), "seeds.csv"), []byte(strings.Join(lines, "\n")), 0o644))
		_, _, err = execute("merge", "--out", dir("m2"), dir("forged"), dir("b"))
		require.Error(t, err)
		assert.Contains(t, err.Error(), "was not made by this scenario")
	})
}

func TestMergeHelpTeaches(t *testing.T) {
	out, _, err := execute("merge", "--help")
	require.NoError(t, err)
	for _, want := range []string{"merge DIR... --out DIR", "byte for byte", "--allow-gaps", "--allow-partial", "--scenario", "run.json", "Examples:"} {
		assert.Contains(t, out, want)
	}
}
