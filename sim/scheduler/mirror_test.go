package scheduler

import (
	"fmt"
	"testing"

	"github.com/stretchr/testify/require"
	corev1 "k8s.io/api/core/v1"

	"github.com/faultline-dev/faultline/sim/cluster"
)

// checkMirror fails unless every mirror row holds what its node holds, and every cached resource
// score of the current class is what the plugins compute for the node.
func checkMirror(t *testing.T, s *Scheduler, st *cluster.State) {
	t.Helper()
	require.Len(t, s.mirror.rows, len(st.Nodes))
	c := &s.cyc
	for i, n := range st.Nodes {
		r := s.mirror.rows[i]
		want, wantRes := rowOf(n)
		want.score, want.class = r.score, r.class
		require.Equal(t, want, r, "row of node %s", n.Name)
		require.Equal(t, wantRes, s.mirror.res[i], "resources of node %s", n.Name)
		if r.class == s.mirror.class {
			score := s.mirror.wFit*c.fit.nodeScore(n) + s.mirror.wBal*c.balanced.nodeScore(n)
			require.Equal(t, score, r.score, "resource score of node %s", n.Name)
		}
	}
}

// TestMirrorFollowsState changes the nodes every way the simulator does between cycles (binds,
// releases, cordons, taints, a node added, another State) and checks the mirror after each cycle.
func TestMirrorFollowsState(t *testing.T) {
	st := newState(uniformNodes(60, []string{"z1", "z2", "z3"}, 4000, 16)...)
	s := New(DefaultConfig())
	rng := seeded(3)
	var placed []*cluster.Pod
	sizes := [][2]int64{{100, 128}, {300, 512}, {0, 0}, {100, 128}}
	for k := range 400 {
		sz := sizes[k%len(sizes)]
		p := pod(fmt.Sprintf("p-%d", k), fmt.Sprintf("app-%d", k%7), spec(sz[0], sz[1]))
		if _, err := place(s, st, p, rng); err == nil {
			placed = append(placed, p)
		}
		checkMirror(t, s, st)
		n := st.Nodes[(k*13)%len(st.Nodes)]
		switch k % 10 {
		case 1:
			if q := placed[(k*7)%len(placed)]; q.Phase != cluster.PodGone {
				st.Release(q)
			}
		case 3:
			st.SetUnschedulable(n, !n.Unschedulable)
		case 5:
			st.SetTaints(n, append(n.Taints, corev1.Taint{Key: "k", Effect: corev1.TaintEffectPreferNoSchedule}))
		case 7:
			st.SetTaints(n, nil)
		case 9:
			if q := placed[(k*11)%len(placed)]; q.Phase == cluster.PodRunning {
				st.SetPhase(q, cluster.PodTerminating)
			}
		}
		if k == 200 {
			st.AddNode(node("late", "z1", 8000, 32))
		}
	}
	// another State with the same node indexes: the copy is rebuilt, no cached score carries over
	other := newState(uniformNodes(60, []string{"z1", "z2", "z3"}, 2000, 8)...)
	_, err := place(s, other, pod("q", "q", spec(100, 128)), rng)
	require.NoError(t, err)
	checkMirror(t, s, other)
}
