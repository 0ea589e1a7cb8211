package platform_test

import (
	"os/exec"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
)

// The decision code runs inside the simulator, so it may not bring client-go, the network or
// goroutine-running machinery into a World; only the real-cluster adapter (platform/kube) uses
// client-go. And platform sits below cmd, scenarios and clusters (docs/design.md, import direction).
func TestPlatformDependencies(t *testing.T) {
	if testing.Short() {
		t.Skip("runs go list")
	}
	forbidden := map[string]string{
		"k8s.io/client-go/kubernetes":                  "the decision code talks to a Client interface, not an API server",
		"k8s.io/client-go/rest":                        "no API server inside a simulation",
		"k8s.io/client-go/tools/cache":                 "informers run goroutines",
		"github.com/faultline-dev/faultline/cmd":       "platform is below cmd",
		"github.com/faultline-dev/faultline/scenarios": "platform is below scenarios",
		"github.com/faultline-dev/faultline/clusters":  "platform is below clusters",
	}
	for _, pkg := range []string{
		"github.com/faultline-dev/faultline/platform",
		"github.com/faultline-dev/faultline/platform/cron",
		"github.com/faultline-dev/faultline/platform/placement",
		"github.com/faultline-dev/faultline/platform/simadapter",
	} {
		out, err := exec.Command("go", "list", "-deps", pkg).Output()
		require.NoError(t, err)
		for _, d := range strings.Fields(string(out)) {
			for bad, why := range forbidden {
				if d == bad || strings.HasPrefix(d, bad+"/") {
					t.Errorf("%s depends on %s: %s", pkg, d, why)
				}
			}
		}
	}
}
