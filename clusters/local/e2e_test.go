package local_test

// End-to-end tests of the local provider against the real binaries. They are part of `make
// test`: TestMain builds the binaries the first time (about 10 minutes on 2 cores; the build
// happens before m.Run, outside the per-test alarm) and takes them from the cache afterwards.
// Only -short skips them.

import (
	"bufio"
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"log/slog"
	"math/big"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	appsv1 "k8s.io/api/apps/v1"
	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/tools/clientcmd"
	"k8s.io/utils/ptr"

	"github.com/faultline-dev/faultline/clusters"
	"github.com/faultline-dev/faultline/clusters/internal/proc"
	"github.com/faultline-dev/faultline/clusters/local"
)

// provider is shared by the tests: the default binary cache, a temporary state directory.
var provider *local.Provider

func TestMain(m *testing.M) {
	flag.Parse()
	if testing.Short() {
		os.Exit(m.Run())
	}
	os.Exit(run(m))
}

func run(m *testing.M) int {
	began := time.Now()
	stateDir, err := os.MkdirTemp("", "faultline-e2e-")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	defer os.RemoveAll(stateDir)
	logger := slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelWarn}))
	ctx := context.Background()
	if p, err := local.New(local.WithStateDir(stateDir)); err == nil && !p.BinariesCached() {
		logger = slog.New(slog.NewTextHandler(os.Stderr, nil)) // say what is being built, and for how long
		// go test kills a test binary at -timeout + 1 minute after it starts, build included.
		// Stop the build in time to say so plainly, leaving 2 minutes for the tests; what it
		// compiled stays in the Go build cache, so the next run carries on from there.
		if f := flag.Lookup("test.timeout"); f != nil {
			if timeout, ok := f.Value.(flag.Getter).Get().(time.Duration); ok && timeout > 0 {
				var cancel context.CancelFunc
				ctx, cancel = context.WithDeadline(ctx, began.Add(timeout+time.Minute-2*time.Minute))
				defer cancel()
			}
		}
		fmt.Fprintln(os.Stderr, "e2e: building the local cluster's binaries first (about 8 minutes on 2 idle cores, once)")
	}
	provider, err = local.New(local.WithStateDir(stateDir), local.WithLogger(logger))
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	if err := provider.EnsureServers(ctx); err != nil {
		if ctx.Err() != nil {
			fmt.Fprintf(os.Stderr, "e2e: the first build of the local cluster's binaries did not fit in go test's -timeout "+
				"(stopped after %s). What was compiled is kept in the Go build cache: run the tests again to carry on, "+
				"or build once without a timer with `make tools` (faultline cluster build).\n", time.Since(began).Round(time.Second))
			return 1
		}
		fmt.Fprintln(os.Stderr, "e2e: building the local cluster's binaries:", err)
		return 1
	}
	if d := time.Since(began); d > 5*time.Second {
		fmt.Fprintf(os.Stderr, "e2e: binaries built in %s, cached in %s\n", d.Round(time.Second), provider.CacheDir())
	}
	code := m.Run()
	// a test that failed before its cleanup was registered must not leave a cluster behind
	names, _ := provider.List()
	for _, n := range names {
		fmt.Fprintf(os.Stderr, "e2e: deleting leftover cluster %q\n", n)
		if err := provider.Delete(context.Background(), n); err != nil {
			fmt.Fprintln(os.Stderr, err)
			code = 1
		}
	}
	return code
}

func requireE2E(t *testing.T) {
	t.Helper()
	if testing.Short() {
		t.Skip("end-to-end test against a real control plane; skipped with -short")
	}
}

// up creates a cluster and registers its deletion, with a check that nothing of it is left.
func up(t *testing.T, name string, nodes int) kubernetes.Interface {
	t.Helper()
	ctx := t.Context()
	start := time.Now()
	err := provider.Create(ctx, name, clusters.WithNodes(nodes), clusters.WithWaitForReady(2*time.Minute))
	t.Cleanup(func() { down(t, name) })
	require.NoError(t, err)
	t.Logf("cluster %q with %d nodes ready in %s", name, nodes, time.Since(start).Round(time.Millisecond))
	kc, err := provider.KubeConfigPath(name)
	require.NoError(t, err)
	cfg, err := clientcmd.BuildConfigFromFlags("", kc)
	require.NoError(t, err)
	cs, err := kubernetes.NewForConfig(cfg)
	require.NoError(t, err)
	return cs
}

