package locate

import (
	"encoding"
	"encoding/json"
	"fmt"
	"math"
	"reflect"
	"slices"
	"strconv"
	"strings"

	yaml "go.yaml.in/yaml/v3"
)

var (
	jsonUnmarshalerType = reflect.TypeFor[json.Unmarshaler]()
	textUnmarshalerType = reflect.TypeFor[encoding.TextUnmarshaler]()
)

// decoder walks a YAML node tree alongside a Go type. Each step both checks the node against the
// type and builds the JSON-ready value (map[string]any, []any, string, bool, int64, uint64,
// float64 or nil) that sigs.k8s.io/yaml would have produced for it; the result is finally handed
// to encoding/json, so the decoded value is exactly what json.Unmarshal makes of it.
type decoder struct {
	file   string
	budget int                // nodes left to visit; bounds alias expansion
	active map[*yaml.Node]int // collections being walked, to catch alias cycles
}

func newDecoder(file string, budget int) *decoder {
	return &decoder{file: file, budget: budget, active: map[*yaml.Node]int{}}
}

func (d *decoder) errorf(at *yaml.Node, path, format string, args ...any) *Error {
	return newError(d.file, at, path, format, args...)
}

// enter follows aliases, counts the node against the budget and marks collections as active so a
// collection that contains an alias to itself is reported instead of expanded forever.
// The returned function must be called when the node is done.
func (d *decoder) enter(n *yaml.Node, path string) (*yaml.Node, func(), *Error) {
	src := n
	for hops := 0; n.Kind == yaml.AliasNode; hops++ {
		if n.Alias == nil || hops > 100 {
			return nil, nil, d.errorf(src, path, "unknown alias *%s", n.Value)
		}
		n = n.Alias
	}
	d.budget--
	if d.budget < 0 {
		return nil, nil, d.errorf(src, path, "document expands to too many nodes (aliases referring to aliases?)")
	}
	if n.Kind != yaml.MappingNode && n.Kind != yaml.SequenceNode {
		return n, func() {}, nil
	}
	if d.active[n] > 0 {
		return nil, nil, d.errorf(src, path, "alias *%s refers to a node that contains it", src.Value)
	}
	d.active[n]++
	return n, func() { d.active[n]-- }, nil
}

// value checks node n against type t and returns its JSON-ready value. at is where a problem
// with the value as a whole is reported. coerce is true where sigs.k8s.io/yaml would turn a
// boolean or number into a string because the target is a string.
func (d *decoder) value(n, at *yaml.Node, t reflect.Type, path string, coerce bool) (any, *Error) {
	if at == nil {
		at = n
	}
	n, leave, err := d.enter(n, path)
	if err != nil {
		return nil, err
	}
	defer leave()
	if isNullNode(n) {
		return nil, nil
	}
	for t.Kind() == reflect.Pointer && !opaque(t) {
		t = t.Elem()
	}
	if opaque(t) {
		return d.opaqueValue(n, at, t, path)
	}
	switch t.Kind() {
	case reflect.Interface:
		if t.NumMethod() == 0 {
			return d.genericEntered(n, at, path)
		}
		return d.opaqueValue(n, at, t, path)
	case reflect.Struct:
		if n.Kind != yaml.MappingNode {
			return nil, d.kindError(n, at, t, path)
		}
		return d.structValue(n, t, path)
	case reflect.Map:
		if n.Kind != yaml.MappingNode {
			return nil, d.kindError(n, at, t, path)
		}
		return d.mapValue(n, at, t, path)
	case reflect.Slice, reflect.Array:
		if n.Kind == yaml.ScalarNode && t.Kind() == reflect.Slice && t.Elem().Kind() == reflect.Uint8 {
			return d.leaf(n, at, t, path, false) // []byte takes base64 text
		}
		if n.Kind != yaml.SequenceNode {
			return nil, d.kindError(n, at, t, path)
		}
		out := make([]any, len(n.Content))
		for i, item := range n.Content {
			// sigs.k8s.io/yaml coerces into string elements of slices but not of arrays.
			v, err := d.value(item, nil, t.Elem(), joinIndex(path, i), t.Kind() == reflect.Slice)
			if err != nil {
				return nil, err
			}
			out[i] = v
		}
		return out, nil
	case reflect.Bool, reflect.String,
		reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64,
		reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64, reflect.Uintptr,
		reflect.Float32, reflect.Float64:
		if n.Kind != yaml.ScalarNode {
			return nil, d.kindError(n, at, t, path)
		}
		return d.leaf(n, at, t, path, coerce)
	}
	return d.opaqueValue(n, at, t, path)
}

