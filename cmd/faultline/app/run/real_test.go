package run_test

import (
	"bytes"
	"context"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	appsv1 "k8s.io/api/apps/v1"
	"k8s.io/client-go/tools/clientcmd"
	clientcmdapi "k8s.io/client-go/tools/clientcmd/api"

	"github.com/faultline-dev/faultline/clusters/realrun"
	"github.com/faultline-dev/faultline/cmd/faultline/app/cli"
	"github.com/faultline-dev/faultline/cmd/faultline/app/run"
	"github.com/faultline-dev/faultline/scenarios"
)

// `faultline run --kubeconfig` against a cluster faultline did not create is refused before any
// request: the server below does not exist, so reaching it would fail differently.
func TestRealRunRefusesForeignContexts(t *testing.T) {
	t.Setenv("XDG_STATE_HOME", t.TempDir()) // no clusters recorded
	cfg := clientcmdapi.NewConfig()
	cfg.Clusters["prod"] = &clientcmdapi.Cluster{Server: "https://127.0.0.1:1", CertificateAuthorityData: []byte("CA")}
	cfg.AuthInfos["admin"] = &clientcmdapi.AuthInfo{Token: "secret"}
	cfg.Contexts["prod"] = &clientcmdapi.Context{Cluster: "prod", AuthInfo: "admin"}
	cfg.CurrentContext = "prod"
	path := filepath.Join(t.TempDir(), "kubeconfig")
	require.NoError(t, clientcmd.WriteToFile(*cfg, path))

	for _, tc := range []struct {
		name string
		args []string
	}{
		{"the current context", []string{"--kubeconfig", path}},
		{"a named context", []string{"--kubeconfig", path, "--context", "prod"}},
		{"another context allowed", []string{"--kubeconfig", path, "--allow-context", "staging"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var out, errb bytes.Buffer
			cmd := run.NewCommand(cli.Streams{Out: &out, Err: &errb})
			cmd.SetArgs(append([]string{"kernel-panic-stacking", "--out", t.TempDir()}, tc.args...))
			cmd.SilenceUsage, cmd.SilenceErrors = true, true // as the root command sets them
			cmd.SetOut(&out)
			cmd.SetErr(&errb)
			err := cmd.ExecuteContext(context.Background())
			require.Error(t, err)
			assert.Equal(t, cli.ExitBadInput, cli.Code(err))
			assert.ErrorContains(t, err, "refusing to write to or inject faults")
			assert.ErrorContains(t, err, "--allow-context prod")
			assert.Empty(t, out.String(), "nothing ran")
		})
	}
}

// ApplySets creates missing parents, also for map keys with dots and slashes.
func TestApplySetsCreatesMissingParents(t *testing.T) {
	sc, err := scenarios.Open("kernel-panic-stacking")
	require.NoError(t, err)

	out, err := run.ApplySets(sc, []string{
		`deployment/web:metadata.annotations["platform.faultline.dev/cron"]="true"`,
		"spec.cluster.models.podStart.pullTime=0s",
	})
	require.NoError(t, err)
	v, err := out.Variant("baseline")
	require.NoError(t, err)
	in := out.Compile(v)
	assert.Equal(t, time.Duration(0), in.Models.PodStart.PullTime.Duration)
	orig, err := sc.Variant("baseline")
	require.NoError(t, err)
	assert.Equal(t, sc.Compile(orig).Models.KernelPanic, in.Models.KernelPanic, "the other model parameters stay")
	found := false
	for _, o := range in.Objects {
		if d, ok := o.(*appsv1.Deployment); ok && d.Name == "web" {
			found = true
			assert.Equal(t, "true", d.Annotations["platform.faultline.dev/cron"], "the annotations map was created")
		}
	}
	assert.True(t, found)

	for _, bad := range []string{"spec.nope[0].x=1", "PATH-WITHOUT-VALUE", `spec.cluster.nodePools[0].labels["a.b"=x`} {
		_, err := run.ApplySets(sc, []string{bad})
		assert.Error(t, err, bad)
	}
}

