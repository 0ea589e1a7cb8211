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

	// spreadFilters and interPodFilters are false when that plugin's filter passes every node
	// (PreFilter Skip: no DoNotSchedule constraint, no required (anti-)affinity either way), so
	// that a cycle visiting thousands of nodes does not call it on each.
	spreadFilters, interPodFilters bool
}

// countingPlugin is the Filter and Score of a plugin that counts bound pods (PodTopologySpread,
// InterPodAffinity), set up for one pod by a podCounting.
type countingPlugin interface {
	// filter returns why node n fails, or reasonNone.
	filter(n *cluster.Node) reason
	// score writes the normalized score of each node st.Nodes[idx[j]] to raw[j]; false means
	// the plugin adds nothing.
	score(st *cluster.State, idx []int32, raw []int64) bool
}

// podCounting runs the PreFilter and PreScore steps of the plugins that count bound pods.
type podCounting interface {
	begin(s *Scheduler, st *cluster.State, pod *cluster.Pod, info *specInfo) (spread, interPod countingPlugin)
	// reset forgets the State and every count, as a new podCounting (Scheduler.Reset).
	reset()
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
	c.spreadFilters, c.interPodFilters = true, true
	if sp, ok := c.spread.(*podTopologySpread); ok && len(sp.hard) == 0 {
		c.spreadFilters = false
	}
	if ip, ok := c.interPod.(*interPodAffinity); ok && !ip.needFilter {
		c.interPodFilters = false
	}
}

// rowsOnly reports whether a node's mirror row decides every filter of this cycle, but for the
// taints of a tainted node.
func (c *cycle) rowsOnly() bool {
	return c.nodeName.name == "" && c.required == nil && !c.spreadFilters && !c.interPodFilters
}

// filter runs the filter plugins in the default profile's order on node i, whose mirror row is
// row, and returns the first failure. What every node is checked for is read from the row; the
// node itself only when the pod names a node, the node is tainted, or a plugin reads labels.
func (c *cycle) filter(st *cluster.State, row *nodeRow, i int32) (reason, int32) {
	if !c.unschedulable.filter(row.unschedulable) {
		return reasonUnschedulable, 0
	}
	if c.nodeName.name != "" && !c.nodeName.filter(st.Nodes[i]) {
		return reasonNodeName, 0
	}
	if row.tainted {
		if t := c.taintToleration.filter(st.Nodes[i]); t >= 0 {
			return reasonTaint, int32(t)
		}
	}
	if c.required != nil && !c.required.match(st.Nodes[i]) {
		return reasonNodeAffinity, 0
	}
	if bits := c.fit.filter(row.free); bits != 0 {
		return reasonInsufficient, bits
	}
	if c.spreadFilters {
		if r := c.spread.filter(st.Nodes[i]); r != reasonNone {
			return r, 0
		}
	}
	if c.interPodFilters {
		if r := c.interPod.filter(st.Nodes[i]); r != reasonNone {
			return r, 0
		}
	}
	return reasonNone, 0
}