// down deletes the cluster if it still exists and checks that every process it recorded is gone
// and that no process names its state directory.
func down(t *testing.T, name string) {
	t.Helper()
	st, err := provider.Status(context.Background(), name)
	if errors.Is(err, clusters.ErrNotFound) {
		return
	}
	require.NoError(t, err)
	pids := map[string]int{}
	for _, p := range st.Processes {
		pids[p.Name] = p.PID
	}
	require.NoError(t, provider.Delete(context.Background(), name))
	for n, pid := range pids {
		info, err := proc.Inspect(pid)
		if err == nil && info.State != 'Z' && strings.HasPrefix(info.Exe, provider.CacheDir()) {
			t.Errorf("%s (pid %d) is still running after Delete", n, pid)
		}
	}
	strays, err := proc.Find(st.StateDir+"/", provider.CacheDir())
	require.NoError(t, err)
	assert.Empty(t, strays, "processes of the cluster left after Delete")
	_, err = os.Stat(st.StateDir)
	assert.True(t, errors.Is(err, os.ErrNotExist), "state directory left: %v", err)
}

func TestClusterUpStatusDown(t *testing.T) {
	requireE2E(t)
	t.Parallel() // each test has a cluster of its own
	cs := up(t, "e2e-basic", 3)
	ctx := t.Context()

	nodes, err := cs.CoreV1().Nodes().List(ctx, metav1.ListOptions{})
	require.NoError(t, err)
	require.Len(t, nodes.Items, 3)
	for _, n := range nodes.Items {
		assert.True(t, local.NodeReady(&n), "node %s not Ready", n.Name)
		assert.Empty(t, n.Spec.Taints, "node %s", n.Name)
	}
	v, err := cs.Discovery().ServerVersion()
	require.NoError(t, err)
	assert.Equal(t, local.Versions()["kubernetes"], v.GitVersion)

	st, err := provider.Status(ctx, "e2e-basic")
	require.NoError(t, err)
	assert.True(t, st.Healthy(), "%+v", st.Processes)
	var names []string
	for _, p := range st.Processes {
		names = append(names, p.Name)
	}
	assert.Equal(t, []string{local.Etcd, local.APIServer, local.ControllerManager, local.Scheduler, local.KWOK}, names)

	t.Run("every process listens on loopback only", func(t *testing.T) {
		for _, p := range st.Processes {
			addrs, err := listening(p.PID)
			require.NoError(t, err)
			for _, a := range addrs {
				assert.Truef(t, strings.HasPrefix(a, "127.0.0.1:") || strings.HasPrefix(a, "[::1]:"), "%s listens on %s", p.Name, a)
			}
			t.Logf("%s listens on %v", p.Name, addrs)
		}
	})

	t.Run("etcd answers only TLS clients with a certificate of the cluster's CA", func(t *testing.T) {
		b, err := os.ReadFile(filepath.Join(st.StateDir, "cluster.json"))
		require.NoError(t, err)
		var rec struct {
			Ports map[string]int `json:"ports"`
		}
		require.NoError(t, json.Unmarshal(b, &rec))
		port := rec.Ports["etcd-client"]
		require.NotZero(t, port)
		pkiDir := filepath.Join(st.StateDir, "pki")
		ca, err := os.ReadFile(filepath.Join(pkiDir, "ca.crt"))
		require.NoError(t, err)
		pool := x509.NewCertPool()
		require.True(t, pool.AppendCertsFromPEM(ca))
		get := func(url string, certs ...tls.Certificate) (int, error) {
			c := &http.Client{Timeout: 3 * time.Second, Transport: &http.Transport{Proxy: nil,
				TLSClientConfig: &tls.Config{RootCAs: pool, Certificates: certs, MinVersion: tls.VersionTLS12}}}
			resp, err := c.Get(url)
			if err != nil {
				return 0, err
			}
			resp.Body.Close()
			return resp.StatusCode, nil
		}
		addr := "127.0.0.1:" + strconv.Itoa(port)
		code, err := get("http://" + addr + "/v3/kv/range")
		assert.True(t, err != nil || code != http.StatusOK, "plain HTTP to etcd answered %d", code)
		_, err = get("https://" + addr + "/health")
		assert.Error(t, err, "TLS without a client certificate must be refused")
		// a certificate from another CA is refused too
		_, err = get("https://"+addr+"/health", selfSignedClient(t))
		assert.Error(t, err, "a client certificate from another CA must be refused")
		mine, err := tls.LoadX509KeyPair(filepath.Join(pkiDir, "apiserver-etcd-client.crt"), filepath.Join(pkiDir, "apiserver-etcd-client.key"))
		require.NoError(t, err)
		code, err = get("https://"+addr+"/health", mine)
		require.NoError(t, err)
		assert.Equal(t, http.StatusOK, code)
	})

	t.Run("a pod runs and a Job completes", func(t *testing.T) {
		p := pod("hello", "", corev1.ResourceList{corev1.ResourceCPU: resource.MustParse("100m")})
		_, err := cs.CoreV1().Pods("default").Create(ctx, p, metav1.CreateOptions{})
		require.NoError(t, err)
		waitPods(t, cs, "app=hello", 1)

		job := &batchv1.Job{
			ObjectMeta: metav1.ObjectMeta{Name: "once"},
			Spec: batchv1.JobSpec{Template: corev1.PodTemplateSpec{Spec: corev1.PodSpec{
				RestartPolicy: corev1.RestartPolicyNever,
				Containers:    []corev1.Container{{Name: "once", Image: "example.com/once:1"}},
			}}},
		}
		_, err = cs.BatchV1().Jobs("default").Create(ctx, job, metav1.CreateOptions{})
		require.NoError(t, err)
		require.Eventually(t, func() bool {
			j, err := cs.BatchV1().Jobs("default").Get(ctx, "once", metav1.GetOptions{})
			return err == nil && j.Status.Succeeded == 1 && j.Status.CompletionTime != nil
		}, time.Minute, 100*time.Millisecond, "the Job did not complete")
	})

	t.Run("LoadImage is a no-op", func(t *testing.T) {
		assert.NoError(t, provider.LoadImage(ctx, "e2e-basic", "moonlight/web:2019.01"))
		assert.ErrorIs(t, provider.LoadImage(ctx, "no-such", "x"), clusters.ErrNotFound)
	})

	t.Run("a second cluster with the same name is refused", func(t *testing.T) {
		assert.ErrorIs(t, provider.Create(ctx, "e2e-basic"), clusters.ErrExists)
	})

	list, err := provider.List()
	require.NoError(t, err)
	assert.Contains(t, list, "e2e-basic")
}

