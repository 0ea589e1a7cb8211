package scenarios

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"sync"

	jsonpatch "github.com/evanphx/json-patch/v5"
	"k8s.io/apimachinery/pkg/util/strategicpatch"
	"k8s.io/apimachinery/pkg/util/validation/field"
	"k8s.io/client-go/kubernetes/scheme"

	"github.com/faultline-dev/faultline/sim"
)

// BaselineName is the variant name that marks the baseline explicitly.
const BaselineName = "baseline"

// Variant is a scenario with one variant's patches applied.
type Variant struct {
	Name        string
	Description string
	Spec        Spec // spec after "spec" patches
	Objects     []Object
	Faults      []Fault
	Models      sim.Models
}

// VariantNames lists the variants in file order; a scenario without variants has one, "baseline".
func (s *Scenario) VariantNames() []string {
	if len(s.Spec.Spec.Variants) == 0 {
		return []string{BaselineName}
	}
	out := make([]string, len(s.Spec.Spec.Variants))
	for i, v := range s.Spec.Spec.Variants {
		out[i] = v.Name
	}
	return out
}

// Baseline is the variant named "baseline", else the first.
func (s *Scenario) Baseline() string {
	names := s.VariantNames()
	for _, n := range names {
		if n == BaselineName {
			return n
		}
	}
	return names[0]
}

// checkVariants builds every variant once, which checks it. Variant then builds a variant on its
// first call and hands out copies of it afterwards, instead of patching, decoding and checking it
// again per run (the JSON decoding of the limits and templates was ~10 % of a replay's
// instructions). Only the variants asked for are kept: keeping all of them cost ~40 MB of peak
// memory on a 500-CronJob scenario that runs one.
func (s *Scenario) checkVariants() error {
	s.built = &variantCache{} // a copy made by Set builds its own
	seen := map[string]bool{}
	for i, v := range s.Spec.Spec.Variants {
		fp := fmt.Sprintf("spec.variants[%d]", i)
		if v.Name == "" {
			return s.at(fp+".name", "missing; expected a variant name")
		}
		if seen[v.Name] {
			return s.at(fp+".name", "variant %q is defined twice", v.Name)
		}
		seen[v.Name] = true
		if _, err := s.variant(i); err != nil {
			return err
		}
	}
	if len(s.Spec.Spec.Variants) == 0 {
		if _, err := s.variant(-1); err != nil {
			return err
		}
	}
	return nil
}

// variantCache holds the variants Variant built, by index (-1: the implicit baseline).
type variantCache struct {
	mu sync.Mutex
	v  map[int]*Variant
}

