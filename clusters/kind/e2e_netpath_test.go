package kind_test

import (
	"bytes"
	"context"
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/faultline-dev/faultline/clusters/kind"
	"github.com/faultline-dev/faultline/clusters/realrun"
	"github.com/faultline-dev/faultline/cmd/faultline/app/cli"
	"github.com/faultline-dev/faultline/cmd/faultline/app/run"
)

// The network path on kind: the two network scenarios run through `faultline run --cluster kind`
// (a throwaway kind cluster per variant), shortened through --set so that both worlds get the
// same change, with the stories of `faultline fidelity --all` (cmd/faultline/app/fidelity/all.go):
// the API's rollout 1 minute in, 3 minutes in all; one auth replica down 30 s at 0:30, all of
// auth down 1 minute at 1:30, 4 minutes in all. Probe periods, kube-proxy's sync and the ingress
// lag cannot be compressed (they are kubelet's, kube-proxy's and the proxy's real timings), so the
// runs keep real time and shorten the story instead. Rates are lowered so that a shared 2-core
// machine keeps up. Two variants per scenario, the contrast the incident is about: the other
// ingress variants (a 10 s preStop, keep-serving) were measured by hand (README.md).
var (
	ingressSets = []string{"spec.changes[0].at=1m", "spec.duration=3m",
		"spec.load[0].requestsPerSecond=50", "spec.load[1].requestsPerSecond=20"}
	deepSets = []string{"spec.faults[0].at=30s", "spec.faults[0].object.spec.duration=30s",
		"spec.faults[1].at=1m30s", "spec.faults[1].object.spec.duration=1m", "spec.duration=4m",
		"spec.load[0].requestsPerSecond=20", "spec.load[1].requestsPerSecond=15",
		"spec.load[2].requestsPerSecond=10", "spec.load[3].requestsPerSecond=10"}
)

// TestKindNetPathE2E needs what TestKindE2E needs (FAULTLINE_E2E_KIND=1, root, the node image).
func TestKindNetPathE2E(t *testing.T) {
	if os.Getenv("FAULTLINE_E2E_KIND") == "" {
		t.Skip("the kind e2e runs with FAULTLINE_E2E_KIND=1 (make e2e-kind): it needs root, Docker packages and the node image")
	}
	if os.Geteuid() != 0 {
		t.Fatal("the kind e2e needs root (it runs its own dockerd)")
	}
	before := snapshot(t)
	t.Run("ingress-502-graceful-shutdown: 502s with exit at once, none with a 45 s preStop", func(t *testing.T) {
		got := netRun(t, "ingress-502-graceful-shutdown", []string{"baseline", "prestop-45s"}, ingressSets)
		assert.Positive(t, got["baseline"]["requests-502"], "exit at once: the proxy still sends to the gone pods")
		assert.Zero(t, got["prestop-45s"]["requests-502"], "a 45 s preStop covers the lag")
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
	t.Run("a SIGKILLed run --cluster kind leaves its cluster to cluster gc, which deletes it", testKilledRun)
	after := snapshot(t)
	assert.Equal(t, before.links, after.links, "network interfaces")
	assert.Equal(t, before.iptables, after.iptables, "iptables rules")
}

// testKilledRun starts `faultline run --cluster kind` as a process of its own, kills it with
// SIGKILL (no chance to clean up) once its real run has started, and checks that its throwaway
// cluster was left behind, that `faultline cluster gc` deletes it (the owner record names a dead
// process), and that a second gc finds nothing.
func testKilledRun(t *testing.T) {
	state := t.TempDir()
	bin := filepath.Join(t.TempDir(), "faultline")
	build := exec.Command("go", "build", "-o", bin, "github.com/faultline-dev/faultline/cmd/faultline")
	out, err := build.CombinedOutput()
	require.NoError(t, err, "%s", out)
	env := append(os.Environ(), "XDG_STATE_HOME="+state)
	args := []string{"run", "ingress-502-graceful-shutdown", "--cluster", "kind", "--variant", "baseline", "--out", filepath.Join(t.TempDir(), "out")}
	for _, s := range ingressSets {
		args = append(args, "--set", s)
	}
	run := exec.Command(bin, args...)
	run.Env = env
	logs := &syncBuffer{}
	run.Stdout, run.Stderr = logs, logs
	require.NoError(t, run.Start())
	exited := make(chan error, 1)
	go func() { exited <- run.Wait() }()
	t.Cleanup(func() {
		if run.ProcessState == nil {
			_ = run.Process.Kill()
			<-exited
		}
	})
	// killed once the run plays: the cluster, its objects, the proxy and the load generator exist
	deadline := time.After(8 * time.Minute)
	for !strings.Contains(logs.String(), `msg="real run"`) {
		select {
		case err := <-exited:
			t.Fatalf("the run ended before it was killed (%v):\n%s", err, tail(logs.String(), 40))
		case <-deadline:
			t.Fatalf("the run did not start within 8 minutes:\n%s", tail(logs.String(), 40))
		case <-time.After(time.Second):
		}
	}
	time.Sleep(20 * time.Second)
	require.NoError(t, syscall.Kill(run.Process.Pid, syscall.SIGKILL))
	<-exited
	t.Logf("killed the run (pid %d) with SIGKILL: %s", run.Process.Pid, run.ProcessState)

	p, err := kind.New(kind.WithStateDir(filepath.Join(state, "faultline", "kind")))
	require.NoError(t, err)
	left, err := p.List()
	require.NoError(t, err)
	require.Len(t, left, 1, "the killed run's cluster is still there")
	name := left[0]
	t.Cleanup(func() { _ = p.Delete(context.Background(), name) }) // if gc fails

	gc := func() string {
		c := exec.Command(bin, "cluster", "gc")
		c.Env = env
		out, err := c.CombinedOutput()
		require.NoError(t, err, "%s", out)
		return string(out)
	}
	began := time.Now()
	first := gc()
	t.Logf("cluster gc in %s:\n%s", time.Since(began).Round(time.Second), first)
	assert.Contains(t, first, "removed: kind cluster \""+kind.ClusterPrefix+name+"\"")
	left, err = p.List()
	require.NoError(t, err)
	assert.Empty(t, left, "kind clusters after gc")
	assert.NoDirExists(t, filepath.Join(state, "faultline", "kind", name), "the cluster's state")
	assert.Contains(t, gc(), "Nothing left behind", "a second gc")
}

// syncBuffer is a bytes.Buffer a process writes while the test reads it.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (b *syncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.b.Write(p)
}

func (b *syncBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.b.String()
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
