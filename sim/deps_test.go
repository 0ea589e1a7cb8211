package sim_test

import (
	"os/exec"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
)

// The simulator is a pure, deterministic state machine. These packages must never be linked into
// it, directly or transitively; the reason is next to each. (k8s.io/api itself pulls in net/http
// through apimachinery, so the network rule is checked on sim's own imports below.)
var forbiddenDeps = map[string]string{
	"k8s.io/client-go/kubernetes":                             "sim talks to no API server; real clusters are clusters/",
	"k8s.io/client-go/rest":                                   "sim talks to no API server",
	"k8s.io/client-go/tools/cache":                            "informers run goroutines; sim has its own watch model",
	"sigs.k8s.io/controller-runtime":                          "controllers in sim are models on the event queue",
	"sigs.k8s.io/kind/pkg/cluster":                            "kind is a real-cluster provider (clusters/)",
	"github.com/chaos-mesh/chaos-mesh/api":                    "faults reach sim translated by scenarios/, keeping sim free of client-go",
	"github.com/prometheus/client_golang/prometheus/promhttp": "no HTTP serving inside a run",
}

// Packages of sim itself may not import these directly: they would bring wall-clock time,
// processes or the network into a run.
var forbiddenDirect = map[string]string{
	"net":       "no network inside a run",
	"net/http":  "no network inside a run",
	"os/exec":   "no processes inside a run",
	"math/rand": "use seeded math/rand/v2 streams from engine.Streams; the global source is shared",
}

func goList(t *testing.T, args ...string) []string {
	t.Helper()
	out, err := exec.Command("go", append([]string{"list"}, args...)...).Output()
	require.NoError(t, err, "go list %v", args)
	return strings.Fields(string(out))
}

func TestSimDependencies(t *testing.T) {
	if testing.Short() {
		t.Skip("runs go list")
	}
	deps := goList(t, "-deps", "github.com/faultline-dev/faultline/sim/...")
	for _, d := range deps {
		for bad, why := range forbiddenDeps {
			if d == bad || strings.HasPrefix(d, bad+"/") {
				t.Errorf("sim depends on %s: %s", d, why)
			}
		}
	}
	pkgs := goList(t, "-f", `{{.ImportPath}}:{{join .Imports ","}}`, "github.com/faultline-dev/faultline/sim/...")
	for _, line := range pkgs {
		pkg, imports, _ := strings.Cut(line, ":")
		for _, imp := range strings.Split(imports, ",") {
			if why, bad := forbiddenDirect[imp]; bad {
				t.Errorf("%s imports %s: %s", pkg, imp, why)
			}
		}
	}
}
