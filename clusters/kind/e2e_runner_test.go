package kind_test

import (
	"bytes"
	"context"
	"encoding/csv"
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"

	"github.com/faultline-dev/faultline/clusters/kind"
	"github.com/faultline-dev/faultline/clusters/realrun"
	"github.com/faultline-dev/faultline/cmd/faultline/app/cli"
	"github.com/faultline-dev/faultline/cmd/faultline/app/run"
)

// runnerSets compress scenarios/kernel-panic-stacking for a short real run, through --set (the
// same change would reach the simulator): the three node resets 10 scenario minutes apart from
// minute 3, each node away 7 minutes, the run 35 minutes; with --time-scale 0.1 that is faults
// at 18 s, 78 s and 138 s of a 210 s run, each node frozen 42 s. Controllers keep real time, so
// the node lifecycle is shortened through the scenario's models (which a kind cluster from the
// runner gets as control-plane flags): NotReady 20 s after the last heartbeat, pods evicted at
// once (toleration 0 s), so that a frozen node's pods are replaced on the other nodes while it
// is away, as the 300 s toleration does within the real 8-minute reboot.
var runnerSets = []string{
	"spec.faults[0].at=3m", "spec.faults[1].at=13m", "spec.faults[2].at=23m", "spec.duration=35m",
	"spec.cluster.models.kernelPanic.rebootTime=7m",
	"spec.cluster.models.nodeLifecycle.gracePeriod=20s",
	"spec.cluster.models.nodeLifecycle.defaultTolerationSeconds=0",
}

// testRunnerOnKind runs `faultline run kernel-panic-stacking --variant anti-affinity --cluster
// kind` (baseline and anti-affinity, a throwaway kind cluster each) and checks what the runner
// reports against what Docker and the placements show: every pool node frozen by docker pause
// and thawed again, the web replicas stacked without anti-affinity and at most one per node with
// it, and nothing left on the machine afterwards.
func testRunnerOnKind(t *testing.T, before hostSnapshot) {
	t.Setenv("XDG_STATE_HOME", t.TempDir()) // the runner's kind clusters are recorded here
	out := t.TempDir()
	args := []string{"kernel-panic-stacking", "--variant", "anti-affinity", "--cluster", "kind", "--time-scale", "0.1", "--out", out}
	for _, s := range runnerSets {
		args = append(args, "--set", s)
	}
	var stdout, stderr bytes.Buffer
	cmd := run.NewCommand(cli.Streams{Out: &stdout, Err: &stderr})
	cmd.SetArgs(args)
	cmd.SilenceUsage, cmd.SilenceErrors = true, true
	cmd.SetOut(&stdout)
	cmd.SetErr(&stderr)

	// Docker's view of the node containers, polled while the runs go on: which were seen paused,
	// and which running again after a pause
	states := &containerStates{paused: map[string]bool{}, thawed: map[string]bool{}, last: map[string]string{}}
	pollCtx, stopPoll := context.WithCancel(t.Context())
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		states.poll(pollCtx)
	}()
	start := time.Now()
	err := cmd.ExecuteContext(t.Context())
	took := time.Since(start)
	stopPoll()
	wg.Wait()
	require.NoError(t, err, "stderr:\n%s", tail(stderr.String(), 40))
	t.Logf("two real runs on throwaway kind clusters in %s\n%s", took.Round(time.Second), stdout.String())

	var reports [][]*realrun.Report
	b, err := os.ReadFile(filepath.Join(out, "real-runs.json"))
	require.NoError(t, err)
	require.NoError(t, json.Unmarshal(b, &reports))
	indicators := readSeeds(t, filepath.Join(out, "seeds.csv"))
	require.Len(t, reports, 2)
	for v, variant := range []string{"baseline", "anti-affinity"} {
		rep := reports[v][0]
		require.NotNil(t, rep, variant)
		assert.Equal(t, "kernel-panic-stacking/"+variant, rep.Input)
		assert.Equal(t, 3, rep.Nodes, "%s: the pool's nodes are the kind workers", variant)
		assert.Len(t, rep.Injected, 3, "%s: the three node resets: %v; not injected: %v", variant, rep.Injected, rep.NotInjected)
		for _, inj := range rep.Injected {
			assert.Contains(t, inj, "docker pause", variant)
		}
		assert.Empty(t, rep.NotInjected, variant)
		assert.Contains(t, strings.Join(rep.Notes, "\n"), kind.EchoImage, "%s: the image substitution is noted", variant)
		assert.Contains(t, strings.Join(rep.Notes, "\n"), "cpu requests and limits scaled", variant)
		got := indicators[variant]
		assert.Positive(t, got["evictions"], "%s: pods were evicted from the frozen nodes", variant)
		web := rep.Placements["default/web"]
		t.Logf("%s: web per node at the end %v, max replicas of one Deployment on one node %v, evictions %v, pods lost %v",
			variant, web, got["max-replicas-per-node"], got["evictions"], got["pods-lost"])
		switch variant {
		case "baseline":
			assert.GreaterOrEqual(t, got["max-replicas-per-node"], 2.0, "without anti-affinity the replacements stack")
			assert.GreaterOrEqual(t, maxOf(web), 2, "web stacked at the end: %v", web)
		case "anti-affinity":
			assert.Equal(t, 1.0, got["max-replicas-per-node"], "required anti-affinity: never two replicas on a node")
			assert.LessOrEqual(t, maxOf(web), 1, "web: %v", web)
			assert.GreaterOrEqual(t, sum(web), 2, "web: %v", web)
		}
	}
	// 3 pool nodes per run, each frozen once and thawed
	states.mu.Lock()
	t.Logf("node containers seen paused: %d, running again after a pause: %d", len(states.paused), len(states.thawed))
	assert.Len(t, states.paused, 6, "every worker of both clusters frozen: %v", states.paused)
	assert.Len(t, states.thawed, 6, "every frozen worker running again: paused %v, thawed %v", states.paused, states.thawed)
	states.mu.Unlock()

	// nothing left: the runs' clusters, faultline's dockerd, the host changes
	p, err := kind.New()
	require.NoError(t, err)
	assert.False(t, p.Daemon().Running(context.Background()), "faultline's dockerd still runs")
	psOut, _ := exec.Command("ps", "-eo", "pid,args").Output()
	for _, l := range strings.Split(string(psOut), "\n") {
		assert.NotContains(t, l, "faultline-docker", "a process of faultline's Docker is left: %s", l)
		assert.NotContains(t, l, "faultline-run-", "a node process is left: %s", l)
	}
	after := snapshot(t)
	assert.Equal(t, before.links, after.links, "network interfaces")
	assert.Equal(t, before.iptables, after.iptables, "iptables rules")
	assert.Equal(t, before.modules, after.modules, "/lib/modules")
}

