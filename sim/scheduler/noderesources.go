package scheduler

import (
	"math"

	"github.com/faultline-dev/faultline/sim/cluster"
)

// nodeResourcesFit is the NodeResourcesFit plugin (pkg/scheduler/framework/plugins/noderesources/
// fit.go, least_allocated.go, resource_allocation.go) with the default LeastAllocated strategy over
// cpu and memory, weight 1 each.
//
//   - Filter (fitsRequest): for each of cpu and memory the pod requests (non-zero), the request
//     must fit in Allocatable - Requested, where Requested sums the requests of every pod bound to
//     the node (Terminating ones included); else "Insufficient cpu" / "Insufficient memory". A pod
//     that requests nothing always fits.
//   - Score: per resource (allocatable - requested) * 100 / allocatable with requested =
//     node.NonZeroRequested + pod.NonZero (a container without requests counts as 100m / 200MB),
//     0 when over capacity; resources with zero allocatable are skipped; integer mean.
//
// REQUESTS drive both, never real use. Left out: the allocatable pod count ("Too many pods"),
// ephemeral storage, extended and DRA-backed resources, MostAllocated and
// RequestedToCapacityRatio strategies, in-place resize and pod-level resources.
type nodeResourcesFit struct {
	requests cluster.Resources // pod.Requests
	nonZero  cluster.Resources // pod.NonZero
}

// filter returns insufficientCPU|insufficientMemory bits, 0 when the pod fits a node with free
// (Allocatable - Requested) resources.
func (p *nodeResourcesFit) filter(free cluster.Resources) int32 {
	var bits int32
	if p.requests.MilliCPU > 0 && p.requests.MilliCPU > free.MilliCPU {
		bits |= insufficientCPU
	}
	if p.requests.Memory > 0 && p.requests.Memory > free.Memory {
		bits |= insufficientMemory
	}
	return bits
}

func (p *nodeResourcesFit) score(nodes []*cluster.Node, raw []int64) bool {
	for i, n := range nodes {
		raw[i] = p.nodeScore(n)
	}
	return true
}

// nodeScore is the score of node n.
func (p *nodeResourcesFit) nodeScore(n *cluster.Node) int64 {
	return p.scoreOf(n.Allocatable, n.NonZeroRequested)
}

// scoreOf is the score of a node of allocatable resources whose pods' non-zero requests sum to
// nonZeroRequested.
func (p *nodeResourcesFit) scoreOf(allocatable, nonZeroRequested cluster.Resources) int64 {
	var score, weights int64
	if a := allocatable.MilliCPU; a != 0 {
		score += leastRequestedScore(nonZeroRequested.MilliCPU+p.nonZero.MilliCPU, a)
		weights++
	}
	if a := allocatable.Memory; a != 0 {
		score += leastRequestedScore(nonZeroRequested.Memory+p.nonZero.Memory, a)
		weights++
	}
	switch weights {
	case 2:
		score /= 2 // the usual case, without a division instruction
	case 0:
	default:
		score /= weights
	}
	return score
}

// leastRequestedScore is least_allocated.go's leastRequestedScore.
func leastRequestedScore(requested, capacity int64) int64 {
	if capacity == 0 || requested > capacity {
		return 0
	}
	return (capacity - requested) * maxNodeScore / capacity
}

// balancedAllocation is the NodeResourcesBalancedAllocation plugin (pkg/scheduler/framework/
// plugins/noderesources/balanced_allocation.go) over cpu and memory. Score: with the fractions
// requested/allocatable (capped at 1) of each resource, requested = node.Requested + pod.Requests
// (upstream's useRequested: true, i.e. real requests, not the non-zero defaults),
// score = (1 - std) * 100 where std is the standard deviation of the fractions (for two resources
// |f1 - f2| / 2). PreScore skips best-effort pods (no requests at all), as upstream since 1.33.
// Left out: extended and DRA-backed resources.
type balancedAllocation struct {
	requests cluster.Resources // pod.Requests
}

func (p *balancedAllocation) score(nodes []*cluster.Node, raw []int64) bool {
	if p.skip() {
		return false // best-effort pod: Skip
	}
	for i, n := range nodes {
		raw[i] = p.nodeScore(n)
	}
	return true
}

// skip is PreScore's Skip for a best-effort pod.
func (p *balancedAllocation) skip() bool {
	return p.requests.MilliCPU == 0 && p.requests.Memory == 0
}

// nodeScore is the score of node n. A fraction is at most 1: min(f, 1) is written as a comparison
// (math.Min is not inlined), the same for the finite, non-negative fractions here.
func (p *balancedAllocation) nodeScore(n *cluster.Node) int64 {
	return p.scoreOf(n.Allocatable, n.Requested)
}

// scoreOf is the score of a node of allocatable resources with requested of them requested.
func (p *balancedAllocation) scoreOf(allocatable, requested cluster.Resources) int64 {
	var fractions [2]float64
	k := 0
	if a := allocatable.MilliCPU; a != 0 {
		fractions[k] = capOne(float64(requested.MilliCPU+p.requests.MilliCPU) / float64(a))
		k++
	}
	if a := allocatable.Memory; a != 0 {
		fractions[k] = capOne(float64(requested.Memory+p.requests.Memory) / float64(a))
		k++
	}
	std := 0.0
	if k == 2 {
		std = math.Abs((fractions[0] - fractions[1]) / 2)
	}
	return int64((1 - std) * float64(maxNodeScore))
}

func capOne(f float64) float64 {
	if f < 1 {
		return f
	}
	return 1
}
