package locate

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"regexp"
	"strconv"
	"strings"

	yaml "go.yaml.in/yaml/v3"
)

// Node is a parsed YAML document that keeps the position of every key and value.
type Node struct {
	file   string
	root   *yaml.Node // the document's content; a null scalar for an empty document
	budget int        // nodes one Decode may visit, to stop alias bombs
}

// Parse parses one YAML document. A syntax error becomes an *Error carrying the line where
// parsing first goes wrong (and, when the parser blames an earlier line, that line in the
// message). A file with a second, non-empty document is an error: a file holds one document.
func Parse(file string, data []byte) (*Node, error) {
	root, err := parseDocument(file, data)
	if err != nil {
		return nil, err
	}
	return &Node{file: file, root: root, budget: max(10000, 64*countNodes(root))}, nil
}

// ParseFrom is Parse of a document that starts after line skip of its file (a document of a
// multi-document file): the positions are the file's, as if data were parsed after skip empty
// lines, without scanning them.
func ParseFrom(file string, data []byte, skip int) (*Node, error) {
	first, second, err := parseDocs(data)
	if err != nil || second != nil || first == nil || skip == 0 {
		// the errors, and the null document, as Parse has them after skip empty lines
		return Parse(file, append(bytes.Repeat([]byte("\n"), skip), data...))
	}
	var shift func(*yaml.Node)
	shift = func(n *yaml.Node) {
		n.Line += skip
		for _, c := range n.Content {
			shift(c)
		}
	}
	shift(first)
	return &Node{file: file, root: first, budget: max(10000, 64*countNodes(first))}, nil
}

// Strict parses data and strictly decodes the whole document into v (a non-nil pointer).
func Strict(file string, data []byte, v any) error {
	n, err := Parse(file, data)
	if err != nil {
		return err
	}
	return n.Decode("", v)
}

// File is the file name given to Parse.
func (n *Node) File() string { return n.file }

// YAML is the document's root node (a null scalar for an empty document). Read it, don't change
// it.
func (n *Node) YAML() *yaml.Node { return n.root }

// Lookup returns the position of the value at path, e.g. "spec.variants[1].patches[0].target"
// or `metadata.labels["app.kubernetes.io/name"]` ("" is the root). For a mapping entry whose
// value starts on the key's line that is the value's position, otherwise (block mappings and
// lists) the key's. Merge keys and aliases are followed. ok is false when nothing is there.
func (n *Node) Lookup(path string) (line, col int, ok bool) {
	if n == nil {
		return 0, 0, false
	}
	_, at, _, err := n.find(path)
	if err != nil {
		return 0, 0, false
	}
	return at.Line, at.Column, true
}

// Errorf returns an *Error for a problem found after decoding, located at path or, when path
// is not in the document (a missing field, say), at its nearest ancestor that is.
func (n *Node) Errorf(path, format string, args ...any) *Error {
	e := &Error{File: n.file, Path: path, Msg: oneLine(fmt.Sprintf(format, args...))}
	_, at, nearest, err := n.find(path)
	if err != nil {
		at = nearest
	}
	if at != nil {
		e.Line, e.Column = at.Line, at.Column
	}
	return e
}

// Decode strictly decodes the subtree at path ("" is the root) into v, a non-nil pointer, and
// returns an *Error for the first problem found in document order: an unknown field, a
// duplicate key, a value of the wrong kind, or one that the target type's UnmarshalJSON rejects.
// Field names come from json tags as with encoding/json, but must match exactly (encoding/json
// would also accept another case). On success v holds what sigs.k8s.io/yaml.Unmarshal would
// decode from the same YAML.
func (n *Node) Decode(path string, v any) (err error) {
	if n == nil {
		return errors.New("locate: Decode on a nil Node")
	}
	t, terr := rootType(v)
	if terr != nil {
		return terr
	}
	node, at, nearest, ferr := n.find(path)
	if ferr != nil {
		e := &Error{File: n.file, Path: path, Msg: oneLine(ferr.Error())}
		if nearest != nil {
			e.Line, e.Column = nearest.Line, nearest.Column
		}
		return e
	}
	d := newDecoder(n.file, n.budget)
	defer func() {
		// The walk should never panic; if it does, say so on one line rather than crash.
		if r := recover(); r != nil {
			err = d.errorf(at, path, "internal error decoding this value: %v", r)
		}
	}()
	built, werr := d.value(node, at, t, path, true)
	if werr != nil {
		return werr
	}
	return d.decodeInto(at, path, v, built)
}

