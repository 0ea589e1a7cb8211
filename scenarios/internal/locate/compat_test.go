package locate

import (
	"bytes"
	"reflect"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	appsv1 "k8s.io/api/apps/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	sigsyaml "sigs.k8s.io/yaml"
)

type scalars struct {
	S string             `json:"s,omitempty"`
	A any                `json:"a,omitempty"`
	B bool               `json:"b,omitempty"`
	I int64              `json:"i,omitempty"`
	F float64            `json:"f,omitempty"`
	Q *resource.Quantity `json:"q,omitempty"`
	M map[string]string  `json:"m,omitempty"`
	L []string           `json:"l,omitempty"`
}

// TestYAML11Scalars pins down how plain scalars are typed: like sigs.k8s.io/yaml v1.6, which
// parses with yaml v2 (YAML 1.1). Whatever Strict accepts must decode exactly as
// sigs.k8s.io/yaml.UnmarshalStrict does.
func TestYAML11Scalars(t *testing.T) {
	q := func(s string) *resource.Quantity { v := resource.MustParse(s); return &v }
	tests := []struct {
		name string
		doc  string
		want scalars
	}{
		{"yes is true", "b: yes", scalars{B: true}},
		{"On is true", "b: On", scalars{B: true}},
		{"y is true", "b: y", scalars{B: true}},
		{"on in an untyped field", "a: on", scalars{A: true}},
		{"no in an untyped field", "a: no", scalars{A: false}},
		{"quoted yes stays a string", `a: "yes"`, scalars{A: "yes"}},
		{"hex", "a: 0x1F", scalars{A: 31.0}},
		{"YAML 1.1 octal", "a: 017", scalars{A: 15.0}},
		{"underscores", "a: 1_000", scalars{A: 1000.0}},
		{"exponent", "a: 1e3", scalars{A: 1000.0}},
		{"timestamps stay text", "a: 2001-12-14", scalars{A: "2001-12-14"}},
		{"tilde is null", "a: ~", scalars{}},
		{"explicit str tag", "a: !!str 12", scalars{A: "12"}},
		{"binary tag", "a: !!binary aGVsbG8=", scalars{A: "hello"}},
		{"quoted yes into a string", `s: "yes"`, scalars{S: "yes"}},
		{"single-quoted on into a string", `s: 'on'`, scalars{S: "on"}},
		{"true into a string keeps its text", "s: true", scalars{S: "true"}},
		{"integer into a string keeps its text", "s: 123", scalars{S: "123"}},
		{"float into a string keeps its text", "s: 1.5", scalars{S: "1.5"}},
		{"time-like text into a string", "s: 12:30", scalars{S: "12:30"}},
		{"literal block into a string", "s: |\n  yes\n", scalars{S: "yes\n"}},
		{"numbers into a list of strings", "l: [1, two, 3]", scalars{L: []string{"1", "two", "3"}}},
		{"hex into an integer", "i: 0x1F", scalars{I: 31}},
		{"integral float into an integer", "i: 3.0", scalars{I: 3}},
		{"integer into a float", "f: 7", scalars{F: 7}},
		{"quoted quantity", `q: "4"`, scalars{Q: q("4")}},
		{"numeric quantity", "q: 4", scalars{Q: q("4")}},
		{"fractional quantity", "q: 1.5", scalars{Q: q("1.5")}},
		{"integer key", "m: {1: a}", scalars{M: map[string]string{"1": "a"}}},
		{"true key", "m: {true: a}", scalars{M: map[string]string{"true": "a"}}},
		{"quoted on key", `m: {"on": a}`, scalars{M: map[string]string{"on": "a"}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var got, sigs scalars
			require.NoError(t, Strict("s.yaml", []byte(tt.doc), &got))
			require.NoError(t, sigsyaml.UnmarshalStrict([]byte(tt.doc), &sigs))
			assert.Equal(t, tt.want, got)
			assert.Equal(t, sigs, got, "must decode as sigs.k8s.io/yaml does")
		})
	}
}