// cachedVariant is a copy of variant i, built on the first call. The copy has its own object and
// fault slices; the decoded objects and the spec's slices are shared read-only, as a fresh build
// shares them with the scenario's own.
func (s *Scenario) cachedVariant(i int) (*Variant, error) {
	c := s.built
	if c == nil { // a Scenario not made by loading
		return s.variant(i)
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	v, ok := c.v[i]
	if !ok {
		b, err := s.variant(i)
		if err != nil {
			return nil, err
		}
		if c.v == nil {
			c.v = map[int]*Variant{}
		}
		c.v[i], v = b, b
	}
	cp := *v
	cp.Objects = slices.Clone(v.Objects)
	cp.Faults = slices.Clone(v.Faults)
	return &cp, nil
}

// Variant applies the named variant's patches.
func (s *Scenario) Variant(name string) (*Variant, error) {
	if len(s.Spec.Spec.Variants) == 0 && name == BaselineName {
		return s.cachedVariant(-1)
	}
	for i, v := range s.Spec.Spec.Variants {
		if v.Name == name {
			return s.cachedVariant(i)
		}
	}
	return nil, fmt.Errorf("%s: no variant %q; the scenario has %s", s.File, name, strings.Join(s.VariantNames(), ", "))
}

// variant builds variant i (-1: the implicit baseline of a file without variants).
func (s *Scenario) variant(i int) (*Variant, error) {
	if err := s.stopped(); err != nil {
		return nil, err
	}
	v := &Variant{Name: BaselineName, Spec: s.Spec.Spec, Objects: append([]Object(nil), s.Objects...)}
	var patches []Patch
	if i >= 0 {
		vs := s.Spec.Spec.Variants[i]
		v.Name, v.Description, patches = vs.Name, vs.Description, vs.Patches
	}
	specPatched := false
	for j, p := range patches {
		fp := fmt.Sprintf("spec.variants[%d].patches[%d]", i, j)
		if len(p.Patch) == 0 {
			return nil, s.at(fp+".patch", "missing; expected the patch document")
		}
		if p.Target == "spec" {
			spec, err := patchSpec(v.Spec, p)
			if err != nil {
				return nil, s.at(fp, "%v", err)
			}
			v.Spec = spec
			specPatched = true
			continue
		}
		idx, err := findObject(v.Objects, p.Target)
		if err != nil {
			return nil, s.at(fp+".target", "%v", err)
		}
		o, err := patchObject(v.Objects[idx], p)
		if err != nil {
			return nil, s.at(fp+".patch", "%v", err)
		}
		v.Objects[idx] = o
	}
	report := s.at
	if specPatched {
		// errors in a patched spec belong to the variant, not to the lines of the base file
		name := v.Name
		report = func(field, format string, args ...any) error {
			return s.variantErr(i, fmt.Sprintf("spec.variants[%d] (%s) -> %s", i, name, field), fmt.Sprintf(format, args...))
		}
	}
	// the limits before anything is built from the numbers: patches and sets may change them
	if err := s.variantLimits(i, v, report); err != nil {
		return nil, err
	}
	expanded, err := expandTemplates(v.Spec.Templates, s.stopped)
	if errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded) {
		return nil, err
	}
	if err != nil {
		if i < 0 || !specPatched {
			return nil, s.at("spec.templates", "%v", err)
		}
		return nil, s.variantErr(i, fmt.Sprintf("spec.variants[%d] (%s)", i, v.Name), err.Error())
	}
	if len(expanded) > 0 {
		seen := make(map[string]bool, len(v.Objects)+len(expanded))
		for _, o := range v.Objects {
			seen[o.Ref()] = true
		}
		for _, o := range expanded {
			if seen[o.Ref()] {
				return nil, s.at("spec.templates", "%s is defined twice (a template expands to a name already in use)", o.Ref())
			}
			seen[o.Ref()] = true
		}
		v.Objects = append(v.Objects, expanded...)
	}
	if err := podBudget(v.Objects); err != nil {
		return nil, report("spec", "%v", err)
	}
	m, err := s.models(v.Spec.Cluster.Models, report)
	if err != nil {
		return nil, err
	}
	v.Models = m
	if specPatched {
		saved := s.root
		s.root = nil // the patched spec has no positions of its own
		faults, err := s.decodeFaults(v.Spec.Faults, nil, "spec.faults")
		s.root = saved
		if err != nil {
			return nil, report("spec.faults", "%v", err)
		}
		v.Faults = faults
	} else {
		v.Faults = s.Faults
	}
	// the simulator checks what only it knows (targets of load, node names in faults)
	if _, err := sim.New(s.compile(v), 0, sim.Options{}); err != nil {
		return nil, s.simError(i, v, specPatched, err)
	}
	return v, nil
}

// variantLimits checks the limits of a variant's spec and of the objects its patches changed (a
// loaded file's own objects were checked where they were decoded).
func (s *Scenario) variantLimits(i int, v *Variant, report reportFunc) error {
	errs := specLimits(&v.Spec, report)
	where := "spec"
	if i >= 0 {
		where = fmt.Sprintf("spec.variants[%d] (%s)", i, v.Name)
	}
	for k := range v.Objects {
		o := &v.Objects[k]
		if s.root != nil && k < len(s.Objects) && bytes.Equal(o.JSON, s.Objects[k].JSON) {
			continue
		}
		errs = append(errs, objectLimits(o.JSON, "", func(field, format string, args ...any) error {
			return s.variantErr(i, where+" -> "+o.Ref()+":"+field, fmt.Sprintf(format, args...))
		})...)
	}
	return joinErrors(errs)
}

