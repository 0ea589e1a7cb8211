package scheduler

import "github.com/faultline-dev/faultline/sim/cluster"

// nodeUnschedulable is the NodeUnschedulable plugin (pkg/scheduler/framework/plugins/
// nodeunschedulable/node_unschedulable.go). Filter: a cordoned node (spec.unschedulable) rejects
// the pod with "node(s) were unschedulable" unless the pod tolerates the
// node.kubernetes.io/unschedulable:NoSchedule taint. Nothing is left out.
type nodeUnschedulable struct {
	tolerates bool
}

// filter is for a node whose spec.unschedulable is unschedulable.
func (p *nodeUnschedulable) filter(unschedulable bool) bool {
	return !unschedulable || p.tolerates
}

// nodeName is the NodeName plugin (pkg/scheduler/framework/plugins/nodename/node_name.go). Filter:
// a pod whose spec.nodeName is set fits only the node of that name ("node(s) didn't match the
// requested node name"). Upstream such pods bypass the scheduler altogether; the filter is kept
// for a caller that schedules them anyway. Nothing is left out.
type nodeName struct {
	name string
}

func (p *nodeName) filter(n *cluster.Node) bool {
	return p.name == "" || p.name == n.Name
}
