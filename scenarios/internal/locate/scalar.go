package locate

import (
	"encoding/base64"
	"fmt"
	"math"
	"regexp"
	"strconv"
	"strings"
	"time"

	yaml "go.yaml.in/yaml/v3"
)

// Scalar resolution follows go.yaml.in/yaml/v2 (YAML 1.1), because that is what sigs.k8s.io/yaml
// v1.6 parses with: a plain y/yes/on/true (any of their usual spellings) is boolean true,
// n/no/off/false is false, 0x1F and 017 are integers, 1_000 is 1000, and timestamps stay strings.
// The node tree itself comes from yaml v3, whose own tags (YAML 1.2) are ignored for plain
// scalars.

const (
	tagStr       = "!!str"
	tagBool      = "!!bool"
	tagInt       = "!!int"
	tagFloat     = "!!float"
	tagNull      = "!!null"
	tagTimestamp = "!!timestamp"
	tagBinary    = "!!binary"
	tagMerge     = "!!merge"
)

type resolveItem struct {
	value any
	tag   string
}

var (
	resolveHint = func() (t [256]byte) {
		t['+'], t['-'] = 'S', 'S'
		for _, c := range "0123456789" {
			t[c] = 'D'
		}
		for _, c := range "yYnNtTfFoO~" {
			t[c] = 'M'
		}
		t['.'] = '.'
		return t
	}()

	resolveMap = func() map[string]resolveItem {
		m := map[string]resolveItem{}
		for _, item := range []struct {
			v   any
			tag string
			l   []string
		}{
			{true, tagBool, []string{"y", "Y", "yes", "Yes", "YES"}},
			{true, tagBool, []string{"true", "True", "TRUE"}},
			{true, tagBool, []string{"on", "On", "ON"}},
			{false, tagBool, []string{"n", "N", "no", "No", "NO"}},
			{false, tagBool, []string{"false", "False", "FALSE"}},
			{false, tagBool, []string{"off", "Off", "OFF"}},
			{nil, tagNull, []string{"", "~", "null", "Null", "NULL"}},
			{math.NaN(), tagFloat, []string{".nan", ".NaN", ".NAN"}},
			{math.Inf(+1), tagFloat, []string{".inf", ".Inf", ".INF"}},
			{math.Inf(+1), tagFloat, []string{"+.inf", "+.Inf", "+.INF"}},
			{math.Inf(-1), tagFloat, []string{"-.inf", "-.Inf", "-.INF"}},
			{"<<", tagMerge, []string{"<<"}},
		} {
			for _, s := range item.l {
				m[s] = resolveItem{item.v, item.tag}
			}
		}
		return m
	}()

	yamlStyleFloat = regexp.MustCompile(`^[-+]?(\.[0-9]+|[0-9]+(\.[0-9]*)?)([eE][-+]?[0-9]+)?$`)

	timestampFormats = []string{
		"2006-1-2T15:4:5.999999999Z07:00",
		"2006-1-2t15:4:5.999999999Z07:00",
		"2006-1-2 15:4:5.999999999",
		"2006-1-2",
	}
)

func shortTag(tag string) string {
	const long = "tag:yaml.org,2002:"
	if strings.HasPrefix(tag, long) {
		return "!!" + tag[len(long):]
	}
	return tag
}

func resolvableTag(tag string) bool {
	switch tag {
	case "", tagStr, tagBool, tagInt, tagFloat, tagNull, tagTimestamp:
		return true
	}
	return false
}

// resolve is yaml v2's resolve: it returns the resolved tag and a value that is nil, bool, int64,
// uint64, float64, string or time.Time. tag is the explicit tag ("" for a plain scalar).
func resolve(tag, in string) (rtag string, out any, err error) {
	if !resolvableTag(tag) {
		return tag, in, nil
	}
	rtag, out = resolvePlain(tag, in)
	switch tag {
	case "", rtag, tagStr, tagBinary:
		return rtag, out, nil
	case tagFloat:
		if rtag == tagInt {
			if v, ok := out.(int64); ok {
				return tagFloat, float64(v), nil
			}
		}
	}
	return rtag, out, fmt.Errorf("cannot decode %s `%s` as a %s", rtag, in, tag)
}

