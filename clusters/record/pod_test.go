package record_test

import (
	"bufio"
	"compress/gzip"
	"encoding/json"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"

	"github.com/faultline-dev/faultline/clusters/importer"
	"github.com/faultline-dev/faultline/clusters/record"
)

// ReadTrace decodes of a pod only what import reads (and a bare pod whole): the scenario, the
// recorded indicators and the end placement are those of the same events given as whole
// objects (Object), as decoded before.
func TestAPodReadFromATraceImportsAsTheWholePod(t *testing.T) {
	t0 := time.Date(2026, 12, 1, 10, 0, 0, 0, time.UTC)
	w, done := newTraceWriter(t, t0)
	w.event(0, record.OpAdd, true, node("n1", "a"))
	w.event(0, record.OpAdd, true, node("n2", "b"))
	w.event(0, record.OpAdd, true, deploy("web", 3, "web:1"))
	annotated := pod("web-a", "web", "n1", "Running")
	annotated["metadata"].(map[string]any)["annotations"] = map[string]any{"note": "x"}
	w.event(0, record.OpAdd, true, annotated)
	w.event(0, record.OpAdd, true, pod("web-b", "web", "n2", "Running"))
	// a DaemonSet's pod of a namespace left out: it holds its node's capacity
	ds := pod("agent-x", "agent", "n2", "Running")
	md := ds["metadata"].(map[string]any)
	md["namespace"] = "kube-system"
	md["ownerReferences"] = []any{map[string]any{"apiVersion": "apps/v1", "kind": "DaemonSet", "name": "agent", "uid": "d", "controller": true}}
	ds["spec"].(map[string]any)["containers"] = []any{map[string]any{"name": "a", "image": "a",
		"resources": map[string]any{"requests": map[string]any{"cpu": "300m", "memory": "100Mi"}, "limits": map[string]any{"cpu": "1"}}}}
	ds["spec"].(map[string]any)["initContainers"] = []any{map[string]any{"name": "init", "image": "i",
		"resources": map[string]any{"requests": map[string]any{"cpu": "1", "memory": "1Gi"}}}}
	w.event(0, record.OpAdd, true, ds)
	// a bare pod, played whole
	bare := map[string]any{"apiVersion": "v1", "kind": "Pod", "metadata": map[string]any{"name": "debug", "namespace": "shop",
		"labels": map[string]any{"run": "debug"}, "annotations": map[string]any{"a": "b"}, "uid": "u1", "resourceVersion": "7"},
		"spec": map[string]any{"nodeName": "n1", "terminationGracePeriodSeconds": 45, "priority": 0,
			"tolerations": []any{map[string]any{"key": "k", "operator": "Exists", "effect": "NoSchedule", "tolerationSeconds": 300}},
			"containers": []any{map[string]any{"name": "sh", "image": "busybox", "command": []any{"sleep", "3600"},
				"env":       []any{map[string]any{"name": "A", "value": "1"}},
				"ports":     []any{map[string]any{"containerPort": 8080, "protocol": "TCP"}},
				"resources": map[string]any{"requests": map[string]any{"cpu": "1500m", "memory": "3Gi"}}}}},
		"status": map[string]any{"phase": "Running", "startTime": "2026-12-01T09:00:00Z"}}
	w.event(0, record.OpAdd, true, bare)
	synced := t0.Add(time.Second)
	w.line(record.Line{Synced: &synced})
	w.event(2*time.Second, record.OpUpdate, false, deploy("web", 4, "web:1"))
	w.event(2100*time.Millisecond, record.OpAdd, false, pod("web-c", "web", "", "Pending"))
	w.event(2200*time.Millisecond, record.OpUpdate, false, pod("web-c", "web", "n1", "Pending"))
	running := pod("web-c", "web", "n1", "Running")
	running["status"].(map[string]any)["containerStatuses"] = []any{map[string]any{"name": "web", "ready": true,
		"state": map[string]any{"running": map[string]any{"startedAt": "2026-12-01T10:00:03Z"}}}}
	w.event(2900*time.Millisecond, record.OpUpdate, false, running)
	evicted := pod("web-b", "web", "n2", "Running")
	evicted["metadata"].(map[string]any)["deletionTimestamp"] = "2026-12-01T10:00:05Z"
	evicted["status"].(map[string]any)["conditions"] = []any{map[string]any{"type": "DisruptionTarget", "status": "True", "reason": "DeletionByTaintManager",
		"lastTransitionTime": "2026-12-01T10:00:05Z"}}
	w.event(4*time.Second, record.OpUpdate, false, evicted)
	w.event(5*time.Second, record.OpDelete, false, evicted)
	w.event(6*time.Second, record.OpAdd, false, job("report", nil))
	w.event(6100*time.Millisecond, record.OpAdd, false, jobPod("report-x", "report", "n2", "Pending"))
	failed := jobPod("report-x", "report", "n2", "Failed")
	failed["status"].(map[string]any)["containerStatuses"] = []any{map[string]any{"name": "main",
		"state": map[string]any{"terminated": map[string]any{"exitCode": 1}}}}
	w.event(7*time.Second, record.OpUpdate, false, failed)
	w.event(8*time.Second, record.OpDelete, false, node("n2", "b"))
	end := t0.Add(20 * time.Second)
	w.line(record.Line{End: &end, Reason: "duration"})
	path := done()

	read, err := record.ReadTrace(path)
	require.NoError(t, err)
	whole := wholeObjects(t, path)
	require.Len(t, whole.Events, len(read.Events))
	pods := 0
	for i, e := range read.Events {
		if e.Pod != nil {
			pods++
			assert.Nil(t, e.Object, "event %d", i)
		}
	}
	assert.Equal(t, 11, pods, "every pod's event is read as a Pod")

	want, err := record.Import(whole, importer.Filter{}, importer.Options{Name: "replay"})
	require.NoError(t, err)
	got, err := record.Import(read, importer.Filter{}, importer.Options{Name: "replay"})
	require.NoError(t, err)
	assert.Equal(t, want.Recorded, got.Recorded)
	assert.Equal(t, want.Final, got.Final)
	assert.NotEmpty(t, got.Final)
	assert.Equal(t, 1, got.Imported["Pod"], "the bare pod")
	wantDir, gotDir := t.TempDir(), t.TempDir()
	require.NoError(t, want.Write(wantDir))
	require.NoError(t, got.Write(gotDir))
	for _, name := range []string{"scenario.yaml", "manifests.yaml", "nodes.csv", "README.md", "what-ifs.yaml"} {
		a, errA := os.ReadFile(filepath.Join(wantDir, name))
		b, errB := os.ReadFile(filepath.Join(gotDir, name))
		assert.Equal(t, errA == nil, errB == nil, name)
		assert.Equal(t, string(a), string(b), name)
	}
	m, err := os.ReadFile(filepath.Join(gotDir, "manifests.yaml"))
	require.NoError(t, err)
	assert.Contains(t, string(m), "terminationGracePeriodSeconds: 45", "the bare pod is written whole")
	sc, err := os.ReadFile(filepath.Join(gotDir, "README.md"))
	require.NoError(t, err)
	assert.Contains(t, string(sc), "hold CPU and memory on 1 nodes", "the DaemonSet's pod holds its node's capacity")
}

