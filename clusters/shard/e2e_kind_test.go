package shard_test

// End-to-end test of run --shards on a real kind cluster: faultline's own image built and
// loaded, 4 shards against a local run of the same seeds (every file the same bytes), a shard
// pod evicted mid-run and retried (the merge still the same bytes), the Job and its pods gone
// afterwards, and the wall time of 1 against 2 shards. Like clusters/kind's e2e it needs root and
// the node image (make kind-image), and runs only with FAULTLINE_E2E_KIND=1:
//
//	FAULTLINE_E2E_KIND=1 go test -count=1 -v -timeout 30m -run TestShardsKindE2E ./clusters/shard/

import (
	"bytes"
	"context"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	corev1 "k8s.io/api/core/v1"
	policyv1 "k8s.io/api/policy/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/tools/clientcmd"

	"github.com/faultline-dev/faultline/clusters"
	"github.com/faultline-dev/faultline/clusters/kind"
	"github.com/faultline-dev/faultline/clusters/shard"
	"github.com/faultline-dev/faultline/cmd/faultline/app"
	"github.com/faultline-dev/faultline/cmd/faultline/app/cli"
	"github.com/faultline-dev/faultline/sim"
)

const shardImage = "faultline/faultline:shards-e2e"

func faultline(t *testing.T, ctx context.Context, args ...string) {
	t.Helper()
	var out, errb bytes.Buffer
	err := app.Run(ctx, cli.Streams{In: strings.NewReader(""), Out: &out, Err: &errb}, args)
	require.NoError(t, err, "faultline %s\n%s\n%s", strings.Join(args, " "), out.String(), errb.String())
}

func sameFiles(t *testing.T, want, got string) {
	t.Helper()
	ents, err := os.ReadDir(want)
	require.NoError(t, err)
	gotEnts, err := os.ReadDir(got)
	require.NoError(t, err)
	require.Equal(t, len(ents), len(gotEnts), "the same number of files in %s and %s", want, got)
	for _, e := range ents {
		a, err := os.ReadFile(filepath.Join(want, e.Name()))
		require.NoError(t, err)
		b, err := os.ReadFile(filepath.Join(got, e.Name()))
		require.NoError(t, err, e.Name())
		assert.True(t, bytes.Equal(a, b), "%s differs between the local run and the shards", e.Name())
	}
}

func TestShardsKindE2E(t *testing.T) {
	if os.Getenv("FAULTLINE_E2E_KIND") == "" {
		t.Skip("the shards kind e2e runs with FAULTLINE_E2E_KIND=1: it needs root, Docker packages and the node image (make kind-image)")
	}
	if os.Geteuid() != 0 {
		t.Fatal("the kind e2e needs root (it runs its own dockerd)")
	}
	logger := slog.New(slog.NewTextHandler(os.Stderr, nil))
	// the cluster recorded under a state directory of the test's, so that run --kubeconfig
	// finds it as faultline's own
	t.Setenv("XDG_STATE_HOME", t.TempDir())
	pools := []sim.NodePool{{Name: "pool-a", Count: 2}}
	p, err := kind.New(kind.WithLogger(logger), kind.WithNodePools(pools, "shards-e2e"))
	require.NoError(t, err)
	const name = "shards"
	ctx := t.Context()
	err = p.Create(ctx, name, clusters.WithWaitForReady(4*time.Minute))
	t.Cleanup(func() { _ = p.Delete(context.Background(), name) })
	require.NoError(t, err)
	kc, err := p.KubeConfig(name)
	require.NoError(t, err)
	kcPath := filepath.Join(t.TempDir(), "kubeconfig")
	require.NoError(t, os.WriteFile(kcPath, []byte(kc), 0o600))
	cfg, err := clientcmd.RESTConfigFromKubeConfig([]byte(kc))
	require.NoError(t, err)
	cs, err := kubernetes.NewForConfig(cfg)
	require.NoError(t, err)

	// faultline's image: this very program (the same version, so the merge may replay)
	require.NoError(t, p.BuildGoImage(ctx, kind.PlatformPackage, shardImage))
	require.NoError(t, p.LoadImage(ctx, name, shardImage))

	root := t.TempDir()
	common := []string{"run", "kernel-panic-stacking", "--variant", "anti-affinity", "-q"}
	sharded := func(seeds, shards int, out string) []string {
		return append(append([]string(nil), common...), "--seeds", fmt.Sprint(seeds), "--out", out,
			"--kubeconfig", kcPath, "--shards", fmt.Sprint(shards), "--image", shardImage,
			"--shard-cpu", "100m", "--shard-memory", "256Mi")
	}
	gone := func(t *testing.T) {
		sel := metav1.ListOptions{LabelSelector: shard.Label}
		require.Eventually(t, func() bool {
			jobs, err1 := cs.BatchV1().Jobs("default").List(ctx, sel)
			pods, err2 := cs.CoreV1().Pods("default").List(ctx, sel)
			return err1 == nil && err2 == nil && len(jobs.Items) == 0 && len(pods.Items) == 0
		}, 2*time.Minute, time.Second, "the shard Job and its pods are gone")
	}

	t.Run("4 shards give the bytes of a local run", func(t *testing.T) {
		local, remote := filepath.Join(root, "local-40"), filepath.Join(root, "shards-40")
		faultline(t, ctx, append(append([]string(nil), common...), "--seeds", "40", "--out", local)...)
		faultline(t, ctx, sharded(40, 4, remote)...)
		sameFiles(t, local, remote)
		gone(t)
	})

	t.Run("an evicted shard pod is retried and the merge is the same", func(t *testing.T) {
		// enough seeds that a shard pod runs for many seconds: an eviction that races the pod's
		// own end is not a retry (the index is done; see TestRunnerFailures)
		local, remote := filepath.Join(root, "local-4000"), filepath.Join(root, "shards-4000")
		faultline(t, ctx, append(append([]string(nil), common...), "--seeds", "4000", "--out", local)...)
		evicted := make(chan string, 1)
		go func() {
			defer close(evicted)
			for ctx.Err() == nil {
				pods, err := cs.CoreV1().Pods("default").List(ctx, metav1.ListOptions{LabelSelector: shard.Label})
				if err == nil {
					for _, pod := range pods.Items {
						if pod.Status.Phase == corev1.PodRunning {
							ev := &policyv1.Eviction{ObjectMeta: metav1.ObjectMeta{Name: pod.Name, Namespace: pod.Namespace}}
							if cs.CoreV1().Pods(pod.Namespace).EvictV1(ctx, ev) == nil {
								evicted <- pod.Name
								return
							}
						}
					}
				}
				time.Sleep(200 * time.Millisecond)
			}
		}()
		faultline(t, ctx, sharded(4000, 2, remote)...)
		name, ok := <-evicted
		require.True(t, ok && name != "", "a running shard pod was evicted")
		t.Logf("evicted %s mid-run", name)
		sameFiles(t, local, remote)
		gone(t)
	})

	t.Run("time of 1 against 2 shards", func(t *testing.T) {
		var took [3]time.Duration
		for _, n := range []int{1, 2} {
			began := time.Now()
			faultline(t, ctx, sharded(400, n, filepath.Join(root, fmt.Sprintf("time-%d", n)))...)
			took[n] = time.Since(began)
		}
		sameFiles(t, filepath.Join(root, "time-1"), filepath.Join(root, "time-2"))
		t.Logf("400 seeds × 2 variants on kind: 1 shard %s, 2 shards %s (speed-up %.2f)", took[1].Round(time.Millisecond), took[2].Round(time.Millisecond), took[1].Seconds()/took[2].Seconds())
		gone(t)
	})
}