func TestRealRunClusterFlag(t *testing.T) {
	for _, tc := range []struct {
		name string
		args []string
		err  string
	}{
		{"an unknown provider", []string{"--cluster", "minikube"}, `--cluster "minikube": expected local or kind`},
		{"a cluster and a kubeconfig", []string{"--cluster", "kind", "--kubeconfig", "x"}, "--cluster makes its own cluster"},
		{"a time scale of zero", []string{"--cluster", "kind", "--time-scale", "0"}, "--time-scale 0: expected a positive factor"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var out, errb bytes.Buffer
			cmd := run.NewCommand(cli.Streams{Out: &out, Err: &errb})
			cmd.SetArgs(append([]string{"kernel-panic-stacking", "--out", t.TempDir()}, tc.args...))
			cmd.SilenceUsage, cmd.SilenceErrors = true, true
			cmd.SetOut(&out)
			cmd.SetErr(&errb)
			err := cmd.ExecuteContext(context.Background())
			require.Error(t, err)
			assert.Equal(t, cli.ExitBadInput, cli.Code(err))
			assert.ErrorContains(t, err, tc.err)
		})
	}
	t.Run("--help explains the kind world", func(t *testing.T) {
		var out bytes.Buffer
		cmd := run.NewCommand(cli.Streams{Out: &out, Err: &out})
		cmd.SetOut(&out)
		cmd.SetArgs([]string{"--help"})
		require.NoError(t, cmd.Execute())
		for _, want := range []string{"--cluster kind", "faultline-echo", "docker pause", "scaled by real allocatable over pool capacity"} {
			assert.Contains(t, strings.Join(strings.Fields(out.String()), " "), want)
		}
	})
}

// run and fidelity open the real world the same way: on an existing cluster (here one the user
// allowed by name), a ledger is opened before any run, so a run killed on it is undone by the
// next faultline command; closing it removes it. Throwaway clusters need none.
func TestOpenRealWorldKeepsALedgerOnExistingClusters(t *testing.T) {
	state := t.TempDir()
	t.Setenv("XDG_STATE_HOME", state)
	cfg := clientcmdapi.NewConfig()
	cfg.Clusters["lab"] = &clientcmdapi.Cluster{Server: "https://127.0.0.1:1", CertificateAuthorityData: []byte("CA")}
	cfg.AuthInfos["admin"] = &clientcmdapi.AuthInfo{Token: "secret"}
	cfg.Contexts["lab"] = &clientcmdapi.Context{Cluster: "lab", AuthInfo: "admin"}
	path := filepath.Join(t.TempDir(), "kubeconfig")
	require.NoError(t, clientcmd.WriteToFile(*cfg, path))
	logger := slog.New(slog.NewTextHandler(io.Discard, nil))
	ledgers := filepath.Join(state, "faultline", "runs")

	w, err := run.OpenRealWorld(context.Background(), "", realrun.Target{KubeConfig: path, Context: "lab", AllowContexts: []string{"lab"}}, false, logger)
	require.NoError(t, err)
	require.NotNil(t, w.Ledger, "an existing cluster outlives the process: its runs keep a ledger")
	open, err := os.ReadDir(ledgers)
	require.NoError(t, err)
	require.Len(t, open, 1, "the ledger is on disk before any run")
	require.NoError(t, w.Close())
	open, err = os.ReadDir(ledgers)
	require.NoError(t, err)
	assert.Empty(t, open, "closed with nothing left to undo")

	w, err = run.OpenRealWorld(context.Background(), "local", realrun.Target{}, false, logger)
	require.NoError(t, err)
	assert.Nil(t, w.Ledger, "a throwaway cluster is recorded as the run's own")
	assert.NoError(t, w.Close())
}
