package kind

import (
	"fmt"
	"maps"
	"slices"
	"strings"

	"sigs.k8s.io/kind/pkg/apis/config/v1alpha4"
	"sigs.k8s.io/yaml"

	"github.com/faultline-dev/faultline/sim"
)

// Labels that every worker node carries, so that a node is found from its scenario name.
const (
	// PoolLabel names the node pool a node belongs to.
	PoolLabel = "faultline.dev/pool"
	// NodeLabel is the node's name in the scenario (<pool>-<i>, as the simulator names it); kind
	// names the node itself <cluster>-worker<N>.
	NodeLabel = "faultline.dev/node"
	// ZoneLabel is the well-known zone label, set from the pool's zones round-robin.
	ZoneLabel = "topology.kubernetes.io/zone"
)

// Config is the kind cluster for node pools: one control-plane node (which kind leaves tainted
// when there are workers, so workloads run on the pools' nodes only) and one worker per pool node,
// in pool order, labelled with the pool's labels, PoolLabel, NodeLabel and, when the pool has
// zones, ZoneLabel; a pool's taints are registered by kubeadm join. Capacity cannot be shaped: a
// kind node offers what the machine has. source names the pools in errors (a scenario file).
func Config(clusterName string, pools []sim.NodePool, source string) (*v1alpha4.Cluster, error) {
	c := &v1alpha4.Cluster{
		TypeMeta: v1alpha4.TypeMeta{Kind: "Cluster", APIVersion: "kind.x-k8s.io/v1alpha4"},
		Name:     clusterName,
		Nodes:    []v1alpha4.Node{{Role: v1alpha4.ControlPlaneRole}},
	}
	seen := map[string]bool{}
	for i, p := range pools {
		field := fmt.Sprintf("%s: cluster.nodePools[%d]", source, i)
		if p.Name == "" {
			return nil, fmt.Errorf("%s.name: expected a name", field)
		}
		if seen[p.Name] {
			return nil, fmt.Errorf("%s.name: %q is used by another pool", field, p.Name)
		}
		seen[p.Name] = true
		if p.Count < 0 {
			return nil, fmt.Errorf("%s.count: %d; expected 0 or more", field, p.Count)
		}
		for _, k := range slices.Sorted(maps.Keys(p.Labels)) {
			if !kubeletMaySet(k) {
				return nil, fmt.Errorf("%s.labels: %q: a kubelet may not set labels in the kubernetes.io and k8s.io namespaces except the well-known ones (NodeRestriction); expected another key", field, k)
			}
		}
		var patches []string
		if len(p.Taints) > 0 {
			patch, err := taintPatch(p)
			if err != nil {
				return nil, fmt.Errorf("%s.taints: %w", field, err)
			}
			patches = []string{patch}
		}
		for n := 1; n <= p.Count; n++ {
			l := maps.Clone(p.Labels)
			if l == nil {
				l = map[string]string{}
			}
			l[PoolLabel] = p.Name
			l[NodeLabel] = fmt.Sprintf("%s-%d", p.Name, n)
			if len(p.Zones) > 0 {
				l[ZoneLabel] = p.Zones[(n-1)%len(p.Zones)]
			}
			c.Nodes = append(c.Nodes, v1alpha4.Node{Role: v1alpha4.WorkerRole, Labels: l, KubeadmConfigPatches: patches})
		}
	}
	return c, nil
}

// kubeletMaySet reports whether the NodeRestriction admission plugin lets a kubelet register its
// node with label key (kind sets labels through the kubelet's --node-labels).
func kubeletMaySet(key string) bool {
	prefix, _, ok := strings.Cut(key, "/")
	if !ok {
		return true
	}
	restricted := prefix == "kubernetes.io" || strings.HasSuffix(prefix, ".kubernetes.io") ||
		prefix == "k8s.io" || strings.HasSuffix(prefix, ".k8s.io")
	if !restricted {
		return true
	}
	switch key {
	case "kubernetes.io/hostname", "kubernetes.io/arch", "kubernetes.io/os",
		"beta.kubernetes.io/instance-type", "node.kubernetes.io/instance-type",
		"failure-domain.beta.kubernetes.io/region", "failure-domain.beta.kubernetes.io/zone",
		"topology.kubernetes.io/region", "topology.kubernetes.io/zone":
		return true
	}
	return prefix == "kubelet.kubernetes.io" || strings.HasSuffix(prefix, ".kubelet.kubernetes.io") ||
		prefix == "node.kubernetes.io" || strings.HasSuffix(prefix, ".node.kubernetes.io")
}

