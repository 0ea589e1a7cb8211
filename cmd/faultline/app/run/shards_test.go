package run_test

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"k8s.io/client-go/tools/clientcmd"
	clientcmdapi "k8s.io/client-go/tools/clientcmd/api"

	"github.com/faultline-dev/faultline/clusters/shard"
	"github.com/faultline-dev/faultline/cmd/faultline/app/cli"
	"github.com/faultline-dev/faultline/cmd/faultline/app/run"
)

func runArgs(t *testing.T, args ...string) (string, error) {
	t.Helper()
	var out, errb bytes.Buffer
	cmd := run.NewCommand(cli.Streams{In: strings.NewReader(""), Out: &out, Err: &errb})
	cmd.SetArgs(args)
	cmd.SetOut(&out)
	cmd.SetErr(&errb)
	cmd.SilenceErrors, cmd.SilenceUsage = true, true
	err := cmd.ExecuteContext(context.Background())
	return out.String(), err
}

// --shards refuses what it cannot do before any request, and a cluster faultline did not create.
func TestShardsRefusals(t *testing.T) {
	t.Setenv("XDG_STATE_HOME", t.TempDir()) // no clusters recorded
	cfg := clientcmdapi.NewConfig()
	cfg.Clusters["prod"] = &clientcmdapi.Cluster{Server: "https://127.0.0.1:1", CertificateAuthorityData: []byte("CA")}
	cfg.AuthInfos["admin"] = &clientcmdapi.AuthInfo{Token: "secret"}
	cfg.Contexts["prod"] = &clientcmdapi.Context{Cluster: "prod", AuthInfo: "admin"}
	cfg.CurrentContext = "prod"
	kc := filepath.Join(t.TempDir(), "kubeconfig")
	require.NoError(t, clientcmd.WriteToFile(*cfg, kc))
	file := "../../../../scenarios/kernel-panic-stacking" // a folder here, not in the pods

	for _, tc := range []struct {
		name string
		args []string
		want string
	}{
		{"a foreign context", []string{"kernel-panic-stacking", "--seeds", "4", "--shards", "2", "--image", "i", "--kubeconfig", kc}, "--allow-context prod"},
		{"no image", []string{"kernel-panic-stacking", "--seeds", "4", "--shards", "2", "--kubeconfig", kc}, "--shards needs --image"},
		{"more shards than seeds", []string{"kernel-panic-stacking", "--seeds", "3", "--shards", "4", "--image", "i", "--kubeconfig", kc}, "4 shards for 3 seeds"},
		{"a scenario file the pods do not have", []string{file, "--seeds", "4", "--shards", "2", "--image", "i", "--kubeconfig", kc}, "built-in scenarios"},
		{"with --precision", []string{"kernel-panic-stacking", "--shards", "2", "--image", "i", "--precision", "0.1", "--kubeconfig", kc}, "--precision"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := runArgs(t, tc.args...)
			require.Error(t, err)
			assert.Equal(t, cli.ExitBadInput, cli.Code(err))
			assert.Contains(t, err.Error(), tc.want)
		})
	}
}

// A shard pod's whole path without a cluster: the worker plays its index's seeds and prints a
// frame; decoded and merged with the other index, it gives the bytes of one local run.
func TestShardWorkerFramesMergeIntoOneRun(t *testing.T) {
	root := t.TempDir()
	common := []string{"kernel-panic-stacking", "--variant", "anti-affinity", "--seed", "1", "--seeds", "5"}
	_, err := runArgs(t, append(append([]string(nil), common...), "-q", "--out", filepath.Join(root, "whole"))...)
	require.NoError(t, err)
	var dirs []string
	for _, idx := range []string{"1", "0"} {
		t.Setenv(shard.IndexEnv, idx)
		out, err := runArgs(t, append(append([]string(nil), common...), "--shards", "2", "--shard-worker")...)
		require.NoError(t, err)
		d := filepath.Join(root, "shard-"+idx)
		got, err := shard.Decode(strings.NewReader(out), d)
		require.NoError(t, err)
		assert.Equal(t, idx, []string{"0", "1"}[got])
		dirs = append(dirs, d)
	}
	merged := filepath.Join(root, "merged")
	_, err = shard.Merge(shard.MergeConfig{Dirs: dirs, Out: merged, Version: cli.Version, Open: run.OpenWithSets})
	require.NoError(t, err)
	for _, f := range []string{"summary.json", "seeds.csv", "run.json", "report.md", "report.html", "junit.xml"} {
		want, err := os.ReadFile(filepath.Join(root, "whole", f))
		require.NoError(t, err)
		got, err := os.ReadFile(filepath.Join(merged, f))
		require.NoError(t, err)
		assert.True(t, bytes.Equal(want, got), "%s differs", f)
	}
}
