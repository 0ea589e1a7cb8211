package importer

import (
	"fmt"
	"regexp"
	"slices"
	"sort"
	"strings"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"

	"github.com/faultline-dev/faultline/sim"
)

// Pool is an inferred node pool and the cluster's nodes in it, in the simulator's order: node
// <pool>-<i> of the scenario stands for Nodes[i-1] (same zone, same shape).
type Pool struct {
	sim.NodePool
	Nodes []string
}

// poolNameLabels name a node's pool on the common platforms, most specific first.
var poolNameLabels = []string{
	"faultline.dev/pool",
	"cloud.google.com/gke-nodepool",
	"eks.amazonaws.com/nodegroup",
	"karpenter.sh/nodepool",
	"kubernetes.azure.com/agentpool",
	"agentpool",
	corev1.LabelInstanceTypeStable,
}

// perNodeLabels differ from node to node by construction and do not define a pool; the
// simulator sets the hostname, zone and pool labels itself.
var perNodeLabels = []string{
	corev1.LabelHostname, corev1.LabelTopologyZone, corev1.LabelFailureDomainBetaZone,
	"faultline.dev/pool", "faultline.dev/node",
}

// lifecycleTaints are set by the node controller and the kubelet on a node's state, not by the
// pool's configuration.
var lifecycleTaints = []string{
	corev1.TaintNodeNotReady, corev1.TaintNodeUnreachable, corev1.TaintNodeUnschedulable,
	corev1.TaintNodeMemoryPressure, corev1.TaintNodeDiskPressure, corev1.TaintNodePIDPressure,
	corev1.TaintNodeNetworkUnavailable, "node.cloudprovider.kubernetes.io/uninitialized",
	"node.cloudprovider.kubernetes.io/shutdown",
}

// InferPools groups nodes that share instance type, allocatable CPU and memory, taints and
// labels (those not per node). A group whose zones hold equal counts is one pool over those
// zones (the simulator spreads a pool round-robin); otherwise it is split into one pool per zone,
// so that every zone keeps its count. reserved is CPU and memory per node held by pods the
// scenario does not play (DaemonSets, system pods); a pool's capacity is its allocatable less
// the largest reservation among its nodes.
func InferPools(nodes []corev1.Node, reserved map[string]corev1.ResourceList) []Pool {
	type group struct {
		key   string
		nodes []*corev1.Node
	}
	var groups []*group
	byKey := map[string]*group{}
	sorted := make([]*corev1.Node, len(nodes))
	for i := range nodes {
		sorted[i] = &nodes[i]
	}
	sort.Slice(sorted, func(i, j int) bool { return sorted[i].Name < sorted[j].Name })
	for _, n := range sorted {
		k := poolKey(n)
		g := byKey[k]
		if g == nil {
			g = &group{key: k}
			byKey[k] = g
			groups = append(groups, g)
		}
		g.nodes = append(g.nodes, n)
	}
	var pools []Pool
	used := map[string]bool{}
	for _, g := range groups {
		base := poolBaseName(g.nodes[0], len(pools)+1)
		byZone := map[string][]string{}
		var zones []string
		for _, n := range g.nodes {
			z := zoneOf(n)
			if byZone[z] == nil {
				zones = append(zones, z)
			}
			byZone[z] = append(byZone[z], n.Name)
		}
		sort.Strings(zones)
		balanced := true
		for _, z := range zones {
			balanced = balanced && len(byZone[z]) == len(byZone[zones[0]])
		}
		var split [][]string // zones of each pool made from this group
		if balanced {
			split = [][]string{zones}
		} else {
			for _, z := range zones {
				split = append(split, []string{z})
			}
		}
		for _, zs := range split {
			name := base
			if len(split) > 1 {
				name = base + "-" + DNSLabel(zs[0])
			}
			for i := 2; used[name]; i++ {
				name = fmt.Sprintf("%s-%d", base, i)
			}
			used[name] = true
			p := Pool{NodePool: sim.NodePool{Name: name}}
			// interleave the zones as the simulator assigns them: node i is in zones[(i-1)%len]
			for i := 0; ; i++ {
				z := zs[i%len(zs)]
				if i/len(zs) >= len(byZone[z]) {
					break
				}
				p.Nodes = append(p.Nodes, byZone[z][i/len(zs)])
			}
			p.Count = len(p.Nodes)
			if len(zs) > 1 || zs[0] != "" {
				p.Zones = zs
			}
			first := g.nodes[0]
			p.Capacity = capacity(first, p.Nodes, reserved)
			p.Labels = poolLabels(first)
			p.Taints = poolTaints(first)
			pools = append(pools, p)
		}
	}
	return pools
}