// opaque reports whether values of t decode themselves (json.Unmarshaler or
// encoding.TextUnmarshaler): such a subtree is converted to JSON as a whole and handed to them.
func opaque(t reflect.Type) bool {
	if t.Implements(jsonUnmarshalerType) || t.Implements(textUnmarshalerType) {
		return true
	}
	if t.Kind() != reflect.Pointer && t.Kind() != reflect.Interface {
		p := reflect.PointerTo(t)
		return p.Implements(jsonUnmarshalerType) || p.Implements(textUnmarshalerType)
	}
	return false
}

// leaf handles scalars decoded into bools, numbers, strings and []byte.
func (d *decoder) leaf(n, at *yaml.Node, t reflect.Type, path string, coerce bool) (any, *Error) {
	v, err := d.scalar(n, at, path)
	if err != nil {
		return nil, err
	}
	if coerce && t.Kind() == reflect.String {
		if s, ok := stringFor(v); ok {
			if s != n.Value {
				return nil, d.errorf(at, path, "ambiguous value %s: %s, so it would become the string %q; quote it (%q) to keep it as written",
					shortText(n.Value), readAs(v), s, n.Value)
			}
			v = s
		}
	}
	if f, ok := v.(float64); ok && (math.IsInf(f, 0) || math.IsNaN(f)) {
		return nil, d.errorf(at, path, "unsupported value %s: JSON has no infinity or NaN", n.Value)
	}
	if jerr := checkJSON(v, t); jerr != nil {
		return nil, d.errorf(at, path, "%s, got %s%s", expected(t), describe(n, v), outOfRange(v, t))
	}
	return v, nil
}

// scalar resolves a scalar node, reporting bad explicit tags.
func (d *decoder) scalar(n, at *yaml.Node, path string) (any, *Error) {
	v, err := scalarValue(n)
	if err != nil {
		return nil, d.errorf(at, path, "%v", err)
	}
	return v, nil
}

// opaqueValue converts the subtree to generic JSON and lets json.Unmarshal (and so the type's
// UnmarshalJSON or UnmarshalText) judge it.
func (d *decoder) opaqueValue(n, at *yaml.Node, t reflect.Type, path string) (any, *Error) {
	v, err := d.genericEntered(n, at, path)
	if err != nil {
		return nil, err
	}
	if jerr := checkJSON(v, t); jerr != nil {
		what := "value"
		if n.Kind == yaml.ScalarNode {
			what = quoteValue(n.Value)
		} else if n.Kind == yaml.MappingNode {
			what = "(a mapping)"
		} else if n.Kind == yaml.SequenceNode {
			what = "(a list)"
		}
		return nil, d.errorf(at, path, "invalid %s %s: %s", typeNoun(t), what, jsonMessage(jerr))
	}
	return v, nil
}

func (d *decoder) structValue(n *yaml.Node, t reflect.Type, path string) (any, *Error) {
	info := fieldsOf(t)
	entries, err := d.entries(n, path, false)
	if err != nil {
		return nil, err
	}
	out := make(map[string]any, len(entries))
	for _, e := range entries {
		childPath := joinKey(path, e.key)
		f, ok := info.byName[e.key]
		if !ok {
			return nil, d.errorf(e.keyNode, childPath, "%s", unknownField(e.key, info.names))
		}
		at := valuePos(e.keyNode, e.value)
		// sigs.k8s.io/yaml only coerces into fields declared directly on the struct, not into
		// fields promoted from inlined embedded structs.
		v, err := d.value(e.value, at, f.typ, childPath, len(f.index) == 1)
		if err != nil {
			return nil, err
		}
		if f.quoted && v != nil {
			obj, _ := json.Marshal(map[string]any{e.key: v})
			if jerr := json.Unmarshal(obj, reflect.New(t).Interface()); jerr != nil {
				return nil, d.errorf(at, childPath, "%s", jsonMessage(jerr))
			}
		}
		out[e.key] = v
	}
	return out, nil
}

