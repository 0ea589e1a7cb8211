package scenarios_test

import (
	"errors"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"testing/fstest"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/faultline-dev/faultline/scenarios"
)

const goodDir = "testdata/good"

// assertOneLine checks the promise every error keeps: one line per problem (a file with several
// problems reports them all, a line each), each naming its file, no panic, no Go stack trace.
func assertOneLine(t *testing.T, msg string) {
	t.Helper()
	for _, line := range strings.Split(msg, "\n") {
		assert.Regexp(t, `^[^:]+(:\d+(:\d+)?)?: `, line, "every line is one problem, starting with its file")
	}
	// "panic" alone is a word of the domain (kernel panics), "panic: " is Go's
	for _, bad := range []string{"goroutine ", "panic: ", ".go:", "runtime error"} {
		assert.NotContains(t, msg, bad)
	}
}

// TestLoadErrors loads one bad file per case and checks that the error names the file, the line,
// the field path and what was expected.
func TestLoadErrors(t *testing.T) {
	const bad = "testdata/bad/"
	tests := []struct {
		name string
		file string // opened with scenarios.Open, relative to this package
		// the located error
		wantFile string // defaults to file
		wantLine int
		wantPath string
		wantMsg  []string
	}{
		// 1. YAML syntax
		{name: "yaml syntax error", file: "yaml-syntax.yaml", wantLine: 10, wantPath: "",
			wantMsg: []string{"syntax error", "did not find expected ',' or '}'"}},
		// 2. unknown fields
		{name: "unknown field at top level", file: "unknown-top-field.yaml", wantLine: 11, wantPath: "owner",
			wantMsg: []string{`unknown field "owner"`, "expected one of", "apiVersion", "metadata"}},
		{name: "unknown field in spec", file: "unknown-spec-field.yaml", wantLine: 11, wantPath: "spec.seed",
			wantMsg: []string{`unknown field "seed"`, `did you mean "seeds"?`}},
		{name: "unknown field deep in a Deployment", file: "unknown-manifest-field.yaml", wantLine: 23,
			wantPath: "spec.objects[0].spec.template.spec.containers[0].resourcez",
			wantMsg:  []string{`unknown field "resourcez"`, `did you mean "resources"?`}},
		// 3. quantities
		{name: "bad quantity in container requests", file: "bad-quantity-requests.yaml", wantLine: 24,
			wantPath: "spec.objects[0].spec.template.spec.containers[0].resources.requests.cpu",
			wantMsg:  []string{`invalid quantity "4 cores"`}},
		{name: "bad quantity in node pool capacity", file: "bad-quantity-capacity.yaml", wantLine: 10,
			wantPath: "spec.cluster.nodePools[0].capacity.cpu",
			wantMsg:  []string{`invalid quantity "4 cores"`}},
		// 4. patch targets
		{name: "patch target does not exist", file: "patch-target.yaml", wantLine: 27,
			wantPath: "spec.variants[1].patches[0].target",
			wantMsg:  []string{`patch target "deployment/nope" does not exist`, "objects are: deployment/web"}},
		// 5. faults
		{name: "unknown fault kind", file: "unknown-fault-kind.yaml", wantLine: 15, wantPath: "spec.faults[0].object.kind",
			wantMsg: []string{`unknown fault kind "BananaChaos"`, "expected one of AWSChaos, GCPChaos, NetworkChaos, PodChaos, StressChaos"}},
		{name: "unsupported PodChaos action", file: "unsupported-action.yaml", wantLine: 30,
			wantPath: "spec.faults[0].object.spec.action",
			wantMsg:  []string{`action "container-kill" is not modelled`, "expected pod-kill or pod-failure"}},
		// 6. objectives
		{name: "unknown indicator", file: "unknown-indicator.yaml", wantLine: 13, wantPath: "spec.objectives[1].indicator",
			wantMsg: []string{`unknown indicator "customer-happiness"`, "expected one of request-success-ratio, node-panics"}},
		{name: "bad objective target", file: "bad-target.yaml", wantLine: 14, wantPath: "spec.objectives[0].target",
			wantMsg: []string{`"about 3"`, "expected OP NUMBER"}},
		// 7. header
		{name: "wrong apiVersion", file: "wrong-apiversion.yaml", wantLine: 2, wantPath: "apiVersion",
			wantMsg: []string{`got "faultline.dev/v1"`, `expected "faultline.dev/v1alpha1"`}},
		{name: "wrong kind", file: "wrong-kind.yaml", wantLine: 3, wantPath: "kind",
			wantMsg: []string{`got "Deployment"`, `expected "Scenario"`}},
		{name: "missing metadata.name", file: "missing-name.yaml", wantLine: 4, wantPath: "metadata.name",
			wantMsg: []string{"missing", "expected the scenario's name"}},
		{name: "missing duration", file: "missing-duration.yaml", wantLine: 6, wantPath: "spec.duration",
			wantMsg: []string{"missing", "expected a duration such as 72h"}},
		// 8. includes
		{name: "error in an included file", file: "include-error/scenario.yaml",
			wantFile: bad + "include-error/manifests.yaml", wantLine: 23,
			wantPath: "spec.template.spec.containers[0].resourcez",
			wantMsg:  []string{`unknown field "resourcez"`, `did you mean "resources"?`}},
		{name: "include matches no file", file: "include-missing.yaml", wantLine: 12, wantPath: "spec.objects[0].include",
			wantMsg: []string{`"manifest.yaml" matches no file`}},
		// 9. load targets (reported by the simulator)
		{name: "load target names no Deployment", file: "load-target.yaml", wantLine: 24, wantPath: "spec.load[0].target",
			wantMsg: []string{`"deployment/wbe" names no Deployment in objects`}},
		{name: "load target names no Deployment, scenario with variants", file: "load-target-variants.yaml",
			wantLine: 24, wantPath: "spec.load[0].target",
			wantMsg: []string{`"deployment/wbe" names no Deployment in objects`}},
		{name: "load target lost by a variant's patch", file: "load-target-patched.yaml",
			wantLine: 24, wantPath: "spec.load[0].target",
			wantMsg: []string{`"deployment/web" names no Deployment in objects`, `(with the patches of variant "renamed")`}},
		// 10. fault naming a node that does not exist (reported by the simulator)
		{name: "fault names an unknown node", file: "fault-node.yaml", wantLine: 12, wantPath: "spec.faults[0]",
			wantMsg: []string{`node "pool-b-1" does not exist`, "nodes are named <pool>-<n>, e.g. pool-a-1"}},
		// 11. duplicates
		{name: "duplicate variant names", file: "duplicate-variant.yaml", wantLine: 15, wantPath: "spec.variants[2].name",
			wantMsg: []string{`variant "fix" is defined twice`}},
		{name: "duplicate inline objects", file: "duplicate-object.yaml", wantLine: 14, wantPath: "spec.objects[2]",
			wantMsg: []string{"service/default/web is defined twice", "first at " + bad + "duplicate-object.yaml:12"}},
		{name: "duplicate objects in an included file", file: "include-duplicate/scenario.yaml",
			wantFile: bad + "include-duplicate/manifests.yaml", wantLine: 15, wantPath: "",
			wantMsg: []string{"service/default/web is defined twice", "first at " + bad + "include-duplicate/manifests.yaml:1"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			file := bad + tt.file
			wantFile := tt.wantFile
			if wantFile == "" {
				wantFile = file
			}
			sc, err := scenarios.Open(file)
			require.Error(t, err)
			assert.Nil(t, sc)
			msg := err.Error()
			t.Log(msg)
			assertOneLine(t, msg)
			var e *scenarios.Error
			require.True(t, errors.As(err, &e), "want a located *scenarios.Error, got %T: %v", err, err)
			assert.Equal(t, wantFile, e.File)
			assert.Equal(t, tt.wantLine, e.Line)
			assert.Equal(t, tt.wantPath, e.Path)
			for _, m := range tt.wantMsg {
				assert.Contains(t, e.Msg, m)
			}
			// the formatted line reads FILE:LINE[:COL]: PATH: MSG
			assert.True(t, strings.HasPrefix(msg, wantFile+":"+strconv.Itoa(tt.wantLine)+":"), "prefix of %q", msg)
			if tt.wantPath != "" {
				assert.Contains(t, msg, ": "+tt.wantPath+": ")
			}
		})
	}
}