func zoneOf(n *corev1.Node) string {
	if z := n.Labels[corev1.LabelTopologyZone]; z != "" {
		return z
	}
	return n.Labels[corev1.LabelFailureDomainBetaZone]
}

// poolKey is what nodes of one pool share.
func poolKey(n *corev1.Node) string {
	var b strings.Builder
	cpu, mem := n.Status.Allocatable[corev1.ResourceCPU], n.Status.Allocatable[corev1.ResourceMemory]
	fmt.Fprintf(&b, "cpu=%d mem=%d|", cpu.MilliValue(), mem.Value())
	for _, k := range sortedKeys(poolLabels(n)) {
		fmt.Fprintf(&b, "%s=%s,", k, n.Labels[k])
	}
	b.WriteString("|")
	for _, t := range poolTaints(n) {
		fmt.Fprintf(&b, "%s=%s:%s,", t.Key, t.Value, t.Effect)
	}
	return b.String()
}

// poolLabels are the node's labels less those that differ per node.
func poolLabels(n *corev1.Node) map[string]string {
	out := map[string]string{}
	for k, v := range n.Labels {
		if slices.Contains(perNodeLabels, k) || v != "" && strings.Contains(v, n.Name) {
			continue
		}
		out[k] = v
	}
	if len(out) == 0 {
		return nil
	}
	return out
}

// poolTaints are the node's taints less the lifecycle ones, sorted.
func poolTaints(n *corev1.Node) []corev1.Taint {
	var out []corev1.Taint
	for _, t := range n.Spec.Taints {
		if slices.Contains(lifecycleTaints, t.Key) {
			continue
		}
		out = append(out, corev1.Taint{Key: t.Key, Value: t.Value, Effect: t.Effect})
	}
	sort.Slice(out, func(i, j int) bool {
		if out[i].Key != out[j].Key {
			return out[i].Key < out[j].Key
		}
		return out[i].Effect < out[j].Effect
	})
	return out
}

// capacity is the node's allocatable CPU and memory less the largest reservation in the pool.
func capacity(n *corev1.Node, nodes []string, reserved map[string]corev1.ResourceList) corev1.ResourceList {
	out := corev1.ResourceList{}
	for _, r := range []corev1.ResourceName{corev1.ResourceCPU, corev1.ResourceMemory} {
		q := n.Status.Allocatable[r]
		if q.IsZero() {
			q = n.Status.Capacity[r]
		}
		var most resource.Quantity
		for _, name := range nodes {
			if v, ok := reserved[name][r]; ok && v.Cmp(most) > 0 {
				most = v
			}
		}
		q = q.DeepCopy()
		q.Sub(most)
		if r == corev1.ResourceCPU {
			q = *resource.NewMilliQuantity(q.MilliValue(), resource.DecimalSI)
		} else {
			q = *resource.NewQuantity(q.Value(), resource.BinarySI)
		}
		out[r] = q
	}
	return out
}

func poolBaseName(n *corev1.Node, i int) string {
	for _, k := range poolNameLabels {
		if v := DNSLabel(n.Labels[k]); v != "" {
			return v
		}
	}
	return fmt.Sprintf("pool-%d", i)
}

var notDNS = regexp.MustCompile(`[^a-z0-9-]+`)

// DNSLabel lower-cases s and replaces what a DNS label cannot hold with '-' (at most 40
// characters); "" when nothing is left.
func DNSLabel(s string) string {
	s = strings.Trim(notDNS.ReplaceAllString(strings.ToLower(s), "-"), "-")
	if len(s) > 40 {
		s = strings.TrimRight(s[:40], "-")
	}
	return s
}

func sortedKeys[V any](m map[string]V) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}