// simError places each problem the simulator found (sim.InputError: field paths of its Input)
// in the scenario: load, faults, changes, node pools and the duration at their lines when the
// variant did not patch the spec, objects at their manifests; all of them at once.
func (s *Scenario) simError(i int, v *Variant, specPatched bool, err error) error {
	var ie *sim.InputError
	if !errors.As(err, &ie) {
		return s.variantErr(i, variantWhere(i, v.Name), err.Error())
	}
	errs := make([]error, 0, len(ie.Errs))
	for _, fe := range ie.Errs {
		errs = append(errs, s.simFieldError(i, v, specPatched, fe))
	}
	return joinErrors(errs)
}

// specFields maps the first step of an Input field path to the scenario's spec.
var specFields = map[string]string{
	"load":     "spec.load",
	"faults":   "spec.faults",
	"changes":  "spec.changes",
	"pools":    "spec.cluster.nodePools",
	"models":   "spec.cluster.models",
	"duration": "spec.duration",
}

func (s *Scenario) simFieldError(i int, v *Variant, specPatched bool, fe *field.Error) error {
	head, rest := splitFieldPath(fe.Field)
	where := variantWhere(i, v.Name)
	if head == "objects" {
		k, sub := splitIndex(rest)
		if k < 0 || k >= len(v.Objects) {
			return s.variantErr(i, where+" -> "+fe.Field, fe.Detail)
		}
		o := &v.Objects[k]
		path := o.Ref()
		if sub != "" {
			path += ":" + sub
		}
		if s.root != nil && k < len(s.Objects) && bytes.Equal(o.JSON, s.Objects[k].JSON) {
			// the manifest as written: at its first line
			file, lineText, _ := cutLast(o.Where, ":")
			line, _ := strconv.Atoi(lineText)
			return &Error{File: file, Line: line, Path: path, Msg: fe.Detail}
		}
		return s.variantErr(i, where+" -> "+path, fe.Detail)
	}
	if spec, ok := specFields[head]; ok && !specPatched {
		msg := fe.Detail
		if i >= 0 && len(s.Spec.Spec.Variants[i].Patches) > 0 {
			msg += fmt.Sprintf(" (with the patches of variant %q)", v.Name)
		}
		if head == "faults" || head == "changes" {
			// the simulator's fault and change are built from the entry: the rest of the path
			// is theirs, not the file's
			k, sub := splitIndex(rest)
			if sub != "" {
				msg = sub + ": " + msg
			}
			return s.at(fmt.Sprintf("%s[%d]", spec, k), "%s", msg)
		}
		return s.at(spec+rest, "%s", msg)
	}
	return s.variantErr(i, where+" -> "+fe.Field, fe.Detail)
}

func variantWhere(i int, name string) string {
	if i < 0 {
		return "spec"
	}
	return fmt.Sprintf("spec.variants[%d] (%s)", i, name)
}

// splitFieldPath splits a field path ("load[1].target") into its first step ("load") and the
// rest ("[1].target").
func splitFieldPath(p string) (head, rest string) {
	if k := strings.IndexAny(p, ".["); k >= 0 {
		return p[:k], p[k:]
	}
	return p, ""
}

// splitIndex reads a leading "[K]" and returns K and what follows without its dot; -1 when
// there is none.
func splitIndex(rest string) (int, string) {
	inner, after, ok := strings.Cut(strings.TrimPrefix(rest, "["), "]")
	k, err := strconv.Atoi(inner)
	if !ok || err != nil || !strings.HasPrefix(rest, "[") {
		return -1, rest
	}
	return k, strings.TrimPrefix(after, ".")
}

// variantErr is an error of variant i (-1: the implicit baseline) at a path that is not a
// position of the file (a patched spec, a patched object); it is located at the variant's entry,
// or at spec.
func (s *Scenario) variantErr(i int, fieldPath, msg string) *Error {
	e := &Error{File: s.File, Path: fieldPath, Msg: msg}
	at := "spec"
	if i >= 0 {
		at = fmt.Sprintf("spec.variants[%d]", i)
	}
	if s.root != nil {
		e.Line, e.Column, _ = s.root.Lookup(at)
	}
	return e
}