// TestAmbiguousScalars lists what Strict refuses although sigs.k8s.io/yaml accepts it, because
// sigs.k8s.io/yaml would quietly change the text.
func TestAmbiguousScalars(t *testing.T) {
	tests := []struct {
		name string
		doc  string
		sigs scalars // what sigs.k8s.io/yaml makes of it
		msg  string
	}{
		{"yes into a string", "s: yes", scalars{S: "true"}, "ambiguous value yes"},
		{"on into a string", "s: on", scalars{S: "true"}, "ambiguous value on"},
		{"True into a string", "s: True", scalars{S: "true"}, "ambiguous value True"},
		{"hex into a string", "s: 0x1F", scalars{S: "31"}, "ambiguous value 0x1F"},
		{"octal into a string", "s: 017", scalars{S: "15"}, "ambiguous value 017"},
		{"version into a string", "s: 1.10", scalars{S: "1.1"}, `would become the string "1.1"`},
		{"no in a list of strings", "l: [NO, SE]", scalars{L: []string{"false", "SE"}}, "ambiguous value NO"},
		{"on as a key", "m: {on: a}", scalars{M: map[string]string{"true": "a"}}, "ambiguous key on"},
		{"n as a key", "m: {n: a}", scalars{M: map[string]string{"false": "a"}}, "ambiguous key n"},
		{"version as a key", "m: {1.10: a}", scalars{M: map[string]string{"1.1": "a"}}, "ambiguous key 1.10"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var got, sigs scalars
			e := asError(t, Strict("s.yaml", []byte(tt.doc), &got))
			assert.Contains(t, e.Msg, tt.msg)
			assert.Contains(t, e.Msg, "quote it")
			require.NoError(t, sigsyaml.UnmarshalStrict([]byte(tt.doc), &sigs))
			assert.Equal(t, tt.sigs, sigs)
		})
	}
}

var compatSeeds = []string{
	deploymentYAML, podYAML, cronJobYAML,
	"a: [1, yes, 0x10, 1.5e3, ~, \"x\", 2001-12-14]\n",
	"s: 12\nl: [a, 1]\nm: {1: x}\nq: 4\n",
	"a: &x {b: 1}\nc: *x\n",
}

// sigsRejects fails the test unless sigs.k8s.io/yaml refused the input while parsing it: yaml v2
// rejects some valid YAML that yaml v3 accepts (a tab before a comment, say).
func sigsRejects(t *testing.T, target string, err error) {
	t.Helper()
	if !strings.HasPrefix(err.Error(), "error converting YAML to JSON: yaml: ") {
		t.Fatalf("%s: we accept, sigs.k8s.io/yaml rejects: %v", target, err)
	}
}

// FuzzCompat checks the promise that whatever Strict accepts decodes exactly as with
// sigs.k8s.io/yaml. Two known differences are skipped: yaml v3 does not keep the non-specific
// tag "!" (`! 12` is a string in YAML), and with merge keys sigs.k8s.io/yaml.Unmarshal lets
// whatever comes later in the mapping win where the YAML merge spec (and Strict) let the
// mapping's own keys win.
func FuzzCompat(f *testing.F) {
	for _, seed := range compatSeeds {
		f.Add([]byte(seed))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		if bytes.Contains(data, []byte("!")) || bytes.Contains(data, []byte("<<")) {
			return
		}
		var a1, a2 any
		if err := Strict("f", data, &a1); err == nil {
			if err2 := sigsyaml.Unmarshal(data, &a2); err2 != nil {
				sigsRejects(t, "any", err2)
			}
			if !reflect.DeepEqual(a1, a2) {
				t.Fatalf("any: differ: %#v vs %#v", a1, a2)
			}
		}
		var d1, d2 appsv1.Deployment
		if err := Strict("f", data, &d1); err == nil {
			if err2 := sigsyaml.Unmarshal(data, &d2); err2 != nil {
				sigsRejects(t, "deployment", err2)
			}
			if !reflect.DeepEqual(d1, d2) {
				t.Fatalf("deployment: differ: %#v vs %#v", d1, d2)
			}
		}
		var s1, s2 scalars
		if err := Strict("f", data, &s1); err == nil {
			if err2 := sigsyaml.Unmarshal(data, &s2); err2 != nil {
				sigsRejects(t, "scalars", err2)
			}
			if !reflect.DeepEqual(s1, s2) {
				t.Fatalf("scalars: differ: %#v vs %#v", s1, s2)
			}
		}
	})
}

// FuzzRefusals checks that Strict refuses what sigs.k8s.io/yaml.UnmarshalStrict accepts only for
// the documented reasons. yaml v3 and v2 do not agree on every malformed input, and v2 ignores
// what follows the first document, so syntax errors are left out.
func FuzzRefusals(f *testing.F) {
	for _, seed := range compatSeeds {
		f.Add([]byte(seed))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		if bytes.Contains(data, []byte("!")) {
			return
		}
		var a1, a2 any
		err := Strict("f", data, &a1)
		if err == nil {
			return
		}
		if err2 := sigsyaml.UnmarshalStrict(data, &a2); err2 != nil {
			return
		}
		for _, ok := range []string{"ambiguous", "duplicate key", "second YAML document", "refers to a node", "syntax error"} {
			if strings.Contains(err.Error(), ok) {
				return
			}
		}
		t.Fatalf("we reject, sigs accepts: %v", err)
	})
}
