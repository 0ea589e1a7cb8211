package realrun_test

import (
	"context"
	"fmt"
	"log/slog"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"
	"k8s.io/client-go/tools/clientcmd"

	"github.com/faultline-dev/faultline/clusters"
	"github.com/faultline-dev/faultline/clusters/local"
	"github.com/faultline-dev/faultline/clusters/realrun"
	"github.com/faultline-dev/faultline/sim"
)

// The helper process: a faultline run that the test SIGKILLs. FAULTLINE_REALRUN_HELPER is the
// mode (throwaway: a throwaway local cluster; existing: the local cluster named by
// FAULTLINE_REALRUN_CLUSTER, with a ledger); FAULTLINE_REALRUN_STATE the provider's state
// directory.
const helperEnv = "FAULTLINE_REALRUN_HELPER"

func helperMain(mode string) int {
	logger := slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelWarn}))
	p, err := local.New(local.WithStateDir(os.Getenv("FAULTLINE_REALRUN_STATE")), local.WithLogger(logger))
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	ctx := context.Background()
	in := killInput()
	opts := realrun.Options{Seed: 1, Logger: logger}
	var cfgErr error
	switch mode {
	case "throwaway":
		cl, err := (&realrun.Local{Provider: p, Prefix: "kill"}).Acquire(ctx, in, 1)
		if err != nil {
			fmt.Fprintln(os.Stderr, err)
			return 1
		}
		opts.ControlPlane = cl.ControlPlane
		_, _, cfgErr = realrun.Run(ctx, cl.Config, in, opts)
	case "existing":
		name := os.Getenv("FAULTLINE_REALRUN_CLUSTER")
		kc, err := p.KubeConfigPath(name)
		if err != nil {
			fmt.Fprintln(os.Stderr, err)
			return 1
		}
		cfg, err := clientcmd.BuildConfigFromFlags("", kc)
		if err != nil {
			fmt.Fprintln(os.Stderr, err)
			return 1
		}
		ex := &realrun.Existing{Resolved: &realrun.Resolved{Config: cfg, Context: "faultline-" + name, Owned: name, Provider: local.ProviderName}}
		led, err := realrun.OpenLedger(realrun.LedgerDir(p), ex.LedgerTarget(kc))
		if err != nil {
			fmt.Fprintln(os.Stderr, err)
			return 1
		}
		opts.Ledger, opts.Cleanup = led, true
		_, _, cfgErr = realrun.Run(ctx, cfg, in, opts)
	}
	fmt.Fprintln(os.Stderr, "helper run ended (it should have been killed):", cfgErr)
	return 1
}

// killInput: two pool nodes, a Deployment, pool-1 stopped at 2 s until the end, 3 minutes long.
func killInput() *sim.Input {
	return webInput("killed", 2, 2, 3*time.Minute,
		sim.Fault{Name: "GCPChaos/stop-pool-1", Action: sim.NodeStop, At: 2 * time.Second, Nodes: []string{"pool-1"}})
}

// startHelper runs a helper in mode against stateDir; the returned func SIGKILLs it.
func startHelper(t *testing.T, mode, stateDir string, env ...string) func() {
	t.Helper()
	cmd := exec.Command(os.Args[0], "-test.run=^$")
	cmd.Env = append(os.Environ(), append(env, helperEnv+"="+mode, "FAULTLINE_REALRUN_STATE="+stateDir)...)
	cmd.Stderr = &prefixWriter{t: t}
	require.NoError(t, cmd.Start())
	killed := false
	kill := func() {
		if !killed {
			killed = true
			require.NoError(t, cmd.Process.Signal(syscall.SIGKILL))
			_ = cmd.Wait()
		}
	}
	t.Cleanup(kill)
	return kill
}

type prefixWriter struct{ t *testing.T }

func (w *prefixWriter) Write(b []byte) (int, error) {
	w.t.Logf("helper: %s", strings.TrimRight(string(b), "\n"))
	return len(b), nil
}

// clusterIn returns the one cluster directory under root with at least n recorded processes.
func clusterIn(root string, n int) (string, bool) {
	ents, _ := os.ReadDir(root)
	for _, e := range ents {
		if !e.IsDir() || strings.HasPrefix(e.Name(), ".") {
			continue
		}
		b, err := os.ReadFile(filepath.Join(root, e.Name(), "cluster.json"))
		if err == nil && strings.Count(string(b), `"pid"`) >= n+1 { // the owner has a pid too
			return e.Name(), true
		}
	}
	return "", false
}

// nothingLeft checks that nothing of any cluster is left under root: no file, no process.
func nothingLeft(t *testing.T, root string) {
	t.Helper()
	ents, err := os.ReadDir(root)
	require.NoError(t, err)
	var left []string
	for _, e := range ents {
		left = append(left, e.Name())
	}
	assert.Empty(t, left, "state left under %s", root)
	assert.Empty(t, processesNaming(t, root+"/"), "processes of the killed run's cluster")
}

