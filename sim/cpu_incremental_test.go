package sim

import (
	"errors"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"k8s.io/apimachinery/pkg/api/resource"
)

// The load model recomputes only the nodes marked changed; the invariant checker compares that
// with a full recomputation after every recomputation. A run through faults that touch every
// input of podDemand (stress, pod failure, node stop and boot, kills, readiness) stays equal.
func TestCPUIncrementalMatchesFull(t *testing.T) {
	in := input(3, deployment("web", 6, "500m"), deployment("api", 4, "1"))
	in.Duration = 3 * time.Hour
	in.Load = []Load{
		{Target: "deployment/web", RequestsPerSecond: 100, CPUPerReplica: resource.MustParse("900m")},
		{Target: "deployment/api", CPUPerReplica: resource.MustParse("1500m")},
	}
	in.Faults = []Fault{
		{Name: "stress", Action: CPUStress, At: 10 * time.Minute, Duration: 20 * time.Minute, CPU: 2, Pods: PodSelector{Mode: ModeFixed, Value: "3"}},
		{Name: "fail", Action: PodFailure, At: 40 * time.Minute, Duration: 10 * time.Minute, Pods: PodSelector{Mode: ModeFixed, Value: "2"}},
		{Name: "stop", Action: NodeStop, At: time.Hour, Duration: 20 * time.Minute, Nodes: []string{"n-1"}},
		{Name: "kill", Action: PodKill, At: 2 * time.Hour, Pods: PodSelector{Mode: ModeFixed, Value: "3"}},
	}
	w, err := New(in, 7, Options{CheckInvariants: true})
	require.NoError(t, err)
	w.Run()
	require.NoError(t, w.Violation())
}

// The check can fail: a change to a pod's stress that does not mark its node is found.
func TestCPUIncrementalCheckFindsUnmarkedChange(t *testing.T) {
	in := input(2, deployment("web", 2, "100m"))
	in.Load = []Load{{Target: "deployment/web", CPUPerReplica: resource.MustParse("100m")}}
	w, err := New(in, 1, Options{})
	require.NoError(t, err)
	w.Run()
	c := &invChecker{}
	w.inv = c
	w.recompute(w.q.Now())
	require.NoError(t, c.err, "nothing changed")

	ps := w.pods[0]
	ps.stress += 1 // not marked: the incremental pass skips the node
	w.recompute(w.q.Now())
	var ie *InvariantError
	require.True(t, errors.As(c.err, &ie), "the unmarked change is found: %v", c.err)
	assert.Equal(t, InvCPUCurrent, ie.Invariant)

	c.err = nil
	podChanged(ps.p) // marked: recomputed, equal again
	w.recompute(w.q.Now())
	require.NoError(t, c.err)
	assert.InDelta(t, 1.1, ps.demand, 1e-9)
}
