package record_test

// The end-to-end test of import and record against a throwaway local control plane (KWOK
// nodes). It is part of `make test` (about 40 s once the local cluster's binaries are cached;
// -short skips it): a workload set written here, a snapshot import, a recording with scaling, a
// rollout and a new Deployment, the trace's import, and both replays against the cluster.

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	appsv1 "k8s.io/api/apps/v1"
	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"
	"k8s.io/client-go/tools/clientcmd"
	"k8s.io/utils/ptr"

	"github.com/faultline-dev/faultline/clusters"
	"github.com/faultline-dev/faultline/clusters/importer"
	"github.com/faultline-dev/faultline/clusters/local"
	"github.com/faultline-dev/faultline/clusters/record"
	"github.com/faultline-dev/faultline/measure"
	"github.com/faultline-dev/faultline/scenarios"
)

const ns = "shop"

// startUpTolerance: the simulated median start-up (created to Running) must be within this
// share of the recorded one, or within startUpSlack, whichever is larger.
const (
	startUpTolerance = 0.5
	startUpSlack     = time.Second
)

func TestImportAndRecordAgainstALocalCluster(t *testing.T) {
	if testing.Short() {
		t.Skip("end-to-end test against a real control plane; skipped with -short")
	}
	ctx := t.Context()
	// a short state path: the control plane's sockets live under it
	state, err := os.MkdirTemp("", "fl-import-")
	require.NoError(t, err)
	t.Cleanup(func() { _ = os.RemoveAll(state) })
	p, err := local.New(local.WithStateDir(state), local.WithLogger(slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelWarn}))))
	require.NoError(t, err)
	// the binaries are built once (by `make tools` or the clusters/local tests); this waits for
	// a build in progress and builds them if none is
	require.NoError(t, p.EnsureServers(ctx))
	began := time.Now()
	const name = "e2e-import"
	err = p.Create(ctx, name, clusters.WithWaitForReady(2*time.Minute))
	t.Cleanup(func() {
		if err := p.Delete(context.Background(), name); err != nil && !errors.Is(err, clusters.ErrNotFound) {
			t.Errorf("delete cluster: %v", err)
		}
	})
	require.NoError(t, err)
	kc, err := p.KubeConfigPath(name)
	require.NoError(t, err)
	cfg, err := clientcmd.BuildConfigFromFlags("", kc)
	require.NoError(t, err)
	cfg.QPS, cfg.Burst = 100, 200
	cs, err := kubernetes.NewForConfig(cfg)
	require.NoError(t, err)
	t.Logf("cluster up in %s", time.Since(began).Round(time.Millisecond))

	// two pools in two zones: general (4 nodes, 2+2) and compute (tainted; 2 in zone-a, 1 in zone-b)
	for i, z := range []string{"zone-a", "zone-b", "zone-a", "zone-b"} {
		createNode(t, cs, fmt.Sprintf("gen-%d", i+1), "m-4", z, "4", "16Gi", nil)
	}
	taint := []corev1.Taint{{Key: "dedicated", Value: "compute", Effect: corev1.TaintEffectNoSchedule}}
	for i, z := range []string{"zone-a", "zone-a", "zone-b"} {
		createNode(t, cs, fmt.Sprintf("cpu-%d", i+1), "c-8", z, "8", "32Gi", taint)
	}
	_, err = cs.CoreV1().Namespaces().Create(ctx, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: ns}}, metav1.CreateOptions{})
	require.NoError(t, err)
	apply(t, cs, deployment("web", 6, "500m", false))
	apply(t, cs, deployment("api", 4, "1", false))
	apply(t, cs, deployment("batch", 3, "2", true))
	for _, d := range []string{"web", "api", "batch"} {
		waitRolledOut(t, cs, d)
	}

	t.Run("snapshot", func(t *testing.T) {
		snap, err := importer.ReadCluster(ctx, cfg, "e2e", importer.Filter{Include: []string{ns}})
		require.NoError(t, err)
		res, err := importer.Build(snap, importer.Options{Name: "e2e-snapshot", Duration: 30 * time.Minute})
		require.NoError(t, err)
		dir := t.TempDir()
		require.NoError(t, res.Write(dir))
		_, err = scenarios.Open(dir)
		require.NoError(t, err, "the imported scenario validates")
		require.Len(t, res.Pools, 3, "general over two zones; compute split per zone (2 and 1)")
		pl, err := importer.ComparePlacement(dir, res.Live, 1, 10*time.Minute)
		require.NoError(t, err)
		logPlacement(t, pl)
		assert.True(t, pl.Equal(), "pods per pool and zone: %+v", pl.Groups)
		assert.Equal(t, 13, sum(pl.Live))
		assert.LessOrEqual(t, pl.KS, 0.5, "pods-per-node distributions")
	})

	t.Run("trace", func(t *testing.T) {
		trace := filepath.Join(t.TempDir(), "trace.jsonl.gz")
		f, err := os.Create(trace)
		require.NoError(t, err)
		const recording = 20 * time.Second
		done := make(chan error, 1)
		var got record.Summary
		go func() {
			var err error
			got, err = record.Record(ctx, rest.CopyConfig(cfg), f, record.Options{Duration: recording, MaxBytes: 50 << 20,
				Filter: importer.Filter{Include: []string{ns}}, Source: "e2e"})
			done <- err
		}()
		time.Sleep(2 * time.Second) // the informers list first
		start := time.Now()
		scale(t, cs, "web", 9) // scaling
		waitRolledOut(t, cs, "web")
		newImage(t, cs, "api", "example.com/api:2") // a rollout
		waitRolledOut(t, cs, "api")
		apply(t, cs, deployment("worker", 3, "250m", false)) // a Deployment created
		waitRolledOut(t, cs, "worker")
		runJob(t, cs, "report") // a Job
		t.Logf("changes made in %s", time.Since(start).Round(time.Millisecond))
		require.NoError(t, <-done)
		require.NoError(t, f.Close())
		t.Logf("recorded %d events, %d bytes, stopped by %s", got.Events, got.Bytes, got.Reason)
		assert.Equal(t, "duration", got.Reason)

		tr, err := record.ReadTrace(trace)
		require.NoError(t, err)
		rep, err := record.Import(tr, importer.Filter{Include: []string{ns}}, importer.Options{Name: "e2e-trace"})
		require.NoError(t, err)
		dir := t.TempDir()
		require.NoError(t, rep.Write(dir))
		sc, err := scenarios.Open(dir)
		require.NoError(t, err, "the imported trace validates")
		var changes []string
		for _, c := range sc.Spec.Spec.Changes {
			changes = append(changes, c.Target+" "+opsOf(c.Patch.Patch))
		}
		t.Logf("changes: %v", changes)
		assert.Contains(t, changes, "deployment/shop/web /spec/replicas")
		assert.Contains(t, changes, "deployment/shop/api /spec/template")
		assert.Contains(t, changes, "deployment/shop/worker /spec/replicas")

		pl, err := importer.ComparePlacement(dir, rep.Final, 1, 0)
		require.NoError(t, err)
		logPlacement(t, pl)
		assert.True(t, pl.Equal(), "pods per pool and zone at the end: %+v", pl.Groups)
		assert.Equal(t, 9+4+3+3, sum(pl.Live))
		assert.LessOrEqual(t, pl.KS, 0.5)

		rec, simulated := rep.Recorded.Startup.P(0.5), pl.Startup.P(0.5)
		t.Logf("start-up, created to Running: recorded p50 %.3f s (bind %.3f s, run %.3f s; %d pods), simulated p50 %.3f s (%d pods)",
			rec, measure.Quantile(rep.Recorded.Startup.Bind, 0.5), measure.Quantile(rep.Recorded.Startup.Run, 0.5), rep.Recorded.Startup.Started, simulated, pl.Startup.Started)
		t.Logf("per-node pods: Kolmogorov-Smirnov distance %.3f over %d nodes", pl.KS, len(pl.Nodes))
		simRuns := -1.0
		for _, in := range rep.Recorded.Indicators {
			for _, s := range pl.Indicators {
				if s.Name == in.Name {
					t.Logf("indicator %s: recorded %.3f, simulated %.3f", in.Name, in.Value, s.Value)
				}
				if s.Name == "cron-runs-started" {
					simRuns = s.Value
				}
			}
		}
		assert.Equal(t, 1.0, simRuns, "the recorded Job ran once in the simulation")
		assert.Equal(t, 1, rep.Jobs, "the Job, played as a CronJob that runs once")
		recRuns, _ := rep.Recorded.Get("cron-runs-started")
		assert.Equal(t, 1.0, recRuns, "the recording saw the Job run: %v", rep.Recorded.Indicators)
		require.GreaterOrEqual(t, rep.Recorded.Startup.Started, 3+4+3, "the scaled, rolled-out and new pods")
		assert.Equal(t, pl.Startup.Started, rep.Recorded.Startup.Started, "the same pods start in both")
		tol := max(startUpTolerance*rec, startUpSlack.Seconds())
		assert.InDelta(t, rec, simulated, tol, "start-up p50: recorded %.3f s, simulated %.3f s", rec, simulated)
	})
}

