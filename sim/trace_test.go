package sim

import (
	"bytes"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/faultline-dev/faultline/measure"
	"github.com/faultline-dev/faultline/sim/trace"
)

// With no sink an emit builds nothing: not the event's interface value, not its text. The
// kinds below carry each type of field (strings, ints, durations, cores, wall times, errors).
func TestEmitWithoutSinkAllocatesNothing(t *testing.T) {
	w, err := New(input(1, deployment("web", 1, "100m")), 1, Options{})
	require.NoError(t, err)
	name, err2 := "web-1", errors.New("unschedulable: 0/1 nodes are available")
	allocs := testing.AllocsPerRun(1000, func() {
		emit(w, trace.PodBound{Pod: name, Node: name})
		emit(w, trace.NodeSaturated{Node: name, Demand: 3.5, Allocatable: 4})
		emit(w, trace.ContainerRestarted{Pod: name, Probe: "liveness", Restarts: 3, Backoff: time.Minute})
		emit(w, trace.CronRunSkipped{CronJob: name, Scheduled: t0, Reason: "missedDeadline"})
		emit(w, trace.PodUnschedulable{Pod: name, Attempt: 2, Err: err2})
	})
	assert.Zero(t, allocs, "allocations per five emits with tracing off")
}

// BenchmarkEmitOff is the cost of one emit with tracing off (expected: ~1 ns, 0 allocs/op).
func BenchmarkEmitOff(b *testing.B) {
	w, err := New(input(1, deployment("web", 1, "100m")), 1, Options{})
	if err != nil {
		b.Fatal(err)
	}
	name := "web-1"
	b.ReportAllocs()
	for b.Loop() {
		emit(w, trace.NodeSaturated{Node: name, Demand: 3.5, Allocatable: 4})
	}
}

// The text log is the typed events rendered: the same run gives the Recorder's events and the
// text lines one to one.
func TestTextLogIsTheTypedEvents(t *testing.T) {
	in := input(2, deployment("web", 2, "100m"))
	in.Faults = []Fault{{Name: "stop", Action: NodeStop, At: 10 * time.Minute, Duration: 30 * time.Minute, Nodes: []string{"n-1"}}}
	var text bytes.Buffer
	var rec trace.Recorder
	w, err := New(in, 1, Options{Trace: &text, Events: &rec})
	require.NoError(t, err)
	w.Run()
	lines := strings.Split(strings.TrimSuffix(text.String(), "\n"), "\n")
	require.Len(t, lines, len(rec.Events))
	require.Greater(t, len(lines), 5)
	for i, s := range rec.Events {
		assert.Equal(t, trace.FormatVirtual(s.At)+"  "+trace.Text(s.Event), lines[i])
	}
}

// The observation record's node transitions and apiserver exits are the trace's: one record per
// NotReady, Ready, auto-repair deletion, recreation and apiserver exit, at the same instants.
func TestNodeRecordFollowsTheTrace(t *testing.T) {
	in := webhookInput(time.Minute, 0, 2*time.Minute)
	in.Models.AutoRepair.Enabled = true
	_, evs, w := eventsOf(t, in, 1)
	o, _ := w.Observations()
	times := func(to measure.NodeState) []time.Duration {
		var out []time.Duration
		for _, n := range o.Nodes {
			if n.To == to {
				out = append(out, n.At)
			}
		}
		return out
	}
	require.NotEmpty(t, times(measure.NodeDeleted))
	assert.Equal(t, trace.Times[trace.NodeNotReady](evs, nil), times(measure.NodeNotReady))
	assert.Equal(t, trace.Times[trace.NodeReady](evs, nil), times(measure.NodeReady))
	assert.Equal(t, trace.Times[trace.NodeRepairStarted](evs, nil), times(measure.NodeDeleted))
	assert.Equal(t, trace.Times[trace.NodeRecreated](evs, nil), times(measure.NodeCreated))
	var exits []time.Duration
	for _, e := range o.APIServerExits {
		exits = append(exits, e.At)
	}
	require.NotEmpty(t, exits)
	assert.Equal(t, trace.Times[trace.APIServerExited](evs, nil), exits)
}
