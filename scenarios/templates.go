package scenarios

import (
	"bytes"
	"encoding/json"
	"fmt"
	"maps"
	"math/rand/v2"
	"regexp"
	"slices"
	"strconv"
	"strings"

	jsonpatch "github.com/evanphx/json-patch/v5"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/client-go/kubernetes/scheme"
)

// Template is one manifest expanded into Count objects, e.g. 500 CronJobs whose schedules are a
// weighted mix. The expansion draws from its own stream seeded with Seed, written in the file:
// every run seed and every variant sees the same list of objects, as a real cluster receives one
// list. (Drawing from the run seed would make the cluster itself differ between seeds, mixing
// "which cluster" with "what happened to it" in the Monte Carlo spread; what varies per run seed
// is what happens at run time: run times, failures, placement.) A variant or a sweep changes the
// list by patching the template (count, weights, values), never by re-drawing it.
type Template struct {
	// Count is the number of objects.
	Count int `json:"count"`
	// Seed seeds the expansion stream.
	Seed uint64 `json:"seed,omitempty"`
	// Name is the objects' name, with {i} replaced by the index (0-based, zero-padded to the width
	// of Count-1), e.g. "tenant-job-{i}".
	Name string `json:"name"`
	// Fields set values at JSON pointers of each object, drawn by weight.
	Fields []TemplateField `json:"fields,omitempty"`
	// Object is the manifest. Every string in it, and in the chosen field values, may hold {i}
	// and {rand:A-B} (a uniform integer in A..B from the expansion stream).
	Object json.RawMessage `json:"object"`
}

// TemplateField is one field drawn per object.
type TemplateField struct {
	// Path is a JSON pointer such as /spec/schedule or /metadata/annotations/faultline.dev~1run-time.
	Path    string   `json:"path"`
	Choices []Choice `json:"choices"`
}

// Choice is one value of a field with its weight (default 1).
type Choice struct {
	Value  json.RawMessage `json:"value"`
	Weight *float64        `json:"weight,omitempty"`
	// Also sets more fields (JSON pointer → value) with this choice, for values that go together
	// (an every-minute schedule with a short run time). Applied in pointer order, after Value.
	Also map[string]json.RawMessage `json:"also,omitempty"`
}

var randToken = regexp.MustCompile(`\{rand:(\d+)-(\d+)\}`)