// The real kube-scheduler stacks replicas the way it did in the Moonlight incident: the other
// nodes are unschedulable while the replicas are placed (cordoned for an upgrade, or down), and
// nothing moves the replicas when the nodes come back. With required pod anti-affinity on the
// hostname the extra replicas wait Pending instead, and land one per node when the nodes return.
//
// It also pins down a fact the simulator's scheduler model must reproduce: with requests alone
// (two of three nodes already 87 % full) the replicas of a Deployment are NOT stacked, because
// the default PodTopologySpread scoring (system default constraint hostname maxSkew 3,
// ScheduleAnyway, plugin weight 2) outweighs NodeResourcesFit's LeastAllocated (weight 1) on
// three nodes: one replica already on the empty node costs it 50 of 100 spread points, twice.
func TestSchedulerStacksWithoutAntiAffinityAndSpreadsWithIt(t *testing.T) {
	requireE2E(t)
	t.Parallel() // each test has a cluster of its own
	cs := up(t, "e2e-sched", 3)
	ctx := t.Context()
	small := corev1.ResourceList{corev1.ResourceCPU: resource.MustParse("100m"), corev1.ResourceMemory: resource.MustParse("128Mi")}
	anti := &corev1.Affinity{PodAntiAffinity: &corev1.PodAntiAffinity{
		RequiredDuringSchedulingIgnoredDuringExecution: []corev1.PodAffinityTerm{{
			LabelSelector: &metav1.LabelSelector{MatchLabels: map[string]string{"app": "spread"}},
			TopologyKey:   "kubernetes.io/hostname",
		}},
	}}
	n1, n2, n3 := local.NodeName(1), local.NodeName(2), local.NodeName(3)
	cordon := func(unschedulable bool, nodes ...string) {
		t.Helper()
		for _, n := range nodes {
			patch := fmt.Sprintf(`{"spec":{"unschedulable":%t}}`, unschedulable)
			_, err := cs.CoreV1().Nodes().Patch(ctx, n, types.StrategicMergePatchType, []byte(patch), metav1.PatchOptions{})
			require.NoError(t, err)
		}
	}
	remove := func(name string) {
		t.Helper()
		require.NoError(t, cs.AppsV1().Deployments("default").Delete(ctx, name, metav1.DeleteOptions{PropagationPolicy: ptr.To(metav1.DeletePropagationForeground)}))
		waitGone(t, cs, "app="+name)
	}

	t.Run("stacked while the other nodes are cordoned, and stays stacked", func(t *testing.T) {
		cordon(true, n2, n3)
		_, err := cs.AppsV1().Deployments("default").Create(ctx, deployment("stacked", 3, small, nil), metav1.CreateOptions{})
		require.NoError(t, err)
		placed := waitPods(t, cs, "app=stacked", 3)
		cordon(false, n2, n3)
		time.Sleep(2 * time.Second) // the nodes are back; nothing rebalances running pods
		placed = waitPods(t, cs, "app=stacked", 3)
		t.Logf("without anti-affinity: %v", placed)
		assert.Equal(t, map[string]int{n1: 3}, placed)
		remove("stacked")
	})

	t.Run("spread one per node with required anti-affinity", func(t *testing.T) {
		cordon(true, n2, n3)
		_, err := cs.AppsV1().Deployments("default").Create(ctx, deployment("spread", 3, small, anti), metav1.CreateOptions{})
		require.NoError(t, err)
		placed := waitPods(t, cs, "app=spread", 1) // one fits; two wait
		assert.Equal(t, map[string]int{n1: 1}, placed)
		require.Eventually(t, func() bool {
			pods, err := cs.CoreV1().Pods("default").List(ctx, metav1.ListOptions{LabelSelector: "app=spread", FieldSelector: "status.phase=Pending"})
			return err == nil && len(pods.Items) == 2
		}, 30*time.Second, 100*time.Millisecond, "two replicas should wait Pending while only one node can take them")
		cordon(false, n2, n3)
		placed = waitPods(t, cs, "app=spread", 3)
		t.Logf("with required anti-affinity: %v", placed)
		assert.Equal(t, map[string]int{n1: 1, n2: 1, n3: 1}, placed)
		remove("spread")
	})

	t.Run("requests alone do not stack three replicas on three nodes", func(t *testing.T) {
		for _, n := range []string{n2, n3} {
			b := pod("ballast-"+n, n, corev1.ResourceList{corev1.ResourceCPU: resource.MustParse("3500m"), corev1.ResourceMemory: resource.MustParse("14Gi")})
			_, err := cs.CoreV1().Pods("default").Create(ctx, b, metav1.CreateOptions{})
			require.NoError(t, err)
		}
		waitPods(t, cs, "role=ballast", 2)
		_, err := cs.AppsV1().Deployments("default").Create(ctx, deployment("requests", 3, small, nil), metav1.CreateOptions{})
		require.NoError(t, err)
		placed := waitPods(t, cs, "app=requests", 3)
		t.Logf("two nodes 87 %% full by requests, no anti-affinity: %v", placed)
		assert.Equal(t, map[string]int{n1: 1, n2: 1, n3: 1}, placed)
	})
}

