package scheduler

import "github.com/faultline-dev/faultline/sim/cluster"

// cycle is one scheduling cycle's state: upstream's CycleState with each plugin's PreFilter and
// PreScore data. It lives on the Scheduler and is reused, so its maps and slices are allocated once.
type cycle struct {
	unschedulable   nodeUnschedulable
	nodeName        nodeName
	taintToleration taintToleration
	required        *requiredNodeAffinity // nil: NodeAffinity's PreFilter Skip
	nodeAffinity    nodeAffinity
	fit             nodeResourcesFit
	spread          podTopologySpread
	interPod        interPodAffinity
	balanced        balancedAllocation
}

// begin runs the PreFilter steps: it sets each plugin up for pod and makes one census pass over
// every node and its bound pods for the plugins that count pods (PodTopologySpread for both its
// filter and its score, InterPodAffinity for both). Upstream splits this between PreFilter and
// PreScore; the state does not change in between, so one pass gives the same counts.
func (c *cycle) begin(s *Scheduler, st *cluster.State, pod *cluster.Pod, info *specInfo) {
	spec := podSpec(pod)
	c.unschedulable = nodeUnschedulable{tolerates: info.toleratesUnschedulable}
	c.nodeName = nodeName{name: spec.NodeName}
	c.taintToleration = taintToleration{tolerations: spec.Tolerations}
	c.required = nil
	if !info.required.empty() {
		c.required = &info.required
	}
	c.nodeAffinity = nodeAffinity{preferred: info.preferred}
	c.fit = nodeResourcesFit{requests: pod.Requests, nonZero: pod.NonZero}
	c.balanced = balancedAllocation{requests: pod.Requests}
	c.spread.begin(pod, info, !s.cfg.DisableDefaultSpread)
	c.interPod.begin(pod, info)

	spread := c.spread.active()
	for _, n := range st.Nodes {
		if spread {
			c.spread.censusNode(n)
		}
		c.interPod.censusNode(n, &s.specs)
	}
	c.spread.endCensus()
	c.interPod.endCensus()
}

// filter runs the filter plugins in the default profile's order and returns the first failure.
func (c *cycle) filter(n *cluster.Node) (reason, int32) {
	if !c.unschedulable.filter(n) {
		return reasonUnschedulable, 0
	}
	if !c.nodeName.filter(n) {
		return reasonNodeName, 0
	}
	if i := c.taintToleration.filter(n); i >= 0 {
		return reasonTaint, int32(i)
	}
	if c.required != nil && !c.required.match(n) {
		return reasonNodeAffinity, 0
	}
	if bits := c.fit.filter(n); bits != 0 {
		return reasonInsufficient, bits
	}
	if r := c.spread.filter(n); r != reasonNone {
		return r, 0
	}
	if r := c.interPod.filter(n); r != reasonNone {
		return r, 0
	}
	return reasonNone, 0
}
