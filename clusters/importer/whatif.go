package importer

import (
	"encoding/json"
	"fmt"
	"sort"
	"time"

	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/faultline-dev/faultline/scenarios"
	"github.com/faultline-dev/faultline/sim"
)

// WhatIfAt is when the what-if variants' faults strike: after the imported workloads have settled.
const WhatIfAt = 10 * time.Minute

// AddWhatIfs sets WhatIfs to the capacity planner's usual questions, each a patch of the scenario
// spec, written as a second scenario file (what-ifs.yaml) so that scenario.yaml stays free to
// sweep over its pools' counts (a what-if names nodes that a smaller pool would not have): every zone lost in turn (down-ZONE: its nodes stop at
// WhatIfAt), two nodes of the largest pool lost, and the load 50 % higher. A resized pool needs no
// variant: `--set 'spec.cluster.nodePools[I].count=N'`, or a sweep over the count. The faults the
// scenario already has (a recording's node deletions) stay in every variant.
func (r *Result) AddWhatIfs() error {
	spec := &r.Scenario.Spec
	r.WhatIfs = nil
	if spec.Duration.Duration <= WhatIfAt {
		return nil
	}
	var variants []scenarios.VariantSpec
	byZone := map[string][]string{}
	var zones []string
	for _, p := range r.Pools {
		for i := range p.Nodes {
			if len(p.Zones) == 0 {
				continue
			}
			z := p.Zones[i%len(p.Zones)]
			if byZone[z] == nil {
				zones = append(zones, z)
			}
			byZone[z] = append(byZone[z], fmt.Sprintf("%s-%d", p.Name, i+1))
		}
	}
	sort.Strings(zones)
	if len(zones) > 1 {
		for _, z := range zones {
			v, err := r.stopNodes("down-"+DNSLabel(z), fmt.Sprintf("zone %s is lost at %v: its %d nodes stop", z, WhatIfAt, len(byZone[z])), byZone[z])
			if err != nil {
				return err
			}
			variants = append(variants, v)
		}
	}
	largest := -1
	for i, p := range r.Pools {
		if largest < 0 || p.Count > r.Pools[largest].Count {
			largest = i
		}
	}
	if p := r.Pools[largest]; p.Count > 2 {
		nodes := []string{fmt.Sprintf("%s-%d", p.Name, p.Count-1), fmt.Sprintf("%s-%d", p.Name, p.Count)}
		v, err := r.stopNodes("lose-2-nodes", fmt.Sprintf("two nodes of pool %s (%v) stop at %v", p.Name, nodes, WhatIfAt), nodes)
		if err != nil {
			return err
		}
		variants = append(variants, v)
	}
	if len(spec.Load) > 0 {
		load := make([]sim.Load, len(spec.Load))
		for i, l := range spec.Load {
			l.CPUPerReplica = *resource.NewMilliQuantity(l.CPUPerReplica.MilliValue()*3/2, resource.DecimalSI)
			l.RequestsPerSecond *= 1.5
			load[i] = l
		}
		b, err := json.Marshal(map[string]any{"load": load})
		if err != nil {
			return err
		}
		variants = append(variants, scenarios.VariantSpec{Name: "load-plus-50", Description: "every workload uses 50 % more CPU (and gets 50 % more requests)",
			Patches: []scenarios.Patch{{Target: "spec", Type: "merge", Patch: b}}})
	}
	r.WhatIfs = variants
	return nil
}

// stopNodes is a variant whose nodes stop at WhatIfAt, on top of the scenario's own faults.
func (r *Result) stopNodes(name, desc string, nodes []string) (scenarios.VariantSpec, error) {
	faults := append([]scenarios.FaultSpec(nil), r.Scenario.Spec.Faults...)
	for _, n := range nodes {
		obj, err := json.Marshal(map[string]any{
			"apiVersion": "chaos-mesh.org/v1alpha1", "kind": "GCPChaos",
			"metadata": map[string]any{"name": name + "-" + n, "namespace": "chaos-mesh"},
			"spec":     map[string]any{"action": "node-stop", "project": "what-if", "zone": "what-if", "instance": n},
		})
		if err != nil {
			return scenarios.VariantSpec{}, err
		}
		faults = append(faults, scenarios.FaultSpec{At: metav1Duration(WhatIfAt), Object: obj})
	}
	b, err := json.Marshal(map[string]any{"faults": faults})
	if err != nil {
		return scenarios.VariantSpec{}, err
	}
	return scenarios.VariantSpec{Name: name, Description: desc, Patches: []scenarios.Patch{{Target: "spec", Type: "merge", Patch: b}}}, nil
}

func metav1Duration(d time.Duration) metav1.Duration { return metav1.Duration{Duration: d} }
