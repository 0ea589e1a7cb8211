package scenarios

import (
	"bytes"
	"cmp"
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"math"
	"slices"
	"strconv"
	"strings"
	"time"

	"k8s.io/apimachinery/pkg/api/resource"

	"github.com/faultline-dev/faultline/scenarios/internal/locate"
)

// The limits a scenario is held to. They are checked when a scenario is loaded, patched or set,
// before anything is sized by them, so that a typo of a few zeros is a located error instead of
// an allocation of gigabytes or a panic. Each is far above what the library uses (README, Limits).
const (
	// MaxSeeds is the most seeds one run takes (spec.seeds, --seeds, --max-seeds).
	MaxSeeds = 1_000_000
	// MaxNodes is the most nodes a cluster has, over every pool.
	MaxNodes = 10_000
	// MaxReplicas is the most replicas (or Job parallelism or completions) one object asks for.
	MaxReplicas = 10_000
	// MaxPods is the most pods the workloads of a scenario ask for together (the sum of replicas).
	MaxPods = 200_000
	// MaxTemplateObjects is the most objects the templates of a scenario expand to, together.
	MaxTemplateObjects = 100_000
	// MaxChoiceWeight is the largest weight of a template choice.
	MaxChoiceWeight = 1e9
	// MaxRandBound is the largest bound of a {rand:A-B} token.
	MaxRandBound = 1_000_000_000
	// MaxRequestsPerSecond is the largest nominal request rate of a load.
	MaxRequestsPerSecond = 1e7
	// MaxCPUCores is the largest CPU quantity anywhere (capacity, requests, limits, load), in cores.
	MaxCPUCores = 100_000
	// MaxMemoryBytes is the largest memory quantity anywhere: 1 PiB.
	MaxMemoryBytes = 1 << 50
	// MaxPort is the largest port number; ports are 0..MaxPort.
	MaxPort = 65535
	// MaxDuration is the longest simulated run (spec.duration).
	MaxDuration = 366 * 24 * time.Hour
)

// CheckSeeds checks a seed range from the command line: count in 1..MaxSeeds and first+count-1
// representable, so that seed numbers never wrap.
func CheckSeeds(first uint64, count int) error {
	if count < 1 || count > MaxSeeds {
		return fmt.Errorf("--seeds %d: expected 1..%d", count, MaxSeeds)
	}
	if first > math.MaxUint64-uint64(count-1) {
		return fmt.Errorf("--seed %d with --seeds %d: the last seed would pass %d; expected a smaller first seed", first, count, uint64(math.MaxUint64))
	}
	return nil
}

// reportFunc builds a located error for a field path.
type reportFunc func(fieldPath, format string, args ...any) error

// specLimits checks the numbers of a spec against the limits above and returns every problem.
func specLimits(sp *Spec, at reportFunc) []error {
	var errs []error
	add := func(err error) { errs = append(errs, err) }
	if sp.Seeds > MaxSeeds {
		add(at("spec.seeds", "%d; expected at most %d seeds", sp.Seeds, MaxSeeds))
	}
	if sp.Duration.Duration > MaxDuration {
		add(at("spec.duration", "%v; expected at most %v", sp.Duration.Duration, MaxDuration))
	}
	nodes := 0
	for i, p := range sp.Cluster.NodePools {
		fp := fmt.Sprintf("spec.cluster.nodePools[%d]", i)
		if p.Count > MaxNodes {
			add(at(fp+".count", "%d; expected at most %d nodes", p.Count, MaxNodes))
		} else if p.Count > 0 {
			nodes += p.Count
		}
		for _, name := range sortedKeys(p.Capacity) {
			q := p.Capacity[name]
			if err := quantityLimit(string(name), &q); err != nil {
				add(at(fp+".capacity."+string(name), "%v", err))
			}
		}
	}
	if nodes > MaxNodes {
		add(at("spec.cluster.nodePools", "%d nodes in all; expected at most %d", nodes, MaxNodes))
	}
	objects := 0
	for ti, tp := range sp.Templates {
		fp := fmt.Sprintf("spec.templates[%d]", ti)
		if tp.Count < 0 || tp.Count > MaxTemplateObjects {
			add(at(fp+".count", "%d; expected 0..%d", tp.Count, MaxTemplateObjects))
		} else {
			objects += tp.Count
		}
		for fi, f := range tp.Fields {
			for ci, c := range f.Choices {
				if w := weight(c); !(w >= 0 && w <= MaxChoiceWeight) {
					add(at(fmt.Sprintf("%s.fields[%d].choices[%d].weight", fp, fi, ci), "%g; expected a weight from 0 to %g", w, float64(MaxChoiceWeight)))
				}
				if err := randLimits(c.Value); err != nil {
					add(at(fmt.Sprintf("%s.fields[%d].choices[%d].value", fp, fi, ci), "%v", err))
				}
			}
		}
		if err := randLimits(tp.Object); err != nil {
			add(at(fp+".object", "%v", err))
		}
		errs = append(errs, objectLimits(tp.Object, fp+".object", at)...)
	}
	if objects > MaxTemplateObjects {
		add(at("spec.templates", "%d objects in all; expected at most %d", objects, MaxTemplateObjects))
	}
	for i, l := range sp.Load {
		fp := fmt.Sprintf("spec.load[%d]", i)
		if r := l.RequestsPerSecond; !(r >= 0 && r <= MaxRequestsPerSecond) {
			add(at(fp+".requestsPerSecond", "%g; expected a rate from 0 to %g", r, float64(MaxRequestsPerSecond)))
		}
		if err := quantityLimit("cpu", &l.CPUPerReplica); err != nil {
			add(at(fp+".cpuPerReplica", "%v", err))
		}
		if err := quantityLimit("cpu", &l.CPUIdle); err != nil {
			add(at(fp+".cpuIdle", "%v", err))
		}
	}
	return errs
}