// TestIncludedLineNumbers checks that documents after --- keep the included file's own line
// numbers, whichever document the error is in.
func TestIncludedLineNumbers(t *testing.T) {
	good, err := os.ReadFile(filepath.Join(goodDir, "manifests.yaml"))
	require.NoError(t, err)
	scenario, err := os.ReadFile(filepath.Join(goodDir, "scenario.yaml"))
	require.NoError(t, err)
	tests := []struct {
		name     string
		old, new string
		wantLine int
		wantPath string
	}{
		{"first document", "image: example/web:1", "imagez: example/web:1", 17, "spec.template.spec.containers[0].imagez"},
		{"second document", "replicas: 2", "replicas: two", 27, "spec.replicas"},
		{"quantity in the second document", "cpu: 250m, memory: 512Mi", "cpu: 250 millicores, memory: 512Mi", 38,
			"spec.template.spec.containers[0].resources.requests.cpu"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			require.Contains(t, string(good), tt.old)
			fsys := fstest.MapFS{
				"s/scenario.yaml":  {Data: scenario},
				"s/manifests.yaml": {Data: []byte(strings.Replace(string(good), tt.old, tt.new, 1))},
			}
			_, err := scenarios.LoadFS(fsys, "s/scenario.yaml", "dir/scenario.yaml")
			require.Error(t, err)
			assertOneLine(t, err.Error())
			var e *scenarios.Error
			require.ErrorAs(t, err, &e)
			assert.Equal(t, "dir/manifests.yaml", e.File)
			assert.Equal(t, tt.wantLine, e.Line)
			assert.Equal(t, tt.wantPath, e.Path)
		})
	}
}