// findObject resolves KIND/NAME or KIND/NAMESPACE/NAME.
func findObject(objs []Object, target string) (int, error) {
	parts := strings.Split(target, "/")
	var kind, ns, name string
	switch len(parts) {
	case 2:
		kind, ns, name = parts[0], "", parts[1]
	case 3:
		kind, ns, name = parts[0], parts[1], parts[2]
	default:
		return 0, fmt.Errorf("%q; expected KIND/NAME, KIND/NAMESPACE/NAME or spec", target)
	}
	var cands []string
	for i := range objs {
		o := &objs[i]
		if !strings.EqualFold(o.GVK.Kind, kind) || o.Name != name {
			continue
		}
		if ns == "" || ns == o.Namespace {
			cands = append(cands, strconv.Itoa(i))
			if ns != "" || o.Namespace == "default" || len(cands) == 1 {
				return i, nil
			}
		}
	}
	var have []string
	for i := range objs {
		have = append(have, strings.ToLower(objs[i].GVK.Kind)+"/"+objs[i].Name)
	}
	return 0, fmt.Errorf("patch target %q does not exist; objects are: %s", target, strings.Join(have, ", "))
}

// patchObject applies one patch to an object and decodes the result strictly.
func patchObject(o Object, p Patch) (Object, error) {
	typ := p.Type
	if typ == "" {
		typ = "strategic"
	}
	var out []byte
	var err error
	switch typ {
	case "strategic":
		dataStruct, e := scheme.Scheme.New(o.GVK)
		if e != nil {
			return o, fmt.Errorf("strategic merge needs a known type: %v", e)
		}
		out, err = strategicpatch.StrategicMergePatch(o.JSON, p.Patch, dataStruct)
	case "merge":
		out, err = jsonpatch.MergePatch(o.JSON, p.Patch)
	case "json":
		var jp jsonpatch.Patch
		if jp, err = jsonpatch.DecodePatch(p.Patch); err == nil {
			out, err = jp.Apply(o.JSON)
		}
	default:
		return o, fmt.Errorf("type %q; expected strategic, merge or json", p.Type)
	}
	if err != nil {
		return o, fmt.Errorf("%s patch of %s failed: %v", typ, o.Ref(), err)
	}
	obj, err := scheme.Scheme.New(o.GVK)
	if err != nil {
		return o, err
	}
	if err := strictJSON(out, obj); err != nil {
		return o, fmt.Errorf("patched %s is not a valid %s: %v", o.Ref(), o.GVK.Kind, err)
	}
	obj.GetObjectKind().SetGroupVersionKind(o.GVK)
	o.JSON, o.Obj = out, obj
	return o, nil
}

// patchSpec applies a merge or JSON patch to the spec itself (node pools, models, load, faults).
func patchSpec(spec Spec, p Patch) (Spec, error) {
	orig, err := json.Marshal(spec)
	if err != nil {
		return spec, err
	}
	var out []byte
	switch p.Type {
	case "", "merge":
		out, err = jsonpatch.MergePatch(orig, p.Patch)
	case "json":
		var jp jsonpatch.Patch
		if jp, err = jsonpatch.DecodePatch(p.Patch); err == nil {
			out, err = jp.Apply(orig)
		}
	default:
		return spec, fmt.Errorf("type %q for target spec; expected merge or json", p.Type)
	}
	if err != nil {
		return spec, fmt.Errorf("patch of spec failed: %v", err)
	}
	var ns Spec
	if err := strictJSON(out, &ns); err != nil {
		return spec, fmt.Errorf("patched spec is invalid: %v", err)
	}
	if string(mustJSON(ns.Objects)) != string(mustJSON(spec.Objects)) {
		return spec, fmt.Errorf("a spec patch cannot change objects; patch them by KIND/NAME")
	}
	return ns, nil
}

func mustJSON(v any) []byte {
	b, _ := json.Marshal(v)
	return b
}

// SetSpec returns a copy of the scenario whose spec has one more merge patch applied before any
// variant. Set is the by-path form sweeps use.
func (s *Scenario) SetSpec(patch json.RawMessage) (*Scenario, error) {
	spec, err := patchSpec(s.Spec.Spec, Patch{Target: "spec", Type: "merge", Patch: patch})
	if err != nil {
		return nil, fmt.Errorf("%s: %v", s.File, err)
	}
	return s.withSpec(spec)
}
