package realrun_test

import (
	"os"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"k8s.io/client-go/tools/clientcmd"
	clientcmdapi "k8s.io/client-go/tools/clientcmd/api"

	"github.com/faultline-dev/faultline/clusters/realrun"
)

// kubeconfig writes a kubeconfig with two contexts: "prod" (the current one, a cluster
// faultline did not create) and "fl" (a server and CA that faultline recorded).
func kubeconfig(t *testing.T) string {
	cfg := clientcmdapi.NewConfig()
	cfg.Clusters["prod"] = &clientcmdapi.Cluster{Server: "https://10.1.2.3:6443", CertificateAuthorityData: []byte("PROD-CA")}
	cfg.Clusters["fl"] = &clientcmdapi.Cluster{Server: "https://127.0.0.1:41234", CertificateAuthorityData: []byte("FL-CA")}
	cfg.Clusters["impostor"] = &clientcmdapi.Cluster{Server: "https://127.0.0.1:41234", CertificateAuthorityData: []byte("OTHER-CA")}
	cfg.AuthInfos["u"] = &clientcmdapi.AuthInfo{Token: "t"}
	cfg.Contexts["prod"] = &clientcmdapi.Context{Cluster: "prod", AuthInfo: "u"}
	cfg.Contexts["fl"] = &clientcmdapi.Context{Cluster: "fl", AuthInfo: "u"}
	cfg.Contexts["impostor"] = &clientcmdapi.Context{Cluster: "impostor", AuthInfo: "u"}
	cfg.CurrentContext = "prod"
	path := filepath.Join(t.TempDir(), "kubeconfig")
	require.NoError(t, clientcmd.WriteToFile(*cfg, path))
	return path
}

// Writes and chaos go only to clusters faultline created, or to a context the user named with
// --allow-context; the current context is never taken by default.
func TestResolveRefusesClustersFaultlineDidNotCreate(t *testing.T) {
	path := kubeconfig(t)
	owned := []realrun.Owned{{Name: "run-1", Server: "https://127.0.0.1:41234/", CA: []byte("FL-CA\n")}}
	for _, tc := range []struct {
		name      string
		target    realrun.Target
		owned     string
		refused   bool
		errSubstr string
	}{
		{name: "the current context of a foreign cluster is refused", target: realrun.Target{KubeConfig: path}, refused: true},
		{name: "a foreign context named with --context is refused", target: realrun.Target{KubeConfig: path, Context: "prod"}, refused: true},
		{name: "allowing another context does not allow this one", target: realrun.Target{KubeConfig: path, AllowContexts: []string{"staging"}}, refused: true},
		{name: "--allow-context with its name allows it", target: realrun.Target{KubeConfig: path, Context: "prod", AllowContexts: []string{"prod"}}},
		{name: "a context on a cluster faultline created is allowed", target: realrun.Target{KubeConfig: path, Context: "fl"}, owned: "run-1"},
		{name: "the same server with another CA is not faultline's", target: realrun.Target{KubeConfig: path, Context: "impostor"}, refused: true},
		{name: "an unknown context is an error", target: realrun.Target{KubeConfig: path, Context: "nope"}, errSubstr: `no context "nope"`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			res, err := realrun.Resolve(tc.target, owned)
			switch {
			case tc.refused:
				require.ErrorIs(t, err, realrun.ErrNotAllowed)
				assert.ErrorContains(t, err, "--allow-context")
			case tc.errSubstr != "":
				assert.ErrorContains(t, err, tc.errSubstr)
			default:
				require.NoError(t, err)
				assert.Equal(t, tc.owned, res.Owned)
				assert.NotNil(t, res.Config)
			}
		})
	}
}

func TestResolveWithoutKubeconfigUsesTheDefaultRulesAndStillRefuses(t *testing.T) {
	path := kubeconfig(t)
	t.Setenv("KUBECONFIG", path)
	_, err := realrun.Resolve(realrun.Target{}, nil)
	require.ErrorIs(t, err, realrun.ErrNotAllowed)
	_, err = os.Stat(path)
	require.NoError(t, err)
}
