package scheduler

import (
	"fmt"
	"math/rand/v2"
	"testing"

	"github.com/stretchr/testify/require"
	corev1 "k8s.io/api/core/v1"

	"github.com/faultline-dev/faultline/sim/cluster"
)

// TestNodeOrderFollowsAddedNodes checks the node order kept by one nodeOrder, rebuilt in its own
// arrays as nodes are added and after a reset for another State, against the node tree's order
// computed from scratch.
func TestNodeOrderFollowsAddedNodes(t *testing.T) {
	st := newState(node("a0", "a", 1000, 1), node("b0", "b", 1000, 1), node("a1", "a", 1000, 1))
	var o nodeOrder
	require.Equal(t, []int32{0, 1, 2}, o.get(st))
	st.AddNode(node("c0", "c", 1000, 1))
	st.AddNode(node("a2", "a", 1000, 1))
	require.Equal(t, []int32{0, 1, 3, 2, 4}, o.get(st)) // a0 b0 c0, a1, a2

	r := rand.New(rand.NewPCG(5, 5))
	for world := range 6 {
		o.reset()
		st := &cluster.State{}
		for i := range 40 {
			n := node(fmt.Sprintf("n%d", i), fmt.Sprintf("z%d", r.IntN(1+world)), 1000, 1)
			if r.IntN(4) == 0 {
				n.Labels[corev1.LabelTopologyRegion] = fmt.Sprintf("r%d", r.IntN(2))
			}
			st.AddNode(n)
			if r.IntN(3) == 0 {
				require.Equal(t, treeOrder(st), o.get(st), "world %d after %d nodes", world, i+1)
			}
		}
	}
}

// treeOrder is the node tree's order: zones in the order they first appear, one node of each in
// turn.
func treeOrder(st *cluster.State) []int32 {
	var zones [][2]string
	byZone := map[[2]string][]int32{}
	for i, n := range st.Nodes {
		region, zone := zoneKey(n)
		k := [2]string{region, zone}
		if _, ok := byZone[k]; !ok {
			zones = append(zones, k)
		}
		byZone[k] = append(byZone[k], int32(i))
	}
	var out []int32
	for k := 0; len(out) < len(st.Nodes); k++ {
		for _, z := range zones {
			if k < len(byZone[z]) {
				out = append(out, byZone[z][k])
			}
		}
	}
	return out
}