// TestTruncatedFilesNeverPanic loads the good scenario cut off after every line, of the scenario
// file and of the included file: each load either succeeds or fails with one located line.
func TestTruncatedFilesNeverPanic(t *testing.T) {
	scenario, err := os.ReadFile(filepath.Join(goodDir, "scenario.yaml"))
	require.NoError(t, err)
	manifests, err := os.ReadFile(filepath.Join(goodDir, "manifests.yaml"))
	require.NoError(t, err)
	cut := func(data []byte, lines int) []byte {
		parts := strings.SplitAfter(string(data), "\n")
		return []byte(strings.Join(parts[:lines], ""))
	}
	check := func(t *testing.T, s, m []byte) {
		t.Helper()
		fsys := fstest.MapFS{"scenario.yaml": {Data: s}, "manifests.yaml": {Data: m}}
		var sc *scenarios.Scenario
		var err error
		require.NotPanics(t, func() { sc, err = scenarios.LoadFS(fsys, "scenario.yaml", "t/scenario.yaml") })
		if err == nil {
			require.NotNil(t, sc)
			return
		}
		msg := err.Error()
		assertOneLine(t, msg)
		assert.True(t, strings.HasPrefix(msg, "t/scenario.yaml:") || strings.HasPrefix(msg, "t/manifests.yaml:"), "%s", msg)
	}
	n := strings.Count(string(scenario), "\n")
	for i := 0; i <= n; i++ {
		t.Run("scenario.yaml lines "+strconv.Itoa(i), func(t *testing.T) { check(t, cut(scenario, i), manifests) })
	}
	n = strings.Count(string(manifests), "\n")
	for i := 0; i <= n; i++ {
		t.Run("manifests.yaml lines "+strconv.Itoa(i), func(t *testing.T) { check(t, scenario, cut(manifests, i)) })
	}
}

func TestOpen(t *testing.T) {
	tests := []struct {
		name     string
		arg      string
		wantFile string
		wantName string
	}{
		{"file path", "testdata/good/scenario.yaml", "testdata/good/scenario.yaml", "good"},
		{"folder", "testdata/good", "testdata/good/scenario.yaml", "good"},
		{"folder with a trailing slash", "testdata/good/", "testdata/good/scenario.yaml", "good"},
		{"library folder on disk", "kernel-panic-stacking", "kernel-panic-stacking/scenario.yaml", "kernel-panic-stacking"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			sc, err := scenarios.Open(tt.arg)
			require.NoError(t, err)
			assert.Equal(t, tt.wantFile, sc.File)
			assert.Equal(t, tt.wantName, sc.Name())
		})
	}

	t.Run("good scenario content", func(t *testing.T) {
		sc, err := scenarios.Open(goodDir)
		require.NoError(t, err)
		require.Len(t, sc.Objects, 3)
		assert.Equal(t, []string{"deployment/default/web", "deployment/default/api", "service/default/web"},
			[]string{sc.Objects[0].Ref(), sc.Objects[1].Ref(), sc.Objects[2].Ref()})
		assert.Equal(t, "testdata/good/manifests.yaml:2", sc.Objects[0].Where)
		assert.Equal(t, "testdata/good/manifests.yaml:21", sc.Objects[1].Where)
		assert.Equal(t, "testdata/good/scenario.yaml:19", sc.Objects[2].Where)
		assert.Len(t, sc.Faults, 3)
		assert.Equal(t, 3, sc.Seeds())
		assert.True(t, strings.HasPrefix(sc.Digest, "sha256:"), sc.Digest)
	})

	t.Run("library name from elsewhere uses the embedded library", func(t *testing.T) {
		t.Chdir(t.TempDir())
		sc, err := scenarios.Open("kernel-panic-stacking")
		require.NoError(t, err)
		assert.Equal(t, "scenarios/kernel-panic-stacking/scenario.yaml", sc.File)
		assert.Equal(t, "kernel-panic-stacking", sc.Name())
		assert.Len(t, sc.Objects, 7)
		assert.Len(t, sc.Faults, 3)
		assert.Equal(t, "scenarios/kernel-panic-stacking/manifests.yaml:5", sc.Objects[0].Where)
	})

	t.Run("scenarios/NAME on disk wins over the library", func(t *testing.T) {
		dir := t.TempDir()
		local := filepath.Join(dir, "scenarios", "kernel-panic-stacking")
		require.NoError(t, os.MkdirAll(local, 0o755))
		for _, f := range []string{"scenario.yaml", "manifests.yaml"} {
			b, err := os.ReadFile(filepath.Join(goodDir, f))
			require.NoError(t, err)
			require.NoError(t, os.WriteFile(filepath.Join(local, f), b, 0o644))
		}
		t.Chdir(dir)
		sc, err := scenarios.Open("kernel-panic-stacking")
		require.NoError(t, err)
		assert.Equal(t, "good", sc.Name())
		assert.Equal(t, filepath.Join("scenarios", "kernel-panic-stacking", "scenario.yaml"), sc.File)
	})

	t.Run("not found", func(t *testing.T) {
		_, err := scenarios.Open("no-such-scenario")
		require.Error(t, err)
		assert.ErrorIs(t, err, scenarios.ErrNotFound)
		assert.Contains(t, err.Error(), `"no-such-scenario"`)
		assert.Contains(t, err.Error(), "kernel-panic-stacking", "lists the built-in scenarios")
		assertOneLine(t, err.Error())
	})
}

