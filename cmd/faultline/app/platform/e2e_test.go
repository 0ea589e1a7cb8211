package platform_test

// End-to-end tests of the platform against a real control plane (clusters/local): the decision
// table of platform/cron/crontest through platform/kube's client-go Client, and the platform as a
// host process (`faultline platform run`, started and stopped by its recorded PID, on loopback):
// its /metrics families against the simulator's, its TLS spreading webhook called by the real
// kube-apiserver. -short skips them; the local cluster's binaries must be cached (`faultline
// cluster build`), otherwise they are skipped with that reason.

import (
	"bufio"
	"context"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	admissionregistrationv1 "k8s.io/api/admissionregistration/v1"
	appsv1 "k8s.io/api/apps/v1"
	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/wait"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/tools/clientcmd"
	"k8s.io/client-go/util/cert"
	testingclock "k8s.io/utils/clock/testing"
	"k8s.io/utils/ptr"

	"github.com/faultline-dev/faultline/clusters"
	"github.com/faultline-dev/faultline/clusters/local"
	"github.com/faultline-dev/faultline/platform/cron"
	"github.com/faultline-dev/faultline/platform/cron/crontest"
	"github.com/faultline-dev/faultline/platform/kube"
	"github.com/faultline-dev/faultline/scenarios"
	"github.com/faultline-dev/faultline/sim"
)

const clusterName = "e2e-platform"

var (
	cs         kubernetes.Interface
	kubeconfig string
	binary     string // faultline, built for the tests
	skipReason string
)

func TestMain(m *testing.M) {
	flag.Parse()
	os.Exit(run(m))
}

func run(m *testing.M) int {
	if !testing.Short() && os.Getenv("FAULTLINE_SKIP_E2E") == "" {
		if err := setUp(); err != nil {
			fmt.Fprintln(os.Stderr, "e2e:", err)
			return 1
		}
		defer tearDown()
	} else {
		skipReason = "end-to-end test against a real control plane; skipped with -short"
	}
	return m.Run()
}

var provider *local.Provider
var tmpDir string

func setUp() error {
	var err error
	if tmpDir, err = os.MkdirTemp("", "faultline-platform-e2e-"); err != nil {
		return err
	}
	provider, err = local.New(local.WithStateDir(filepath.Join(tmpDir, "state")),
		local.WithLogger(slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelWarn}))))
	if err != nil {
		return err
	}
	if !provider.BinariesCached() {
		skipReason = "the local cluster's binaries are not cached; run `faultline cluster build` once"
		return nil
	}
	binary = filepath.Join(tmpDir, "faultline")
	build := exec.Command("go", "build", "-o", binary, "github.com/faultline-dev/faultline/cmd/faultline")
	build.Stderr = os.Stderr
	if err := build.Run(); err != nil {
		return fmt.Errorf("build faultline: %w", err)
	}
	ctx := context.Background()
	if err := provider.Create(ctx, clusterName, clusters.WithNodes(2), clusters.WithWaitForReady(3*time.Minute)); err != nil {
		_ = provider.Delete(ctx, clusterName)
		return err
	}
	if kubeconfig, err = provider.KubeConfigPath(clusterName); err != nil {
		return err
	}
	rc, err := clientcmd.BuildConfigFromFlags("", kubeconfig)
	if err != nil {
		return err
	}
	rc.QPS, rc.Burst = 100, 200
	cs, err = kubernetes.NewForConfig(rc)
	return err
}

func tearDown() {
	if provider != nil {
		if err := provider.Delete(context.Background(), clusterName); err != nil {
			fmt.Fprintln(os.Stderr, "e2e: delete cluster:", err)
		}
	}
	_ = os.RemoveAll(tmpDir)
}

func requireCluster(t *testing.T) {
	t.Helper()
	if skipReason != "" {
		t.Skip(skipReason)
	}
}

func namespace(t *testing.T, name string) {
	t.Helper()
	_, err := cs.CoreV1().Namespaces().Create(t.Context(), &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: name}}, metav1.CreateOptions{})
	require.NoError(t, err)
}

// kubeEnv runs a decision case against the local cluster: the controller's clock is a fake one
// set to each step's instant; between steps the real Job controller catches up.
type kubeEnv struct{}

