package importer

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	goruntime "runtime"
	"sort"
	"strings"
	"sync"
	"sync/atomic"

	"sigs.k8s.io/yaml"

	"github.com/faultline-dev/faultline/scenarios"
)

// Write writes the scenario folder: scenario.yaml, manifests.yaml, nodes.csv (which cluster node
// each scenario node stands for) and README.md (what was imported, left out, and why).
func (r *Result) Write(dir string) error {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return err
	}
	// the YAML, most of writing, on every core: the manifests one by one, the two scenario files
	// each whole
	docs := make([][]byte, len(r.Manifests)+2) // the manifests, scenario.yaml, what-ifs.yaml
	errs := make([]error, len(docs))
	var next atomic.Int64
	var wg sync.WaitGroup
	for range goruntime.GOMAXPROCS(0) {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				i := int(next.Add(1) - 1)
				switch {
				case i == 0: // the largest first
					if len(r.WhatIfs) > 0 {
						w := r.Scenario
						w.Metadata.Name += "-what-ifs"
						w.Spec.Variants = append(append([]scenarios.VariantSpec(nil), w.Spec.Variants...), r.WhatIfs...)
						docs[len(docs)-1], errs[len(docs)-1] = scenarioYAML(w, "# Written by faultline import: scenario.yaml with what-if variants for capacity planning.\n")
					}
				case i == 1:
					docs[len(docs)-2], errs[len(docs)-2] = scenarioYAML(r.Scenario, "# Written by faultline import; see README.md for what was imported and left out.\n")
				case i < len(docs):
					u := r.Manifests[i-2]
					if docs[i-2], errs[i-2] = yaml.Marshal(u.Object); errs[i-2] != nil {
						errs[i-2] = fmt.Errorf("%s %s/%s: %w", u.GetKind(), u.GetNamespace(), u.GetName(), errs[i-2])
					}
				default:
					return
				}
			}
		}()
	}
	wg.Wait()
	if err := errors.Join(errs...); err != nil {
		return err
	}
	sc := docs[len(docs)-2]
	var man bytes.Buffer
	for i, b := range docs[:len(r.Manifests)] {
		if i > 0 {
			man.WriteString("---\n")
		}
		man.Write(b)
	}
	var nodes bytes.Buffer
	nodes.WriteString("node,scenarioNode,pool,zone\n")
	for _, p := range r.Pools {
		for i, n := range p.Nodes {
			zone := ""
			if len(p.Zones) > 0 {
				zone = p.Zones[i%len(p.Zones)]
			}
			fmt.Fprintf(&nodes, "%s,%s-%d,%s,%s\n", n, p.Name, i+1, p.Name, zone)
		}
	}
	files := map[string][]byte{"scenario.yaml": sc, "nodes.csv": nodes.Bytes(), "README.md": []byte(r.readme())}
	if len(r.Manifests) > 0 {
		files["manifests.yaml"] = man.Bytes()
	}
	if len(r.WhatIfs) > 0 {
		files["what-ifs.yaml"] = docs[len(docs)-1]
	}
	for name, b := range files {
		if err := os.WriteFile(filepath.Join(dir, name), b, 0o644); err != nil {
			return err
		}
	}
	return nil
}

// scenarioYAML marshals the scenario without the empty fields metav1 types write as null.
func scenarioYAML(f scenarios.File, header string) ([]byte, error) {
	b, err := json.Marshal(f)
	if err != nil {
		return nil, err
	}
	var m map[string]any
	if err := json.Unmarshal(b, &m); err != nil {
		return nil, err
	}
	if md, ok := m["metadata"].(map[string]any); ok {
		delete(md, "creationTimestamp")
	}
	out, err := yaml.Marshal(m)
	if err != nil {
		return nil, err
	}
	return append([]byte(header), out...), nil
}

// readme is the folder's README stub.
func (r *Result) readme() string {
	var b strings.Builder
	fmt.Fprintf(&b, "# %s\n\nImported by `faultline import` from `%s`. Run it with `faultline run %s` (the folder);\n"+
		"compare its placement with the cluster's with `faultline import ... --check`. `what-ifs.yaml` is the same\n"+
		"scenario with what-if variants (each zone down, two nodes lost, 50 %% more load): `faultline run %s/what-ifs.yaml`.\n\n", r.Scenario.Metadata.Name, r.Source, "DIR", "DIR")
	b.WriteString("## Imported\n\n")
	total := 0
	for _, p := range r.Pools {
		total += p.Count
	}
	fmt.Fprintf(&b, "- %d nodes in %d pools (grouped by instance type, allocatable CPU and memory, taints and labels; "+
		"a group with unequal counts per zone is split per zone). `nodes.csv` maps each cluster node to its scenario node.\n", total, len(r.Pools))
	for _, p := range r.Pools {
		cpu, mem := p.Capacity["cpu"], p.Capacity["memory"]
		fmt.Fprintf(&b, "  - `%s`: %d nodes, cpu %s, memory %s, zones %v, %d taints\n", p.Name, p.Count, cpu.String(), mem.String(), p.Zones, len(p.Taints))
	}
	var kinds []string
	for k := range r.Imported {
		kinds = append(kinds, k)
	}
	sort.Strings(kinds)
	var parts []string
	for _, k := range kinds {
		parts = append(parts, fmt.Sprintf("%d %s", r.Imported[k], k))
	}
	if len(parts) > 0 {
		fmt.Fprintf(&b, "- manifests (`manifests.yaml`, stripped of status, managed fields and server-set metadata): %s\n", strings.Join(parts, ", "))
	}
	for _, n := range r.Notes {
		fmt.Fprintf(&b, "- %s\n", n)
	}
	if len(r.Played) > 0 {
		b.WriteString("\n## Played differently\n\n")
		for _, p := range r.Played {
			fmt.Fprintf(&b, "- %s\n", p)
		}
	}
	b.WriteString("\n## Left out\n\n")
	if len(r.LeftOut) == 0 {
		b.WriteString("Nothing.\n")
	}
	byWhy := map[string][]string{}
	var whys []string
	for _, o := range r.LeftOut {
		key := o.Kind + ": " + o.Why
		if byWhy[key] == nil {
			whys = append(whys, key)
		}
		name := o.Name
		if o.Namespace != "" {
			name = o.Namespace + "/" + o.Name
		}
		byWhy[key] = append(byWhy[key], name)
	}
	for _, w := range whys {
		fmt.Fprintf(&b, "- %s (%d): %s\n", w, len(byWhy[w]), trimList(byWhy[w], 10))
	}
	b.WriteString("\nNever read: Secrets and ConfigMaps (a scenario needs neither). Not modelled by the simulator at all:\n" +
		"persistent volumes, resource quotas, limit ranges, autoscalers (HPA, cluster autoscaler), preemption.\n")
	return b.String()
}
