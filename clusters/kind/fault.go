package kind

import (
	"context"
	"fmt"
)

// NodeFault is what happens to a node container.
type NodeFault string

// The node faults. Pause freezes every process of the node at once (the cgroup freezer), as a
// kernel panic does: the kubelet stops posting status, the node's pods stop answering, and
// nothing in the node notices; Resume thaws it. Stop shuts the node down (systemd halts) and Start
// boots it again, as a reboot after a panic does.
const (
	Pause  NodeFault = "pause"
	Resume NodeFault = "unpause"
	Stop   NodeFault = "stop"
	Start  NodeFault = "start"
)

// NodeFaultAction applies fault to node, a node (container) name of the faultline cluster name.
func (p *Provider) NodeFaultAction(ctx context.Context, name, node string, fault NodeFault) error {
	switch fault {
	case Pause, Resume, Stop, Start:
	default:
		return fmt.Errorf("node fault %q: expected pause, unpause, stop or start", fault)
	}
	p.env()
	nodes, err := p.kind.ListNodes(ClusterPrefix + name)
	if err != nil {
		return err
	}
	for _, n := range nodes {
		if n.String() == node {
			return docker(ctx, string(fault), node)
		}
	}
	return fmt.Errorf("node %q is not a node of kind cluster %s%s", node, ClusterPrefix, name)
}
