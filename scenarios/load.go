package scenarios

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"path"
	"regexp"
	goruntime "runtime"
	"sort"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/util/validation/field"
	"k8s.io/client-go/kubernetes/scheme"

	"github.com/faultline-dev/faultline/measure/promql"
	"github.com/faultline-dev/faultline/scenarios/internal/locate"
	"github.com/faultline-dev/faultline/sim"
)

// Error is a located problem with a scenario file: "FILE:LINE:COL: PATH: MESSAGE".
type Error = locate.Error

// DefaultStart is when a scenario without spec.start begins: a Monday, 00:00 UTC.
var DefaultStart = time.Date(2024, 1, 1, 0, 0, 0, 0, time.UTC)

// DefaultSeeds is the number of seeds when neither the file nor the command line says.
const DefaultSeeds = 100

// Scenario is a loaded, validated scenario file.
type Scenario struct {
	// File is the path the scenario was loaded from, as used in error messages.
	File string
	// Digest is sha256 over the scenario file and every file it includes, in load order.
	Digest string
	Spec   File
	// Objects are the manifests with includes expanded, in order.
	Objects []Object
	// Faults are the decoded Chaos Mesh objects, with their translation for the simulator.
	Faults []Fault
	// Alerts are the alerting rules of spec.ruleFiles, in file order.
	Alerts []promql.Alert

	fsys  fs.FS
	dir   string // the file's folder in fsys, where includes and rule files resolve
	root  *locate.Node
	built *variantCache   // the variants Variant built; a new cache per checkVariants
	ctx   context.Context // while loading: stops the expansion of templates and the variants' checks
}

// stopped is the load's context error, if it was cancelled.
func (s *Scenario) stopped() error {
	if s.ctx == nil {
		return nil
	}
	return s.ctx.Err()
}

// Name is metadata.name.
func (s *Scenario) Name() string { return s.Spec.Metadata.Name }

// Object is one Kubernetes manifest of a scenario.
type Object struct {
	GVK       schema.GroupVersionKind
	Namespace string
	Name      string
	JSON      []byte         // as written, in JSON form; patches apply to this
	Obj       runtime.Object // decoded
	Where     string         // "file:line" of the manifest, for messages
}

// Ref is KIND/NAMESPACE/NAME in lower case, the form patch targets resolve to.
func (o *Object) Ref() string {
	return strings.ToLower(o.GVK.Kind) + "/" + o.Namespace + "/" + o.Name
}

// LoadFS loads and validates the scenario at file inside fsys. Includes resolve relative to the
// file's folder in fsys. Every error is a single line naming the file, line, field and what was
// expected; it wraps *Error where the position is known.
func LoadFS(fsys fs.FS, file, display string) (*Scenario, error) {
	return loadFS(context.Background(), fsys, file, display)
}

func loadFS(ctx context.Context, fsys fs.FS, file, display string) (*Scenario, error) {
	data, err := fs.ReadFile(fsys, file)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", display, err)
	}
	root, err := locate.Parse(display, data)
	if err != nil {
		return nil, err
	}
	s := &Scenario{File: display, fsys: fsys, dir: path.Dir(file), root: root, ctx: ctx}
	defer func() { s.ctx = nil }() // only loading is interruptible; a loaded scenario is whole
	h := sha256.New()
	h.Write(data)
	if err := root.Decode("", &s.Spec); err != nil {
		return nil, err
	}
	// every problem of the file at once; the variants (which build the simulator's input, sized
	// by the numbers checked here) only when there is none
	var errs []error
	collect := func(err error) {
		if err != nil {
			errs = append(errs, err)
		}
	}
	if s.Spec.APIVersion != APIVersion || s.Spec.Kind != Kind {
		return nil, s.checkHeader()
	}
	collect(s.checkHeader())
	errs = append(errs, specLimits(&s.Spec.Spec, s.at)...)
	collect(s.loadObjects(path.Dir(file), display, h))
	collect(s.loadRules(path.Dir(file), display, h))
	_, err = s.models(s.Spec.Spec.Cluster.Models, s.at)
	collect(err)
	faults, err := s.decodeFaults(s.Spec.Spec.Faults, s.root, "spec.faults")
	collect(err)
	s.Faults = faults
	collect(s.checkObjectiveList())
	if len(errs) == 0 {
		collect(s.checkChanges()) // they need the objects
	}
	if len(errs) > 0 {
		return nil, joinErrors(errs)
	}
	s.Digest = "sha256:" + hex.EncodeToString(h.Sum(nil))
	if err := s.checkVariants(); err != nil {
		return nil, err
	}
	return s, nil
}