// SIGKILL of a run on a throwaway cluster, while the cluster is created and in the middle of the
// run: the next faultline command (CollectGarbage) leaves no process, no state directory and no
// lock file behind; before it, status says the cluster is a leftover, not healthy.
func TestKilledThrowawayRunLeavesNothingAfterTheNextCommand(t *testing.T) {
	requireE2E(t)
	t.Parallel()
	for _, point := range []struct {
		name  string
		procs int  // kill once this many processes are recorded
		run   bool // ... and the run's Deployment is ready
	}{{"during creation", 2, false}, {"mid-run", 5, true}} {
		t.Run(point.name, func(t *testing.T) {
			root := filepath.Join(t.TempDir(), "clusters")
			kill := startHelper(t, "throwaway", root)
			var name string
			require.Eventually(t, func() (ok bool) { name, ok = clusterIn(root, point.procs); return ok },
				2*time.Minute, 50*time.Millisecond, "the helper never got there")
			p, err := local.New(local.WithStateDir(root))
			require.NoError(t, err)
			if point.run {
				_, cs := clientOf(t, p, name)
				require.Eventually(t, func() bool {
					d, err := cs.AppsV1().Deployments("default").Get(t.Context(), "web", metav1.GetOptions{})
					return err == nil && d.Status.ReadyReplicas == 2
				}, 2*time.Minute, 200*time.Millisecond)
			}
			kill()
			st, err := p.Status(t.Context(), name)
			require.NoError(t, err)
			assert.False(t, st.Healthy(), "a cluster whose run was killed is never healthy")
			assert.NotEmpty(t, st.Orphaned)

			began := time.Now()
			done, err := realrun.CollectGarbage(t.Context(), p, nil)
			require.NoError(t, err)
			t.Logf("the next command cleaned up in %s: %v", time.Since(began).Round(time.Millisecond), done)
			nothingLeft(t, root)
		})
	}
}

// SIGKILL of a run on an existing cluster (one from `cluster up`) with a node held down by a
// fault: the next command deletes the run's nodes and objects and uncordons the cluster's own
// nodes, and removes the ledger; a new run then starts clean.
func TestKilledRunOnExistingClusterIsUndoneByTheNextCommand(t *testing.T) {
	requireE2E(t)
	t.Parallel()
	root := filepath.Join(t.TempDir(), "clusters")
	p, err := local.New(local.WithStateDir(root))
	require.NoError(t, err)
	const name = "existing"
	require.NoError(t, p.Create(t.Context(), name, clusters.WithNodes(2), clusters.WithWaitForReady(2*time.Minute)))
	t.Cleanup(func() { assert.NoError(t, p.Delete(context.Background(), name)) })
	cfg, cs := clientOf(t, p, name)

	kill := startHelper(t, "existing", root, "FAULTLINE_REALRUN_CLUSTER="+name)
	require.Eventually(t, func() bool {
		l, err := cs.CoordinationV1().Leases("kube-node-lease").Get(t.Context(), "pool-1", metav1.GetOptions{})
		return err == nil && l.Spec.HolderIdentity != nil && *l.Spec.HolderIdentity == "faultline-chaos"
	}, 2*time.Minute, 100*time.Millisecond, "the helper's fault was never injected")
	n, err := cs.CoreV1().Nodes().Get(t.Context(), local.NodeName(1), metav1.GetOptions{})
	require.NoError(t, err)
	require.True(t, n.Spec.Unschedulable, "the cluster's own nodes are cordoned during the run")
	kill()
	ledgers, _ := os.ReadDir(realrun.LedgerDir(p))
	require.Len(t, ledgers, 1, "the killed run's ledger")

	done, err := realrun.CollectGarbage(t.Context(), p, nil)
	require.NoError(t, err)
	t.Logf("undone: %v", done)
	nodes, err := cs.CoreV1().Nodes().List(t.Context(), metav1.ListOptions{})
	require.NoError(t, err)
	var names []string
	for _, n := range nodes.Items {
		names = append(names, n.Name)
		assert.False(t, n.Spec.Unschedulable, "%s still cordoned", n.Name)
	}
	assert.ElementsMatch(t, []string{local.NodeName(1), local.NodeName(2)}, names, "the run's nodes are gone")
	_, err = cs.AppsV1().Deployments("default").Get(t.Context(), "web", metav1.GetOptions{})
	assert.Error(t, err, "the run's Deployment is gone")
	ledgers, _ = os.ReadDir(realrun.LedgerDir(p))
	assert.Empty(t, ledgers)

	// the next run starts clean, and puts its pods on its pool nodes
	in := webInput("after-kill", 2, 4, 15*time.Second,
		sim.Fault{Name: "GCPChaos/stop-pool-1", Action: sim.NodeStop, At: 3 * time.Second, Duration: 5 * time.Second, Nodes: []string{"pool-1"}})
	res, rep, err := realrun.Run(t.Context(), cfg, in, realrun.Options{Seed: 1, Cleanup: true})
	require.NoError(t, err)
	t.Logf("placements %v; injected %v", rep.Placements, rep.Injected)
	onPool := 0
	for _, m := range rep.Placements {
		for node, k := range m {
			assert.True(t, strings.HasPrefix(node, "pool-"), "a pod on the cluster's own node %s", node)
			onPool += k
		}
	}
	assert.Equal(t, 4, onPool)
	assert.GreaterOrEqual(t, indicator(t, res, "pods-lost"), 1.0, "the node fault hit the scenario's pods")
	for _, n := range []string{local.NodeName(1), local.NodeName(2)} {
		node, err := cs.CoreV1().Nodes().Get(t.Context(), n, metav1.GetOptions{})
		require.NoError(t, err)
		assert.False(t, node.Spec.Unschedulable, "%s uncordoned after the run", n)
	}
}

// clientOf connects to cluster name of p.
func clientOf(t *testing.T, p *local.Provider, name string) (*rest.Config, kubernetes.Interface) {
	t.Helper()
	kc, err := p.KubeConfigPath(name)
	require.NoError(t, err)
	cfg, err := clientcmd.BuildConfigFromFlags("", kc)
	require.NoError(t, err)
	cs, err := kubernetes.NewForConfig(cfg)
	require.NoError(t, err)
	return cfg, cs
}
