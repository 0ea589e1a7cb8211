package run_test

import (
	"bytes"
	"context"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"k8s.io/client-go/tools/clientcmd"
	clientcmdapi "k8s.io/client-go/tools/clientcmd/api"

	"github.com/faultline-dev/faultline/cmd/faultline/app/cli"
	"github.com/faultline-dev/faultline/cmd/faultline/app/run"
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