func createNode(t *testing.T, cs kubernetes.Interface, name, itype, zone, cpu, mem string, taints []corev1.Taint) {
	t.Helper()
	n := clusters.FakeNode(name, corev1.ResourceList{corev1.ResourceCPU: resource.MustParse(cpu), corev1.ResourceMemory: resource.MustParse(mem)},
		map[string]string{corev1.LabelTopologyZone: zone, corev1.LabelInstanceTypeStable: itype}, taints)
	_, err := cs.CoreV1().Nodes().Create(t.Context(), n, metav1.CreateOptions{})
	require.NoError(t, err)
	require.Eventually(t, func() bool {
		n, err := cs.CoreV1().Nodes().Get(t.Context(), name, metav1.GetOptions{})
		// Ready is not enough: until the node lifecycle controller has seen it Ready it keeps the
		// node tainted not-ready and the scheduler skips it. On a loaded machine that lag let the
		// last compute node miss its Deployment's pods (3 of 3 in zone-a, the simulator 2 and 1).
		return err == nil && local.NodeReady(n) && !clusters.LifecycleTainted(n)
	}, time.Minute, 100*time.Millisecond, "node %s Ready and not tainted by the node lifecycle controller", name)
}

func deployment(name string, replicas int32, cpu string, compute bool) *appsv1.Deployment {
	l := map[string]string{"app": name}
	spec := corev1.PodSpec{Containers: []corev1.Container{{Name: name, Image: "example.com/" + name + ":1",
		Resources: corev1.ResourceRequirements{Requests: corev1.ResourceList{corev1.ResourceCPU: resource.MustParse(cpu), corev1.ResourceMemory: resource.MustParse("256Mi")}}}}}
	if compute {
		spec.NodeSelector = map[string]string{corev1.LabelInstanceTypeStable: "c-8"}
		spec.Tolerations = []corev1.Toleration{{Key: "dedicated", Operator: corev1.TolerationOpEqual, Value: "compute", Effect: corev1.TaintEffectNoSchedule}}
	}
	return &appsv1.Deployment{
		ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: ns, Labels: l},
		Spec: appsv1.DeploymentSpec{Replicas: ptr.To(replicas), Selector: &metav1.LabelSelector{MatchLabels: l},
			Template: corev1.PodTemplateSpec{ObjectMeta: metav1.ObjectMeta{Labels: l}, Spec: spec}},
	}
}