func (d *decoder) mapValue(n, at *yaml.Node, t reflect.Type, path string) (any, *Error) {
	entries, err := d.entries(n, path, false)
	if err != nil {
		return nil, err
	}
	kt := t.Key()
	checkKeys := kt.Kind() != reflect.String || reflect.PointerTo(kt).Implements(textUnmarshalerType)
	out := make(map[string]any, len(entries))
	for _, e := range entries {
		childPath := joinKey(path, e.key)
		if checkKeys {
			obj, _ := json.Marshal(map[string]any{e.key: nil})
			if jerr := json.Unmarshal(obj, reflect.New(t).Interface()); jerr != nil {
				return nil, d.errorf(e.keyNode, childPath, "invalid key %s for %s: %s", quoteValue(e.key), t, jsonMessage(jerr))
			}
		}
		v, err := d.value(e.value, valuePos(e.keyNode, e.value), t.Elem(), childPath, true)
		if err != nil {
			return nil, err
		}
		out[e.key] = v
	}
	return out, nil
}

// generic converts a subtree the way sigs.k8s.io/yaml does for an interface{} target.
func (d *decoder) generic(n *yaml.Node, path string) (any, *Error) {
	src := n
	n, leave, err := d.enter(n, path)
	if err != nil {
		return nil, err
	}
	defer leave()
	return d.genericEntered(n, src, path)
}

// genericEntered is generic for a node already passed through enter; at is where to report it.
func (d *decoder) genericEntered(n, src *yaml.Node, path string) (any, *Error) {
	switch n.Kind {
	case yaml.ScalarNode:
		v, err := d.scalar(n, src, path)
		if err != nil {
			return nil, err
		}
		if f, ok := v.(float64); ok && (math.IsInf(f, 0) || math.IsNaN(f)) {
			return nil, d.errorf(src, path, "unsupported value %s: JSON has no infinity or NaN", n.Value)
		}
		return v, nil
	case yaml.SequenceNode:
		out := make([]any, len(n.Content))
		for i, item := range n.Content {
			v, err := d.generic(item, joinIndex(path, i))
			if err != nil {
				return nil, err
			}
			out[i] = v
		}
		return out, nil
	case yaml.MappingNode:
		entries, err := d.entries(n, path, false)
		if err != nil {
			return nil, err
		}
		out := make(map[string]any, len(entries))
		for _, e := range entries {
			v, err := d.generic(e.value, joinKey(path, e.key))
			if err != nil {
				return nil, err
			}
			out[e.key] = v
		}
		return out, nil
	}
	return nil, d.errorf(src, path, "unexpected YAML node")
}

// entry is one key/value pair of a mapping, after merge keys are applied.
type entry struct {
	keyNode *yaml.Node
	key     string
	value   *yaml.Node
}

// entries lists a mapping's pairs in document order with their JSON keys, followed by pairs
// brought in by merge keys (<<) that the mapping does not set itself; of several merged
// mappings the first wins, as the YAML merge spec says. Duplicate keys, keys that are not
// strings, and keys YAML would silently rewrite are errors. When lenient, problems are skipped
// instead (for Lookup), keeping the first of duplicate keys.
func (d *decoder) entries(n *yaml.Node, path string, lenient bool) ([]entry, *Error) {
	seen := make(map[string]*yaml.Node, len(n.Content)/2)
	out := make([]entry, 0, len(n.Content)/2)
	var merges []*yaml.Node
	for i := 0; i+1 < len(n.Content); i += 2 {
		k, v := n.Content[i], n.Content[i+1]
		if isMergeKey(k) {
			merges = append(merges, v)
			continue
		}
		key, err := d.key(k, path)
		if err != nil {
			if lenient {
				continue
			}
			return nil, err
		}
		if prev, dup := seen[key]; dup {
			if lenient {
				continue
			}
			return nil, d.errorf(k, joinKey(path, key), "duplicate key %s (first set on line %d)", quoteValue(key), prev.Line)
		}
		seen[key] = k
		out = append(out, entry{k, key, v})
	}
	for _, m := range merges {
		srcs, err := d.mergeSources(m, path)
		if err != nil {
			if lenient {
				continue
			}
			return nil, err
		}
		for _, src := range srcs {
			mn, leave, err := d.enter(src, path)
			if err != nil {
				if lenient {
					continue
				}
				return nil, err
			}
			sub, err := d.entries(mn, path, lenient)
			leave()
			if err != nil {
				return nil, err
			}
			for _, e := range sub {
				if _, dup := seen[e.key]; !dup {
					seen[e.key] = e.keyNode
					out = append(out, e)
				}
			}
		}
	}
	return out, nil
}