// randLimits checks the {rand:A-B} tokens of a template document.
func randLimits(doc []byte) error {
	for _, m := range randToken.FindAllSubmatch(doc, -1) {
		for _, b := range m[1:] {
			if n, err := strconv.ParseUint(string(b), 10, 64); err != nil || n > MaxRandBound {
				return fmt.Errorf("%s: bound %s; expected bounds from 0 to %d", m[0], b, MaxRandBound)
			}
		}
	}
	return nil
}

// quantityLimit checks one resource quantity: not negative, and cpu and memory within bounds.
func quantityLimit(name string, q *resource.Quantity) error {
	if q.Sign() < 0 {
		return fmt.Errorf("%s; expected a quantity >= 0", q.String())
	}
	switch name {
	case "cpu":
		if q.Cmp(*resource.NewQuantity(MaxCPUCores, resource.DecimalSI)) > 0 {
			return fmt.Errorf("%s; expected at most %d cores", q.String(), MaxCPUCores)
		}
	case "memory":
		if q.Cmp(*resource.NewQuantity(MaxMemoryBytes, resource.BinarySI)) > 0 {
			return fmt.Errorf("%s; expected at most 1Pi", q.String())
		}
	}
	return nil
}

// objectLimits checks the numbers of one manifest (as JSON) that size what the simulator builds
// or that no Kubernetes API server would take: replicas, Job parallelism and completions, ports,
// and the quantities of resources requests and limits. base is the manifest's field path.
func objectLimits(raw []byte, base string, at reportFunc) []error {
	var doc any
	dec := json.NewDecoder(bytes.NewReader(raw))
	dec.UseNumber()
	if dec.Decode(&doc) != nil {
		return nil // not JSON: the decoder of the manifest reports it
	}
	var errs []error
	var walk func(v any, fp, key, parent string)
	walk = func(v any, fp, key, parent string) {
		switch x := v.(type) {
		case map[string]any:
			for _, k := range sortedKeys(x) {
				walk(x[k], locate.JoinKey(fp, k), k, key)
			}
			if (key == "requests" || key == "limits") && parent == "resources" {
				for _, name := range sortedKeys(x) {
					s, ok := x[name].(string)
					if n, isNum := x[name].(json.Number); isNum {
						s, ok = n.String(), true
					}
					if !ok {
						continue
					}
					q, err := resource.ParseQuantity(s)
					if err != nil {
						continue // the strict decoder reports it
					}
					if err := quantityLimit(name, &q); err != nil {
						errs = append(errs, at(locate.JoinKey(fp, name), "%v", err))
					}
				}
			}
		case []any:
			for i, e := range x {
				walk(e, fp+"["+strconv.Itoa(i)+"]", key, parent)
			}
		case json.Number:
			switch {
			case key == "replicas" || key == "parallelism" || key == "completions":
				if n, err := x.Int64(); err != nil || n < 0 || n > MaxReplicas {
					errs = append(errs, at(fp, "%s; expected 0..%d", x, MaxReplicas))
				}
			case key == "port" || strings.HasSuffix(key, "Port") || key == "number" && parent == "port":
				if n, err := x.Int64(); err != nil || n < 0 || n > MaxPort {
					errs = append(errs, at(fp, "%s; expected a port from 0 to %d", x, MaxPort))
				}
			}
		}
	}
	walk(doc, base, "", "")
	return errs
}

// podBudget sums what the objects ask for in replicas and checks it against MaxPods.
func podBudget(objs []Object) error {
	total := int64(0)
	for _, o := range objs {
		var d struct {
			Spec struct {
				Replicas    *int64 `json:"replicas"`
				Parallelism *int64 `json:"parallelism"`
			} `json:"spec"`
		}
		if json.Unmarshal(o.JSON, &d) != nil {
			continue
		}
		for _, n := range []*int64{d.Spec.Replicas, d.Spec.Parallelism} {
			if n != nil && *n > 0 {
				total += min(*n, MaxReplicas+1)
			}
		}
	}
	if total > MaxPods {
		return fmt.Errorf("the workloads ask for %d pods in all; expected at most %d", total, MaxPods)
	}
	return nil
}

// joinErrors is errors.Join that keeps a single error as it is.
func joinErrors(errs []error) error {
	switch len(errs) {
	case 0:
		return nil
	case 1:
		return errs[0]
	}
	return errors.Join(errs...)
}

func sortedKeys[M ~map[K]V, K cmp.Ordered, V any](m M) []K { return slices.Sorted(maps.Keys(m)) }
