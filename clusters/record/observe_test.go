package record_test

import (
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"

	"github.com/faultline-dev/faultline/clusters/record"
	"github.com/faultline-dev/faultline/measure"
)

// The recording is read as measure's observations: pods lost with a deleted node, taint
// evictions and replicas per node come out of measure.Compute as for the other worlds.
func TestObserveReadsATraceAsMeasureObservations(t *testing.T) {
	t0 := time.Date(2026, 12, 1, 10, 0, 0, 0, time.UTC)
	synced := t0.Add(time.Second)
	tr := &record.Trace{Started: t0, Synced: synced, End: t0.Add(time.Minute)}
	ev := func(at time.Duration, op string, initial bool, obj map[string]any) {
		tr.Events = append(tr.Events, record.Event{Time: t0.Add(at), Op: op, Initial: initial, Object: &unstructured.Unstructured{Object: obj}})
	}
	ev(0, record.OpAdd, true, node("n1", "a"))
	ev(0, record.OpAdd, true, node("n2", "b"))
	ev(0, record.OpAdd, true, deploy("web", 3, "web:1"))
	ev(0, record.OpAdd, true, pod("web-a", "web", "n1", "Running"))
	ev(0, record.OpAdd, true, pod("web-b", "web", "n1", "Running"))
	ev(0, record.OpAdd, true, pod("web-c", "web", "n2", "Running"))
	evicted := pod("web-c", "web", "n2", "Running")
	evicted["metadata"].(map[string]any)["deletionTimestamp"] = "2026-12-01T10:00:20Z"
	evicted["status"].(map[string]any)["conditions"] = []any{map[string]any{"type": "DisruptionTarget", "status": "True", "reason": "DeletionByTaintManager"}}
	ev(20*time.Second, record.OpUpdate, false, evicted)
	ev(21*time.Second, record.OpDelete, false, evicted)
	ev(30*time.Second, record.OpDelete, false, node("n1", "a")) // with web-a and web-b running

	o, win, starts := record.Observe(tr)
	assert.Equal(t, measure.Kind, o.World, "a recording is a real cluster")
	assert.Equal(t, 59*time.Second, win.Length)
	assert.Empty(t, starts, "no pod was created during the recording")
	vals, _ := measure.Compute(o, win)
	got := map[string]float64{}
	for _, v := range vals {
		got[v.Name] = v.Value
	}
	assert.Equal(t, map[string]float64{"pods-lost": 2, "evictions": 1, "max-replicas-per-node": 2}, got)
}

// The informers of Jobs and pods deliver independently: on a loaded machine a Job's pod can be
// in the trace before the Job itself. The run still counts, and its pod is not created before it.
func TestObserveCountsAJobWhosePodCameFirst(t *testing.T) {
	t0 := time.Date(2026, 12, 1, 10, 0, 0, 0, time.UTC)
	tr := &record.Trace{Started: t0, Synced: t0.Add(time.Second), End: t0.Add(time.Minute)}
	ev := func(at time.Duration, op string, obj map[string]any) {
		tr.Events = append(tr.Events, record.Event{Time: t0.Add(at), Op: op, Object: &unstructured.Unstructured{Object: obj}})
	}
	ev(0, record.OpAdd, node("n1", "a"))
	ev(10*time.Second, record.OpAdd, jobPod("report-x", "report", "", "Pending"))
	ev(10*time.Second+5*time.Millisecond, record.OpAdd, job("report", map[string]any{}))
	ev(10*time.Second+20*time.Millisecond, record.OpUpdate, jobPod("report-x", "report", "n1", "Pending"))
	ev(11*time.Second, record.OpUpdate, jobPod("report-x", "report", "n1", "Running"))
	ev(12*time.Second, record.OpUpdate, jobPod("report-x", "report", "n1", "Succeeded"))

	o, win, _ := record.Observe(tr)
	vals, _ := measure.Compute(o, win)
	got := map[string]float64{}
	for _, v := range vals {
		got[v.Name] = v.Value
	}
	assert.Equal(t, 1.0, got["cron-runs-started"], "%v", vals)
	assert.Equal(t, 0.0, got["pod-create-delay-p50-seconds"], "the pod is taken as created with its Job, not before")
	assert.InDelta(t, 0.015, got["pod-bind-delay-p50-seconds"], 1e-9, "bound 15 ms after the Job's pod was seen as created")
}
