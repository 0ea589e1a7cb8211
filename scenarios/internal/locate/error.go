package locate

import (
	"fmt"
	"strconv"
	"strings"
	"unicode"
	"unicode/utf8"

	yaml "go.yaml.in/yaml/v3"
)

// Error is one located problem with a document.
type Error struct {
	File         string // as given by the caller
	Line, Column int    // 1-based position of the offending key or value; 0 when unknown
	Path         string // field path like spec.template.spec.containers[0].resources.requests.cpu
	Msg          string // what is wrong and what was expected; always a single line
}

// Error formats the problem as "FILE:LINE:COL: PATH: MSG". An unknown column or line is left out
// ("FILE:LINE: PATH: MSG"), and so is an empty path (problems with the whole document or YAML
// syntax errors).
func (e *Error) Error() string {
	var b strings.Builder
	if e.File != "" {
		b.WriteString(e.File)
	} else {
		b.WriteString("<input>")
	}
	if e.Line > 0 {
		b.WriteString(":" + strconv.Itoa(e.Line))
		if e.Column > 0 {
			b.WriteString(":" + strconv.Itoa(e.Column))
		}
	}
	b.WriteString(": ")
	if e.Path != "" {
		b.WriteString(e.Path + ": ")
	}
	b.WriteString(oneLine(e.Msg))
	return b.String()
}

func newError(file string, at *yaml.Node, path, format string, args ...any) *Error {
	e := &Error{File: file, Path: path, Msg: oneLine(fmt.Sprintf(format, args...))}
	if at != nil {
		e.Line, e.Column = at.Line, at.Column
	}
	return e
}

// oneLine makes sure a message fits on one line.
func oneLine(s string) string {
	if !strings.ContainsAny(s, "\r\n\t") {
		return s
	}
	return strings.Join(strings.Fields(s), " ")
}

// quoteValue quotes a scalar's text for a message, shortening long values.
func quoteValue(s string) string {
	const maxLen = 60
	if utf8.RuneCountInString(s) > maxLen {
		r := []rune(s)
		s = string(r[:maxLen-3]) + "..."
	}
	return strconv.Quote(s)
}

// shortText is quoteValue without quotes for values that read well bare (numbers, booleans).
func shortText(s string) string {
	q := quoteValue(s)
	if uq, err := strconv.Unquote(q); err == nil && uq == s && !strings.ContainsAny(s, " \"'") && s != "" {
		return s
	}
	return q
}

// Path syntax: keys are joined with dots, list indexes are in brackets, and a key that is not a
// plain word (letters, digits, - _ / $ @) is written as a quoted string in brackets:
// metadata.labels["app.kubernetes.io/name"], spec.containers[0].ports[1].containerPort.

func bareKey(k string) bool {
	if k == "" {
		return false
	}
	for _, r := range k {
		if !unicode.IsLetter(r) && !unicode.IsDigit(r) && !strings.ContainsRune("-_/$@", r) {
			return false
		}
	}
	return true
}

func joinKey(path, key string) string {
	if !bareKey(key) {
		return path + "[" + strconv.Quote(key) + "]"
	}
	if path == "" {
		return key
	}
	return path + "." + key
}

// JoinKey appends a mapping key to a path in the syntax above.
func JoinKey(path, key string) string { return joinKey(path, key) }

func joinIndex(path string, i int) string {
	return path + "[" + strconv.Itoa(i) + "]"
}

// segment is one step of a path: a mapping key, or a list index when isIndex.
type segment struct {
	key     string
	index   int
	isIndex bool
}

// parsePath splits a path written in the syntax above. "" is the root.
func parsePath(p string) ([]segment, error) {
	var segs []segment
	i := 0
	for i < len(p) {
		switch {
		case p[i] == '[':
			j := i + 1
			if j < len(p) && p[j] == '"' {
				k := j + 1
				for k < len(p) && p[k] != '"' {
					if p[k] == '\\' {
						k++
					}
					k++
				}
				if k >= len(p) || k+1 >= len(p) || p[k+1] != ']' {
					return nil, fmt.Errorf("unterminated quoted key at offset %d", i)
				}
				key, err := strconv.Unquote(p[j : k+1])
				if err != nil {
					return nil, fmt.Errorf("bad quoted key at offset %d: %v", i, err)
				}
				segs = append(segs, segment{key: key})
				i = k + 2
			} else {
				k := strings.IndexByte(p[j:], ']')
				if k < 0 {
					return nil, fmt.Errorf("missing ] at offset %d", i)
				}
				n, err := strconv.Atoi(p[j : j+k])
				if err != nil || n < 0 {
					return nil, fmt.Errorf("bad list index %q", p[j:j+k])
				}
				segs = append(segs, segment{index: n, isIndex: true})
				i = j + k + 1
			}
		case p[i] == '.' && len(segs) > 0:
			i++
			fallthrough
		default:
			j := i
			for j < len(p) && p[j] != '.' && p[j] != '[' {
				j++
			}
			if j == i {
				return nil, fmt.Errorf("empty key at offset %d", i)
			}
			segs = append(segs, segment{key: p[i:j]})
			i = j
		}
	}
	return segs, nil
}