// Delete cleans up after a run that crashed: processes it never recorded (their command line
// names the state directory) are found and stopped, and a recorded PID that now belongs to
// another program is left alone.
func TestDeleteAfterCrash(t *testing.T) {
	requireE2E(t)
	t.Parallel() // each test has a cluster of its own
	up(t, "e2e-crash", 1)
	st, err := provider.Status(t.Context(), "e2e-crash")
	require.NoError(t, err)

	// a process that is not the cluster's, recorded under a name of the cluster's (PID reuse)
	sleep, err := exec.LookPath("sleep")
	require.NoError(t, err)
	decoy := exec.Command(sleep, "300")
	require.NoError(t, decoy.Start())
	t.Cleanup(func() { _ = decoy.Process.Kill(); _ = decoy.Wait() })

	// rewrite cluster.json as a crashed `up` would have left it: kwok and the scheduler started
	// but never recorded, and etcd's record pointing at the decoy's PID
	path := filepath.Join(st.StateDir, "cluster.json")
	var raw map[string]any
	b, err := os.ReadFile(path)
	require.NoError(t, err)
	require.NoError(t, json.Unmarshal(b, &raw))
	var kept []any
	for _, p := range raw["processes"].([]any) {
		rec := p.(map[string]any)
		switch rec["name"] {
		case local.KWOK, local.Scheduler:
			continue
		case local.Etcd:
			// the real etcd now goes unrecorded too; its PID is "reused" by the decoy
			rec["pid"] = decoy.Process.Pid
		}
		kept = append(kept, rec)
	}
	raw["processes"] = kept
	b, err = json.Marshal(raw)
	require.NoError(t, err)
	require.NoError(t, os.WriteFile(path, b, 0o644))

	down(t, "e2e-crash")
	for _, p := range st.Processes {
		info, err := proc.Inspect(p.PID)
		assert.False(t, err == nil && info.State != 'Z' && strings.HasPrefix(info.Exe, provider.CacheDir()), "%s (pid %d) left running", p.Name, p.PID)
	}
	assert.NoError(t, syscall.Kill(decoy.Process.Pid, 0), "the decoy was signalled")
}

