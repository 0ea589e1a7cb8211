package record_test

import (
	"bytes"
	"compress/gzip"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/faultline-dev/faultline/clusters/importer"
	"github.com/faultline-dev/faultline/clusters/record"
	"github.com/faultline-dev/faultline/scenarios"
	"github.com/faultline-dev/faultline/sim"
)

// traceWriter writes a trace by hand, as Record would.
type traceWriter struct {
	t   *testing.T
	enc *json.Encoder
	t0  time.Time
}

// newTraceWriter starts a trace file, with its header line, at t0; done closes it and returns
// its path.
func newTraceWriter(t *testing.T, t0 time.Time) (w *traceWriter, done func() string) {
	path := filepath.Join(t.TempDir(), "t.jsonl.gz")
	f, err := os.Create(path)
	require.NoError(t, err)
	zw := gzip.NewWriter(f)
	w = &traceWriter{t: t, enc: json.NewEncoder(zw), t0: t0}
	w.line(record.Line{Format: record.Format, Source: "test", Started: &t0})
	return w, func() string {
		require.NoError(t, zw.Close())
		require.NoError(t, f.Close())
		return path
	}
}

func (w *traceWriter) line(l record.Line) { require.NoError(w.t, w.enc.Encode(l)) }

func (w *traceWriter) event(at time.Duration, op string, initial bool, obj map[string]any) {
	ts := w.t0.Add(at)
	w.line(record.Line{Time: &ts, Op: op, Kind: obj["kind"].(string), Initial: initial, Object: obj})
}

func node(name, zone string) map[string]any { return nodeOf(name, zone, "m-4", "4") }

func nodeOf(name, zone, itype, cpu string) map[string]any {
	return map[string]any{"apiVersion": "v1", "kind": "Node", "metadata": map[string]any{"name": name,
		"labels": map[string]any{"topology.kubernetes.io/zone": zone, "node.kubernetes.io/instance-type": itype}},
		"status": map[string]any{"allocatable": map[string]any{"cpu": cpu, "memory": "16Gi"}}}
}

func job(name string, status map[string]any) map[string]any {
	return map[string]any{"apiVersion": "batch/v1", "kind": "Job", "metadata": map[string]any{"name": name, "namespace": "shop"},
		"spec": map[string]any{"backoffLimit": int64(1), "template": map[string]any{
			"metadata": map[string]any{"labels": map[string]any{"job-name": name, "batch.kubernetes.io/controller-uid": "x"}},
			"spec": map[string]any{"restartPolicy": "Never", "containers": []any{map[string]any{"name": "main", "image": "report:1",
				"resources": map[string]any{"requests": map[string]any{"cpu": "250m", "memory": "64Mi"}}}}}}},
		"status": status}
}

