package locate

import (
	"encoding/json"
	"errors"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	appsv1 "k8s.io/api/apps/v1"
	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/util/intstr"
	sigsyaml "sigs.k8s.io/yaml"
)

const deploymentYAML = `apiVersion: apps/v1
kind: Deployment
metadata:
  name: web
  labels:
    app: web
    app.kubernetes.io/name: web
spec:
  replicas: 3
  selector:
    matchLabels:
      app: web
  strategy:
    type: RollingUpdate
    rollingUpdate:
      maxSurge: 25%
      maxUnavailable: 1
  template:
    metadata:
      labels:
        app: web
    spec:
      containers:
      - name: web
        image: nginx:1.27
        args: ["--port", "8080"]
        ports:
        - containerPort: 8080
          protocol: TCP
        env:
        - name: MODE
          value: "yes"
        - name: THREADS
          value: 4
        resources:
          requests:
            cpu: 250m
            memory: "4"
          limits:
            cpu: 1
            memory: 512Mi
        readinessProbe:
          httpGet:
            path: /healthz
            port: http
          periodSeconds: 5
      - name: sidecar
        image: busybox
        command: [sleep, infinity]
`

// at returns the 1-based line and column of the first occurrence of needle in doc.
func at(t *testing.T, doc, needle string) (int, int) {
	t.Helper()
	i := strings.Index(doc, needle)
	require.GreaterOrEqual(t, i, 0, "needle %q not in document", needle)
	line := strings.Count(doc[:i], "\n") + 1
	col := i - strings.LastIndex(doc[:i], "\n")
	return line, col
}

func replace(t *testing.T, doc, old, new string) string {
	t.Helper()
	require.Equal(t, 1, strings.Count(doc, old), "%q must occur once", old)
	return strings.Replace(doc, old, new, 1)
}

func asError(t *testing.T, err error) *Error {
	t.Helper()
	require.Error(t, err)
	var e *Error
	require.True(t, errors.As(err, &e), "want *locate.Error, got %T: %v", err, err)
	assert.NotContains(t, e.Error(), "\n", "errors must be one line")
	return e
}

func TestValidDeploymentMatchesSigsYAML(t *testing.T) {
	var got, want appsv1.Deployment
	require.NoError(t, Strict("web.yaml", []byte(deploymentYAML), &got))
	require.NoError(t, sigsyaml.UnmarshalStrict([]byte(deploymentYAML), &want))
	assert.Equal(t, want, got)

	c := got.Spec.Template.Spec.Containers[0]
	assert.Equal(t, int32(3), *got.Spec.Replicas)
	assert.Equal(t, "web", got.Labels["app.kubernetes.io/name"])
	assert.Equal(t, "yes", c.Env[0].Value, "quoted yes stays a string")
	assert.Equal(t, "4", c.Env[1].Value, "a number in a string field becomes its text, as with sigs.k8s.io/yaml")
	assert.Equal(t, resource.MustParse("4"), c.Resources.Requests[corev1.ResourceMemory], `quoted "4" is a quantity`)
	assert.Equal(t, resource.MustParse("1"), c.Resources.Limits[corev1.ResourceCPU], "unquoted 1 is a quantity")
	assert.Equal(t, intstr.FromString("http"), c.ReadinessProbe.HTTPGet.Port)
	assert.Equal(t, intstr.FromInt32(1), *got.Spec.Strategy.RollingUpdate.MaxUnavailable)
	assert.Equal(t, []string{"sleep", "infinity"}, got.Spec.Template.Spec.Containers[1].Command)
}

