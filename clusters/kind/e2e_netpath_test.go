package kind_test

import (
	"bytes"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/faultline-dev/faultline/clusters/realrun"
	"github.com/faultline-dev/faultline/cmd/faultline/app/cli"
	"github.com/faultline-dev/faultline/cmd/faultline/app/run"
)

// The network path on kind: the two network scenarios run through `faultline run --cluster kind`
// (a throwaway kind cluster per variant), shortened through --set so that both worlds get the
// same change. Probe periods, kube-proxy's sync and the ingress lag cannot be compressed (they are
// kubelet's, kube-proxy's and the proxy's real timings), so the runs keep real time and shorten
// the story instead: the rollout 1 minute in, 4 minutes in all; the auth outage from minute 2 for
// 3 minutes of 6. Rates are lowered so that a shared 2-core machine keeps up.
//
// Cost, from the runs of this test's pieces on a loaded 2-core machine (not yet timed as a whole):
// each variant is a throwaway cluster (about 2 min up), about 1 min to settle, then its length (4
// or 6 min): about 30 min for the ingress scenario's four variants and 20 for the two deep-
// readiness ones, the first also building the ingress image (minutes of client-go compile cold).
var (
	ingressSets = []string{"spec.changes[0].at=1m", "spec.duration=4m",
		"spec.load[0].requestsPerSecond=50", "spec.load[1].requestsPerSecond=20"}
	deepSets = []string{"spec.faults[0].at=30s", "spec.faults[1].at=2m", "spec.duration=6m",
		"spec.faults[0].object.spec.duration=30s", "spec.faults[1].object.spec.duration=3m",
		"spec.load[0].requestsPerSecond=20", "spec.load[1].requestsPerSecond=15",
		"spec.load[2].requestsPerSecond=10", "spec.load[3].requestsPerSecond=10"}
)

// TestKindNetPathE2E needs what TestKindE2E needs (FAULTLINE_E2E_KIND=1, root, the node image).
func TestKindNetPathE2E(t *testing.T) {
	if os.Getenv("FAULTLINE_E2E_KIND") == "" {
		t.Skip("the kind e2e runs with FAULTLINE_E2E_KIND=1 (make e2e-kind): it needs root, Docker packages and the node image")
	}
	before := snapshot(t)
	t.Run("ingress-502-graceful-shutdown: 502s with exit at once or a short preStop, none with a long one or keep-serving", func(t *testing.T) {
		got := netRun(t, "ingress-502-graceful-shutdown", []string{"baseline", "prestop-10s", "prestop-45s", "keep-serving"}, ingressSets)
		assert.Positive(t, got["baseline"]["requests-502"], "exit at once: the proxy still sends to the gone pods")
		assert.Positive(t, got["prestop-10s"]["requests-502"], "a 10 s preStop is shorter than the proxy's lag")
		assert.Zero(t, got["prestop-45s"]["requests-502"], "a 45 s preStop covers the lag")
		assert.Zero(t, got["keep-serving"]["requests-502"], "serving until the grace period ends covers it")
		for v, ind := range got {
			assert.Contains(t, ind, "rollout-minutes", v)
			assert.Zero(t, ind["rollouts-incomplete"], "%s: the rollout completed", v)
		}
	})
	t.Run("deep-readiness-cascade: collateral loss with deep readiness, none with shallow", func(t *testing.T) {
		got := netRun(t, "deep-readiness-cascade", []string{"baseline", "shallow"}, deepSets)
		assert.Greater(t, got["baseline"]["collateral-loss-ratio"], 0.05, "deep checks take the services that never needed auth out")
		assert.Less(t, got["shallow"]["collateral-loss-ratio"], 0.01, "shallow readiness keeps them")
		assert.Less(t, got["shallow"]["request-success-ratio/deployment/payments"], 0.9, "payments needs auth either way")
	})
	after := snapshot(t)
	assert.Equal(t, before.links, after.links, "network interfaces")
	assert.Equal(t, before.iptables, after.iptables, "iptables rules")
}

// netRun runs the variants of a scenario on throwaway kind clusters and returns their
// indicators by variant.
func netRun(t *testing.T, name string, variants, sets []string) map[string]map[string]float64 {
	t.Setenv("XDG_STATE_HOME", t.TempDir())
	out := t.TempDir()
	args := []string{name, "--cluster", "kind", "--out", out}
	for _, v := range variants {
		args = append(args, "--variant", v)
	}
	for _, s := range sets {
		args = append(args, "--set", s)
	}
	var stdout, stderr bytes.Buffer
	cmd := run.NewCommand(cli.Streams{Out: &stdout, Err: &stderr})
	cmd.SetArgs(args)
	cmd.SilenceUsage, cmd.SilenceErrors = true, true
	start := time.Now()
	err := cmd.ExecuteContext(t.Context())
	require.NoError(t, err, "stderr:\n%s", tail(stderr.String(), 60))
	t.Logf("%s: %d real runs on throwaway kind clusters in %s\n%s", name, len(variants), time.Since(start).Round(time.Second), stdout.String())
	var reports [][]*realrun.Report
	b, err := os.ReadFile(filepath.Join(out, "real-runs.json"))
	require.NoError(t, err)
	require.NoError(t, json.Unmarshal(b, &reports))
	for _, rs := range reports {
		for _, r := range rs {
			require.NotNil(t, r)
			assert.Empty(t, r.NotInjected, r.Input)
			assert.Empty(t, r.Invalid, r.Input)
			t.Logf("%s notes:\n  %s", r.Input, strings.Join(r.Notes, "\n  "))
		}
	}
	got := readSeeds(t, filepath.Join(out, "seeds.csv"))
	for _, v := range variants {
		require.Contains(t, got, v)
		t.Logf("%s/%s: %v", name, v, got[v])
	}
	return got
}