// at builds a located error for a field path of the main file.
func (s *Scenario) at(fieldPath, format string, args ...any) error {
	e := &Error{File: s.File, Path: fieldPath, Msg: fmt.Sprintf(format, args...)}
	if s.root != nil {
		if line, col, ok := s.root.Lookup(fieldPath); ok {
			e.Line, e.Column = line, col
		} else {
			// fall back to the nearest parent that exists
			for p := fieldPath; p != ""; {
				i := strings.LastIndexAny(p, ".[")
				if i < 0 {
					break
				}
				p = p[:i]
				if line, col, ok := s.root.Lookup(p); ok {
					e.Line, e.Column = line, col
					break
				}
			}
		}
	}
	return e
}

func (s *Scenario) checkHeader() error {
	f := &s.Spec
	// a file that is not a scenario gets one line, not one per missing field
	if f.APIVersion != APIVersion {
		return s.at("apiVersion", "got %q; expected %q", f.APIVersion, APIVersion)
	}
	if f.Kind != Kind {
		return s.at("kind", "got %q; expected %q", f.Kind, Kind)
	}
	var errs []error
	add := func(err error) { errs = append(errs, err) }
	if f.Metadata.Name == "" {
		add(s.at("metadata.name", "missing; expected the scenario's name"))
	}
	if f.Spec.Duration.Duration <= 0 {
		add(s.at("spec.duration", "missing or not positive; expected a duration such as 72h"))
	}
	if f.Spec.Seeds < 0 {
		add(s.at("spec.seeds", "%d; expected a positive number of seeds", f.Spec.Seeds))
	}
	if len(f.Spec.Cluster.NodePools) == 0 {
		add(s.at("spec.cluster.nodePools", "missing; expected at least one node pool"))
	}
	for i, p := range f.Spec.Cluster.NodePools {
		fp := fmt.Sprintf("spec.cluster.nodePools[%d]", i)
		switch {
		case p.Name == "":
			add(s.at(fp+".name", "missing; expected a pool name"))
		case p.Count <= 0:
			add(s.at(fp+".count", "%d; expected a positive node count", p.Count))
		case p.Capacity.Cpu().IsZero():
			add(s.at(fp+".capacity", "no cpu; expected capacity.cpu such as \"4\""))
		case p.Capacity.Memory().IsZero():
			add(s.at(fp+".capacity", "no memory; expected capacity.memory such as 16Gi"))
		}
	}
	return joinErrors(errs)
}

// include is the form of an objects entry that pulls in manifests from files.
type include struct {
	Include string `json:"include"`
}

var docSep = regexp.MustCompile(`(?m)^---[ \t]*$`)