func (kubeEnv) RunCase(t *testing.T, c crontest.Case, cj *batchv1.CronJob) {
	ctx := t.Context()
	namespace(t, cj.Namespace)
	_, err := cs.BatchV1().CronJobs(cj.Namespace).Create(ctx, cj, metav1.CreateOptions{})
	require.NoError(t, err)
	clk := testingclock.NewFakeClock(crontest.Start)
	client := &kube.Client{CS: cs}
	m := cron.NewMetrics(newRegistry())
	ctrl := cron.NewController(c.Config, client, m, cron.WithClock(clk))
	for _, s := range c.Steps {
		settle(t, cj.Namespace)
		clk.SetTime(crontest.Start.Add(s.At))
		s.Do(&crontest.Harness{T: t, Ctx: ctx, Ctrl: ctrl, Client: client, Metrics: m,
			Namespace: cj.Namespace, Name: cj.Name, Now: clk.Now()})
	}
}

// settle waits until the Job controller picked up every Job that is not suspended (startTime).
func settle(t *testing.T, ns string) {
	t.Helper()
	err := wait.PollUntilContextTimeout(t.Context(), 100*time.Millisecond, 30*time.Second, true, func(ctx context.Context) (bool, error) {
		l, err := cs.BatchV1().Jobs(ns).List(ctx, metav1.ListOptions{})
		if err != nil {
			return false, err
		}
		for _, j := range l.Items {
			if (j.Spec.Suspend == nil || !*j.Spec.Suspend) && j.Status.StartTime == nil && j.DeletionTimestamp == nil {
				return false, nil
			}
		}
		return true, nil
	})
	require.NoError(t, err, "the Job controller did not pick up the Jobs of %s", ns)
}

// TestDecisionsOnLocalCluster runs the decision table that TestDecisionsInSimulation
// (platform/simadapter) runs inside the simulator, here through client-go against a real
// kube-apiserver and kube-controller-manager.
func TestDecisionsOnLocalCluster(t *testing.T) {
	requireCluster(t)
	crontest.Run(t, kubeEnv{})
}

// platformProcess is `faultline platform run` on loopback, stopped by its PID at cleanup.
func platformProcess(t *testing.T, config string, args ...string) (metricsAddr, webhookAddr string) {
	t.Helper()
	cfg := filepath.Join(t.TempDir(), "platform.yaml")
	require.NoError(t, os.WriteFile(cfg, []byte(config), 0o600))
	cmd := exec.Command(binary, append([]string{"platform", "run", "--kubeconfig", kubeconfig, "--config", cfg,
		"--metrics-addr", "127.0.0.1:0", "-v"}, args...)...)
	out, err := cmd.StdoutPipe()
	require.NoError(t, err)
	logf, err := os.Create(filepath.Join(t.TempDir(), "platform.log"))
	require.NoError(t, err)
	cmd.Stderr = logf
	require.NoError(t, cmd.Start())
	pid := cmd.Process.Pid
	t.Cleanup(func() {
		_ = syscall.Kill(pid, syscall.SIGTERM) // the recorded PID, never a name
		done := make(chan error, 1)
		go func() { done <- cmd.Wait() }()
		select {
		case <-done:
		case <-time.After(15 * time.Second):
			_ = syscall.Kill(pid, syscall.SIGKILL)
			<-done
		}
		if t.Failed() {
			b, _ := os.ReadFile(logf.Name())
			t.Logf("platform log:\n%s", b)
		}
	})
	ready := make(chan string, 1)
	go func() {
		sc := bufio.NewScanner(out)
		for sc.Scan() {
			if strings.HasPrefix(sc.Text(), "ready ") {
				ready <- sc.Text()
			}
		}
		_, _ = io.Copy(io.Discard, out)
	}()
	select {
	case line := <-ready:
		f := strings.Fields(line)
		return strings.TrimPrefix(f[1], "metrics="), strings.TrimPrefix(f[2], "webhook=")
	case <-time.After(60 * time.Second):
		t.Fatal("faultline platform run did not get ready in 60 s")
	}
	return "", ""
}

var sampleLine = regexp.MustCompile(`(?m)^(cron_[a-zA-Z0-9_:]+)(\{[^}]*\})? `)

