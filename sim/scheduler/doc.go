// Package scheduler is the simulator's kube-scheduler: given the cluster state and one pending pod,
// it picks a node the way the default kube-scheduler profile does, filtering and then scoring nodes
// with re-expressions of the upstream plugins (pkg/scheduler/framework/plugins/...) and breaking
// ties at random. It owns the placement decision only: it emits no events, keeps no clock and does
// not bind (the caller calls cluster.State.Bind). Placement is by resource REQUESTS, never by real
// use, which is how three CPU-hungry replicas with small requests can end up on one node.
//
// A Schedule call is a pure function of the state, the pod, the Scheduler's rotating start index
// (upstream's nextStartNodeIndex) and the *rand.Rand passed in (the incremental counts it keeps
// between calls are caches of the state, rebuilt when nodes are added or another State is passed): nodes are visited in a fixed order
// derived from State.Nodes, maps are never iterated where order could matter, and the only
// randomness is the tie-break among the top-scored nodes.
//
// The flow follows pkg/scheduler/schedule_one.go (schedulePod, findNodesThatFitPod,
// findNodesThatPassFilters, numFeasibleNodesToFind, prioritizeNodes, selectHost) run with a
// parallelism of one:
//
//  1. PreFilter: parse the pod once (cached per shared PodSpec), then read what upstream's PreFilter
//     and PreScore steps compute (topology spread domain counts, inter-pod affinity topology counts
//     and scores) from incremental state: the podIndex keeps, per node and per topology domain, the
//     number of bound pods matching each selector a cycle has asked about, and groups the bound
//     pods that carry pod (anti-)affinity by spec, updated on bind, unbind and Terminating
//     through the State's observers (cluster.Observer). A cycle therefore costs about the same
//     however many pods are bound; the counts are exact, so decisions are those of a recount
//     (reference_test.go keeps that recount and a differential test compares the two).
//  2. Filter, in the default profile's order: NodeUnschedulable, NodeName, TaintToleration,
//     NodeAffinity, NodeResourcesFit, PodTopologySpread, InterPodAffinity. A node's first failing
//     plugin gives its reason. Nodes are visited from the rotating start index in upstream's
//     node-tree order (zones interleaved), and the search stops once percentageOfNodesToScore
//     feasible nodes are found.
//  3. Score the feasible nodes (unless only one is left): TaintToleration, NodeAffinity,
//     NodeResourcesFit (LeastAllocated), PodTopologySpread, InterPodAffinity,
//     NodeResourcesBalancedAllocation, each normalized to 0..100 by its own NormalizeScore and
//     weighted; the highest total wins, ties broken uniformly with the rng.
//
// On failure Schedule returns a *FitError (wrapping ErrUnschedulable) whose message is upstream's:
// "0/3 nodes are available: 1 node(s) had untolerated taint {node.kubernetes.io/unreachable: },
// 2 Insufficient cpu."
//
// Left out, by design of the model: preemption (PostFilter) and nominated nodes, scheduling gates,
// scheduler extenders and multiple profiles, volumes (VolumeBinding, VolumeZone, VolumeRestrictions,
// NodeVolumeLimits), NodePorts, ImageLocality, dynamic resources, extended resources and ephemeral
// storage, the allocatable pod count ("Too many pods"), in-place resize status resources and
// pod-level resources. Namespace labels are not modelled: a namespaceSelector in an affinity term
// sees only the automatic kubernetes.io/metadata.name label. Node.Up and Node.Ready are not read:
// as upstream, a node that is down is avoided only through the taints the node lifecycle model puts
// on it.
package scheduler