func (s *Scenario) loadObjects(dir, display string, h interface{ Write([]byte) (int, error) }) error {
	var errs []error
	seen := map[string]string{}
	add := func(o Object, fieldPath string, report func(string, string, ...any) error) error {
		if prev, ok := seen[o.Ref()]; ok {
			return report(fieldPath, "%s is defined twice (first at %s)", o.Ref(), prev)
		}
		seen[o.Ref()] = o.Where
		s.Objects = append(s.Objects, o)
		return nil
	}
	for i, raw := range s.Spec.Spec.Objects {
		fp := fmt.Sprintf("spec.objects[%d]", i)
		var inc include
		if json.Unmarshal(raw, &inc) == nil && inc.Include != "" {
			matches, err := fs.Glob(s.fsys, path.Join(dir, inc.Include))
			if err != nil || len(matches) == 0 {
				errs = append(errs, s.at(fp+".include", "%q matches no file next to the scenario", inc.Include))
				continue
			}
			sort.Strings(matches)
			for _, m := range matches {
				data, err := fs.ReadFile(s.fsys, m)
				if err != nil {
					errs = append(errs, s.at(fp+".include", "%v", err))
					continue
				}
				// the digest names the file relative to the scenario's folder, so that the same
				// bytes give the same digest from disk and from the embedded library
				rel := strings.TrimPrefix(m, dir+"/")
				_, _ = h.Write([]byte("\x00" + rel + "\x00"))
				_, _ = h.Write(data)
				mDisplay := path.Join(path.Dir(display), rel)
				objs, err := decodeStream(mDisplay, data)
				if err != nil {
					errs = append(errs, err)
				}
				for _, o := range objs {
					report := func(_ string, format string, args ...any) error {
						// located in the included file, at the duplicate document's first line
						file, lineText, _ := cutLast(o.Where, ":")
						line, _ := strconv.Atoi(lineText)
						return &Error{File: file, Line: line, Msg: fmt.Sprintf(format, args...)}
					}
					if err := add(o, fp, report); err != nil {
						errs = append(errs, err)
					}
				}
			}
			continue
		}
		o, err := decodeObject(s.root, fp, raw)
		if err != nil {
			errs = append(errs, err)
			continue
		}
		line, _, _ := s.root.Lookup(fp)
		o.Where = fmt.Sprintf("%s:%d", s.File, line)
		if err := add(o, fp, s.at); err != nil {
			errs = append(errs, err)
		}
	}
	return joinErrors(errs)
}

// decodeStream decodes a multi-document YAML file of manifests, the documents on every core.
// Positions in errors are the file's own.
func decodeStream(file string, data []byte) ([]Object, error) {
	locs := docSep.FindAllIndex(data, -1)
	start := 0
	bounds := make([][2]int, 0, len(locs)+1)
	for _, l := range locs {
		bounds = append(bounds, [2]int{start, l[0]})
		start = l[1]
	}
	bounds = append(bounds, [2]int{start, len(data)})
	type doc struct {
		chunk      []byte
		lineOffset int // lines before the document
		o          Object
		err        error
	}
	var docs []doc
	lineOffset, counted := 0, 0 // counted up to offset counted
	for _, b := range bounds {
		chunk := data[b[0]:b[1]]
		lineOffset += bytes.Count(data[counted:b[0]], []byte("\n"))
		counted = b[0]
		if len(bytes.TrimSpace(stripComments(chunk))) == 0 {
			continue
		}
		docs = append(docs, doc{chunk: chunk, lineOffset: lineOffset})
	}
	var next atomic.Int64
	var wg sync.WaitGroup
	for range min(goruntime.GOMAXPROCS(0), len(docs)) {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := int(next.Add(1) - 1); i < len(docs); i = int(next.Add(1) - 1) {
				d := &docs[i]
				d.o, d.err = decodeDocument(file, d.chunk, d.lineOffset)
			}
		}()
	}
	wg.Wait()
	var out []Object
	var errs []error
	for _, d := range docs {
		if d.err != nil {
			errs = append(errs, d.err)
			continue
		}
		out = append(out, d.o)
	}
	return out, joinErrors(errs)
}

// decodeDocument decodes one document of a stream, which starts after line lineOffset.
func decodeDocument(file string, chunk []byte, lineOffset int) (Object, error) {
	root, err := locate.ParseFrom(file, chunk, lineOffset)
	if err != nil {
		return Object{}, err
	}
	var raw json.RawMessage
	if err := root.Decode("", &raw); err != nil {
		return Object{}, err
	}
	o, err := decodeObject(root, "", raw)
	if err != nil {
		return Object{}, err
	}
	line, _, _ := root.Lookup("")
	if line == 0 {
		line = lineOffset + 1
	}
	o.Where = fmt.Sprintf("%s:%d", file, line)
	return o, nil
}

// cutLast is strings.Cut at the last occurrence of sep.
func cutLast(s, sep string) (before, after string, found bool) {
	if i := strings.LastIndex(s, sep); i >= 0 {
		return s[:i], s[i+len(sep):], true
	}
	return s, "", false
}

func stripComments(b []byte) []byte {
	var out []byte
	for _, l := range bytes.Split(b, []byte("\n")) {
		if t := bytes.TrimSpace(l); len(t) > 0 && t[0] != '#' {
			out = append(out, t...)
		}
	}
	return out
}