func apply(t *testing.T, cs kubernetes.Interface, d *appsv1.Deployment) {
	t.Helper()
	_, err := cs.AppsV1().Deployments(ns).Create(t.Context(), d, metav1.CreateOptions{})
	require.NoError(t, err)
}

func scale(t *testing.T, cs kubernetes.Interface, name string, n int32) {
	t.Helper()
	d, err := cs.AppsV1().Deployments(ns).Get(t.Context(), name, metav1.GetOptions{})
	require.NoError(t, err)
	d.Spec.Replicas = ptr.To(n)
	_, err = cs.AppsV1().Deployments(ns).Update(t.Context(), d, metav1.UpdateOptions{})
	require.NoError(t, err)
}

func newImage(t *testing.T, cs kubernetes.Interface, name, image string) {
	t.Helper()
	d, err := cs.AppsV1().Deployments(ns).Get(t.Context(), name, metav1.GetOptions{})
	require.NoError(t, err)
	d.Spec.Template.Spec.Containers[0].Image = image
	_, err = cs.AppsV1().Deployments(ns).Update(t.Context(), d, metav1.UpdateOptions{})
	require.NoError(t, err)
}

// waitRolledOut waits until every replica of the Deployment is updated and available, and no
// old pod is left.
func waitRolledOut(t *testing.T, cs kubernetes.Interface, name string) {
	t.Helper()
	var last string
	require.Eventually(t, func() bool {
		d, err := cs.AppsV1().Deployments(ns).Get(t.Context(), name, metav1.GetOptions{})
		if err != nil {
			return false
		}
		s := d.Status
		last = fmt.Sprintf("%+v", s)
		if s.ObservedGeneration < d.Generation || s.UpdatedReplicas != *d.Spec.Replicas || s.AvailableReplicas != *d.Spec.Replicas || s.Replicas != *d.Spec.Replicas {
			return false
		}
		pods, err := cs.CoreV1().Pods(ns).List(t.Context(), metav1.ListOptions{LabelSelector: "app=" + name})
		return err == nil && len(pods.Items) == int(*d.Spec.Replicas)
	}, time.Minute, 100*time.Millisecond, "deployment %s not rolled out: %s", name, &last)
}

