package nodenet

import (
	"encoding/json"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

func TestConflist(t *testing.T) {
	tests := []struct {
		name    string
		cidr    string
		subnet  string
		wantErr string
	}{
		{name: "node CIDR", cidr: "10.244.1.0/24", subnet: "10.244.1.0/24"},
		{name: "host bits are cleared", cidr: "10.244.1.7/24", subnet: "10.244.1.0/24"},
		{name: "garbage", cidr: "ten", wantErr: "pod CIDR"},
		{name: "IPv6 is not supported", cidr: "fd00::/64", wantErr: "only IPv4"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			b, err := Conflist(tt.cidr, 1500)
			if tt.wantErr != "" {
				assert.ErrorContains(t, err, tt.wantErr)
				return
			}
			require.NoError(t, err)
			var c struct {
				Name    string
				Plugins []struct {
					Type string
					MTU  int
					IPAM struct {
						Type   string
						Ranges [][]struct{ Subnet string }
					}
					Capabilities map[string]bool
				}
			}
			require.NoError(t, json.Unmarshal(b, &c))
			assert.Equal(t, "faultline", c.Name)
			require.Len(t, c.Plugins, 2)
			assert.Equal(t, "ptp", c.Plugins[0].Type)
			assert.Equal(t, 1500, c.Plugins[0].MTU)
			assert.Equal(t, "host-local", c.Plugins[0].IPAM.Type)
			assert.Equal(t, tt.subnet, c.Plugins[0].IPAM.Ranges[0][0].Subnet)
			assert.Equal(t, "portmap", c.Plugins[1].Type)
			assert.True(t, c.Plugins[1].Capabilities["portMappings"])
		})
	}
}

func node(name, cidr string, addrs ...corev1.NodeAddress) corev1.Node {
	return corev1.Node{ObjectMeta: metav1.ObjectMeta{Name: name}, Spec: corev1.NodeSpec{PodCIDR: cidr}, Status: corev1.NodeStatus{Addresses: addrs}}
}

func TestRoutes(t *testing.T) {
	ip := func(a string) corev1.NodeAddress { return corev1.NodeAddress{Type: corev1.NodeInternalIP, Address: a} }
	host := corev1.NodeAddress{Type: corev1.NodeHostName, Address: "w"}
	nodes := []corev1.Node{
		node("w2", "10.244.2.0/24", host, ip("fc00::3"), ip("10.250.0.4")),
		node("cp", "10.244.0.0/24", ip("10.250.0.2")),
		node("w1", "10.244.1.0/24", ip("10.250.0.3")),
		node("no-cidr-yet", "", ip("10.250.0.5")),
		node("no-address-yet", "10.244.4.0/24"),
		node("v6-only", "fd00:1::/64", ip("fc00::6")),
	}
	assert.Equal(t, []Route{
		{Node: "cp", Dst: "10.244.0.0/24", Via: "10.250.0.2"},
		{Node: "w2", Dst: "10.244.2.0/24", Via: "10.250.0.4"},
	}, Routes("w1", nodes))
	assert.Empty(t, Routes("only", []corev1.Node{node("only", "10.244.0.0/24", ip("10.250.0.2"))}))
}