// series lists the cron series of an exposition (Prometheus text or OpenMetrics): metric names
// with their label sets, values left out (le buckets included: the same buckets on both sides).
// OpenMetrics' _created series carry wall-clock time and are left out, as the simulator does.
func series(text string) []string {
	seen := map[string]bool{}
	var out []string
	for _, m := range sampleLine.FindAllStringSubmatch(text, -1) {
		k := m[1] + m[2]
		if strings.HasSuffix(m[1], "_created") || seen[k] {
			continue
		}
		seen[k] = true
		out = append(out, k)
	}
	slices.Sort(out)
	return out
}

// TestMetricNamesMatchSimulation scrapes /metrics of the platform process after a real cron run
// (an on-demand Job of a managed CronJob: T2 and completion observed by the platform) and
// compares its cron series (names, labels, histogram buckets) with those of a simulated run of
// cron-missed-start-storm's platform-cron variant.
func TestMetricNamesMatchSimulation(t *testing.T) {
	requireCluster(t)
	ctx := t.Context()
	maddr, _ := platformProcess(t, "cron: {}\n")
	ns := "metrics-run"
	namespace(t, ns)
	cj := crontest.NewCronJob(ns)
	cj.Spec.JobTemplate.Spec.Template.Spec.NodeSelector = nil // runs (KWOK completes Job pods at once)
	cj.Spec.Schedule = "0 0 1 1 *"
	_, err := cs.BatchV1().CronJobs(ns).Create(ctx, cj, metav1.CreateOptions{})
	require.NoError(t, err)
	out, err := exec.CommandContext(ctx, binary, "cron", "trigger", cj.Name, "-n", ns, "--kubeconfig", kubeconfig).CombinedOutput()
	require.NoError(t, err, "%s", out)
	assert.Contains(t, string(out), "created")

	var text string
	err = wait.PollUntilContextTimeout(ctx, 200*time.Millisecond, 60*time.Second, true, func(ctx context.Context) (bool, error) {
		req, err := http.NewRequestWithContext(ctx, http.MethodGet, "http://"+maddr+"/metrics", nil)
		if err != nil {
			return false, err
		}
		// OpenMetrics, the simulator's encoding: the same text for the same series
		req.Header.Set("Accept", "application/openmetrics-text; version=1.0.0")
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			return false, nil
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		text = string(b)
		return strings.Contains(text, "cron_started_total 1.0") && strings.Contains(text, "cron_success_total 1.0"), nil
	})
	require.NoError(t, err, "the platform did not record the run's T2 and completion:\n%s", text)
	js, err := cs.BatchV1().Jobs(ns).List(ctx, metav1.ListOptions{})
	require.NoError(t, err)
	require.Len(t, js.Items, 1)
	assert.NotEmpty(t, js.Items[0].Annotations[cron.AnnStarted], "T2 annotation")

	sc, err := scenarios.Open("cron-missed-start-storm")
	require.NoError(t, err)
	v, err := sc.Variant("platform-cron")
	require.NoError(t, err)
	in := sc.Compile(v)
	in.Duration, in.Faults = 2*time.Hour, nil // the families, not the storm
	res, err := sim.Run(in, 1, sim.Options{})
	require.NoError(t, err)
	simSeries := series(string(res.Metrics))
	require.NotEmpty(t, simSeries)
	assert.Equal(t, simSeries, series(text))
}

