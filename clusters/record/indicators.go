package record

// The recording's own indicators. This file is small on purpose: when the shared observation
// contract lands (one package that turns observations of any world into indicator values), the
// trace becomes observations and this file goes.

import (
	"slices"
	"time"

	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
)

// StartUp is the start-up of pods created during a recording (scaling, rollouts): the seconds
// from a pod first observed to first observed Running.
type StartUp struct {
	Seconds []float64
}

// Quantile is the q-quantile (nearest rank) of the start-up times; 0 when there are none.
func (s StartUp) Quantile(q float64) float64 { return quantile(s.Seconds, q) }

// quantile is the nearest-rank q-quantile of xs.
func quantile(xs []float64, q float64) float64 {
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
	seen := map[string]time.Time{}
	var out StartUp
	for _, e := range t.Events {
		if e.Object.GetKind() != "Pod" || e.Op == OpDelete {
			continue
		}
		k := key(e.Object)
		first, ok := seen[k]
		if !ok {
			if e.Op != OpAdd || e.Initial || !e.Time.After(t.Synced) || owner(e.Object) != "ReplicaSet" {
				seen[k] = time.Time{} // there before the recording, or not a Deployment's pod
				continue
			}
			seen[k], first = e.Time, e.Time
		}
		if first.IsZero() {
			continue
		}
		if phase, _, _ := unstructured.NestedString(e.Object.Object, "status", "phase"); phase == "Running" {
			out.Seconds = append(out.Seconds, e.Time.Sub(first).Seconds())
			seen[k] = time.Time{}
		}
	}
	return out
}
