package scheduler

import (
	"slices"

	corev1 "k8s.io/api/core/v1"

	"github.com/faultline-dev/faultline/sim/cluster"
)

// nodeOrder is the order in which nodes are visited, as the scheduler cache's node tree
// (pkg/scheduler/backend/cache/node_tree.go, nodeTree.list) lays out its snapshot: zones (region
// and zone labels, as utilnode.GetZoneKey) in the order they first appear, and one node from each
// zone in turn, nodes within a zone in State.Nodes order. With partial scoring this is what makes
// the first nodes examined span every zone. The order is rebuilt when the number of nodes changes
// or another State is passed; a node's zone labels are assumed not to change after it is added.
type nodeOrder struct {
	state *cluster.State
	n     int
	list  []int32
	zones []zoneBucket // scratch
}

type zoneBucket struct {
	region, zone string
	nodes        []int32
}

func (o *nodeOrder) get(st *cluster.State) []int32 {
	if o.state == st && o.n == len(st.Nodes) {
		return o.list
	}
	zones := o.zones[:0]
	for i, n := range st.Nodes {
		region, zone := zoneKey(n)
		z := -1
		for j := range zones {
			if zones[j].region == region && zones[j].zone == zone {
				z = j
				break
			}
		}
		if z < 0 {
			// a bucket of an earlier build lends its array
			zones = slices.Grow(zones, 1)[:len(zones)+1]
			z = len(zones) - 1
			zones[z] = zoneBucket{region: region, zone: zone, nodes: zones[z].nodes[:0]}
		}
		zones[z].nodes = append(zones[z].nodes, int32(i))
	}
	list := o.list[:0]
	for k := 0; len(list) < len(st.Nodes); k++ {
		for j := range zones {
			if k < len(zones[j].nodes) {
				list = append(list, zones[j].nodes[k])
			}
		}
	}
	o.state, o.n, o.list, o.zones = st, len(st.Nodes), list, zones
	return list
}

// zoneKey returns the node's region and zone as utilnode.GetZoneKey reads them (GA labels first,
// then the deprecated beta ones).
func zoneKey(n *cluster.Node) (region, zone string) {
	zone, ok := n.Labels[corev1.LabelTopologyZone]
	if !ok {
		zone = n.Labels[corev1.LabelFailureDomainBetaZone]
	}
	region, ok = n.Labels[corev1.LabelTopologyRegion]
	if !ok {
		region = n.Labels[corev1.LabelFailureDomainBetaRegion]
	}
	return region, zone
}