// TestSpreadWebhookOnLocalCluster registers the platform process's TLS webhook with the real
// kube-apiserver and creates the Moonlight workloads: the CPU-heavy multi-replica one gets
// anti-affinity, the small one and the one that already spreads are left alone.
func TestSpreadWebhookOnLocalCluster(t *testing.T) {
	requireCluster(t)
	ctx := t.Context()
	dir := t.TempDir()
	crt, key, err := cert.GenerateSelfSignedCertKey("127.0.0.1", []net.IP{net.ParseIP("127.0.0.1")}, nil)
	require.NoError(t, err)
	require.NoError(t, os.WriteFile(filepath.Join(dir, "tls.crt"), crt, 0o600))
	require.NoError(t, os.WriteFile(filepath.Join(dir, "tls.key"), key, 0o600))
	_, waddr := platformProcess(t, "placement: {spread: {cpuThreshold: 250m}}\n", "--webhook-addr", "127.0.0.1:0",
		"--tls-cert", filepath.Join(dir, "tls.crt"), "--tls-key", filepath.Join(dir, "tls.key"))
	require.NotEmpty(t, waddr)
	ns := "spread"
	namespace(t, ns)
	fail := admissionregistrationv1.Fail
	none := admissionregistrationv1.SideEffectClassNone
	url := "https://" + waddr + kube.SpreadPath
	whc := &admissionregistrationv1.MutatingWebhookConfiguration{
		ObjectMeta: metav1.ObjectMeta{Name: "faultline-platform-spread-e2e"},
		Webhooks: []admissionregistrationv1.MutatingWebhook{{
			Name:                    "spread.platform.faultline.dev",
			ClientConfig:            admissionregistrationv1.WebhookClientConfig{URL: &url, CABundle: crt},
			Rules:                   []admissionregistrationv1.RuleWithOperations{{Operations: []admissionregistrationv1.OperationType{admissionregistrationv1.Create, admissionregistrationv1.Update}, Rule: admissionregistrationv1.Rule{APIGroups: []string{"apps"}, APIVersions: []string{"v1"}, Resources: []string{"deployments", "statefulsets"}}}},
			NamespaceSelector:       &metav1.LabelSelector{MatchLabels: map[string]string{"kubernetes.io/metadata.name": ns}},
			FailurePolicy:           &fail,
			SideEffects:             &none,
			AdmissionReviewVersions: []string{"v1"},
			TimeoutSeconds:          ptr.To[int32](5),
		}},
	}
	_, err = cs.AdmissionregistrationV1().MutatingWebhookConfigurations().Create(ctx, whc, metav1.CreateOptions{})
	require.NoError(t, err)
	t.Cleanup(func() {
		_ = cs.AdmissionregistrationV1().MutatingWebhookConfigurations().Delete(context.Background(), whc.Name, metav1.DeleteOptions{})
	})
	deploy := func(name string, replicas int32, cpu string, spread bool) *appsv1.Deployment {
		d := &appsv1.Deployment{
			ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: ns},
			Spec: appsv1.DeploymentSpec{
				Replicas: ptr.To(replicas),
				Selector: &metav1.LabelSelector{MatchLabels: map[string]string{"app": name}},
				Template: corev1.PodTemplateSpec{
					ObjectMeta: metav1.ObjectMeta{Labels: map[string]string{"app": name}},
					Spec: corev1.PodSpec{Containers: []corev1.Container{{Name: name, Image: "moonlight/" + name,
						Resources: corev1.ResourceRequirements{Requests: corev1.ResourceList{corev1.ResourceCPU: resource.MustParse(cpu)}}}}},
				},
			},
		}
		if spread {
			d.Spec.Template.Spec.TopologySpreadConstraints = []corev1.TopologySpreadConstraint{{MaxSkew: 1, TopologyKey: "kubernetes.io/hostname",
				WhenUnsatisfiable: corev1.ScheduleAnyway, LabelSelector: d.Spec.Selector}}
		}
		return d
	}
	tests := []struct {
		name string
		d    *appsv1.Deployment
		want bool
	}{
		{"CPU-heavy with 3 replicas gets anti-affinity", deploy("web", 3, "500m", false), true},
		{"small requests are left alone", deploy("redis", 3, "100m", false), false},
		{"one replica is left alone", deploy("batch", 1, "2", false), false},
		{"a workload that spreads already is left alone", deploy("ssr", 3, "500m", true), false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var got *appsv1.Deployment
			// the first request after registration may race the webhook configuration's propagation
			err := wait.PollUntilContextTimeout(ctx, 200*time.Millisecond, 20*time.Second, true, func(ctx context.Context) (bool, error) {
				var err error
				got, err = cs.AppsV1().Deployments(ns).Create(ctx, tt.d, metav1.CreateOptions{})
				return err == nil, nil
			})
			require.NoError(t, err)
			hasAnti := got.Spec.Template.Spec.Affinity != nil && got.Spec.Template.Spec.Affinity.PodAntiAffinity != nil
			assert.Equal(t, tt.want, hasAnti)
			if tt.want {
				terms := got.Spec.Template.Spec.Affinity.PodAntiAffinity.RequiredDuringSchedulingIgnoredDuringExecution
				require.Len(t, terms, 1)
				assert.Equal(t, "kubernetes.io/hostname", terms[0].TopologyKey)
				assert.Equal(t, tt.d.Spec.Selector.MatchLabels, terms[0].LabelSelector.MatchLabels)
				assert.NotEmpty(t, got.Annotations["platform.faultline.dev/spread"])
			}
		})
	}
}

