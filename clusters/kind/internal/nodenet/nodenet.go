// Package nodenet is the pod network of the offline kind node image: faultline-cni, a service in
// every node, gives the node's pods addresses from the node's pod CIDR (the ptp, host-local and
// portmap CNI plugins, configured by Conflist) and routes every other node's pod CIDR to that
// node's InternalIP (Routes), which is all a single-bridge kind network needs.
//
// It runs as a systemd service of the node, with the kubelet's credentials, not as a pod: it has to
// exist before the node can run pods. Nodes may not list nodes in Kubernetes 1.34, so the node
// image's CNI manifest grants the group system:nodes get, list and watch on nodes.
package nodenet

import (
	"encoding/json"
	"fmt"
	"net"
	"slices"
	"strings"

	corev1 "k8s.io/api/core/v1"
)

// NetworkName is the name of the CNI network in the conflist.
const NetworkName = "faultline"

// Conflist returns the CNI configuration list of a node whose pods take addresses from podCIDR.
func Conflist(podCIDR string, mtu int) ([]byte, error) {
	_, ipnet, err := net.ParseCIDR(podCIDR)
	if err != nil {
		return nil, fmt.Errorf("pod CIDR %q: %w", podCIDR, err)
	}
	if ipnet.IP.To4() == nil {
		return nil, fmt.Errorf("pod CIDR %q: only IPv4 is supported", podCIDR)
	}
	conf := map[string]any{
		"cniVersion": "1.0.0",
		"name":       NetworkName,
		"plugins": []any{
			map[string]any{
				"type": "ptp",
				"mtu":  mtu,
				"ipam": map[string]any{
					"type":   "host-local",
					"ranges": [][]map[string]string{{{"subnet": ipnet.String()}}},
					"routes": []map[string]string{{"dst": "0.0.0.0/0"}},
				},
			},
			map[string]any{"type": "portmap", "capabilities": map[string]bool{"portMappings": true}},
		},
	}
	return json.MarshalIndent(conf, "", "  ")
}

// Route sends the pods of one other node (Dst, its pod CIDR) to that node (Via, its InternalIP).
type Route struct {
	Node string
	Dst  string
	Via  string
}

// Routes lists the routes the node called self needs: one per other node that has a pod CIDR and
// an IPv4 InternalIP, sorted by node name.
func Routes(self string, nodes []corev1.Node) []Route {
	var out []Route
	for _, n := range nodes {
		if n.Name == self || n.Spec.PodCIDR == "" {
			continue
		}
		if _, _, err := net.ParseCIDR(n.Spec.PodCIDR); err != nil || strings.Contains(n.Spec.PodCIDR, ":") {
			continue
		}
		via := ""
		for _, a := range n.Status.Addresses {
			if a.Type == corev1.NodeInternalIP && net.ParseIP(a.Address).To4() != nil {
				via = a.Address
				break
			}
		}
		if via == "" {
			continue
		}
		out = append(out, Route{Node: n.Name, Dst: n.Spec.PodCIDR, Via: via})
	}
	slices.SortFunc(out, func(a, b Route) int { return strings.Compare(a.Node, b.Node) })
	return out
}