func TestDeploymentErrors(t *testing.T) {
	const container = "spec.template.spec.containers[0]"
	tests := []struct {
		name     string
		old, new string // edit applied to deploymentYAML
		needle   string // where the error is reported
		path     string
		msg      []string // substrings of Msg
	}{
		{
			name:   "unknown field deep in a container",
			old:    "        image: nginx:1.27\n",
			new:    "        image: nginx:1.27\n        imagePulPolicy: Always\n",
			needle: "imagePulPolicy",
			path:   container + ".imagePulPolicy",
			msg:    []string{`unknown field "imagePulPolicy"`, `did you mean "imagePullPolicy"?`, "expected one of: imagePullPolicy"},
		},
		{
			name:   "unknown field lists at most eight",
			old:    "  replicas: 3\n",
			new:    "  replica: 3\n",
			needle: "replica: 3",
			path:   "spec.replica",
			msg:    []string{`unknown field "replica" (did you mean "replicas"?); expected one of: replicas, `},
		},
		{
			name:   "bad cpu quantity",
			old:    "cpu: 250m",
			new:    "cpu: 4 cores",
			needle: "4 cores",
			path:   container + ".resources.requests.cpu",
			msg:    []string{`invalid quantity "4 cores": quantities must match the regular expression`},
		},
		{
			name:   "string where an integer is expected",
			old:    "replicas: 3",
			new:    "replicas: three",
			needle: "three",
			path:   "spec.replicas",
			msg:    []string{`expected an integer (int32), got string "three"`},
		},
		{
			name:   "quoted number where an integer is expected",
			old:    "periodSeconds: 5",
			new:    `periodSeconds: "5"`,
			needle: `"5"`,
			path:   container + ".readinessProbe.periodSeconds",
			msg:    []string{`expected an integer (int32), got string "5"`},
		},
		{
			name:   "integer out of range",
			old:    "containerPort: 8080",
			new:    "containerPort: 99999999999",
			needle: "99999999999",
			path:   container + ".ports[0].containerPort",
			msg:    []string{"out of range"},
		},
		{
			name:   "list where a mapping is expected",
			old:    "    matchLabels:\n      app: web\n",
			new:    "    matchLabels:\n      - app: web\n",
			needle: "matchLabels",
			path:   "spec.selector.matchLabels",
			msg:    []string{"expected a mapping (map[string]string), got a list"},
		},
		{
			name:   "mapping where a list is expected",
			old:    `args: ["--port", "8080"]`,
			new:    `args: {port: "8080"}`,
			needle: "{port",
			path:   container + ".args",
			msg:    []string{"expected a list ([]string), got a mapping"},
		},
		{
			name:   "scalar where a struct is expected",
			old:    "  strategy:\n    type: RollingUpdate\n    rollingUpdate:\n      maxSurge: 25%\n      maxUnavailable: 1\n",
			new:    "  strategy: rolling\n",
			needle: "rolling\n",
			path:   "spec.strategy",
			msg:    []string{`expected a mapping (v1.DeploymentStrategy), got string "rolling"`},
		},
		{
			name:   "int-or-string rejects a boolean",
			old:    "maxSurge: 25%",
			new:    "maxSurge: true",
			needle: "true",
			path:   "spec.strategy.rollingUpdate.maxSurge",
			msg:    []string{`invalid integer or string "true"`},
		},
		{
			name:   "duplicate key",
			old:    "        image: nginx:1.27\n",
			new:    "        image: nginx:1.27\n        image: nginx:1.28\n",
			needle: "image: nginx:1.28",
			path:   container + ".image",
			msg:    []string{`duplicate key "image" (first set on line 25)`},
		},
		{
			name:   "YAML 1.1 boolean into a string field",
			old:    `value: "yes"`,
			new:    `value: yes`,
			needle: "yes",
			path:   container + ".env[0].value",
			msg:    []string{`ambiguous value yes`, `would become the string "true"`, `quote it ("yes")`},
		},
		{
			name:   "number that would lose its text",
			old:    "image: nginx:1.27",
			new:    "image: 1.10",
			needle: "1.10",
			path:   container + ".image",
			msg:    []string{`would become the string "1.1"`},
		},
		{
			name:   "ambiguous label key",
			old:    "    app: web\n    app.kubernetes.io",
			new:    "    on: web\n    app.kubernetes.io",
			needle: "on: web",
			path:   "metadata.labels.on",
			msg:    []string{`ambiguous key on`, `the key would become "true"`},
		},
		{
			name:   "key that is not a JSON field name",
			old:    "kind: Deployment",
			new:    "Kind: Deployment",
			needle: "Kind",
			path:   "Kind",
			msg:    []string{`unknown field "Kind" (did you mean "kind"?)`},
		},
		{
			name:   "path with a dotted key",
			old:    "app.kubernetes.io/name: web",
			new:    "app.kubernetes.io/name: [web]",
			needle: "[web]",
			path:   `metadata.labels["app.kubernetes.io/name"]`,
			msg:    []string{"expected a string, got a list"},
		},
		{
			name:   "bad timestamp",
			old:    "  name: web\n",
			new:    "  name: web\n  creationTimestamp: yesterday\n",
			needle: "yesterday",
			path:   "metadata.creationTimestamp",
			msg:    []string{`invalid time (RFC 3339) "yesterday"`},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			doc := replace(t, deploymentYAML, tt.old, tt.new)
			var d appsv1.Deployment
			e := asError(t, Strict("web.yaml", []byte(doc), &d))
			line, col := at(t, doc, tt.needle)
			assert.Equal(t, "web.yaml", e.File)
			assert.Equal(t, line, e.Line, "line: %v", e)
			assert.Equal(t, col, e.Column, "column: %v", e)
			assert.Equal(t, tt.path, e.Path)
			for _, m := range tt.msg {
				assert.Contains(t, e.Msg, m)
			}
		})
	}
}