// taintPatch is a kubeadm JoinConfiguration patch that registers the pool's taints.
func taintPatch(p sim.NodePool) (string, error) {
	taints := make([]map[string]string, 0, len(p.Taints))
	for i, t := range p.Taints {
		if t.Key == "" || t.Effect == "" {
			return "", fmt.Errorf("[%d]: expected a key and an effect", i)
		}
		m := map[string]string{"key": t.Key, "effect": string(t.Effect)}
		if t.Value != "" {
			m["value"] = t.Value
		}
		taints = append(taints, m)
	}
	b, err := yaml.Marshal(map[string]any{
		"kind":             "JoinConfiguration",
		"nodeRegistration": map[string]any{"taints": taints},
	})
	return string(b), err
}

// Workers counts the worker nodes of a config.
func Workers(c *v1alpha4.Cluster) int {
	n := 0
	for _, node := range c.Nodes {
		if node.Role == v1alpha4.WorkerRole {
			n++
		}
	}
	return n
}

// extraArgsFields are the fields of kubeadm's ClusterConfiguration that hold each control-plane
// component's extra flags.
var extraArgsFields = map[string]string{
	"kube-apiserver":          "apiServer",
	"kube-controller-manager": "controllerManager",
	"kube-scheduler":          "scheduler",
}

// ExtraArgsPatches turns clusters.CreateOptions.ExtraArgs (flags "--name=value" by component)
// into patches of kubeadm's ClusterConfiguration that add them to the component's extraArgs, next
// to kind's own, so the same flags the local provider takes reach a kind control plane (the
// scenario's node lifecycle and rate-limit parameters, see realrun.ComponentArgs). kind writes
// v1beta3 (extraArgs a map: a merge patch, matched by its apiVersion) or v1beta4 (a list of
// name/value pairs: JSON 6902 appends, since a merge patch would replace kind's list), depending
// on the node's Kubernetes version; both are returned and only the matching one applies.
// Components kind does not run from kubeadm (kwok, etcd) are refused.
func ExtraArgsPatches(extra map[string][]string) (v1beta3 []string, v1beta4 []v1alpha4.PatchJSON6902, err error) {
	merge := map[string]any{}
	for _, proc := range slices.Sorted(maps.Keys(extra)) {
		field, ok := extraArgsFields[proc]
		if !ok {
			return nil, nil, fmt.Errorf("extra flags for %s: a kind cluster takes them only for kube-apiserver, kube-controller-manager and kube-scheduler", proc)
		}
		var ops []map[string]any
		args := map[string]string{}
		for _, a := range extra[proc] {
			name, value, ok := strings.Cut(strings.TrimPrefix(a, "--"), "=")
			if !ok || !strings.HasPrefix(a, "--") || name == "" {
				return nil, nil, fmt.Errorf("extra flag %q for %s: expected --name=value", a, proc)
			}
			args[name] = value
			ops = append(ops, map[string]any{"op": "add", "path": "/" + field + "/extraArgs/-", "value": map[string]string{"name": name, "value": value}})
		}
		if len(ops) == 0 {
			continue
		}
		merge[field] = map[string]any{"extraArgs": args}
		b, err := yaml.Marshal(ops)
		if err != nil {
			return nil, nil, err
		}
		v1beta4 = append(v1beta4, v1alpha4.PatchJSON6902{Group: "kubeadm.k8s.io", Version: "v1beta4", Kind: "ClusterConfiguration", Patch: string(b)})
	}
	if len(merge) > 0 {
		merge["apiVersion"] = "kubeadm.k8s.io/v1beta3"
		merge["kind"] = "ClusterConfiguration"
		b, err := yaml.Marshal(merge)
		if err != nil {
			return nil, nil, err
		}
		v1beta3 = []string{string(b)}
	}
	return v1beta3, v1beta4, nil
}