// wholeObjects reads a trace's events with every object as a map, as ReadTrace did.
func wholeObjects(t *testing.T, path string) *record.Trace {
	f, err := os.Open(path)
	require.NoError(t, err)
	defer f.Close()
	zr, err := gzip.NewReader(f)
	require.NoError(t, err)
	tr := &record.Trace{}
	sc := bufio.NewScanner(zr)
	for sc.Scan() {
		var l record.Line
		require.NoError(t, json.Unmarshal(sc.Bytes(), &l))
		switch {
		case l.Started != nil:
			tr.Source, tr.Started = l.Source, *l.Started
		case l.Synced != nil:
			tr.Synced = *l.Synced
		case l.End != nil:
			tr.End, tr.Reason = *l.End, l.Reason
		default:
			tr.Events = append(tr.Events, record.Event{Time: *l.Time, Op: l.Op, Initial: l.Initial, Object: &unstructured.Unstructured{Object: l.Object}})
		}
	}
	require.NoError(t, sc.Err())
	return tr
}

// A line is read alike wherever its object is: a line Writer did not write (fields after the
// object, an "object" key nested in another field) is decoded whole.
func TestReadTraceReadsAnEventLineWhereverItsObjectIs(t *testing.T) {
	path := filepath.Join(t.TempDir(), "t.jsonl.gz")
	f, err := os.Create(path)
	require.NoError(t, err)
	zw := gzip.NewWriter(f)
	ns := func(name string) string {
		return `{"apiVersion":"v1","kind":"Namespace","metadata":{"name":"` + name + `"}}`
	}
	podJSON := `{"apiVersion":"v1","kind":"Pod","metadata":{"name":"p","namespace":"a","ownerReferences":[{"apiVersion":"apps/v1","kind":"ReplicaSet","name":"w-1","uid":"u","controller":true}]},"spec":{"nodeName":"n1"},"status":{"phase":"Running"}}`
	for _, l := range []string{
		`{"format":"` + record.Format + `","source":"hand","started":"2026-12-01T10:00:00Z"}`,
		`{"t":"2026-12-01T10:00:00Z","op":"add","kind":"Namespace","initial":true,"object":` + ns("last") + `}`,
		`{"object":` + ns("first") + `,"t":"2026-12-01T10:00:00Z","op":"add","kind":"Namespace","initial":true}`,
		`{"t":"2026-12-01T10:00:00Z","op":"add","kind":"Namespace","object":` + ns("middle") + `,"initial":true}`,
		`{"t":"2026-12-01T10:00:00Z","x":{"a":1,"object":2},"op":"add","kind":"Namespace","initial":true,"object":` + ns("nested") + `}`,
		`{"t":"2026-12-01T10:00:00Z","op":"add","kind":"Pod","object":` + podJSON + `,"initial":true}`,
		`{"t":"2026-12-01T10:00:00Z","op":"add","kind":"Pod","initial":true,"object":` + podJSON + `}`,
		`{"synced":"2026-12-01T10:00:01Z"}`,
		`{"end":"2026-12-01T10:00:02Z","reason":"duration","events":6}`,
	} {
		_, err := zw.Write([]byte(l + "\n"))
		require.NoError(t, err)
	}
	require.NoError(t, zw.Close())
	require.NoError(t, f.Close())

	tr, err := record.ReadTrace(path)
	require.NoError(t, err)
	require.Len(t, tr.Events, 6)
	for i, name := range []string{"last", "first", "middle", "nested"} {
		e := tr.Events[i]
		assert.True(t, e.Initial, name)
		assert.Equal(t, record.OpAdd, e.Op, name)
		require.NotNil(t, e.Object, name)
		assert.Equal(t, name, e.Object.GetName())
	}
	for _, e := range tr.Events[4:] {
		assert.True(t, e.Initial)
		require.NotNil(t, e.Pod)
		assert.Equal(t, "n1", e.Pod.Spec.NodeName)
		assert.Equal(t, "w-1", e.Pod.OwnerReferences[0].Name)
	}
}