type containerStates struct {
	mu             sync.Mutex
	paused, thawed map[string]bool
	last           map[string]string
}

// poll asks faultline's Docker every 500 ms for the state of the runs' node containers.
func (s *containerStates) poll(ctx context.Context) {
	host := "unix:///run/faultline-docker/docker.sock"
	if p, err := kind.New(); err == nil {
		host = p.Daemon().Host()
	}
	for ctx.Err() == nil {
		c := exec.CommandContext(ctx, "docker", "ps", "-a", "--filter", "name=faultline-run-", "--format", "{{.Names}} {{.State}}")
		c.Env = append(os.Environ(), "DOCKER_HOST="+host)
		if out, err := c.Output(); err == nil {
			s.mu.Lock()
			for _, l := range strings.Split(strings.TrimSpace(string(out)), "\n") {
				name, state, ok := strings.Cut(l, " ")
				if !ok || !strings.Contains(name, "-worker") {
					continue
				}
				if state == "paused" {
					s.paused[name] = true
				} else if state == "running" && s.last[name] == "paused" {
					s.thawed[name] = true
				}
				s.last[name] = state
			}
			s.mu.Unlock()
		}
		select {
		case <-ctx.Done():
		case <-time.After(500 * time.Millisecond):
		}
	}
}

// readSeeds reads a run directory's seeds.csv: indicator values by variant (one seed each).
func readSeeds(t *testing.T, path string) map[string]map[string]float64 {
	f, err := os.Open(path)
	require.NoError(t, err)
	defer f.Close()
	rows, err := csv.NewReader(f).ReadAll()
	require.NoError(t, err)
	require.NotEmpty(t, rows)
	out := map[string]map[string]float64{}
	for _, row := range rows[1:] {
		m := map[string]float64{}
		for i, col := range rows[0][2:] {
			v, err := strconv.ParseFloat(row[i+2], 64)
			require.NoError(t, err, "%s %s", row[0], col)
			m[col] = v
		}
		out[row[0]] = m
	}
	return out
}

