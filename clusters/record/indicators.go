package record

// The recording's own indicators. This file is small on purpose: when the shared observation
// contract lands (one package that turns observations of any world into indicator values), the
// trace becomes observations and this file goes.

import (
	"slices"
	"time"

	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
)

// StartUp is the start-up of the Deployments' pods created during a recording (scaling,
// rollouts), in seconds per pod: Seconds from first observed to first observed Running, split
// into Bind (first observed to first observed with a node) and Run (with a node to Running).
type StartUp struct {
	Seconds, Bind, Run []float64
}

// Quantile is the q-quantile (nearest rank) of the start-up times; 0 when there are none.
func (s StartUp) Quantile(q float64) float64 { return Quantile(s.Seconds, q) }

// Quantile is the nearest-rank q-quantile of xs; 0 when xs is empty.
func Quantile(xs []float64, q float64) float64 {
	if len(xs) == 0 {
		return 0
	}
	s := slices.Clone(xs)
	slices.Sort(s)
	i := int(q*float64(len(s))+0.5) - 1
	return s[max(0, min(i, len(s)-1))]
}

// recordedStartUp measures StartUp for the pods of ReplicaSets first added after the sync.
func recordedStartUp(t *Trace) StartUp {
	type seen struct{ first, bound time.Time }
	pods := map[string]*seen{}
	var out StartUp
	for _, e := range t.Events {
		if e.Object.GetKind() != "Pod" || e.Op == OpDelete {
			continue
		}
		k := key(e.Object)
		s, ok := pods[k]
		if !ok {
			s = &seen{}
			pods[k] = s
			if e.Op == OpAdd && !e.Initial && e.Time.After(t.Synced) && owner(e.Object) == "ReplicaSet" {
				s.first = e.Time
			}
		}
		if s.first.IsZero() {
			continue // there before the recording, done, or not a Deployment's pod
		}
		if node, _, _ := unstructured.NestedString(e.Object.Object, "spec", "nodeName"); node != "" && s.bound.IsZero() {
			s.bound = e.Time
		}
		if phase, _, _ := unstructured.NestedString(e.Object.Object, "status", "phase"); phase == "Running" && !s.bound.IsZero() {
			out.Seconds = append(out.Seconds, e.Time.Sub(s.first).Seconds())
			out.Bind = append(out.Bind, s.bound.Sub(s.first).Seconds())
			out.Run = append(out.Run, e.Time.Sub(s.bound).Seconds())
			s.first = time.Time{}
		}
	}
	return out
}