func TestSyntaxErrors(t *testing.T) {
	tests := []struct {
		name string
		doc  string
		line int
		msg  string
	}{
		{"key indented less than its siblings", "spec:\n  replicas: 1\n selector: {}\n", 3, "did not find expected key"},
		{"key indented more than its siblings", "kind: Pod\n  spec: {}\n", 2, "mapping values are not allowed"},
		{"mapping value on the first line", "a: b: c\n", 1, "mapping values are not allowed"},
		{"tab indentation", "spec:\n\t- a\n", 2, "cannot start any token"},
		{"unclosed flow sequence", "a: [1, 2\nb: 3\n", 1, "did not find expected ',' or ']'"},
		{"second document", "kind: Pod\n---\nkind: Service\n", 3, "a second YAML document"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := Parse("bad.yaml", []byte(tt.doc))
			e := asError(t, err)
			assert.Equal(t, tt.line, e.Line, "%v", e)
			assert.Contains(t, e.Msg, tt.msg)
			assert.Empty(t, e.Path)
		})
	}
}

func TestEmptyAndTrailingDocuments(t *testing.T) {
	for name, doc := range map[string]string{
		"empty":            "",
		"comment only":     "# nothing here\n",
		"trailing marker":  "kind: Pod\n---\n",
		"explicit markers": "---\nkind: Pod\n...\n",
	} {
		t.Run(name, func(t *testing.T) {
			var p corev1.Pod
			assert.NoError(t, Strict("p.yaml", []byte(doc), &p))
		})
	}
}

func TestErrorString(t *testing.T) {
	tests := []struct {
		name string
		err  Error
		want string
	}{
		{"full", Error{File: "a.yaml", Line: 3, Column: 7, Path: "spec.replicas", Msg: "expected an integer"}, "a.yaml:3:7: spec.replicas: expected an integer"},
		{"no column", Error{File: "a.yaml", Line: 3, Msg: "syntax error: x"}, "a.yaml:3: syntax error: x"},
		{"no position", Error{File: "a.yaml", Path: "spec", Msg: "m"}, "a.yaml: spec: m"},
		{"no file", Error{Line: 1, Column: 2, Msg: "m"}, "<input>:1:2: m"},
		{"multi-line message", Error{File: "a.yaml", Line: 1, Column: 1, Msg: "one\ntwo"}, "a.yaml:1:1: one two"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			assert.Equal(t, tt.want, tt.err.Error())
		})
	}

	t.Run("real error", func(t *testing.T) {
		doc := "spec:\n  replicas: three\n"
		var d appsv1.Deployment
		err := Strict("web.yaml", []byte(doc), &d)
		assert.EqualError(t, err, `web.yaml:2:13: spec.replicas: expected an integer (int32), got string "three"`)
	})
}

func TestLookup(t *testing.T) {
	n, err := Parse("web.yaml", []byte(deploymentYAML))
	require.NoError(t, err)
	tests := []struct {
		name   string
		path   string
		needle string // expected position; "" when missing
	}{
		{"root", "", "apiVersion"},
		{"scalar value", "spec.replicas", "3\n"},
		{"block mapping is at its key", "spec.template", "template"},
		{"list item", "spec.template.spec.containers[1]", "name: sidecar"},
		{"deep scalar", "spec.template.spec.containers[0].resources.limits.memory", "512Mi"},
		{"flow list item", "spec.template.spec.containers[0].args[1]", `"8080"]`},
		{"quoted key", `metadata.labels["app.kubernetes.io/name"]`, "web\nspec:"},
		{"missing field", "spec.paused", ""},
		{"index out of range", "spec.template.spec.containers[2]", ""},
		{"index into a mapping", "spec[0]", ""},
		{"malformed path", "spec..replicas", ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			line, col, ok := n.Lookup(tt.path)
			if tt.needle == "" {
				assert.False(t, ok)
				return
			}
			require.True(t, ok)
			wl, wc := at(t, deploymentYAML, tt.needle)
			assert.Equal(t, []int{wl, wc}, []int{line, col})
		})
	}
}