func jobPod(name, job, node, phase string) map[string]any {
	p := pod(name, "", node, phase)
	md := p["metadata"].(map[string]any)
	md["labels"] = map[string]any{"job-name": job}
	md["ownerReferences"] = []any{map[string]any{"apiVersion": "batch/v1", "kind": "Job", "name": job, "uid": "j", "controller": true}}
	return p
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
	t0 := time.Date(2026, 12, 1, 10, 0, 0, 0, time.UTC)
	w, done := newTraceWriter(t, t0)
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
	w.event(6*time.Second, record.OpUpdate, false, deploy("web", 3, "web:1"))  // status only: no change
	w.event(7*time.Second, record.OpAdd, false, nodeOf("n3", "a", "c-8", "8")) // a node joins
	w.event(9*time.Second, record.OpUpdate, false, deploy("web", 3, "web:2"))  // a rollout
	w.event(10*time.Second, record.OpAdd, false, job("report", nil))           // a Job
	w.event(10100*time.Millisecond, record.OpAdd, false, jobPod("report-x", "report", "", "Pending"))
	w.event(10200*time.Millisecond, record.OpUpdate, false, jobPod("report-x", "report", "n3", "Pending"))
	w.event(10500*time.Millisecond, record.OpUpdate, false, jobPod("report-x", "report", "n3", "Running"))
	w.event(30500*time.Millisecond, record.OpUpdate, false, jobPod("report-x", "report", "n3", "Succeeded"))
	w.event(30600*time.Millisecond, record.OpUpdate, false, job("report", map[string]any{
		"startTime": "2026-12-01T10:00:10Z", "completionTime": "2026-12-01T10:00:30Z",
		"conditions": []any{map[string]any{"type": "Complete", "status": "True"}}}))
	w.event(12*time.Second, record.OpAdd, false, deploy("worker", 1, "w:1")) // created
	w.event(13*time.Second, record.OpAdd, false, map[string]any{"apiVersion": "batch/v1", "kind": "CronJob", "metadata": map[string]any{"name": "c", "namespace": "shop"}})
	w.event(15*time.Second, record.OpDelete, false, node("n2", "b"))
	end := t0.Add(31 * time.Second)
	w.line(record.Line{End: &end, Reason: "duration"})

	tr, err := record.ReadTrace(done())
	require.NoError(t, err)
	rep, err := record.Import(tr, importer.Filter{}, importer.Options{Name: "replay"})
	require.NoError(t, err)
	assert.Equal(t, 30*time.Second, rep.Length)
	assert.Equal(t, 5*time.Minute+30*time.Second, rep.Scenario.Spec.Duration.Duration, "the recording and the settling time")
	require.NotNil(t, rep.Scenario.Spec.Start)
	assert.Equal(t, synced, rep.Scenario.Spec.Start.Time, "offset 0 is the sync: CronJobs run at their recorded wall-clock times")
	var got []string
	for _, c := range rep.Scenario.Spec.Changes {
		got = append(got, c.At.Duration.String()+" "+c.Target+" "+string(c.Patch.Patch))
	}
	assert.Equal(t, []string{
		`4s deployment/shop/web [{"op":"replace","path":"/spec/replicas","value":3}]`,
		`8s deployment/shop/web [{"op":"replace","path":"/spec/template","value":{"metadata":{"labels":{"app":"web"}},"spec":{"containers":[{"image":"web:2","name":"web","resources":{"requests":{"cpu":"500m","memory":"128Mi"}}}]}}}]`,
		`11s deployment/shop/worker [{"op":"replace","path":"/spec/replicas","value":1}]`,
	}, got)
	require.Len(t, rep.Scenario.Spec.Faults, 2, "the node that joined, the node deleted")
	joins := string(rep.Scenario.Spec.Faults[0].Object)
	assert.Equal(t, time.Duration(0), rep.Scenario.Spec.Faults[0].At.Duration, "held out from the start...")
	assert.Contains(t, joins, `"instance":"c-8-1"`)
	assert.Contains(t, joins, `"duration":"6s"`, "... until its offset")
	assert.Equal(t, map[string]time.Duration{"c-8-1": 6 * time.Second}, rep.Joined)
	assert.Equal(t, 14*time.Second, rep.Scenario.Spec.Faults[1].At.Duration)
	assert.Contains(t, string(rep.Scenario.Spec.Faults[1].Object), `"instance":"m-4-2"`)
	assert.Equal(t, map[string]int{"CronJob created: a scenario cannot create objects during the run": 1}, rep.Unplayed)
	assert.InDeltaSlice(t, []float64{0.4}, rep.Recorded.Startup.Seconds, 1e-6)
	assert.InDeltaSlice(t, []float64{0.1}, rep.Recorded.Startup.Bind, 1e-6)
	delay, ok := rep.Recorded.Get("start-delay-p50-seconds")
	assert.True(t, ok, "the Job's run is observed as measure's cron runs: %v", rep.Recorded.Indicators)
	assert.InDelta(t, 0.5, delay, 1e-6, "created to running")
	bind, _ := rep.Recorded.Get("pod-bind-delay-p50-seconds")
	assert.InDelta(t, 0.1, bind, 1e-6)
	assert.Equal(t, map[string]int{"m-4-1": 2}, rep.Final, "web-c and web-a on n1; web-b's node was deleted, and with it its place")

	assert.Equal(t, 1, rep.Jobs)
	var cj map[string]any
	for _, m := range rep.Manifests {
		if m.GetKind() == "CronJob" {
			cj = m.Object
		}
	}
	require.NotNil(t, cj, "the Job, as a CronJob that runs it once")
	assert.Equal(t, "job-report", cj["metadata"].(map[string]any)["name"])
	spec := cj["spec"].(map[string]any)
	assert.Equal(t, "1 10 1 12 *", spec["schedule"], "created 10:00:10: the run is due at 10:01")
	assert.Equal(t, "20s", cj["metadata"].(map[string]any)["annotations"].(map[string]any)["faultline.dev/run-time"], "startTime to completionTime")
	assert.NotContains(t, fmt.Sprint(spec["jobTemplate"]), "job-name", "the server's labels are dropped")

	dir := t.TempDir()
	require.NoError(t, rep.Write(dir))
	sc, err := scenarios.Open(dir)
	require.NoError(t, err)
	assert.Len(t, sc.Spec.Spec.Changes, 3)
	p, err := importer.ComparePlacement(dir, rep.Final, 1, 0)
	require.NoError(t, err)
	assert.NotZero(t, p.Startup.Started, "the scaled and rolled-out pods started in the simulation")
	runs := -1.0
	for _, in := range p.Indicators {
		if in.Name == "cron-runs-started" {
			runs = in.Value
		}
	}
	assert.Equal(t, 1.0, runs, "the recorded Job ran once in the simulation")

	// the joined node holds nothing until it joins
	v, err := sc.Variant(sc.Baseline())
	require.NoError(t, err)
	wd, err := sim.New(sc.Compile(v), 1, sim.Options{Until: 5 * time.Second})
	require.NoError(t, err)
	wd.Run()
	found := false
	for _, n := range wd.State().Nodes {
		if n.Name == "c-8-1" {
			found = true
			assert.Empty(t, n.Pods, "c-8-1 joins at 6 s")
			assert.False(t, n.Up)
		}
	}
	assert.True(t, found, "the joined node is in the scenario's pools")
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

// writeTrace writes a gzip'd trace of a header, events Namespace adds (event bad, if not -1,
// not JSON), a Synced line and, unless dropEnd, the end line.
func writeTrace(t *testing.T, events int, bad int, dropEnd bool) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), "trace.jsonl.gz")
	f, err := os.Create(path)
	require.NoError(t, err)
	t0 := time.Date(2026, 12, 1, 10, 0, 0, 0, time.UTC)
	w, err := record.NewWriter(f, "test", t0)
	require.NoError(t, err)
	for i := range events {
		if i == bad {
			require.NoError(t, w.Line(record.Line{Reason: "placeholder"}))
			continue
		}
		require.NoError(t, w.Event(t0.Add(time.Duration(i)*time.Millisecond), record.OpAdd, true,
			map[string]any{"apiVersion": "v1", "kind": "Namespace", "metadata": map[string]any{"name": fmt.Sprintf("ns-%04d", i)}}))
	}
	require.NoError(t, w.Synced(t0.Add(time.Hour)))
	require.NoError(t, w.Close(t0.Add(2*time.Hour), "duration"))
	require.NoError(t, f.Close())
	if bad >= 0 || dropEnd {
		// rewrite with the bad line's JSON broken, or without the end line
		tr, err := os.ReadFile(path)
		require.NoError(t, err)
		zr, err := gzip.NewReader(bytes.NewReader(tr))
		require.NoError(t, err)
		plain, err := io.ReadAll(zr)
		require.NoError(t, err)
		lines := strings.SplitAfter(string(plain), "\n")
		if bad >= 0 {
			lines[1+bad] = "{not json\n"
		}
		if dropEnd {
			lines = lines[:len(lines)-2]
		}
		f, err := os.Create(path)
		require.NoError(t, err)
		zw := gzip.NewWriter(f)
		_, err = zw.Write([]byte(strings.Join(lines, "")))
		require.NoError(t, err)
		require.NoError(t, zw.Close())
		require.NoError(t, f.Close())
	}
	return path
}

func TestReadTraceKeepsTheOrderOfManyLines(t *testing.T) {
	tr, err := record.ReadTrace(writeTrace(t, 1000, -1, false))
	require.NoError(t, err)
	require.Len(t, tr.Events, 1000)
	for i, e := range tr.Events {
		require.Equal(t, fmt.Sprintf("ns-%04d", i), e.Object.GetName(), "event %d", i)
	}
	assert.Equal(t, "duration", tr.Reason)

	_, err = record.ReadTrace(writeTrace(t, 1000, 700, false))
	assert.ErrorContains(t, err, "line 702: ", "the header is line 1: event 700 is line 702")

	tr, err = record.ReadTrace(writeTrace(t, 600, -1, true))
	require.NoError(t, err)
	assert.Len(t, tr.Events, 600)
	assert.Equal(t, "cut short (no end line)", tr.Reason)
}