// Directories that faultline did not create are never touched.
func TestForeignStateIsRefused(t *testing.T) {
	requireE2E(t)
	dir := filepath.Join(provider.StateDir(), "foreign")
	require.NoError(t, os.MkdirAll(dir, 0o755))
	t.Cleanup(func() { os.RemoveAll(dir) })
	require.NoError(t, os.WriteFile(filepath.Join(dir, "cluster.json"), []byte(`{"name":"foreign","processes":[{"pid":1}]}`), 0o644))
	assert.ErrorIs(t, provider.Delete(t.Context(), "foreign"), clusters.ErrNotOurs)
	_, err := os.Stat(filepath.Join(dir, "cluster.json"))
	assert.NoError(t, err)
	list, err := provider.List()
	require.NoError(t, err)
	assert.NotContains(t, list, "foreign")
	assert.ErrorIs(t, provider.Delete(t.Context(), "nothing-here"), clusters.ErrNotFound)
	assert.Error(t, provider.Delete(t.Context(), "../etc"))
}

func pod(name, node string, requests corev1.ResourceList) *corev1.Pod {
	role := "app"
	if node != "" {
		role = "ballast"
	}
	return &corev1.Pod{
		ObjectMeta: metav1.ObjectMeta{Name: name, Labels: map[string]string{"app": strings.Split(name, "-")[0], "role": role}},
		Spec: corev1.PodSpec{
			NodeName:   node,
			Containers: []corev1.Container{{Name: "c", Image: "registry.k8s.io/pause:3.10", Resources: corev1.ResourceRequirements{Requests: requests}}},
		},
	}
}

func deployment(name string, replicas int32, requests corev1.ResourceList, affinity *corev1.Affinity) *appsv1.Deployment {
	l := map[string]string{"app": name}
	return &appsv1.Deployment{
		ObjectMeta: metav1.ObjectMeta{Name: name, Labels: l},
		Spec: appsv1.DeploymentSpec{
			Replicas: ptr.To(replicas),
			Selector: &metav1.LabelSelector{MatchLabels: l},
			Template: corev1.PodTemplateSpec{
				ObjectMeta: metav1.ObjectMeta{Labels: l},
				Spec: corev1.PodSpec{
					Affinity:   affinity,
					Containers: []corev1.Container{{Name: name, Image: "example.com/" + name + ":1", Resources: corev1.ResourceRequirements{Requests: requests}}},
				},
			},
		},
	}
}

