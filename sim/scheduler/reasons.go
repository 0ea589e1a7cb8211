package scheduler

// reason is why a filter plugin rejected a node. Statuses are kept as small codes and turned into
// upstream's reason strings only when a FitError is built, so the filter loop allocates nothing.
type reason uint8

const (
	reasonNone reason = iota
	reasonUnschedulable
	reasonNodeName
	reasonTaint        // aux: index of the untolerated taint in Node.Taints
	reasonNodeAffinity // spec.nodeSelector or required node affinity
	reasonInsufficient // aux: insufficientCPU | insufficientMemory
	reasonSpreadMissingLabel
	reasonSpreadSkew
	reasonPodAffinity
	reasonPodAntiAffinity
	reasonExistingAntiAffinity
)

const (
	insufficientCPU int32 = 1 << iota
	insufficientMemory
)

// Upstream's reason strings, by plugin: nodeunschedulable.ErrReasonUnschedulable,
// nodename.ErrReason, nodeaffinity.ErrReasonPod, podtopologyspread.ErrReasonNodeLabelNotMatch and
// ErrReasonConstraintsNotMatch, interpodaffinity.ErrReasonAffinityRulesNotMatch,
// ErrReasonAntiAffinityRulesNotMatch and ErrReasonExistingAntiAffinityRulesNotMatch. The taint and
// resource reasons are built with their details in fitError.
var reasonText = [...]string{
	reasonNone:                 "",
	reasonUnschedulable:        "node(s) were unschedulable",
	reasonNodeName:             "node(s) didn't match the requested node name",
	reasonTaint:                "node(s) had untolerated taint",
	reasonNodeAffinity:         "node(s) didn't match Pod's node affinity/selector",
	reasonInsufficient:         "Insufficient resources",
	reasonSpreadMissingLabel:   "node(s) didn't match pod topology spread constraints (missing required label)",
	reasonSpreadSkew:           "node(s) didn't match pod topology spread constraints",
	reasonPodAffinity:          "node(s) didn't match pod affinity rules",
	reasonPodAntiAffinity:      "node(s) didn't match pod anti-affinity rules",
	reasonExistingAntiAffinity: "node(s) didn't satisfy existing pods anti-affinity rules",
}

// reasonNodeAffinityConflict is nodeaffinity's errReasonConflict, returned from PreFilter when the
// required terms name no node at all.
const reasonNodeAffinityConflict = "pod affinity terms conflict"

// nodeStatus records one node that failed the filters.
type nodeStatus struct {
	node   int32 // Node.Index
	reason reason
	aux    int32
}