// mergeSources returns the mappings (or aliases to them) that a merge key's value names.
func (d *decoder) mergeSources(m *yaml.Node, path string) ([]*yaml.Node, *Error) {
	isMap := func(n *yaml.Node) bool {
		for hops := 0; n != nil && n.Kind == yaml.AliasNode && hops <= 100; hops++ {
			n = n.Alias
		}
		return n != nil && n.Kind == yaml.MappingNode
	}
	if isMap(m) {
		return []*yaml.Node{m}, nil
	}
	target := m
	if m.Kind == yaml.AliasNode && m.Alias != nil {
		target = m.Alias
	}
	if target.Kind == yaml.SequenceNode {
		for _, item := range target.Content {
			if !isMap(item) {
				return nil, d.errorf(item, path, "merge key (<<) expects a mapping or a list of mappings")
			}
		}
		return target.Content, nil
	}
	return nil, d.errorf(m, path, "merge key (<<) expects a mapping or a list of mappings")
}

// key returns the JSON object key for a mapping key node.
func (d *decoder) key(k *yaml.Node, path string) (string, *Error) {
	src := k
	for hops := 0; k.Kind == yaml.AliasNode && k.Alias != nil && hops <= 100; hops++ {
		k = k.Alias
	}
	if k.Kind != yaml.ScalarNode {
		return "", d.errorf(src, path, "mapping keys must be strings, not %s", describe(k, nil))
	}
	kpath := joinKey(path, k.Value)
	v, err := scalarValue(k)
	if err != nil {
		return "", d.errorf(src, kpath, "%v", err)
	}
	s, ok := keyString(v)
	if !ok {
		return "", d.errorf(src, kpath, "unsupported mapping key %s; quote it to use it as a string", shortText(k.Value))
	}
	if s != k.Value && isPlain(k) {
		return "", d.errorf(src, kpath, "ambiguous key %s: %s, so the key would become %q; quote it (%q) to keep it as written",
			shortText(k.Value), readAs(v), s, k.Value)
	}
	return s, nil
}

// valuePos is where a problem with a mapping value is reported: the value itself when it starts
// on its key's line, otherwise the key (block mappings and lists start on the next line).
func valuePos(key, value *yaml.Node) *yaml.Node {
	if value.Line == key.Line {
		return value
	}
	return key
}

func (d *decoder) kindError(n, at *yaml.Node, t reflect.Type, path string) *Error {
	var v any
	if n.Kind == yaml.ScalarNode {
		v, _ = scalarValue(n)
	}
	return d.errorf(at, path, "%s, got %s", expected(t), describe(n, v))
}

// checkJSON decodes v, converted to JSON, into a new value of type t.
func checkJSON(v any, t reflect.Type) error {
	data, err := json.Marshal(v)
	if err != nil {
		return err
	}
	return json.Unmarshal(data, reflect.New(t).Interface())
}

func jsonMessage(err error) string {
	msg := strings.TrimPrefix(err.Error(), "json: ")
	return oneLine(msg)
}

// expected names what a Go type wants, in YAML/JSON terms.
func expected(t reflect.Type) string {
	named := func(s string) string {
		return s + " (" + t.String() + ")"
	}
	switch t.Kind() {
	case reflect.Bool:
		return "expected a boolean (true or false)"
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64:
		return named("expected an integer")
	case reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64, reflect.Uintptr:
		return named("expected a non-negative integer")
	case reflect.Float32, reflect.Float64:
		return named("expected a number")
	case reflect.String:
		if t.Name() == "string" && t.PkgPath() == "" {
			return "expected a string"
		}
		return named("expected a string")
	case reflect.Struct, reflect.Map:
		return named("expected a mapping")
	case reflect.Slice:
		if t.Elem().Kind() == reflect.Uint8 {
			return named("expected base64 text or a list")
		}
		return named("expected a list")
	case reflect.Array:
		return named("expected a list")
	}
	return named("expected a value for")
}

// describe says what a node is, for "got ..." in messages.
func describe(n *yaml.Node, v any) string {
	switch n.Kind {
	case yaml.MappingNode:
		return "a mapping"
	case yaml.SequenceNode:
		return "a list"
	case yaml.AliasNode:
		return "an alias"
	}
	switch v.(type) {
	case nil:
		return "null"
	case bool:
		return "boolean " + shortText(n.Value)
	case int64, uint64, float64:
		return "number " + shortText(n.Value)
	}
	return "string " + quoteValue(n.Value)
}

