package scenarios

import (
	"fmt"
	"io/fs"
	"math/rand/v2"
	"os"
	"regexp"
	"runtime"
	"strconv"
	"strings"
	"testing"
	"testing/fstest"
	"time"

	yaml "go.yaml.in/yaml/v3"

	"github.com/faultline-dev/faultline/sim"
)

// `go test` runs the fuzz targets below over their seeds and over testdata/fuzz/<target>/ (the
// inputs that crashed faultline once are kept there). Longer: make fuzz-load.

// maxLoadAlloc is what loading any input may allocate: far above the library's largest
// scenario, far below what a number slipping past the limits allocates.
const maxLoadAlloc = 1 << 30

// locatedLine is one problem: FILE:LINE[:COL]: ..., or FILE: FIELD: ... for a field that is not
// in the file at all (an empty file has no line to point at).
var locatedLine = regexp.MustCompile(`^[^:]+:\d+(:\d+)?: |^[^:]+: [a-z][A-Za-z0-9.\[\]]*: `)

// checkLoadError fails unless every line of err names its file and line, with no Go trace.
func checkLoadError(t *testing.T, err error) {
	t.Helper()
	for _, line := range strings.Split(err.Error(), "\n") {
		if !locatedLine.MatchString(line) {
			t.Fatalf("unlocated error line %q in:\n%v", line, err)
		}
		for _, bad := range []string{"goroutine ", "panic: ", ".go:", "runtime error"} {
			if strings.Contains(line, bad) {
				t.Fatalf("error with a Go trace: %q", line)
			}
		}
	}
}

// allocated runs f and returns what it allocated on the heap.
func allocated(f func()) uint64 {
	var before, after runtime.MemStats
	runtime.ReadMemStats(&before)
	f()
	runtime.ReadMemStats(&after)
	return after.TotalAlloc - before.TotalAlloc
}

// fuzzManifests is the include every fuzzed scenario may reference.
const fuzzManifests = `apiVersion: apps/v1
kind: Deployment
metadata: {name: web, labels: {app: web}}
spec:
  replicas: 3
  selector: {matchLabels: {app: web}}
  template:
    metadata: {labels: {app: web}}
    spec: {containers: [{name: web, image: web:1, resources: {requests: {cpu: 500m, memory: 1Gi}}}]}
`

func loadFuzzed(t *testing.T, data []byte) (*Scenario, error) {
	t.Helper()
	fsys := fstest.MapFS{"scenario.yaml": {Data: data}, "manifests.yaml": {Data: []byte(fuzzManifests)}}
	var sc *Scenario
	var err error
	if n := allocated(func() { sc, err = LoadFS(fsys, "scenario.yaml", "f/scenario.yaml") }); n > maxLoadAlloc {
		t.Fatalf("loading allocated %d MB", n>>20)
	}
	return sc, err
}

// librarySeeds adds every library scenario file (with its includes inlined where they are one
// manifests.yaml) as a seed.
func librarySeeds(f *testing.F) {
	dirs, err := fs.ReadDir(library, ".")
	if err != nil {
		f.Fatal(err)
	}
	for _, d := range dirs {
		if b, err := fs.ReadFile(library, d.Name()+"/"+ScenarioFile); err == nil {
			f.Add(b)
		}
	}
	f.Add([]byte(""))
}

// FuzzLoad: no scenario file makes the loader (templates, variants, objectives, the simulator's
// checks) panic or allocate without bound, and every problem is located.
func FuzzLoad(f *testing.F) {
	librarySeeds(f)
	f.Fuzz(func(t *testing.T, data []byte) {
		if _, err := loadFuzzed(t, data); err != nil {
			checkLoadError(t, err)
		}
	})
}

// FuzzSet: no --set PATH=VALUE on a loaded scenario panics or allocates without bound.
func FuzzSet(f *testing.F) {
	sc, err := Open("testdata/good/scenario.yaml")
	if err != nil {
		f.Fatal(err)
	}
	for _, s := range [][2]string{
		{"spec.cluster.nodePools[0].count", "1000000000"},
		{"spec.seeds", "9223372036854775807"},
		{"deployment/web:spec.replicas", "1000000000"},
		{"service/web:spec.ports[0].port", "-999999999"},
		{"spec.load[0].requestsPerSecond", "-1"},
		{"spec.objectives[0].target", `">= NaN"`},
		{"spec.duration", "20m"},
		{`deployment/web:metadata.annotations["a.b/c"]`, "x"},
		{"spec.templates", `[{"count":1000000000,"name":"a{i}","object":{"apiVersion":"v1","kind":"ConfigMap"}}]`},
	} {
		f.Add(s[0], s[1])
	}
	f.Fuzz(func(t *testing.T, path, value string) {
		var err error
		if n := allocated(func() { _, err = sc.Set(path, value) }); n > maxLoadAlloc {
			t.Fatalf("set %s=%s allocated %d MB", path, value, n>>20)
		}
		if err != nil && strings.Contains(err.Error(), "goroutine ") {
			t.Fatalf("error with a Go trace: %v", err)
		}
	})
}

// FuzzSimulate: every scenario that loads runs in the simulator for its first simulated minutes
// without a panic (the simulator's input is what the loader let through).
func FuzzSimulate(f *testing.F) {
	librarySeeds(f)
	f.Fuzz(func(t *testing.T, data []byte) {
		sc, err := loadFuzzed(t, data)
		if err != nil {
			return
		}
		v, err := sc.Variant(sc.Baseline())
		if err != nil {
			t.Fatalf("a loaded scenario's baseline fails: %v", err)
		}
		in := sc.Compile(v)
		in.Duration = min(in.Duration, 10*time.Minute) // bounded work per input
		w, err := sim.New(in, 1, sim.Options{})
		if err != nil {
			return // shortening the run may cut a fault or change out of it
		}
		w.Run()
	})
}

