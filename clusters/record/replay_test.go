package record_test

import (
	"compress/gzip"
	"encoding/json"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/faultline-dev/faultline/clusters/importer"
	"github.com/faultline-dev/faultline/clusters/record"
	"github.com/faultline-dev/faultline/scenarios"
)

// traceWriter writes a trace by hand, as Record would.
type traceWriter struct {
	t   *testing.T
	enc *json.Encoder
	t0  time.Time
}

func (w *traceWriter) line(l record.Line) { require.NoError(w.t, w.enc.Encode(l)) }

func (w *traceWriter) event(at time.Duration, op string, initial bool, obj map[string]any) {
	ts := w.t0.Add(at)
	w.line(record.Line{Time: &ts, Op: op, Kind: obj["kind"].(string), Initial: initial, Object: obj})
}

func node(name, zone string) map[string]any {
	return map[string]any{"apiVersion": "v1", "kind": "Node", "metadata": map[string]any{"name": name,
		"labels": map[string]any{"topology.kubernetes.io/zone": zone, "node.kubernetes.io/instance-type": "m-4"}},
		"status": map[string]any{"allocatable": map[string]any{"cpu": "4", "memory": "16Gi"}}}
}

func deploy(name string, replicas int64, image string) map[string]any {
	return map[string]any{"apiVersion": "apps/v1", "kind": "Deployment", "metadata": map[string]any{"name": name, "namespace": "shop", "generation": 1},
		"spec": map[string]any{"replicas": replicas, "selector": map[string]any{"matchLabels": map[string]any{"app": name}},
			"template": map[string]any{"metadata": map[string]any{"labels": map[string]any{"app": name}},
				"spec": map[string]any{"containers": []any{map[string]any{"name": name, "image": image,
					"resources": map[string]any{"requests": map[string]any{"cpu": "500m", "memory": "128Mi"}}}}}}}}
}

func pod(name, app, node, phase string) map[string]any {
	return map[string]any{"apiVersion": "v1", "kind": "Pod", "metadata": map[string]any{"name": name, "namespace": "shop",
		"labels":          map[string]any{"app": app},
		"ownerReferences": []any{map[string]any{"apiVersion": "apps/v1", "kind": "ReplicaSet", "name": app + "-1", "uid": "u", "controller": true}}},
		"spec":   map[string]any{"nodeName": node, "containers": []any{map[string]any{"name": app, "image": "x"}}},
		"status": map[string]any{"phase": phase}}
}

func TestImportOfATrace(t *testing.T) {
	path := filepath.Join(t.TempDir(), "t.jsonl.gz")
	f, err := os.Create(path)
	require.NoError(t, err)
	zw := gzip.NewWriter(f)
	t0 := time.Date(2026, 12, 1, 10, 0, 0, 0, time.UTC)
	w := &traceWriter{t: t, enc: json.NewEncoder(zw), t0: t0}
	w.line(record.Line{Format: record.Format, Source: "test", Started: &t0})
	w.event(0, record.OpAdd, true, node("n1", "a"))
	w.event(0, record.OpAdd, true, node("n2", "b"))
	w.event(0, record.OpAdd, true, deploy("web", 2, "web:1"))
	w.event(0, record.OpAdd, true, pod("web-a", "web", "n1", "Running"))
	w.event(0, record.OpAdd, true, pod("web-b", "web", "n2", "Running"))
	synced := t0.Add(time.Second)
	w.line(record.Line{Synced: &synced})
	w.event(5*time.Second, record.OpUpdate, false, deploy("web", 3, "web:1")) // scaled
	w.event(5100*time.Millisecond, record.OpAdd, false, pod("web-c", "web", "", "Pending"))
	w.event(5200*time.Millisecond, record.OpUpdate, false, pod("web-c", "web", "n1", "Pending"))
	w.event(5500*time.Millisecond, record.OpUpdate, false, pod("web-c", "web", "n1", "Running"))
	w.event(6*time.Second, record.OpUpdate, false, deploy("web", 3, "web:1")) // status only: no change
	w.event(9*time.Second, record.OpUpdate, false, deploy("web", 3, "web:2")) // a rollout
	w.event(12*time.Second, record.OpAdd, false, deploy("worker", 1, "w:1"))  // created
	w.event(13*time.Second, record.OpAdd, false, map[string]any{"apiVersion": "batch/v1", "kind": "CronJob", "metadata": map[string]any{"name": "c", "namespace": "shop"}})
	w.event(15*time.Second, record.OpDelete, false, node("n2", "b"))
	end := t0.Add(21 * time.Second)
	w.line(record.Line{End: &end, Reason: "duration"})
	require.NoError(t, zw.Close())
	require.NoError(t, f.Close())

	tr, err := record.ReadTrace(path)
	require.NoError(t, err)
	rep, err := record.Import(tr, importer.Filter{}, importer.Options{Name: "replay"})
	require.NoError(t, err)
	assert.Equal(t, 20*time.Second, rep.Length)
	assert.Equal(t, 5*time.Minute+20*time.Second, rep.Scenario.Spec.Duration.Duration, "the recording and the settling time")
	var got []string
	for _, c := range rep.Scenario.Spec.Changes {
		got = append(got, c.At.Duration.String()+" "+c.Target+" "+string(c.Patch.Patch))
	}
	assert.Equal(t, []string{
		`4s deployment/shop/web [{"op":"replace","path":"/spec/replicas","value":3}]`,
		`8s deployment/shop/web [{"op":"replace","path":"/spec/template","value":{"metadata":{"labels":{"app":"web"}},"spec":{"containers":[{"image":"web:2","name":"web","resources":{"requests":{"cpu":"500m","memory":"128Mi"}}}]}}}]`,
		`11s deployment/shop/worker [{"op":"replace","path":"/spec/replicas","value":1}]`,
	}, got)
	require.Len(t, rep.Scenario.Spec.Faults, 1, "the node deleted")
	assert.Equal(t, 14*time.Second, rep.Scenario.Spec.Faults[0].At.Duration)
	assert.Contains(t, string(rep.Scenario.Spec.Faults[0].Object), `"instance":"m-4-2"`)
	assert.Equal(t, map[string]int{"CronJob created: a scenario cannot create objects during the run": 1}, rep.Unplayed)
	assert.Equal(t, []float64{0.4}, rep.Recorded.Seconds)
	assert.InDeltaSlice(t, []float64{0.1}, rep.Recorded.Bind, 1e-9)
	assert.Equal(t, map[string]int{"m-4-1": 2}, rep.Final, "web-c and web-a on n1; web-b's node was deleted, and with it its place")

	dir := t.TempDir()
	require.NoError(t, rep.Write(dir))
	sc, err := scenarios.Open(dir)
	require.NoError(t, err)
	assert.Len(t, sc.Spec.Spec.Changes, 3)
	p, err := importer.ComparePlacement(dir, rep.Final, 1, 0)
	require.NoError(t, err)
	assert.NotEmpty(t, p.StartSeconds, "the scaled and rolled-out pods started in the simulation")
}

func TestReadTraceRefusesWhatIsNotATrace(t *testing.T) {
	path := filepath.Join(t.TempDir(), "x.gz")
	f, err := os.Create(path)
	require.NoError(t, err)
	zw := gzip.NewWriter(f)
	_, _ = zw.Write([]byte(`{"format":"other"}` + "\n"))
	require.NoError(t, zw.Close())
	require.NoError(t, f.Close())
	_, err = record.ReadTrace(path)
	assert.ErrorContains(t, err, "line 1: format \"other\"")
}