// expandTemplates turns spec.templates into objects, in template then index order; it gives up
// with stopped's error once that is not nil.
func expandTemplates(specs []Template, stopped func() error) ([]Object, error) {
	var out []Object
	for ti, tp := range specs {
		fp := fmt.Sprintf("spec.templates[%d]", ti)
		if tp.Count < 0 || tp.Count > MaxTemplateObjects {
			return nil, fmt.Errorf("%s.count: %d; expected 0..%d", fp, tp.Count, MaxTemplateObjects)
		}
		if !strings.Contains(tp.Name, "{i}") && tp.Count > 1 {
			return nil, fmt.Errorf("%s.name: %q; expected {i} in the name so that objects differ", fp, tp.Name)
		}
		var tm metav1.TypeMeta
		if err := json.Unmarshal(tp.Object, &tm); err != nil || tm.Kind == "" || tm.APIVersion == "" {
			return nil, fmt.Errorf("%s.object: expected a Kubernetes manifest with apiVersion and kind", fp)
		}
		gv, err := schema.ParseGroupVersion(tm.APIVersion)
		if err != nil {
			return nil, fmt.Errorf("%s.object.apiVersion: %v", fp, err)
		}
		gvk := gv.WithKind(tm.Kind)
		object := tp.Object
		var top map[string]json.RawMessage
		if err := json.Unmarshal(object, &top); err == nil && top["metadata"] == nil {
			top["metadata"] = json.RawMessage("{}")
			object, _ = json.Marshal(top)
		}
		if _, err := scheme.Scheme.New(gvk); err != nil {
			return nil, fmt.Errorf("%s.object.kind: %s %s is not a known Kubernetes type", fp, tm.APIVersion, tm.Kind)
		}
		totals := make([]float64, len(tp.Fields))
		for fi, f := range tp.Fields {
			if len(f.Choices) == 0 {
				return nil, fmt.Errorf("%s.fields[%d].choices: expected at least one choice", fp, fi)
			}
			for ci, c := range f.Choices {
				if w := weight(c); !(w >= 0 && w <= MaxChoiceWeight) {
					return nil, fmt.Errorf("%s.fields[%d].choices[%d].weight: %g; expected a weight from 0 to %g", fp, fi, ci, w, float64(MaxChoiceWeight))
				}
				totals[fi] += weight(c)
			}
			if totals[fi] == 0 {
				return nil, fmt.Errorf("%s.fields[%d].choices: every weight is 0", fp, fi)
			}
		}
		// two streams: choices, and the {rand} tokens, so that jittering a value (a variant)
		// does not change which object draws which choice
		rng := rand.New(rand.NewPCG(tp.Seed, 0x7e3a1a7e))
		tok := rand.New(rand.NewPCG(tp.Seed, 0x70c3e5))
		deals := make([][]int, len(tp.Fields))
		for fi, f := range tp.Fields {
			deals[fi] = deal(f.Choices, totals[fi], tp.Count, rng)
		}
		width := len(strconv.Itoa(max(tp.Count-1, 0)))
		for i := range tp.Count {
			if i%1024 == 0 {
				if err := stopped(); err != nil {
					return nil, err
				}
			}
			idx := fmt.Sprintf("%0*d", width, i)
			doc := substitute(object, idx, tok)
			ops := []map[string]any{{"op": "add", "path": "/metadata/name", "value": strings.ReplaceAll(tp.Name, "{i}", idx)}}
			for fi, f := range tp.Fields {
				c := f.Choices[deals[fi][i]]
				ops = append(ops, map[string]any{"op": "add", "path": f.Path, "value": json.RawMessage(substitute(c.Value, idx, tok))})
				for _, k := range slices.Sorted(maps.Keys(c.Also)) {
					ops = append(ops, map[string]any{"op": "add", "path": k, "value": json.RawMessage(substitute(c.Also[k], idx, tok))})
				}
			}
			raw, _ := json.Marshal(ops)
			p, err := jsonpatch.DecodePatch(raw)
			if err != nil {
				return nil, fmt.Errorf("%s.fields: %v", fp, err)
			}
			doc, err = p.Apply(doc)
			if err != nil {
				return nil, fmt.Errorf("%s: %v (the parents of every field path must exist in the object)", fp, err)
			}
			obj, _ := scheme.Scheme.New(gvk)
			if err := strictJSON(doc, obj); err != nil {
				return nil, fmt.Errorf("%s: object %d is not a valid %s: %v", fp, i, gvk.Kind, err)
			}
			obj.GetObjectKind().SetGroupVersionKind(gvk)
			mo := obj.(metav1.Object)
			ns := mo.GetNamespace()
			if ns == "" && namespaced(gvk) {
				ns = "default"
			}
			out = append(out, Object{GVK: gvk, Namespace: ns, Name: mo.GetName(), JSON: doc, Obj: obj, Where: fmt.Sprintf("%s #%d", fp, i)})
		}
	}
	return out, nil
}

func weight(c Choice) float64 {
	if c.Weight == nil {
		return 1
	}
	return *c.Weight
}

// deal gives each of n objects a choice: exactly the weights' shares of n (largest remainder
// for the rounding), in an order shuffled by rng. A mix written as 300:150:50 over 500 objects
// is exactly 300, 150 and 50. A choice with weight 0 is never given; one without a weight
// counts 1.
func deal(cs []Choice, total float64, n int, rng *rand.Rand) []int {
	quota := make([]int, len(cs))
	rem := make([]float64, len(cs))
	left := n
	for i, c := range cs {
		q := float64(n) * weight(c) / total
		quota[i] = int(q)
		rem[i] = q - float64(quota[i])
		left -= quota[i]
	}
	for ; left > 0; left-- {
		best := 0
		for i := range rem {
			if rem[i] > rem[best] {
				best = i
			}
		}
		quota[best]++
		rem[best] = -1
	}
	out := make([]int, 0, n)
	for i, q := range quota {
		for range q {
			out = append(out, i)
		}
	}
	rng.Shuffle(len(out), func(i, j int) { out[i], out[j] = out[j], out[i] })
	return out
}

// substitute replaces {i} and {rand:A-B} in a JSON document's text. Draws happen in text order,
// so the expansion is a pure function of the template and its seed.
func substitute(doc []byte, idx string, rng *rand.Rand) []byte {
	doc = bytes.ReplaceAll(doc, []byte("{i}"), []byte(idx))
	return randToken.ReplaceAllFunc(doc, func(m []byte) []byte {
		sm := randToken.FindSubmatch(m)
		a, errA := strconv.Atoi(string(sm[1]))
		b, errB := strconv.Atoi(string(sm[2]))
		if errA != nil || errB != nil || a > MaxRandBound || b > MaxRandBound {
			return m // refused by the limits (randLimits) before any expansion
		}
		if b < a {
			a, b = b, a
		}
		return []byte(strconv.Itoa(a + rng.IntN(b-a+1)))
	})
}
