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
	spread          countingPlugin // PodTopologySpread
	interPod        countingPlugin // InterPodAffinity
	balanced        balancedAllocation
}

// countingPlugin is the Filter and Score of a plugin that counts bound pods (PodTopologySpread,
// InterPodAffinity), set up for one pod by a podCounting.
type countingPlugin interface {
	// filter returns why node n fails, or reasonNone.
	filter(n *cluster.Node) reason
	// score writes the normalized score of each node to raw; false means the plugin adds nothing.
	score(nodes []*cluster.Node, raw []int64) bool
}

// podCounting runs the PreFilter and PreScore steps of the plugins that count bound pods.
type podCounting interface {
	begin(s *Scheduler, st *cluster.State, pod *cluster.Pod, info *specInfo) (spread, interPod countingPlugin)
}

// indexedCounting counts pods with a podIndex kept up to date on bind and unbind: a cycle costs
// about the same however many pods are bound.
type indexedCounting struct {
	index    podIndex
	spread   podTopologySpread
	interPod interPodAffinity
}

func (c *indexedCounting) begin(s *Scheduler, st *cluster.State, pod *cluster.Pod, info *specInfo) (countingPlugin, countingPlugin) {
	c.index.sync(st, &s.specs)
	c.spread.begin(pod, info, !s.cfg.DisableDefaultSpread)
	c.spread.count(&c.index)
	c.interPod.begin(&c.index, pod, info)
	return &c.spread, &c.interPod
}

// begin runs the PreFilter steps: it sets each plugin up for pod; the plugins that count pods get
// their counts for both their filter and their score (upstream splits this between PreFilter and
// PreScore; the state does not change in between, so the counts are the same).
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
	c.spread, c.interPod = s.counting.begin(s, st, pod, info)
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