func resolvePlain(tag, in string) (string, any) {
	hint := byte('N')
	if in != "" {
		hint = resolveHint[in[0]]
	}
	if hint == 0 || tag == tagStr || tag == tagBinary {
		return tagStr, in
	}
	if item, ok := resolveMap[in]; ok {
		return item.tag, item.value
	}
	switch hint {
	case '.':
		if f, err := strconv.ParseFloat(in, 64); err == nil {
			return tagFloat, f
		}
	case 'D', 'S':
		if tag == "" || tag == tagTimestamp {
			if t, ok := parseTimestamp(in); ok {
				return tagTimestamp, t
			}
		}
		plain := strings.ReplaceAll(in, "_", "")
		if i, err := strconv.ParseInt(plain, 0, 64); err == nil {
			return tagInt, i
		}
		if u, err := strconv.ParseUint(plain, 0, 64); err == nil {
			return tagInt, u
		}
		if yamlStyleFloat.MatchString(plain) {
			if f, err := strconv.ParseFloat(plain, 64); err == nil {
				return tagFloat, f
			}
		}
		if rest, ok := strings.CutPrefix(plain, "0b"); ok {
			if i, err := strconv.ParseInt(rest, 2, 64); err == nil {
				return tagInt, i
			}
			if u, err := strconv.ParseUint(rest, 2, 64); err == nil {
				return tagInt, u
			}
		} else if rest, ok := strings.CutPrefix(plain, "-0b"); ok {
			if i, err := strconv.ParseInt("-"+rest, 2, 64); err == nil {
				return tagInt, i
			}
		}
	}
	return tagStr, in
}

func parseTimestamp(s string) (time.Time, bool) {
	i := 0
	for ; i < len(s); i++ {
		if c := s[i]; c < '0' || c > '9' {
			break
		}
	}
	if i != 4 || i == len(s) || s[i] != '-' {
		return time.Time{}, false
	}
	for _, format := range timestampFormats {
		if t, err := time.Parse(format, s); err == nil {
			return t, true
		}
	}
	return time.Time{}, false
}

// isPlain reports whether a scalar node is an untagged, unquoted, non-block scalar, the only kind
// whose type is inferred from its text.
func isPlain(n *yaml.Node) bool {
	return n.Style&(yaml.TaggedStyle|yaml.DoubleQuotedStyle|yaml.SingleQuotedStyle|yaml.LiteralStyle|yaml.FoldedStyle) == 0
}

// scalarValue returns the value yaml v2 gives a scalar when decoding into interface{}: nil, bool,
// int64, uint64, float64 or string (timestamps keep their text; !!binary is decoded).
func scalarValue(n *yaml.Node) (any, error) {
	var tag string
	switch {
	case n.Style&yaml.TaggedStyle != 0:
		tag = shortTag(n.Tag)
	case !isPlain(n):
		return n.Value, nil
	}
	rtag, v, err := resolve(tag, n.Value)
	if err != nil {
		return nil, err
	}
	switch rtag {
	case tagBinary:
		data, err := base64.StdEncoding.DecodeString(n.Value)
		if err != nil {
			return nil, fmt.Errorf("!!binary value contains invalid base64 data")
		}
		return string(data), nil
	case tagTimestamp:
		return n.Value, nil
	}
	return v, nil
}

func isNullNode(n *yaml.Node) bool {
	if n.Kind != yaml.ScalarNode {
		return false
	}
	v, err := scalarValue(n)
	return err == nil && v == nil
}

// isMergeKey reports whether a mapping key is the YAML merge key "<<".
func isMergeKey(n *yaml.Node) bool {
	return n.Kind == yaml.ScalarNode && n.Value == "<<" &&
		(isPlain(n) || shortTag(n.Tag) == tagMerge)
}

// keyString turns a resolved mapping key into the JSON object key sigs.k8s.io/yaml would use.
func keyString(v any) (string, bool) {
	switch k := v.(type) {
	case string:
		return k, true
	case int64:
		return strconv.FormatInt(k, 10), true
	case float64:
		s := strconv.FormatFloat(k, 'g', -1, 32)
		switch s {
		case "+Inf":
			s = ".inf"
		case "-Inf":
			s = "-.inf"
		case "NaN":
			s = ".nan"
		}
		return s, true
	case bool:
		return strconv.FormatBool(k), true
	}
	// sigs.k8s.io/yaml rejects null and uint64 keys.
	return "", false
}

// stringFor is sigs.k8s.io/yaml's coercion of a scalar into a Go string field: booleans and
// numbers become their text, formatted the way it does it (floats with 32-bit precision).
func stringFor(v any) (string, bool) {
	switch x := v.(type) {
	case int64:
		return strconv.FormatInt(x, 10), true
	case uint64:
		return strconv.FormatUint(x, 10), true
	case float64:
		return strconv.FormatFloat(x, 'g', -1, 32), true
	case bool:
		return strconv.FormatBool(x), true
	}
	return "", false
}

// readAs describes how YAML 1.1 reads a plain scalar, for "quote it" hints.
func readAs(v any) string {
	switch v.(type) {
	case bool:
		return "YAML 1.1 reads it as a boolean"
	case nil:
		return "YAML reads it as null"
	}
	return "YAML reads it as a number"
}