// runJob creates a Job of one pod and waits until it completes.
func runJob(t *testing.T, cs kubernetes.Interface, name string) {
	t.Helper()
	j := &batchv1.Job{ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: ns},
		Spec: batchv1.JobSpec{BackoffLimit: ptr.To(int32(0)), Template: corev1.PodTemplateSpec{Spec: corev1.PodSpec{RestartPolicy: corev1.RestartPolicyNever,
			Containers: []corev1.Container{{Name: name, Image: "example.com/" + name + ":1",
				Resources: corev1.ResourceRequirements{Requests: corev1.ResourceList{corev1.ResourceCPU: resource.MustParse("100m")}}}}}}}}
	_, err := cs.BatchV1().Jobs(ns).Create(t.Context(), j, metav1.CreateOptions{})
	require.NoError(t, err)
	require.Eventually(t, func() bool {
		j, err := cs.BatchV1().Jobs(ns).Get(t.Context(), name, metav1.GetOptions{})
		return err == nil && j.Status.Succeeded > 0
	}, time.Minute, 100*time.Millisecond, "job %s completes", name)
}

func logPlacement(t *testing.T, p *importer.Placement) {
	t.Helper()
	var b bytes.Buffer
	p.Write(&b)
	t.Log("\n" + b.String())
}

func opsOf(patch []byte) string {
	var out []string
	for _, path := range []string{"/spec/replicas", "/spec/template"} {
		if strings.Contains(string(patch), `"`+path+`"`) {
			out = append(out, path)
		}
	}
	return strings.Join(out, "+")
}

func sum(xs []int) int {
	n := 0
	for _, x := range xs {
		n += x
	}
	return n
}
