package sim

import (
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

// reuseInput has workloads whose pods are killed and replaced, and a node stop that evicts some:
// pods are created before time 0 and during the run.
func reuseInput() *Input {
	in := input(4, deployment("web", 5, "500m"), deployment("api", 3, "200m"))
	in.Faults = []Fault{
		podFault(PodKill, "web", ModeFixed, "2", 10*time.Minute, 0),
		{Name: "stop", Action: NodeStop, At: 20 * time.Minute, Duration: 30 * time.Minute, Nodes: []string{"n-2"}},
	}
	return in
}

func slabItems[T any](s *slab[T]) int {
	n := 0
	for _, c := range s.chunks {
		n += len(c)
	}
	return n
}

// A Scratch that built a world larger than keepItems keeps no more than about keepItems of its
// items and drops its longer lists when it builds the next world, so that one huge world does
// not pin its memory for the rest of a replay.
func TestScratchDropsWhatAHugeWorldGrew(t *testing.T) {
	huge, small := input(keepItems+1000), reuseInput()
	var s Scratch
	w, err := s.New(huge, 1, Options{})
	require.NoError(t, err)
	require.Len(t, w.st.Nodes, keepItems+1000)
	require.GreaterOrEqual(t, slabItems(&s.slabs.nodes), keepItems+1000)
	w, err = s.New(small, 1, Options{})
	require.NoError(t, err)
	w.Run()
	require.LessOrEqual(t, slabItems(&s.slabs.nodes), keepItems+256, "the node slab keeps about keepItems nodes")
	require.LessOrEqual(t, slabItems(&s.slabs.rngs), keepItems+256, "so does the random streams' slab")
	require.Less(t, cap(w.st.Nodes), keepItems, "the huge world's node list is not lent again")
	require.Less(t, cap(w.nodes), keepItems)
	// and the small world on that Scratch is the fresh one
	want, err := Run(small, 1, Options{})
	require.NoError(t, err)
	got, err := s.Run(small, 1, Options{})
	require.NoError(t, err)
	require.Equal(t, want.Indicators, got.Indicators)
	require.Equal(t, want.Events, got.Events)
}

// After a world larger than keepItems, a Scratch moving to another Input resets the large world's
// scheduler at once, so that its index and node copy do not pin that world until its Input runs
// again; after a small world it leaves that to the Input's next world (a reset per switch cost a
// Monte Carlo replay 15 % of its CPU time).
func TestScratchLetsGoOfALargeWorldsScheduler(t *testing.T) {
	large, small, other := input(keepItems+1000, deployment("web", 3, "100m")), reuseInput(), input(3, deployment("api", 2, "100m"))
	var s Scratch
	w, err := s.New(large, 1, Options{Until: time.Minute})
	require.NoError(t, err)
	w.Run()
	require.True(t, w.prep.sched.Follows(), "the large world placed its pods")
	largeSched := w.prep.sched
	_, err = s.New(small, 1, Options{})
	require.NoError(t, err)
	require.False(t, largeSched.Follows(), "switching Inputs after a large world resets its scheduler")

	w, err = s.New(small, 2, Options{})
	require.NoError(t, err)
	w.Run()
	smallSched := w.prep.sched
	_, err = s.New(other, 1, Options{})
	require.NoError(t, err)
	require.True(t, smallSched.Follows(), "a small world's scheduler is reset by its Input's next world")
}