// find resolves path to its node and the node to report it at. When path is missing it returns
// an error and the position of the deepest ancestor found.
func (n *Node) find(path string) (node, at, nearest *yaml.Node, err error) {
	segs, perr := parsePath(path)
	if perr != nil {
		return nil, nil, n.root, fmt.Errorf("invalid path %q: %v", path, perr)
	}
	d := newDecoder(n.file, n.budget)
	cur, at := n.root, n.root
	for i, s := range segs {
		for hops := 0; cur.Kind == yaml.AliasNode && cur.Alias != nil && hops <= 100; hops++ {
			cur = cur.Alias
		}
		parent := describePrefix(segs[:i])
		if parent == "" {
			parent = "the document root"
		}
		missing := func(format string, args ...any) (*yaml.Node, *yaml.Node, *yaml.Node, error) {
			return nil, nil, at, fmt.Errorf("path not found: "+format, args...)
		}
		if s.isIndex {
			if cur.Kind != yaml.SequenceNode {
				return missing("%s is not a list", parent)
			}
			if s.index >= len(cur.Content) {
				return missing("%s has %d items", parent, len(cur.Content))
			}
			cur = cur.Content[s.index]
			at = cur
			continue
		}
		if cur.Kind != yaml.MappingNode {
			return missing("%s is not a mapping", parent)
		}
		entries, _ := d.entries(cur, "", true)
		found := false
		for _, e := range entries {
			if e.key == s.key {
				cur, at, found = e.value, valuePos(e.keyNode, e.value), true
				break
			}
		}
		if !found {
			return missing("%s has no key %q", parent, s.key)
		}
	}
	return cur, at, nil, nil
}

func describePrefix(segs []segment) string {
	p := ""
	for _, s := range segs {
		if s.isIndex {
			p = joinIndex(p, s.index)
		} else {
			p = joinKey(p, s.key)
		}
	}
	return p
}

func countNodes(n *yaml.Node) int {
	c := 1
	for _, ch := range n.Content {
		c += countNodes(ch)
	}
	return c
}

// parseDocument parses data and returns the content of its single document.
func parseDocument(file string, data []byte) (root *yaml.Node, err error) {
	first, second, perr := parseDocs(data)
	if perr != nil {
		return nil, syntaxError(file, data, perr)
	}
	if second != nil {
		return nil, &Error{File: file, Line: second.Line, Column: second.Column,
			Msg: "a second YAML document starts here; a file holds exactly one document"}
	}
	if first == nil {
		first = &yaml.Node{Kind: yaml.ScalarNode, Tag: tagNull, Line: 1, Column: 1}
	}
	return first, nil
}

// parseDocs returns the content of the first document and of a second one if it has any.
func parseDocs(data []byte) (first, second *yaml.Node, err error) {
	defer func() {
		if r := recover(); r != nil {
			first, second, err = nil, nil, fmt.Errorf("yaml: %v", r)
		}
	}()
	dec := yaml.NewDecoder(bytes.NewReader(data))
	var doc yaml.Node
	if err := dec.Decode(&doc); err != nil {
		if err == io.EOF {
			return nil, nil, nil
		}
		return nil, nil, err
	}
	if len(doc.Content) > 0 {
		first = doc.Content[0]
	}
	var next yaml.Node
	if err := dec.Decode(&next); err != nil {
		if err == io.EOF {
			return first, nil, nil
		}
		return nil, nil, err
	}
	if len(next.Content) > 0 && !isNullNode(next.Content[0]) {
		second = next.Content[0]
	}
	return first, second, nil
}

var yamlLineRE = regexp.MustCompile(`^line (\d+): `)

// splitYAMLError separates "yaml: line N: problem" into N (0 if absent) and the problem.
func splitYAMLError(err error) (int, string) {
	msg := strings.TrimPrefix(err.Error(), "yaml: ")
	if m := yamlLineRE.FindStringSubmatch(msg); m != nil {
		line, _ := strconv.Atoi(m[1])
		return line, msg[len(m[0]):]
	}
	return 0, msg
}

// syntaxError locates a YAML syntax error. yaml v3 reports the line of the construct it was
// parsing (a mapping that started lines earlier, say), and for a problem on the first line no
// line at all, so this also finds the shortest prefix of whole lines that fails with the same
// problem: its last line is where the document goes wrong.
func syntaxError(file string, data []byte, err error) *Error {
	line, msg := splitYAMLError(err)
	e := &Error{File: file, Line: line, Msg: oneLine("syntax error: " + msg)}
	if first := firstFailingLine(data, msg); first > 0 && first != line {
		e.Line = first
		if line > 0 {
			e.Msg += fmt.Sprintf(" (while parsing from line %d)", line)
		}
	}
	return e
}

// firstFailingLine binary-searches the number of lines k such that the first k lines fail to
// parse with msg and the first k-1 do not. It returns 0 if there is no such clear boundary.
func firstFailingLine(data []byte, msg string) int {
	var ends []int // ends[k-1] is the offset just past line k
	for i, c := range data {
		if c == '\n' {
			ends = append(ends, i+1)
		}
	}
	if len(ends) == 0 || ends[len(ends)-1] != len(data) {
		ends = append(ends, len(data))
	}
	fails := func(k int) bool {
		if k == 0 {
			return false
		}
		_, _, err := parseDocs(data[:ends[k-1]])
		if err == nil {
			return false
		}
		_, m := splitYAMLError(err)
		return m == msg
	}
	lo, hi := 1, len(ends)
	if !fails(hi) {
		return 0
	}
	for lo < hi {
		mid := (lo + hi) / 2
		if fails(mid) {
			hi = mid
		} else {
			lo = mid + 1
		}
	}
	if fails(lo) && !fails(lo-1) {
		return lo
	}
	return 0
}