// outOfRange explains why a number was refused by a numeric type that takes numbers.
func outOfRange(v any, t reflect.Type) string {
	integral := false
	switch x := v.(type) {
	case int64, uint64:
		integral = true
	case float64:
		integral = x == math.Trunc(x) && math.Abs(x) < 1e21
	default:
		return ""
	}
	switch t.Kind() {
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64,
		reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64, reflect.Uintptr:
		if integral {
			return ", which is out of range"
		}
	case reflect.Float32:
		return ", which is out of range"
	}
	return ""
}

// typeNoun names types that decode themselves, for "invalid quantity ..." messages.
func typeNoun(t reflect.Type) string {
	for t.Kind() == reflect.Pointer {
		t = t.Elem()
	}
	switch t.PkgPath() + "." + t.Name() {
	case "k8s.io/apimachinery/pkg/api/resource.Quantity":
		return "quantity"
	case "k8s.io/apimachinery/pkg/util/intstr.IntOrString":
		return "integer or string"
	case "k8s.io/apimachinery/pkg/apis/meta/v1.Time", "k8s.io/apimachinery/pkg/apis/meta/v1.MicroTime", "time.Time":
		return "time (RFC 3339)"
	case "k8s.io/apimachinery/pkg/apis/meta/v1.Duration":
		return "duration"
	}
	return t.String()
}

// unknownField builds `unknown field "x" (did you mean "y"?); expected one of: ...` listing at
// most eight known fields, closest first.
func unknownField(key string, names []string) string {
	if len(names) == 0 {
		return fmt.Sprintf("unknown field %s; no fields are allowed here", quoteValue(key))
	}
	lk := strings.ToLower(key)
	type cand struct {
		name string
		dist int
	}
	cands := make([]cand, len(names))
	for i, name := range names {
		cands[i] = cand{name, editDistance(lk, strings.ToLower(name))}
	}
	slices.SortStableFunc(cands, func(a, b cand) int { return a.dist - b.dist })
	var b strings.Builder
	fmt.Fprintf(&b, "unknown field %s", quoteValue(key))
	best := cands[0]
	limit := 1
	if len(key) > 4 {
		limit = 2
	}
	if len(key) > 8 {
		limit = 3
	}
	if best.dist <= limit || strings.EqualFold(best.name, key) {
		fmt.Fprintf(&b, " (did you mean %q?)", best.name)
	}
	b.WriteString("; expected one of: ")
	const show = 8
	for i, c := range cands {
		if i == show {
			fmt.Fprintf(&b, ", ... (%d more)", len(cands)-show)
			break
		}
		if i > 0 {
			b.WriteString(", ")
		}
		b.WriteString(c.name)
	}
	return b.String()
}

func editDistance(a, b string) int {
	ra, rb := []rune(a), []rune(b)
	if len(ra) > 64 || len(rb) > 64 {
		if a == b {
			return 0
		}
		return max(len(ra), len(rb))
	}
	prev := make([]int, len(rb)+1)
	cur := make([]int, len(rb)+1)
	for j := range prev {
		prev[j] = j
	}
	for i := 1; i <= len(ra); i++ {
		cur[0] = i
		for j := 1; j <= len(rb); j++ {
			cost := 1
			if ra[i-1] == rb[j-1] {
				cost = 0
			}
			cur[j] = min(prev[j]+1, cur[j-1]+1, prev[j-1]+cost)
		}
		prev, cur = cur, prev
	}
	return prev[len(rb)]
}

// decodeInto is the last step: the checked value goes through encoding/json into v. The walk
// has already checked everything json.Unmarshal checks, so an error here is unexpected; it is
// still reported, located at the decoded subtree.
func (d *decoder) decodeInto(at *yaml.Node, path string, v any, built any) error {
	data, err := json.Marshal(built)
	if err == nil {
		err = json.Unmarshal(data, v)
	}
	if err != nil {
		return d.errorf(at, path, "%s", jsonMessage(err))
	}
	return nil
}

// rootType is the type the walk starts from: like encoding/json, a non-nil interface holding a
// non-nil pointer is decoded into what it points to.
func rootType(v any) (reflect.Type, error) {
	rv := reflect.ValueOf(v)
	if !rv.IsValid() || rv.Kind() != reflect.Pointer || rv.IsNil() {
		return nil, fmt.Errorf("locate: Decode needs a non-nil pointer, not %s", strconv.Quote(fmt.Sprintf("%T", v)))
	}
	e := rv.Elem()
	if e.Kind() == reflect.Interface && !e.IsNil() {
		if inner := e.Elem(); inner.Kind() == reflect.Pointer && !inner.IsNil() {
			return inner.Type(), nil
		}
	}
	return e.Type(), nil
}