func TestErrorf(t *testing.T) {
	n, err := Parse("web.yaml", []byte(deploymentYAML))
	require.NoError(t, err)

	e := n.Errorf("spec.replicas", "must be at most %d", 2)
	line, col := at(t, deploymentYAML, "3\n")
	assert.Equal(t, &Error{File: "web.yaml", Line: line, Column: col, Path: "spec.replicas", Msg: "must be at most 2"}, e)

	// A missing field is reported at its nearest ancestor.
	e = n.Errorf("spec.template.spec.containers[1].resources.limits", "limits are required")
	line, col = at(t, deploymentYAML, "name: sidecar")
	assert.Equal(t, []int{line, col}, []int{e.Line, e.Column})
}

func TestDecodeSubtree(t *testing.T) {
	n, err := Parse("web.yaml", []byte(deploymentYAML))
	require.NoError(t, err)

	var c corev1.Container
	require.NoError(t, n.Decode("spec.template.spec.containers[0]", &c))
	assert.Equal(t, "nginx:1.27", c.Image)

	var s corev1.PodSpec
	e := asError(t, n.Decode("spec.template", &s))
	assert.Equal(t, "spec.template.metadata", e.Path, "paths are absolute even for a subtree")
	assert.Contains(t, e.Msg, `unknown field "metadata"`)

	e = asError(t, n.Decode("spec.nope", &s))
	assert.Equal(t, "spec.nope", e.Path)
	line, _ := at(t, deploymentYAML, "spec:")
	assert.Equal(t, line, e.Line, "located at the nearest ancestor")

	assert.Error(t, n.Decode("", s), "non-pointer targets are refused")
}

const cronJobYAML = `apiVersion: batch/v1
kind: CronJob
metadata:
  name: report
spec:
  schedule: "*/5 * * * *"
  suspend: no
  startingDeadlineSeconds: 100
  jobTemplate:
    spec:
      backoffLimit: 2
      template:
        spec:
          restartPolicy: OnFailure
          containers:
          - name: report
            image: busybox:1.36
            command: ["sh", "-c", "date"]
`

func TestCronJob(t *testing.T) {
	t.Run("valid", func(t *testing.T) {
		var got, want batchv1.CronJob
		require.NoError(t, Strict("cron.yaml", []byte(cronJobYAML), &got))
		require.NoError(t, sigsyaml.UnmarshalStrict([]byte(cronJobYAML), &want))
		assert.Equal(t, want, got)
		require.NotNil(t, got.Spec.Suspend)
		assert.False(t, *got.Spec.Suspend, "YAML 1.1: no is false, as with sigs.k8s.io/yaml")
	})
	tests := []struct {
		name, old, new, needle, path, msg string
	}{
		{"bool field", "suspend: no", "suspend: sometimes", "sometimes", "spec.suspend", `expected a boolean (true or false), got string "sometimes"`},
		{"deep unknown field", "backoffLimit: 2", "backofLimit: 2", "backofLimit", "spec.jobTemplate.spec.backofLimit", `did you mean "backoffLimit"?`},
		{"command as a string", `command: ["sh", "-c", "date"]`, "command: date", "date\n", "spec.jobTemplate.spec.template.spec.containers[0].command", `expected a list ([]string), got string "date"`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			doc := replace(t, cronJobYAML, tt.old, tt.new)
			var c batchv1.CronJob
			e := asError(t, Strict("cron.yaml", []byte(doc), &c))
			line, col := at(t, doc, tt.needle)
			assert.Equal(t, []int{line, col}, []int{e.Line, e.Column}, "%v", e)
			assert.Equal(t, tt.path, e.Path)
			assert.Contains(t, e.Msg, tt.msg)
		})
	}
}

const podYAML = `apiVersion: v1
kind: Pod
metadata:
  name: db
  creationTimestamp: "2024-05-01T10:00:00Z"
  annotations:
    note: |
      multi
      line
spec:
  terminationGracePeriodSeconds: 30
  containers:
  - name: db
    image: postgres:16
    livenessProbe:
      tcpSocket:
        port: 5432
    volumeMounts:
    - name: data
      mountPath: /var/lib/postgresql
  volumes:
  - name: data
    emptyDir:
      sizeLimit: 1Gi
`

