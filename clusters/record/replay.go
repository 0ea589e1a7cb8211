package record

import (
	"encoding/json"
	"fmt"
	"reflect"
	"sort"
	"strings"
	"sync"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"

	"github.com/faultline-dev/faultline/clusters/importer"
	"github.com/faultline-dev/faultline/measure"
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
	// Recorded is what the recording itself measured (Observe, measure.Compute).
	Recorded Recorded
	// Joined are the nodes added during the recording, by scenario node, with when they joined.
	Joined map[string]time.Duration
	// Jobs are the Jobs created during the recording, played as CronJobs that run once.
	Jobs int
	// Changes counts the recorded changes replayed, Unplayed those the scenario cannot replay,
	// by reason.
	Changes  int
	Unplayed map[string]int
}

// Import turns a trace into a scenario: the cluster as it was when the informers had synced (as
// package importer builds it from a snapshot), and the Deployments' (and StatefulSets')
// recorded scaling, rollouts, creations and deletions as spec.changes at their offsets; a node
// deleted during the recording stops at its offset (a GCPChaos node-stop). Deployments created
// during the recording start with 0 replicas and scale up when they were created. A node added
// during the recording is in its pool from the start but held out of it (a node-stop from 0
// whose duration is its offset: the simulator places nothing on it until it joins). A Job
// created during the recording (not by a CronJob) becomes a CronJob that runs it once, in the
// minute of its offset (spec.start is the recording's sync time; schedules have minute
// resolution), with the run time the trace saw.
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
	events, err := podEvents(t.Events)
	if err != nil {
		return nil, err
	}
	// the recorded indicators, meanwhile: they read the events, as the rest does
	var recorded Recorded
	var measured sync.WaitGroup
	measured.Go(func() { recorded = measureTrace(t, events) })
	defer measured.Wait() // on an early return
	// the cluster at sync, and the Deployments first seen after it; an object is its last event
	state := map[string]*Event{}
	var order []string
	set := func(e *Event, k string) {
		if e.Op == OpDelete {
			delete(state, k)
			return
		}
		if _, ok := state[k]; !ok {
			order = append(order, k)
		}
		state[k] = e
	}
	var later []*Event
	var laterKeys []string
	for i := range events {
		e := &events[i]
		if e.Initial || !e.Time.After(t.Synced) {
			set(e, e.key())
		} else {
			later = append(later, e)
			laterKeys = append(laterKeys, e.key())
		}
	}
	joined := map[string]time.Duration{} // cluster node name → offset
	var joinOrder []string
	jobs := map[string]*unstructured.Unstructured{} // namespace/name → the Job as last seen
	var jobOrder []string
	jobAt := map[string]time.Duration{}
	for i, e := range later {
		k, kind := laterKeys[i], e.Kind()
		switch {
		case kind == "Node" && e.Op == OpAdd && state[k] == nil:
			if _, ok := joined[e.Name()]; !ok {
				joined[e.Name()] = e.Time.Sub(t.Synced).Round(time.Millisecond)
				joinOrder = append(joinOrder, k)
				state[k] = e // in its pool from the start, held out until it joins
				order = append(order, k)
			}
		case kind == "Job" && owner(e.Object) != "CronJob" && f.Keep(e.Namespace()) && state[k] == nil && e.Op != OpDelete:
			if _, ok := jobs[k]; !ok {
				jobOrder = append(jobOrder, k)
				jobAt[k] = e.Time.Sub(t.Synced)
			}
			jobs[k] = e.Object
		}
	}
	// the objects at the end of the recording
	final := make(map[string]*Event, len(state))
	for k, e := range state {
		final[k] = e
	}
	for i, e := range later {
		if e.Op == OpDelete {
			delete(final, laterKeys[i])
		} else {
			final[laterKeys[i]] = e
		}
	}
	finalKeys := make([]string, 0, len(final))
	for k := range final {
		finalKeys = append(finalKeys, k)
	}
	sort.Strings(finalKeys)
	pods := 0
	for _, k := range order {
		if e, ok := state[k]; ok && e.Pod != nil {
			pods++
		}
	}
	snap := &importer.Snapshot{Source: "trace " + t.Source + " at " + t.Synced.UTC().Format(time.RFC3339), Filter: f,
		Pods: make([]*corev1.Pod, 0, pods)}
	for _, k := range order {
		e, ok := state[k]
		switch {
		case !ok:
		case e.Pod != nil: // as Snapshot.Add takes it: every pod is kept
			snap.Pods = append(snap.Pods, e.Pod)
		default:
			if err := snap.Add(e.Object); err != nil {
				return nil, fmt.Errorf("%s: %w", k, err)
			}
		}
	}
	added := map[string]bool{}
	for i, e := range later {
		k := laterKeys[i]
		if e.Op == OpAdd && isWorkload(e.Kind()) && state[k] == nil && !added[k] && f.Keep(e.Namespace()) {
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
	for _, k := range jobOrder {
		cj, err := jobAsCronJob(jobs[k], t.Synced.Add(jobAt[k]))
		if err != nil {
			return nil, fmt.Errorf("%s: %w", k, err)
		}
		if err := snap.Add(cj); err != nil {
			return nil, fmt.Errorf("%s: %w", k, err)
		}
	}
	res, err := importer.Build(snap, o)
	if err != nil {
		return nil, err
	}
	r := &Replay{Result: res, Length: length, Unplayed: map[string]int{}, Joined: map[string]time.Duration{}, Jobs: len(jobOrder)}
	start := metav1.NewTime(t.Synced.UTC().Truncate(time.Second))
	r.Scenario.Spec.Start = &start
	for _, k := range joinOrder {
		name := strings.TrimPrefix(k, "Node//")
		sn := res.SimNode[name]
		if sn == "" {
			continue
		}
		r.Joined[sn] = joined[name]
		r.Scenario.Spec.Faults = append(r.Scenario.Spec.Faults, nodeJoin(sn, joined[name]))
		r.Changes++
	}
	if len(jobOrder) > 0 {
		r.Played = append(r.Played, fmt.Sprintf("%d Jobs created during the recording as CronJobs named job-<name> that run once, in the minute of the Job's creation", len(jobOrder)))
	}

	// the changes
	cur := map[string]*unstructured.Unstructured{}
	for k, e := range state {
		if e.Object != nil {
			cur[k] = e.Object
		}
	}
	stopped := map[string]bool{}
	for i, e := range later {
		k, kind := laterKeys[i], e.Kind()
		at := e.Time.Sub(t.Synced).Round(time.Millisecond)
		switch {
		case isWorkload(kind):
			if !f.Keep(e.Namespace()) {
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
			sn, ok := res.SimNode[e.Name()]
			if !ok || stopped[sn] {
				r.Unplayed["Node deleted that was not there when the recording began"]++
				continue
			}
			stopped[sn] = true
			r.Scenario.Spec.Faults = append(r.Scenario.Spec.Faults, nodeStop(sn, at))
			r.Changes++
		case kind == "Node" && e.Op == OpAdd:
			if _, ok := joined[e.Name()]; !ok {
				r.Unplayed["Node added again after its deletion: a scenario node joins once"]++
			}
		case kind == "Job" && e.Op == OpAdd:
			// a run of an imported CronJob (the simulation makes its own), or a Job played as a
			// CronJob that runs once
		case kind == "CronJob" && e.Op == OpAdd:
			r.Unplayed["CronJob created: a scenario cannot create objects during the run"]++
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
	nodesLeft := map[string]bool{}
	for _, e := range final {
		if e.Kind() == "Node" {
			nodesLeft[e.Name()] = true
		}
	}
	var finalPods []*corev1.Pod
	for _, k := range finalKeys {
		if p := final[k].Pod; p != nil && nodesLeft[p.Spec.NodeName] {
			finalPods = append(finalPods, p) // a pod whose node was deleted is gone, whatever the trace last saw
		}
	}
	r.Final = res.PlacedOn(finalPods)
	measured.Wait()
	r.Recorded = recorded
	if n := len(r.Recorded.Startup.Run); n >= MinCalibrationSamples {
		// the kubelet's share (bound to Running) is what models.pods.containerStart stands for
		cs := time.Duration(measure.Quantile(r.Recorded.Startup.Run, 0.5) * float64(time.Second)).Round(time.Millisecond)
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

// nodeJoin is the fault that holds a node added during the recording out of the cluster until
// its offset: a node-stop from 0 for that long (the simulator places nothing on it meanwhile).
func nodeJoin(simNode string, at time.Duration) scenarios.FaultSpec {
	obj := map[string]any{
		"apiVersion": "chaos-mesh.org/v1alpha1", "kind": "GCPChaos",
		"metadata": map[string]any{"name": "joins-" + simNode, "namespace": "chaos-mesh"},
		"spec":     map[string]any{"action": "node-stop", "project": "recorded", "zone": "recorded", "instance": simNode, "duration": max(at, time.Millisecond).String()},
	}
	b, _ := json.Marshal(obj)
	return scenarios.FaultSpec{At: metav1.Duration{}, Object: b}
}

// jobServerLabels are set on a Job's pod template by the API server.
var jobServerLabels = []string{"batch.kubernetes.io/controller-uid", "batch.kubernetes.io/job-name", "controller-uid", "job-name"}

// jobAsCronJob is a CronJob job-<name> that runs the Job once, in the minute of at (UTC), with
// the Job's pod template, backoffLimit and activeDeadlineSeconds, and its run time when the
// trace saw it complete (status.startTime to status.completionTime).
func jobAsCronJob(job *unstructured.Unstructured, at time.Time) (*unstructured.Unstructured, error) {
	spec, _, _ := unstructured.NestedMap(job.Object, "spec")
	tmpl, _, _ := unstructured.NestedMap(spec, "template")
	if tmpl == nil {
		return nil, fmt.Errorf("spec.template: missing; expected the Job's pod template")
	}
	if md, ok := tmpl["metadata"].(map[string]any); ok {
		if l, ok := md["labels"].(map[string]any); ok {
			for _, k := range jobServerLabels {
				delete(l, k)
			}
		}
		delete(md, "creationTimestamp")
	}
	jspec := map[string]any{"template": tmpl}
	for _, k := range []string{"backoffLimit", "activeDeadlineSeconds"} {
		if v, ok := spec[k]; ok {
			jspec[k] = v
		}
	}
	// the first minute boundary at or after the creation: the run cannot start before it
	m := at.UTC().Truncate(time.Minute)
	if m.Before(at) {
		m = m.Add(time.Minute)
	}
	ann := map[string]any{"faultline.dev/recorded-job": job.GetName()}
	started, _, _ := unstructured.NestedString(job.Object, "status", "startTime")
	done, _, _ := unstructured.NestedString(job.Object, "status", "completionTime")
	if s, err1 := time.Parse(time.RFC3339, started); err1 == nil {
		if d, err2 := time.Parse(time.RFC3339, done); err2 == nil && d.After(s) {
			ann["faultline.dev/run-time"] = d.Sub(s).String()
		}
	}
	name := "job-" + job.GetName()
	if len(name) > 52 { // a CronJob's name leaves room for its Jobs' suffix
		name = strings.TrimRight(name[:52], "-.")
	}
	return &unstructured.Unstructured{Object: map[string]any{
		"apiVersion": "batch/v1", "kind": "CronJob",
		"metadata": map[string]any{"name": name, "namespace": job.GetNamespace(), "annotations": ann},
		"spec": map[string]any{
			"schedule":          fmt.Sprintf("%d %d %d %d *", m.Minute(), m.Hour(), m.Day(), int(m.Month())),
			"timeZone":          "Etc/UTC",
			"concurrencyPolicy": "Forbid",
			"jobTemplate":       map[string]any{"spec": jspec},
		},
	}}, nil
}