// waitPods waits until n pods that match selector are Running, and returns them per node.
func waitPods(t *testing.T, cs kubernetes.Interface, selector string, n int) map[string]int {
	t.Helper()
	var last string
	deadline := time.Now().Add(time.Minute)
	for time.Now().Before(deadline) {
		pods, err := cs.CoreV1().Pods("default").List(t.Context(), metav1.ListOptions{LabelSelector: selector})
		require.NoError(t, err)
		placed := map[string]int{}
		running := 0
		var states []string
		for _, p := range pods.Items {
			if p.DeletionTimestamp != nil {
				continue
			}
			if p.Status.Phase == corev1.PodRunning {
				running++
				placed[p.Spec.NodeName]++
			}
			states = append(states, fmt.Sprintf("%s:%s@%s", p.Name, p.Status.Phase, p.Spec.NodeName))
		}
		if running == n {
			return placed
		}
		sort.Strings(states)
		last = strings.Join(states, " ")
		time.Sleep(100 * time.Millisecond)
	}
	t.Fatalf("pods %s: want %d Running, have %s", selector, n, last)
	return nil
}

func waitGone(t *testing.T, cs kubernetes.Interface, selector string) {
	t.Helper()
	require.Eventually(t, func() bool {
		pods, err := cs.CoreV1().Pods("default").List(t.Context(), metav1.ListOptions{LabelSelector: selector})
		return err == nil && len(pods.Items) == 0
	}, time.Minute, 100*time.Millisecond, "pods %s not gone", selector)
}

// listening returns the addresses pid listens on (TCP), from /proc/PID/fd and /proc/net/tcp{,6}.
func listening(pid int) ([]string, error) {
	fds, err := os.ReadDir(fmt.Sprintf("/proc/%d/fd", pid))
	if err != nil {
		return nil, err
	}
	inodes := map[string]bool{}
	for _, fd := range fds {
		l, err := os.Readlink(fmt.Sprintf("/proc/%d/fd/%s", pid, fd.Name()))
		if err == nil && strings.HasPrefix(l, "socket:[") {
			inodes[strings.TrimSuffix(strings.TrimPrefix(l, "socket:["), "]")] = true
		}
	}
	var out []string
	for _, file := range []string{"tcp", "tcp6"} {
		f, err := os.Open(fmt.Sprintf("/proc/%d/net/%s", pid, file))
		if err != nil {
			continue
		}
		sc := bufio.NewScanner(f)
		sc.Scan() // header
		for sc.Scan() {
			fields := strings.Fields(sc.Text())
			if len(fields) < 10 || fields[3] != "0A" || !inodes[fields[9]] { // 0A: LISTEN
				continue
			}
			out = append(out, decodeAddr(fields[1]))
		}
		f.Close()
	}
	sort.Strings(out)
	return out, nil
}

// decodeAddr turns /proc/net/tcp's "0100007F:1F90" into "127.0.0.1:8080" (and IPv6 likewise).
func decodeAddr(s string) string {
	hexIP, hexPort, _ := strings.Cut(s, ":")
	port, _ := strconv.ParseUint(hexPort, 16, 16)
	var ip []byte
	for i := 0; i+8 <= len(hexIP); i += 8 { // 32-bit words in host (little-endian) order
		w, _ := strconv.ParseUint(hexIP[i:i+8], 16, 32)
		ip = append(ip, byte(w), byte(w>>8), byte(w>>16), byte(w>>24))
	}
	if len(ip) == 4 {
		return fmt.Sprintf("%d.%d.%d.%d:%d", ip[0], ip[1], ip[2], ip[3], port)
	}
	allZero, loop := true, true
	for i, b := range ip {
		allZero = allZero && b == 0
		loop = loop && ((i < 15 && b == 0) || (i == 15 && b == 1))
	}
	switch {
	case loop:
		return fmt.Sprintf("[::1]:%d", port)
	case allZero:
		return fmt.Sprintf("[::]:%d", port)
	}
	return fmt.Sprintf("[%x]:%d", ip, port)
}

// selfSignedClient is a client certificate that no CA of any cluster signed.
func selfSignedClient(t *testing.T) tls.Certificate {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	require.NoError(t, err)
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "stranger", Organization: []string{"system:masters"}},
		NotBefore: time.Now().Add(-time.Minute), NotAfter: time.Now().Add(time.Hour),
		KeyUsage: x509.KeyUsageDigitalSignature, ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth},
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	require.NoError(t, err)
	return tls.Certificate{Certificate: [][]byte{der}, PrivateKey: key}
}