func TestPod(t *testing.T) {
	var got, want corev1.Pod
	require.NoError(t, Strict("pod.yaml", []byte(podYAML), &got))
	require.NoError(t, sigsyaml.UnmarshalStrict([]byte(podYAML), &want))
	assert.Equal(t, want, got)
	assert.Equal(t, intstr.FromInt32(5432), got.Spec.Containers[0].LivenessProbe.TCPSocket.Port)

	doc := replace(t, podYAML, "sizeLimit: 1Gi", "sizeLimit: lots")
	e := asError(t, Strict("pod.yaml", []byte(doc), &got))
	assert.Equal(t, "spec.volumes[0].emptyDir.sizeLimit", e.Path)
	assert.True(t, strings.HasPrefix(e.Msg, `invalid quantity "lots": quantities must match`), e.Msg)
}

// Base is embedded with json:",inline", the Kubernetes way.
type Base struct {
	Kind    string `json:"kind"`
	Version int    `json:"version,omitempty"`
}

// Extra is embedded without a tag, which encoding/json also inlines.
type Extra struct {
	Note string `json:"note,omitempty"`
}

type scenario struct {
	Base `json:",inline"`
	Extra
	Metadata metav1.ObjectMeta    `json:"metadata,omitempty"`
	Params   map[string]any       `json:"params,omitempty"`
	Anything any                  `json:"anything,omitempty"`
	Raw      json.RawMessage      `json:"raw,omitempty"`
	Object   runtime.RawExtension `json:"object,omitempty"`
	Timeout  metav1.Duration      `json:"timeout,omitempty"`
	Weights  map[string]float64   `json:"weights,omitempty"`
	Steps    []step               `json:"steps,omitempty"`
	Secret   string               `json:"-"`
	Count    *int                 `json:"count,omitempty"`
}

type step struct {
	Name  string             `json:"name"`
	After *resource.Quantity `json:"after,omitempty"`
}

const scenarioYAML = `kind: Scenario
version: 2
note: inline without a tag
metadata:
  name: s1
defaults: &defaults
  name: base
  after: 1
params:
  rate: 0.5
  enabled: yes
  nested: {a: [1, two, null], b: ~}
anything: [1, "x", {z: true}]
raw: {b: 1, a: [true]}
object:
  apiVersion: v1
  kind: ConfigMap
timeout: 1m30s
weights: {a: 1, b: 2.5}
steps:
- <<: *defaults
  name: first
- *defaults
count: 7
`

