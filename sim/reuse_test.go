package sim

import (
	"math"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/faultline-dev/faultline/sim/trace"
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

// worldPodNames are the names of w's pods by index.
func worldPodNames(w *World) []string {
	var names []string
	for _, p := range w.st.Pods {
		names = append(names, p.Name)
	}
	return names
}

// The pods of a world on a Scratch, whose names the Scratch writes into the buffer the last
// world's pods had theirs in, are named as a fresh world's, seed after seed.
func TestScratchNamesPodsAsFresh(t *testing.T) {
	in, other := reuseInput(), input(6, deployment("other-workload-with-a-long-name", 9, "100m"))
	var s Scratch
	for seed := uint64(1); seed <= 4; seed++ {
		fresh, err := New(in, seed, Options{})
		require.NoError(t, err)
		fresh.Run()
		want := worldPodNames(fresh)
		require.Greater(t, len(want), 8, "pods replaced during the run")
		ow, err := s.New(other, seed, Options{})
		require.NoError(t, err)
		ow.Run()
		w, err := s.New(in, seed, Options{})
		require.NoError(t, err)
		require.NotNil(t, w.names, "the Scratch lends its name buffer")
		w.Run()
		require.Equal(t, want, worldPodNames(w), "seed %d", seed)
	}
}

// What a world on a Scratch gives away with a pod's name in it (the typed trace events a sink
// keeps, the Prometheus series of its Result) stays as it was when later worlds run on the
// Scratch: such worlds do not write pod names into the Scratch's buffer.
func TestScratchKeepsWhatItGaveAway(t *testing.T) {
	in := reuseInput()
	opts := func(rec *trace.Recorder) Options {
		return Options{Events: rec, PromSeries: &PromScrape{}}
	}
	var freshRec trace.Recorder
	fresh, err := Run(in, 1, opts(&freshRec))
	require.NoError(t, err)
	var s Scratch
	_, err = s.Run(in, 7, Options{}) // fills the name buffer first
	require.NoError(t, err)
	var rec trace.Recorder
	got, err := s.Run(in, 1, opts(&rec))
	require.NoError(t, err)
	for seed := uint64(2); seed <= 4; seed++ { // later worlds, which name their pods in the buffer
		_, err = s.Run(in, seed, Options{})
		require.NoError(t, err)
	}
	require.Equal(t, freshRec.Events, rec.Events, "the trace events kept by the sink")
	require.Equal(t, len(fresh.Prom.Series), len(got.Prom.Series))
	sawPod := false
	for i, want := range fresh.Prom.Series {
		g := got.Prom.Series[i]
		require.Equal(t, want.Name, g.Name)
		require.Equal(t, want.Labels, g.Labels)
		for j := 0; j+1 < len(want.Labels); j += 2 {
			sawPod = sawPod || want.Labels[j] == "pod"
		}
		require.Equal(t, len(want.Points), len(g.Points), want.Name)
		for j := range want.Points {
			require.Equal(t, want.Points[j].T, g.Points[j].T)
			require.Equal(t, math.Float64bits(want.Points[j].V), math.Float64bits(g.Points[j].V))
		}
	}
	require.True(t, sawPod, "series labelled with pod names")
}

// slabItems is how many items s's chunks hold.
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
