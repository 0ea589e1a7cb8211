package kind_test

import (
	"testing"

	"github.com/BurntSushi/toml"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/faultline-dev/faultline/clusters/kind"
)

// A node's hosts.toml sends every pull of the mapped host to the registry, over plain HTTP.
func TestHostsToml(t *testing.T) {
	var got struct {
		Server string
		Host   map[string]struct{ Capabilities []string }
	}
	_, err := toml.Decode(kind.HostsToml("http://10.250.0.9:5000"), &got)
	require.NoError(t, err)
	assert.Equal(t, "http://10.250.0.9:5000", got.Server)
	assert.Equal(t, []string{"pull", "resolve"}, got.Host["http://10.250.0.9:5000"].Capabilities)
}

// The containerd setting appended to a node's config.toml is a table of its own that points
// containerd's CRI plugin at the per-host directory.
func TestContainerdConfigPath(t *testing.T) {
	var got map[string]map[string]map[string]map[string]string
	_, err := toml.Decode(kind.ContainerdConfigPath, &got)
	require.NoError(t, err)
	assert.Equal(t, "/etc/containerd/certs.d", got["plugins"]["io.containerd.grpc.v1.cri"]["registry"]["config_path"])
}
