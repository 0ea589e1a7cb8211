package record

import (
	"encoding/json"
	"fmt"
	"reflect"
	"sort"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime"

	"github.com/faultline-dev/faultline/clusters/importer"
	"github.com/faultline-dev/faultline/scenarios"
)

// Settle is how long an imported trace's scenario runs past the recording's end, so that
// rollouts the recording saw finish can finish in the simulation too.
const Settle = 5 * time.Minute

// MinCalibrationSamples is how many pod starts a recording needs before import sets the
// simulator's container start time from them.
const MinCalibrationSamples = 3

// Replay is a trace imported as a scenario.
type Replay struct {
	*importer.Result
	// Length is the recording from the informers' sync to its end.
	Length time.Duration
	// Final is where the cluster had placed the imported workloads' pods at the end of the
	// recording, per scenario node.
	Final map[string]int
	// Recorded is the recording's own start-up indicator.
	Recorded StartUp
	// Changes counts the recorded changes replayed, Unplayed those the scenario cannot replay,
	// by reason.
	Changes  int
	Unplayed map[string]int
}

// Import turns a trace into a scenario: the cluster as it was when the informers had synced (as
// package importer builds it from a snapshot), and the Deployments' (and StatefulSets')
// recorded scaling, rollouts, creations and deletions as spec.changes at their offsets; a node
// deleted during the recording stops at its offset (a GCPChaos node-stop). Deployments created
// during the recording start with 0 replicas and scale up when they were created.
func Import(t *Trace, f importer.Filter, o importer.Options) (*Replay, error) {
	length := t.End.Sub(t.Synced)
	if length < 0 {
		length = 0
	}
	if o.Duration <= 0 {
		o.Duration = (length + Settle).Round(time.Second)
	}
	if o.Duration < length {
		return nil, fmt.Errorf("duration %v is shorter than the recording (%v)", o.Duration, length)
	}
	// the cluster at sync, and the Deployments first seen after it
	state := map[string]*unstructured.Unstructured{}
	var order []string
	set := func(e Event) {
		k := key(e.Object)
		if e.Op == OpDelete {
			delete(state, k)
			return
		}
		if _, ok := state[k]; !ok {
			order = append(order, k)
		}
		state[k] = e.Object
	}
	var later []Event
	for _, e := range t.Events {
		if e.Initial || !e.Time.After(t.Synced) {
			set(e)
		} else {
			later = append(later, e)
		}
	}
	snap := &importer.Snapshot{Source: "trace " + t.Source + " at " + t.Synced.UTC().Format(time.RFC3339), Filter: f}
	for _, k := range order {
		if u, ok := state[k]; ok {
			if err := snap.Add(u); err != nil {
				return nil, fmt.Errorf("%s: %w", k, err)
			}
		}
	}
	added := map[string]bool{}
	for _, e := range later {
		k := key(e.Object)
		if e.Op == OpAdd && isWorkload(e.Object.GetKind()) && state[k] == nil && !added[k] && f.Keep(e.Object.GetNamespace()) {
			zero := e.Object.DeepCopy()
			if err := unstructured.SetNestedField(zero.Object, int64(0), "spec", "replicas"); err != nil {
				return nil, err
			}
			if err := snap.Add(zero); err != nil {
				return nil, fmt.Errorf("%s: %w", k, err)
			}
			added[k] = true
		}
	}
	res, err := importer.Build(snap, o)
	if err != nil {
		return nil, err
	}
	r := &Replay{Result: res, Length: length, Unplayed: map[string]int{}}

	// the changes
	cur := map[string]*unstructured.Unstructured{}
	for k, u := range state {
		cur[k] = u
	}
	stopped := map[string]bool{}
	for _, e := range later {
		k, kind := key(e.Object), e.Object.GetKind()
		at := e.Time.Sub(t.Synced).Round(time.Millisecond)
		switch {
		case isWorkload(kind):
			if !f.Keep(e.Object.GetNamespace()) {
				continue
			}
			prev := cur[k]
			if added[k] && e.Op == OpAdd {
				prev = e.Object.DeepCopy()
				_ = unstructured.SetNestedField(prev.Object, int64(0), "spec", "replicas")
			}
			next := e.Object
			if e.Op == OpDelete {
				next = prev.DeepCopy()
				_ = unstructured.SetNestedField(next.Object, int64(0), "spec", "replicas")
			}
			if ch := change(prev, next, at); ch != nil {
				r.Scenario.Spec.Changes = append(r.Scenario.Spec.Changes, *ch)
				r.Changes++
			}
			cur[k] = next
		case kind == "Node" && e.Op == OpDelete:
			sn, ok := res.SimNode[e.Object.GetName()]
			if !ok || stopped[sn] {
				r.Unplayed["Node deleted that was not there when the recording began"]++
				continue
			}
			stopped[sn] = true
			r.Scenario.Spec.Faults = append(r.Scenario.Spec.Faults, nodeStop(sn, at))
			r.Changes++
		case kind == "Node" && e.Op == OpAdd:
			r.Unplayed["Node added: a scenario's pools are fixed at the start"]++
		case (kind == "Job" || kind == "CronJob") && e.Op == OpAdd:
			if kind == "Job" && owner(e.Object) == "CronJob" {
				continue // a run of an imported CronJob: the simulation makes its own
			}
			r.Unplayed[kind+" created: a scenario cannot create objects during the run"]++
		case e.Op != OpUpdate && kind != "Pod":
			r.Unplayed[kind+" "+e.Op+"d: not replayed (only Deployment and StatefulSet changes and node deletions are)"]++
		}
	}
	if err := r.AddWhatIfs(); err != nil { // again: with the recorded node deletions
		return nil, err
	}
	sort.SliceStable(r.Scenario.Spec.Changes, func(i, j int) bool {
		return r.Scenario.Spec.Changes[i].At.Duration < r.Scenario.Spec.Changes[j].At.Duration
	})

	// the end state and the recorded indicator
	var pods []corev1.Pod
	final := map[string]*unstructured.Unstructured{}
	for k, u := range state {
		final[k] = u
	}
	for _, e := range later {
		if e.Op == OpDelete {
			delete(final, key(e.Object))
		} else {
			final[key(e.Object)] = e.Object
		}
	}
	keys := make([]string, 0, len(final))
	for k := range final {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	nodesLeft := map[string]bool{}
	for _, u := range final {
		if u.GetKind() == "Node" {
			nodesLeft[u.GetName()] = true
		}
	}
	for _, k := range keys {
		if u := final[k]; u.GetKind() == "Pod" {
			var p corev1.Pod
			if err := runtime.DefaultUnstructuredConverter.FromUnstructured(u.Object, &p); err != nil {
				return nil, fmt.Errorf("%s: %w", k, err)
			}
			if nodesLeft[p.Spec.NodeName] {
				pods = append(pods, p) // a pod whose node was deleted is gone, whatever the trace last saw
			}
		}
	}
	r.Final = res.PlacedOn(pods)
	r.Recorded = recordedStartUp(t)
	if n := len(r.Recorded.Run); n >= MinCalibrationSamples {
		// the kubelet's share (bound to Running) is what models.pods.containerStart stands for
		cs := time.Duration(Quantile(r.Recorded.Run, 0.5) * float64(time.Second)).Round(time.Millisecond)
		r.Scenario.Spec.Cluster.Models = json.RawMessage(fmt.Sprintf(`{"pods":{"containerStart":%q}}`, cs.String()))
		r.Notes = append(r.Notes, fmt.Sprintf("models.pods.containerStart is %v: the median time from bound to Running of the %d pods started during the recording", cs, n))
	}
	r.Notes = append(r.Notes, fmt.Sprintf("recording: %v of changes after the cluster was listed (%s), ended by %s; %d changes replayed as spec.changes and spec.faults at their offsets",
		length.Round(time.Millisecond), t.Synced.UTC().Format(time.RFC3339), t.Reason, r.Changes))
	var why []string
	for k := range r.Unplayed {
		why = append(why, k)
	}
	sort.Strings(why)
	for _, k := range why {
		r.LeftOut = append(r.LeftOut, importer.Omission{Kind: "recorded event", Name: fmt.Sprintf("%d times", r.Unplayed[k]), Why: k})
	}
	return r, nil
}

func isWorkload(kind string) bool { return kind == "Deployment" || kind == "StatefulSet" }

func key(u *unstructured.Unstructured) string {
	return u.GetKind() + "/" + u.GetNamespace() + "/" + u.GetName()
}

func owner(u *unstructured.Unstructured) string {
	for _, ref := range u.GetOwnerReferences() {
		if ref.Controller != nil && *ref.Controller {
			return ref.Kind
		}
	}
	return ""
}

// change is the scenario change from prev to next: a new pod template (a rollout) or new
// replicas (scaling), as a JSON patch; nil when neither changed (a status update).
func change(prev, next *unstructured.Unstructured, at time.Duration) *scenarios.ChangeSpec {
	if prev == nil {
		return nil
	}
	var ops []map[string]any
	pt, _, _ := unstructured.NestedMap(prev.Object, "spec", "template")
	nt, _, _ := unstructured.NestedMap(next.Object, "spec", "template")
	cleanTemplate(pt)
	cleanTemplate(nt)
	if !reflect.DeepEqual(pt, nt) {
		ops = append(ops, map[string]any{"op": "replace", "path": "/spec/template", "value": nt})
	}
	pr, nr := replicas(prev), replicas(next)
	if pr != nr {
		ops = append(ops, map[string]any{"op": "replace", "path": "/spec/replicas", "value": nr})
	}
	if len(ops) == 0 {
		return nil
	}
	b, _ := json.Marshal(ops)
	ns := next.GetNamespace()
	if ns == "" {
		ns = "default"
	}
	return &scenarios.ChangeSpec{At: metav1.Duration{Duration: at},
		Patch: scenarios.Patch{Target: "deployment/" + ns + "/" + next.GetName(), Type: "json", Patch: b}}
}

// replicas is spec.replicas (1 when unset), whether decoded as an integer or, from JSON, a float.
func replicas(u *unstructured.Unstructured) int64 {
	v, ok, _ := unstructured.NestedFieldNoCopy(u.Object, "spec", "replicas")
	if !ok {
		return 1
	}
	switch n := v.(type) {
	case int64:
		return n
	case float64:
		return int64(n)
	case int:
		return int64(n)
	}
	return 1
}

func cleanTemplate(t map[string]any) {
	if md, ok := t["metadata"].(map[string]any); ok {
		delete(md, "creationTimestamp")
	}
}

// nodeStop is the fault that plays a node's deletion.
func nodeStop(simNode string, at time.Duration) scenarios.FaultSpec {
	obj := map[string]any{
		"apiVersion": "chaos-mesh.org/v1alpha1", "kind": "GCPChaos",
		"metadata": map[string]any{"name": "deleted-" + simNode, "namespace": "chaos-mesh"},
		"spec":     map[string]any{"action": "node-stop", "project": "recorded", "zone": "recorded", "instance": simNode},
	}
	b, _ := json.Marshal(obj)
	return scenarios.FaultSpec{At: metav1.Duration{Duration: at}, Object: b}
}