// TestConsolidationOnLocalCluster: apps with the same runtime get one shared Deployment, and a
// scheduled run of a CronJob bound to one of them gets the shared image, resolved from the app's
// Deployment when the Job is created (the CronJob itself names the old per-app image and no
// runtime).
func TestConsolidationOnLocalCluster(t *testing.T) {
	requireCluster(t)
	ctx := t.Context()
	platformProcess(t, `cron: {}
placement:
  consolidation:
    images: {"php-8.2.10": "registry.example/shared:php-8.2.10"}
`)
	ns := "hosting"
	namespace(t, ns)
	app := func(name, runtime string) *appsv1.Deployment {
		return &appsv1.Deployment{
			ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: ns, Labels: map[string]string{"platform.faultline.dev/app": name},
				Annotations: map[string]string{"platform.faultline.dev/runtime": runtime}},
			Spec: appsv1.DeploymentSpec{
				Replicas: ptr.To[int32](1),
				Selector: &metav1.LabelSelector{MatchLabels: map[string]string{"app": name}},
				Template: corev1.PodTemplateSpec{ObjectMeta: metav1.ObjectMeta{Labels: map[string]string{"app": name}},
					Spec: corev1.PodSpec{Containers: []corev1.Container{{Name: "php", Image: "registry.example/" + name + ":" + runtime}}}},
			},
		}
	}
	for _, d := range []*appsv1.Deployment{app("shop", "php-8.2.10"), app("blog", "php-8.2.10"), app("legacy", "php-7.4")} {
		_, err := cs.AppsV1().Deployments(ns).Create(ctx, d, metav1.CreateOptions{})
		require.NoError(t, err)
	}
	var shared *appsv1.Deployment
	err := wait.PollUntilContextTimeout(ctx, 200*time.Millisecond, 30*time.Second, true, func(ctx context.Context) (bool, error) {
		d, err := cs.AppsV1().Deployments(ns).Get(ctx, "shared-php-8-2-10", metav1.GetOptions{})
		if err != nil {
			return false, nil
		}
		shared = d
		return d.Annotations["platform.faultline.dev/apps"] == "hosting/blog,hosting/shop", nil
	})
	require.NoError(t, err, "shared Deployment: %+v", shared)
	assert.Equal(t, "registry.example/shared:php-8.2.10", shared.Spec.Template.Spec.Containers[0].Image)
	_, err = cs.AppsV1().Deployments(ns).Get(ctx, "shared-php-7-4", metav1.GetOptions{})
	assert.Error(t, err, "no shared pods for a runtime without a shared image")

	cj := crontest.NewCronJob(ns)
	cj.Spec.Schedule = "* * * * *"
	cj.Annotations["platform.faultline.dev/app"] = "shop"
	cj.Spec.JobTemplate.Spec.Template.Spec.NodeSelector = nil
	cj.Spec.JobTemplate.Spec.Template.Spec.Containers[0].Image = "registry.example/shop:deleted"
	_, err = cs.BatchV1().CronJobs(ns).Create(ctx, cj, metav1.CreateOptions{})
	require.NoError(t, err)
	var jobs *batchv1.JobList
	err = wait.PollUntilContextTimeout(ctx, time.Second, 90*time.Second, true, func(ctx context.Context) (bool, error) {
		jobs, err = cs.BatchV1().Jobs(ns).List(ctx, metav1.ListOptions{})
		return err == nil && len(jobs.Items) > 0, nil
	})
	require.NoError(t, err, "no scheduled run within 90 s")
	assert.Equal(t, "registry.example/shared:php-8.2.10", jobs.Items[0].Spec.Template.Spec.Containers[0].Image)
	assert.NotEmpty(t, jobs.Items[0].Annotations[cron.AnnScheduled])
}