func maxOf(m map[string]int) int {
	out := 0
	for _, v := range m {
		out = max(out, v)
	}
	return out
}

func sum(m map[string]int) int {
	out := 0
	for _, v := range m {
		out += v
	}
	return out
}

func tail(s string, n int) string {
	lines := strings.Split(s, "\n")
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return strings.Join(lines, "\n")
}

// testRunnerOnExisting runs `faultline run --kubeconfig` against the e2e's own cluster (made by
// the kind provider, so the safety check lets it through without --allow-context): the pools
// mapped onto its labelled workers, one node reset by docker pause through the same provider,
// and everything the runs changed undone afterwards (objects, node labels, no paused node).
func testRunnerOnExisting(t *testing.T, p *kind.Provider, name string, cs kubernetes.Interface) {
	out := t.TempDir()
	fault := `[{"at":"1m","object":{"apiVersion":"chaos-mesh.org/v1alpha1","kind":"GCPChaos","metadata":{"name":"reset-pool-a-2","namespace":"chaos-mesh"},` +
		`"spec":{"action":"node-reset","project":"p","zone":"z","instance":"pool-a-2"}}}]`
	args := []string{"kernel-panic-stacking", "--variant", "anti-affinity", "--kubeconfig", p.KubeConfigPath(name), "--time-scale", "0.1", "--out", out,
		"--set", "spec.faults=" + fault, "--set", "spec.duration=4m", "--set", "spec.cluster.models.kernelPanic.rebootTime=1m"}
	var stdout, stderr bytes.Buffer
	cmd := run.NewCommand(cli.Streams{Out: &stdout, Err: &stderr})
	cmd.SetArgs(args)
	cmd.SilenceUsage, cmd.SilenceErrors = true, true
	cmd.SetOut(&stdout)
	cmd.SetErr(&stderr)
	start := time.Now()
	require.NoError(t, cmd.ExecuteContext(t.Context()), "stderr:\n%s", tail(stderr.String(), 40))
	t.Logf("two real runs on the existing cluster in %s", time.Since(start).Round(time.Second))

	var reports [][]*realrun.Report
	b, err := os.ReadFile(filepath.Join(out, "real-runs.json"))
	require.NoError(t, err)
	require.NoError(t, json.Unmarshal(b, &reports))
	require.Len(t, reports, 2)
	for v, variant := range []string{"baseline", "anti-affinity"} {
		rep := reports[v][0]
		require.NotNil(t, rep, variant)
		assert.Equal(t, 3, rep.Nodes, variant)
		require.Len(t, rep.Injected, 1, "%s: not injected: %v", variant, rep.NotInjected)
		assert.Contains(t, rep.Injected[0], "node pool-a-2 (faultline-e2e-worker", variant)
		assert.Contains(t, rep.Injected[0], "docker pause", variant)
		web := rep.Placements["default/web"]
		t.Logf("%s: web per node %v", variant, web)
		assert.Subset(t, []string{"pool-a-1", "pool-a-2", "pool-a-3"}, keys(web), "placements by pool node name")
		if variant == "anti-affinity" {
			assert.LessOrEqual(t, maxOf(web), 1, "web: %v", web)
		}
	}
	nodes, err := cs.CoreV1().Nodes().List(t.Context(), metav1.ListOptions{})
	require.NoError(t, err)
	for _, n := range nodes.Items {
		assert.NotContains(t, n.Labels, realrun.RunLabel, "%s: the run's label is removed", n.Name)
		assert.False(t, n.Spec.Unschedulable, n.Name)
	}
	assert.Eventually(t, func() bool {
		pods, err := cs.CoreV1().Pods("default").List(t.Context(), metav1.ListOptions{LabelSelector: "tier"})
		return err == nil && len(pods.Items) == 0
	}, 2*time.Minute, time.Second, "the runs' pods are deleted")
	st, err := p.Status(t.Context(), name)
	require.NoError(t, err)
	for _, ps := range st.Processes {
		assert.True(t, ps.Running, "%s: %s", ps.Name, ps.Detail)
		assert.NotContains(t, ps.Detail, "paused", ps.Name)
	}
}

func keys(m map[string]int) []string {
	var out []string
	for k := range m {
		out = append(out, k)
	}
	return out
}
