package results

import (
	"bytes"
	"encoding/json"
	"os"
	"path/filepath"
	"reflect"
	"sort"
	"strings"
	"testing"

	"github.com/santhosh-tekuri/jsonschema/v6"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// summarySchema compiles schema/summary.schema.json with a real JSON Schema validator
// (santhosh-tekuri/jsonschema, draft 2020-12), so the published schema is itself checked.
func summarySchema(t *testing.T) *jsonschema.Schema {
	t.Helper()
	f, err := os.Open(filepath.Join("schema", "summary.schema.json"))
	require.NoError(t, err)
	defer f.Close()
	doc, err := jsonschema.UnmarshalJSON(f)
	require.NoError(t, err)
	c := jsonschema.NewCompiler()
	require.NoError(t, c.AddResource("summary.schema.json", doc))
	sch, err := c.Compile("summary.schema.json")
	require.NoError(t, err)
	return sch
}

func validate(t *testing.T, sch *jsonschema.Schema, raw []byte) error {
	t.Helper()
	doc, err := jsonschema.UnmarshalJSON(bytes.NewReader(raw))
	require.NoError(t, err)
	return sch.Validate(doc)
}

func TestStoredBaselinesMatchTheSchema(t *testing.T) {
	sch := summarySchema(t)
	files, err := filepath.Glob(filepath.Join("baselines", "*.json"))
	require.NoError(t, err)
	require.NotEmpty(t, files, "results/baselines holds real summaries written by 'make baselines'")
	for _, f := range files {
		t.Run(filepath.Base(f), func(t *testing.T) {
			raw, err := os.ReadFile(f)
			require.NoError(t, err)
			assert.NoError(t, validate(t, sch, raw))
		})
	}
}

func TestWrittenSummariesMatchTheSchema(t *testing.T) {
	sch := summarySchema(t)
	interrupted := twoVariants()
	interrupted.Interrupted = true
	interrupted.Done[1] = []bool{true, false, false, false}
	withSets := twoVariants()
	withSets.Sets = []string{"spec.duration=1h"}
	withInvalid := twoVariants()
	withInvalid.Done[1][0] = false
	withInvalid.Invalid = []InvalidRun{{Variant: withInvalid.Variants[1], Seed: withInvalid.Seeds[0], Reasons: []string{"kube-apiserver (pid 7) died 20s into the run"}}}
	for name, in := range map[string]Input{"complete": twoVariants(), "interrupted": interrupted, "with --set": withSets, "with an invalid run": withInvalid} {
		t.Run(name, func(t *testing.T) {
			s, err := Summarize(in)
			require.NoError(t, err)
			dir := t.TempDir()
			require.NoError(t, WriteDir(dir, in, s, nil))
			raw, err := os.ReadFile(filepath.Join(dir, "summary.json"))
			require.NoError(t, err)
			assert.NoError(t, validate(t, sch, raw))
		})
	}
	t.Run("the schema rejects what it must", func(t *testing.T) {
		s, err := Summarize(twoVariants())
		require.NoError(t, err)
		raw, err := json.Marshal(s)
		require.NoError(t, err)
		for _, bad := range []struct{ from, to string }{
			{`"schema":1`, `"schema":2`},
			{`"interrupted":false`, `"interupted":false`},
			{`"verdict":"inconclusive"`, `"verdict":"maybe"`},
		} {
			require.Contains(t, string(raw), bad.from)
			assert.Error(t, validate(t, sch, []byte(strings.Replace(string(raw), bad.from, bad.to, 1))), bad.to)
		}
	})
}

// The schema and the Go types name the same fields, both ways: every JSON field of a type is a
// property of its schema definition, every property is a field, and a field is required exactly
// when Go always writes it (no omitempty).
func TestSchemaAndGoTypesAgree(t *testing.T) {
	raw, err := os.ReadFile(filepath.Join("schema", "summary.schema.json"))
	require.NoError(t, err)
	type def struct {
		Properties map[string]json.RawMessage `json:"properties"`
		Required   []string                   `json:"required"`
	}
	var root struct {
		def
		Defs map[string]def `json:"$defs"`
	}
	require.NoError(t, json.Unmarshal(raw, &root))
	for name, pair := range map[string]struct {
		typ reflect.Type
		def def
	}{
		"summary":          {reflect.TypeFor[Summary](), root.def},
		"objective":        {reflect.TypeFor[Objective](), root.Defs["objective"]},
		"variant":          {reflect.TypeFor[VariantSummary](), root.Defs["variant"]},
		"objectiveSummary": {reflect.TypeFor[ObjectiveSummary](), root.Defs["objectiveSummary"]},
		"violations":       {reflect.TypeFor[Violations](), root.Defs["violations"]},
		"comparison":       {reflect.TypeFor[Comparison](), root.Defs["comparison"]},
		"estimate":         {reflect.TypeFor[Estimate](), root.Defs["estimate"]},
	} {
		t.Run(name, func(t *testing.T) {
			var fields, required []string
			for i := range pair.typ.NumField() {
				tag := pair.typ.Field(i).Tag.Get("json")
				if tag == "" || tag == "-" {
					continue
				}
				n, opts, _ := strings.Cut(tag, ",")
				fields = append(fields, n)
				if !strings.Contains(opts, "omitempty") {
					required = append(required, n)
				}
			}
			var props []string
			for p := range pair.def.Properties {
				props = append(props, p)
			}
			sort.Strings(fields)
			sort.Strings(props)
			sort.Strings(required)
			want := append([]string(nil), pair.def.Required...)
			sort.Strings(want)
			assert.Equal(t, fields, props, "fields of %s against the schema's properties", pair.typ)
			assert.Equal(t, required, want, "always-written fields of %s against the schema's required", pair.typ)
		})
	}
}