func TestLibrary(t *testing.T) {
	entries, err := scenarios.Library()
	require.NoError(t, err)
	var names []string
	for _, e := range entries {
		names = append(names, e.Name)
	}
	require.Contains(t, names, "kernel-panic-stacking")
	assert.IsNonDecreasing(t, names, "sorted by name")
	for _, e := range entries {
		if e.Name != "kernel-panic-stacking" {
			continue
		}
		assert.Equal(t, "README.md", e.Incident)
		assert.NotEmpty(t, e.Summary)
		assert.Equal(t, []string{"baseline", "anti-affinity", "topology-spread", "cpu-limits", "right-sized-requests", "platform-spread"}, e.Variants)
	}
}

func TestDigest(t *testing.T) {
	scenario, err := os.ReadFile(filepath.Join(goodDir, "scenario.yaml"))
	require.NoError(t, err)
	manifests, err := os.ReadFile(filepath.Join(goodDir, "manifests.yaml"))
	require.NoError(t, err)
	load := func(t *testing.T, s, m string) string {
		t.Helper()
		fsys := fstest.MapFS{"x/scenario.yaml": {Data: []byte(s)}, "x/manifests.yaml": {Data: []byte(m)}}
		sc, err := scenarios.LoadFS(fsys, "x/scenario.yaml", "x/scenario.yaml")
		require.NoError(t, err)
		require.True(t, strings.HasPrefix(sc.Digest, "sha256:"), sc.Digest)
		assert.Len(t, sc.Digest, len("sha256:")+64)
		return sc.Digest
	}
	base := load(t, string(scenario), string(manifests))

	t.Run("same bytes, same digest", func(t *testing.T) {
		assert.Equal(t, base, load(t, string(scenario), string(manifests)))
		// the display name does not matter, only the bytes
		fsys := fstest.MapFS{"x/scenario.yaml": {Data: scenario}, "x/manifests.yaml": {Data: manifests}}
		sc, err := scenarios.LoadFS(fsys, "x/scenario.yaml", "elsewhere/scenario.yaml")
		require.NoError(t, err)
		assert.Equal(t, base, sc.Digest)
	})
	t.Run("Open twice gives the same digest", func(t *testing.T) {
		a, err := scenarios.Open(goodDir)
		require.NoError(t, err)
		b, err := scenarios.Open(goodDir + "/scenario.yaml")
		require.NoError(t, err)
		assert.Equal(t, a.Digest, b.Digest)
		assert.Equal(t, base, a.Digest)
	})
	t.Run("library scenario: same digest from disk and embedded", func(t *testing.T) {
		disk, err := scenarios.Open("kernel-panic-stacking")
		require.NoError(t, err)
		require.Equal(t, "kernel-panic-stacking/scenario.yaml", disk.File)
		t.Chdir(t.TempDir())
		embedded, err := scenarios.Open("kernel-panic-stacking")
		require.NoError(t, err)
		require.Equal(t, "scenarios/kernel-panic-stacking/scenario.yaml", embedded.File)
		assert.Equal(t, disk.Digest, embedded.Digest)
	})
	changes := []struct {
		name string
		s, m string
	}{
		{"included file changes", string(scenario), strings.Replace(string(manifests), "example/web:1", "example/web:9", 1)},
		{"comment in the included file changes", string(scenario), "# another comment\n" + string(manifests)},
		{"scenario file changes", strings.Replace(string(scenario), "seeds: 3", "seeds: 4", 1), string(manifests)},
	}
	for _, c := range changes {
		t.Run(c.name, func(t *testing.T) {
			require.NotEqual(t, string(scenario)+string(manifests), c.s+c.m)
			assert.NotEqual(t, base, load(t, c.s, c.m))
		})
	}
}