// decodeObject decodes one manifest strictly into its k8s.io/api type, located at fieldPath.
func decodeObject(root *locate.Node, fieldPath string, raw []byte) (Object, error) {
	var tm metav1.TypeMeta
	_ = json.Unmarshal(raw, &tm)
	p := func(f string) string {
		if fieldPath == "" {
			return f
		}
		return fieldPath + "." + f
	}
	fail := func(f, format string, args ...any) error {
		e := &Error{File: root.File(), Path: p(f), Msg: fmt.Sprintf(format, args...)}
		if line, col, ok := root.Lookup(p(f)); ok {
			e.Line, e.Column = line, col
		} else if line, col, ok := root.Lookup(fieldPath); ok {
			e.Line, e.Column = line, col
		}
		return e
	}
	if tm.APIVersion == "" {
		return Object{}, fail("apiVersion", "missing; expected a Kubernetes apiVersion such as apps/v1")
	}
	if tm.Kind == "" {
		return Object{}, fail("kind", "missing; expected a Kubernetes kind such as Deployment")
	}
	gv, err := schema.ParseGroupVersion(tm.APIVersion)
	if err != nil {
		return Object{}, fail("apiVersion", "%q: %v", tm.APIVersion, err)
	}
	gvk := gv.WithKind(tm.Kind)
	obj, err := scheme.Scheme.New(gvk)
	if err != nil {
		return Object{}, fail("kind", "%s %s is not a known Kubernetes type", tm.APIVersion, tm.Kind)
	}
	if err := root.Decode(fieldPath, obj); err != nil {
		return Object{}, err
	}
	located := func(f, format string, args ...any) error {
		e := &Error{File: root.File(), Path: f, Msg: fmt.Sprintf(format, args...)}
		e.Line, e.Column, _ = root.Lookup(f)
		return e
	}
	if errs := objectLimits(raw, fieldPath, located); len(errs) > 0 {
		return Object{}, joinErrors(errs)
	}
	mo, ok := obj.(metav1.Object)
	if !ok || mo.GetName() == "" {
		return Object{}, fail("metadata.name", "missing; every object needs a name")
	}
	ns := mo.GetNamespace()
	if ns == "" && namespaced(gvk) {
		ns = "default"
	}
	obj.GetObjectKind().SetGroupVersionKind(gvk)
	return Object{GVK: gvk, Namespace: ns, Name: mo.GetName(), JSON: raw, Obj: obj}, nil
}

// namespaced reports whether objects of this kind live in a namespace (the common cluster-scoped
// kinds are listed; everything else is namespaced).
func namespaced(gvk schema.GroupVersionKind) bool {
	switch gvk.Kind {
	case "Namespace", "Node", "PersistentVolume", "ClusterRole", "ClusterRoleBinding",
		"ValidatingWebhookConfiguration", "MutatingWebhookConfiguration", "PriorityClass",
		"StorageClass", "CustomResourceDefinition":
		return false
	}
	return true
}

// models returns the defaults overlaid with raw (spec.cluster.models), validated.
func (s *Scenario) models(raw json.RawMessage, at func(string, string, ...any) error) (sim.Models, error) {
	m := sim.DefaultModels()
	if len(raw) > 0 && s.root != nil && at != nil && s.isBase(raw) {
		if err := s.root.Decode("spec.cluster.models", &m); err != nil {
			return m, err
		}
	} else if len(raw) > 0 {
		if err := strictJSON(raw, &m); err != nil {
			return m, at("spec.cluster.models", "%v", err)
		}
	}
	var errs []error
	for _, e := range m.Validate(field.NewPath("spec", "cluster", "models")) {
		errs = append(errs, at(e.Field, "%s", e.Detail))
	}
	return m, joinErrors(errs)
}

func (s *Scenario) isBase(raw json.RawMessage) bool {
	return bytes.Equal(raw, s.Spec.Spec.Cluster.Models)
}

// strictJSON decodes JSON rejecting unknown fields.
func strictJSON(data []byte, v any) error {
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		return errors.New(strings.TrimPrefix(err.Error(), "json: "))
	}
	return nil
}