func TestLocalStruct(t *testing.T) {
	// defaults is not a field of scenario; decode everything else.
	doc := strings.Replace(scenarioYAML, "defaults: &defaults\n  name: base\n  after: 1\n", "", 1)
	doc = strings.Replace(doc, "- <<: *defaults\n  name: first\n- *defaults\n", "- {name: first, after: 1}\n- {name: base, after: 1}\n", 1)

	var got, want scenario
	require.NoError(t, Strict("s.yaml", []byte(doc), &got))
	require.NoError(t, sigsyaml.UnmarshalStrict([]byte(doc), &want))
	assert.Equal(t, want, got)
	assert.Equal(t, "Scenario", got.Kind)
	assert.Equal(t, "inline without a tag", got.Note)
	assert.Equal(t, true, got.Params["enabled"], "YAML 1.1: yes is true in untyped fields, as with sigs.k8s.io/yaml")
	assert.JSONEq(t, `{"a":[true],"b":1}`, string(got.Raw))
	assert.JSONEq(t, `{"apiVersion":"v1","kind":"ConfigMap"}`, string(got.Object.Raw))
	assert.Equal(t, 90.0, got.Timeout.Seconds())

	t.Run("anchors and merge keys", func(t *testing.T) {
		type withDefaults struct {
			scenario `json:",inline"`
			Defaults step `json:"defaults"`
		}
		var s withDefaults
		require.NoError(t, Strict("s.yaml", []byte(scenarioYAML), &s))
		require.Len(t, s.Steps, 2)
		assert.Equal(t, "first", s.Steps[0].Name, "keys set in the mapping win over merged ones")
		assert.Equal(t, resource.MustParse("1"), *s.Steps[0].After)
		assert.Equal(t, "base", s.Steps[1].Name)
	})

	tests := []struct {
		name, old, new, needle, path, msg string
	}{
		{"unknown field lists inlined fields", "note: inline without a tag", "notes: x", "notes", "notes", `did you mean "note"?`},
		{"inlined field keeps its type", "version: 2", "version: two", "two", "version", `expected an integer (int), got string "two"`},
		{"no coercion into inlined string fields, as in sigs.k8s.io/yaml", "kind: Scenario", "kind: 12", "12", "kind", "expected a string, got number 12"},
		{"json:\"-\" fields are unknown", "count: 7", "Secret: x", "Secret", "Secret", `unknown field "Secret"`},
		{"any takes anything but JSON has no infinity", "rate: 0.5", "rate: .inf", ".inf", "params.rate", "JSON has no infinity or NaN"},
		{"ambiguous key inside map[string]any", "rate: 0.5", "off: 0.5", "off", "params.off", "ambiguous key off"},
		{"duplicate key inside map[string]any", "rate: 0.5", "rate: 0.5\n  rate: 1", "rate: 1", "params.rate", `duplicate key "rate"`},
		{"quantity behind a pointer in a list", "- {name: base, after: 1}", "- {name: base, after: soon}", "soon", "steps[1].after", `invalid quantity "soon"`},
		{"metav1.Duration", "timeout: 1m30s", "timeout: 90", "90", "timeout", "invalid duration"},
		{"map value of the wrong kind", "weights: {a: 1, b: 2.5}", "weights: {a: 1, b: heavy}", "heavy", "weights.b", `expected a number (float64), got string "heavy"`},
		{"y is a YAML 1.1 boolean key", "{z: true}", "{x: 1, y: 2}", "y: 2", "anything[2].y", `ambiguous key y: YAML 1.1 reads it as a boolean, so the key would become "true"`},
		{"merge key needs a mapping", "- {name: first, after: 1}", "- {<<: 3, name: first}", "3, name", "steps[0]", "merge key (<<) expects a mapping"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			doc := replace(t, doc, tt.old, tt.new)
			var s scenario
			e := asError(t, Strict("s.yaml", []byte(doc), &s))
			line, col := at(t, doc, tt.needle)
			assert.Equal(t, []int{line, col}, []int{e.Line, e.Column}, "%v", e)
			assert.Equal(t, tt.path, e.Path)
			assert.Contains(t, e.Msg, tt.msg)
		})
	}
}

func TestAliases(t *testing.T) {
	tests := []struct {
		name string
		doc  string
		msg  string
	}{
		{"self-referencing list", "a: &x [1, *x]\n", "refers to a node that contains it"},
		{"self-merging mapping", "a: &x {b: 1, <<: *x}\n", "refers to a node that contains it"},
		{"alias bomb", `a: &a ["lol","lol","lol","lol","lol","lol","lol","lol","lol"]
b: &b [*a,*a,*a,*a,*a,*a,*a,*a,*a]
c: &c [*b,*b,*b,*b,*b,*b,*b,*b,*b]
d: &d [*c,*c,*c,*c,*c,*c,*c,*c,*c]
e: &e [*d,*d,*d,*d,*d,*d,*d,*d,*d]
f: &f [*e,*e,*e,*e,*e,*e,*e,*e,*e]
g: &g [*f,*f,*f,*f,*f,*f,*f,*f,*f]
`, "too many nodes"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var v any
			e := asError(t, Strict("a.yaml", []byte(tt.doc), &v))
			assert.Contains(t, e.Msg, tt.msg)
			assert.Positive(t, e.Line)
		})
	}
}

func TestMergeKeys(t *testing.T) {
	const defs = "d1: &d1 {name: one, size: 1}\nd2: &d2 {name: two, color: red}\n"
	tests := []struct {
		name string
		item string
		want map[string]any
	}{
		{"merged keys come in", "{<<: *d1}", map[string]any{"name": "one", "size": 1.0}},
		{"own key after the merge wins", "{<<: *d1, name: mine}", map[string]any{"name": "mine", "size": 1.0}},
		{"own key before the merge wins", "{name: mine, <<: *d1}", map[string]any{"name": "mine", "size": 1.0}},
		{"first of several merged mappings wins", "{<<: [*d1, *d2]}", map[string]any{"name": "one", "size": 1.0, "color": "red"}},
		{"inline mapping", "{<<: {name: inline}, size: 3}", map[string]any{"name": "inline", "size": 3.0}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var v map[string]any
			require.NoError(t, Strict("m.yaml", []byte(defs+"item: "+tt.item+"\n"), &v))
			assert.Equal(t, tt.want, v["item"])
		})
	}
}