// mutations is how many random edits each library scenario gets in TestMutationProbe
// (FAULTLINE_MUTATIONS=N for more).
func mutations() int {
	if n, err := strconv.Atoi(os.Getenv("FAULTLINE_MUTATIONS")); err == nil && n > 0 {
		return n
	}
	return 6
}

// TestMutationProbe edits each library scenario at random (seeded, so a failure replays): numbers
// scaled absurdly or made negative, NaN and infinities, fields deleted. Loading must never panic,
// never allocate more than maxLoadAlloc, and every error must be located.
func TestMutationProbe(t *testing.T) {
	dirs, err := fs.ReadDir(library, ".")
	if err != nil {
		t.Fatal(err)
	}
	for _, d := range dirs {
		data, err := fs.ReadFile(library, d.Name()+"/"+ScenarioFile)
		if err != nil {
			continue
		}
		for m := range mutations() {
			seed := uint64(m + 1)
			t.Run(fmt.Sprintf("%s/%d", d.Name(), seed), func(t *testing.T) {
				mutated, what := mutate(t, data, seed)
				sub, err := fs.Sub(library, d.Name())
				if err != nil {
					t.Fatal(err)
				}
				fsys := overlay{FS: sub, file: ScenarioFile, data: mutated}
				var lerr error
				n := allocated(func() {
					defer func() {
						if r := recover(); r != nil {
							t.Fatalf("%s: panic: %v", what, r)
						}
					}()
					_, lerr = LoadFS(fsys, ScenarioFile, "scenarios/"+d.Name()+"/"+ScenarioFile)
				})
				if n > maxLoadAlloc {
					t.Fatalf("%s: loading allocated %d MB", what, n>>20)
				}
				if lerr != nil {
					checkLoadError(t, lerr)
				}
			})
		}
	}
}

// overlay is an FS with one file replaced.
type overlay struct {
	fs.FS
	file string
	data []byte
}

func (o overlay) Open(name string) (fs.File, error) {
	if name == o.file {
		return fstest.MapFS{name: {Data: o.data}}.Open(name)
	}
	return o.FS.Open(name)
}

func (o overlay) ReadFile(name string) ([]byte, error) {
	if name == o.file {
		return o.data, nil
	}
	return fs.ReadFile(o.FS, name)
}

// mutate makes 1 to 4 random edits to a YAML document and says what they were.
func mutate(t *testing.T, data []byte, seed uint64) ([]byte, string) {
	t.Helper()
	var doc yaml.Node
	if err := yaml.Unmarshal(data, &doc); err != nil {
		t.Fatal(err)
	}
	var scalars, mappings []*yaml.Node
	var walk func(n *yaml.Node)
	walk = func(n *yaml.Node) {
		if n.Kind == yaml.ScalarNode && (n.Tag == "!!int" || n.Tag == "!!float" || n.Tag == "!!str") {
			scalars = append(scalars, n)
		}
		if n.Kind == yaml.MappingNode && len(n.Content) >= 2 {
			mappings = append(mappings, n)
		}
		for _, c := range n.Content {
			walk(c)
		}
	}
	walk(&doc)
	rng := rand.New(rand.NewPCG(seed, 0x6d757461))
	var did []string
	numRe := regexp.MustCompile(`^-?[0-9.]+`)
	for range 1 + rng.IntN(4) {
		if rng.IntN(4) == 0 && len(mappings) > 0 {
			m := mappings[rng.IntN(len(mappings))]
			if len(m.Content) < 2 {
				continue
			}
			k := 2 * rng.IntN(len(m.Content)/2)
			did = append(did, fmt.Sprintf("deleted %s (line %d)", m.Content[k].Value, m.Content[k].Line))
			m.Content = append(m.Content[:k], m.Content[k+2:]...)
			continue
		}
		// numbers, and numbers inside strings (quantities such as 500m, durations such as 20m,
		// targets such as ">= 0.99")
		var nums []*yaml.Node
		for _, s := range scalars {
			if strings.ContainsAny(s.Value, "0123456789") {
				nums = append(nums, s)
			}
		}
		if len(nums) == 0 {
			continue
		}
		n := nums[rng.IntN(len(nums))]
		old := n.Value
		repl := []string{"1000000000", "-1", "-999999999", "1e308", "9223372036854775807", "NaN", "+Inf", "0", "-0.5", "18446744073709551615"}[rng.IntN(10)]
		if loc := numRe.FindStringIndex(n.Value); loc != nil && n.Tag == "!!str" {
			n.Value = n.Value[:loc[0]] + repl + n.Value[loc[1]:]
		} else if i := strings.IndexAny(n.Value, "0123456789"); i >= 0 && n.Tag == "!!str" {
			n.Value = n.Value[:i] + repl + strings.TrimLeft(n.Value[i:], "0123456789.")
		} else {
			n.Value, n.Tag = repl, ""
		}
		did = append(did, fmt.Sprintf("%q -> %q (line %d)", old, n.Value, n.Line))
	}
	out, err := yaml.Marshal(&doc)
	if err != nil {
		t.Fatal(err)
	}
	return out, strings.Join(did, ", ")
}
