package realrun_test

// End-to-end tests against a real local control plane (part of `make test`; -short skips them).
// The binaries come from the cache that `make tools` fills; TestMain builds them if missing.

import (
	"context"
	"flag"
	"fmt"
	"log/slog"
	"os"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	admissionregistrationv1 "k8s.io/api/admissionregistration/v1"
	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/client-go/kubernetes"
	"k8s.io/utils/ptr"

	"github.com/faultline-dev/faultline/clusters/local"
	"github.com/faultline-dev/faultline/clusters/realrun"
	"github.com/faultline-dev/faultline/measure"
	"github.com/faultline-dev/faultline/scenarios"
	"github.com/faultline-dev/faultline/sim"
)

var provider *local.Provider

func TestMain(m *testing.M) {
	flag.Parse()
	if mode := os.Getenv(helperEnv); mode != "" { // a run to be killed (e2e_kill_test.go)
		os.Exit(helperMain(mode))
	}
	if testing.Short() {
		os.Exit(m.Run())
	}
	stateDir, err := os.MkdirTemp("", "faultline-realrun-")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	code := func() int {
		defer os.RemoveAll(stateDir)
		logger := slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelWarn}))
		provider, err = local.New(local.WithStateDir(stateDir), local.WithLogger(logger))
		if err != nil {
			fmt.Fprintln(os.Stderr, err)
			return 1
		}
		if err := provider.EnsureServers(context.Background()); err != nil {
			fmt.Fprintln(os.Stderr, "e2e: building the local cluster's binaries (run `make tools` first):", err)
			return 1
		}
		code := m.Run()
		names, _ := provider.List()
		for _, n := range names {
			fmt.Fprintf(os.Stderr, "e2e: deleting leftover cluster %q\n", n)
			if err := provider.Delete(context.Background(), n); err != nil {
				fmt.Fprintln(os.Stderr, err)
				code = 1
			}
		}
		return code
	}()
	os.Exit(code)
}

func requireE2E(t *testing.T) {
	t.Helper()
	if testing.Short() {
		t.Skip("end-to-end test against a real control plane; skipped with -short")
	}
}

func set(t *testing.T, sc *scenarios.Scenario, path, value string) *scenarios.Scenario {
	t.Helper()
	out, err := sc.Set(path, value)
	require.NoError(t, err, "set %s=%s", path, value)
	return out
}

// acquire creates a throwaway cluster for in and registers its deletion, checking that none of
// its processes is left afterwards.
func acquire(t *testing.T, in *sim.Input) *realrun.Cluster {
	t.Helper()
	src := &realrun.Local{Provider: provider, Prefix: "e2e"}
	start := time.Now()
	cl, err := src.Acquire(t.Context(), in, 1)
	require.NoError(t, err)
	t.Logf("cluster %s up in %s", cl.Name, time.Since(start).Round(time.Millisecond))
	st, err := provider.Status(t.Context(), cl.Name)
	require.NoError(t, err)
	t.Cleanup(func() {
		require.NoError(t, cl.Release(context.Background()))
		for _, p := range st.Processes {
			exe, _ := os.Readlink(fmt.Sprintf("/proc/%d/exe", p.PID))
			assert.False(t, strings.HasPrefix(exe, provider.CacheDir()), "%s (pid %d) left running", p.Name, p.PID)
		}
		assert.Empty(t, processesNaming(t, st.StateDir+"/"), "processes of the cluster left after Delete")
	})
	return cl
}

func indicator(t *testing.T, r sim.Result, name string) float64 {
	t.Helper()
	v, ok := r.Get(name)
	require.True(t, ok, "indicator %s missing from %v", name, r)
	return v
}

// The Lyft storm in miniature: 100 CronJobs "* * * * *" (the library scenario with a smaller
// count, every schedule on the minute, v2 controller as Kubernetes 1.34 runs it, the
// controller-manager's client at the scenario's 20 QPS / burst 30) fire together at the next
// minute boundary. Every Job is created and started, and the creation delay from the scheduled
// time is measured: the CronJob controller's rate-limited writes spread the 100 creations over
// seconds.
func TestCronJobStormFiringInTheSameMinute(t *testing.T) {
	requireE2E(t)
	t.Parallel()
	sc, err := scenarios.Open("cron-missed-start-storm")
	require.NoError(t, err)
	sc = set(t, sc, "spec.templates[0].count", "100")
	sc = set(t, sc, "spec.templates[0].fields[2].choices", `[{"value":"* * * * *","weight":1}]`)
	sc = set(t, sc, "spec.templates[0].fields[0].choices", `[{"value":"1s","weight":1}]`)
	sc = set(t, sc, "spec.cluster.nodePools[0].count", "5")
	sc = set(t, sc, "spec.faults", "[]")
	sc = set(t, sc, "spec.duration", "100s") // t0 is one minute before the firing: it ends 40 s after it
	v, err := sc.Variant("v2")
	require.NoError(t, err)
	in := sc.Compile(v)
	cl := acquire(t, in)

	began := time.Now()
	res, rep, err := realrun.Run(t.Context(), cl.Config, in, realrun.Options{Seed: 1, ControlPlane: cl.ControlPlane})
	require.NoError(t, err)
	t.Logf("run took %s (t0 %s); %v", time.Since(began).Round(time.Second), rep.Start.Format(time.TimeOnly), res)
	assert.Equal(t, 5, rep.Nodes)
	assert.Equal(t, 0, rep.Start.Second(), "t0 is on the minute, in phase with spec.start")

	assert.Equal(t, 100.0, indicator(t, res, "cron-runs-started"), "all 100 CronJobs fired once and their app containers started")
	p50 := indicator(t, res, "job-create-delay-p50-seconds")
	mx := indicator(t, res, "job-create-delay-max-seconds")
	assert.Greater(t, mx, 0.0)
	assert.Less(t, mx, 40.0, "every Job was created before the run ended")
	assert.GreaterOrEqual(t, mx, p50)
	assert.GreaterOrEqual(t, indicator(t, res, "start-delay-p50-seconds"), p50, "the app starts after its Job exists")
	// every step was observed: the KWOK stages make pod-run take its configured delay
	for _, step := range []string{"pod-create-delay", "pod-bind-delay", "pod-run-delay"} {
		assert.GreaterOrEqual(t, indicator(t, res, step+"-p99-seconds"), indicator(t, res, step+"-p50-seconds"), step)
	}
	assert.Greater(t, indicator(t, res, "pod-run-delay-p50-seconds"), 0.0, "bound and running are observed in separate updates (the scheduler's, then KWOK's)")
	assert.Contains(t, rep.Unmeasured, "failed-runs: the CronJobs' faultline.dev/failure-ratio is played only by the simulator; real pods fail as their containers do (KWOK's: never)",
		"the storm's CronJobs ask the simulator for 1 % app failures; the real failure counts are not compared")
	for _, i := range res.Indicators {
		assert.NotEqual(t, "failed-attempts", i.Name)
	}
	require.NotNil(t, res.Series)
	assert.NotEmpty(t, res.Series.Rows)
	stall, _ := measure.Lookup("stalled-cronjobs")
	assert.Contains(t, rep.Unmeasured, "stalled-cronjobs: "+stall.Unmeasurable[measure.KWOK])
}

// A Fail-policy webhook over every namespace with a hanging backend blocks a ConfigMap write in
// kube-system (what stopped the upgraded apiserver's PostStartHook in the Jetstack incident);
// scoped with a namespace selector to the policy's namespaces, it does not. The backend is
// faultline's webhook server; the fault is a PodChaos pod-failure on the webhook's pods, which
// the runner turns into the backend hanging.
func TestWebhookWithHangingBackendBlocksKubeSystemUnlessScoped(t *testing.T) {
	requireE2E(t)
	t.Parallel()
	in := webhookInput(nil)
	cl := acquire(t, in)
	cs, err := kubernetes.NewForConfig(cl.Config)
	require.NoError(t, err)

	for _, tc := range []struct {
		name   string
		scope  *metav1.LabelSelector
		system bool // kube-system writes blocked
	}{
		{name: "unscoped", scope: nil, system: true},
		{name: "scoped", scope: &metav1.LabelSelector{MatchLabels: map[string]string{"policy": "enforced"}}, system: false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			in := webhookInput(tc.scope)
			var (
				res  sim.Result
				rep  *realrun.Report
				rerr error
				wg   sync.WaitGroup
			)
			ctx := t.Context()
			done := make(chan struct{})
			wg.Add(1)
			go func() {
				defer wg.Done()
				defer close(done)
				res, rep, rerr = realrun.Run(ctx, cl.Config, in, realrun.Options{Seed: 1, Cleanup: true})
			}()
			// wait for the webhook configuration, then for the fault (at 5 s)
			require.Eventually(t, func() bool {
				select {
				case <-done:
					return true
				default:
				}
				_, err := cs.AdmissionregistrationV1().ValidatingWebhookConfigurations().Get(ctx, "opa", metav1.GetOptions{})
				return err == nil
			}, 2*time.Minute, 100*time.Millisecond)
			select {
			case <-done:
				require.NoError(t, rerr, "the run ended before its webhook configuration was seen")
			default:
			}
			before := write(ctx, cs, "kube-system", "before")
			assert.NoError(t, before, "before the fault the backend answers")
			time.Sleep(6 * time.Second)
			system := write(ctx, cs, "kube-system", "during")
			enforced := write(ctx, cs, "payments", "during")
			wg.Wait()
			require.NoError(t, rerr)
			t.Logf("kube-system: %v; payments: %v; %v; injected %v", system, enforced, res, rep.Injected)
			if tc.system {
				require.Error(t, system, "kube-system write with an unscoped Fail-policy webhook and a hanging backend")
				assert.Contains(t, system.Error(), "failed calling webhook")
			} else {
				assert.NoError(t, system, "the scoped webhook does not see kube-system")
			}
			require.Error(t, enforced, "the policy still holds where it applies")
			assert.Contains(t, enforced.Error(), "failed calling webhook")
			assert.NotEmpty(t, rep.Injected)
			assert.Greater(t, rep.WebhookCalls, int64(0))
			_ = cs.CoreV1().ConfigMaps("kube-system").Delete(context.Background(), "faultline-before", metav1.DeleteOptions{})
			_ = cs.CoreV1().ConfigMaps("kube-system").Delete(context.Background(), "faultline-during", metav1.DeleteOptions{})
		})
	}
}

func write(ctx context.Context, cs kubernetes.Interface, ns, name string) error {
	cm := &corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Name: "faultline-" + name, Namespace: ns}, Data: map[string]string{"k": "v"}}
	_, err := cs.CoreV1().ConfigMaps(ns).Create(ctx, cm, metav1.CreateOptions{})
	return err
}

// webhookInput is a small webhook scenario: an OPA-like Deployment and Service in namespace opa,
// a Fail-policy ValidatingWebhookConfiguration on ConfigMaps (timeoutSeconds 2, to keep the test
// short), and at 5 s a pod-failure on the OPA pods for the rest of the run (20 s).
func webhookInput(scope *metav1.LabelSelector) *sim.Input {
	fail := admissionregistrationv1.Fail
	none := admissionregistrationv1.SideEffectClassNone
	objs := []runtime.Object{
		&corev1.Namespace{TypeMeta: metav1.TypeMeta{APIVersion: "v1", Kind: "Namespace"}, ObjectMeta: metav1.ObjectMeta{Name: "opa"}},
		&corev1.Namespace{TypeMeta: metav1.TypeMeta{APIVersion: "v1", Kind: "Namespace"}, ObjectMeta: metav1.ObjectMeta{Name: "payments", Labels: map[string]string{"policy": "enforced"}}},
		&appsv1.Deployment{
			TypeMeta:   metav1.TypeMeta{APIVersion: "apps/v1", Kind: "Deployment"},
			ObjectMeta: metav1.ObjectMeta{Name: "opa", Namespace: "opa"},
			Spec: appsv1.DeploymentSpec{
				Replicas: ptr.To[int32](1),
				Selector: &metav1.LabelSelector{MatchLabels: map[string]string{"app": "opa"}},
				Template: corev1.PodTemplateSpec{
					ObjectMeta: metav1.ObjectMeta{Labels: map[string]string{"app": "opa"}},
					Spec: corev1.PodSpec{Containers: []corev1.Container{{Name: "opa", Image: "openpolicyagent/opa:0.10.5",
						Resources: corev1.ResourceRequirements{Requests: corev1.ResourceList{corev1.ResourceCPU: resource.MustParse("100m")}}}}},
				},
			},
		},
		&corev1.Service{
			TypeMeta:   metav1.TypeMeta{APIVersion: "v1", Kind: "Service"},
			ObjectMeta: metav1.ObjectMeta{Name: "opa", Namespace: "opa"},
			Spec:       corev1.ServiceSpec{Selector: map[string]string{"app": "opa"}, Ports: []corev1.ServicePort{{Port: 443}}},
		},
		&admissionregistrationv1.ValidatingWebhookConfiguration{
			TypeMeta:   metav1.TypeMeta{APIVersion: "admissionregistration.k8s.io/v1", Kind: "ValidatingWebhookConfiguration"},
			ObjectMeta: metav1.ObjectMeta{Name: "opa"},
			Webhooks: []admissionregistrationv1.ValidatingWebhook{{
				Name:                    "validating-webhook.openpolicyagent.org",
				ClientConfig:            admissionregistrationv1.WebhookClientConfig{Service: &admissionregistrationv1.ServiceReference{Namespace: "opa", Name: "opa"}},
				FailurePolicy:           &fail,
				SideEffects:             &none,
				TimeoutSeconds:          ptr.To[int32](2),
				AdmissionReviewVersions: []string{"v1"},
				NamespaceSelector:       scope,
				Rules: []admissionregistrationv1.RuleWithOperations{{
					Operations: []admissionregistrationv1.OperationType{admissionregistrationv1.Create, admissionregistrationv1.Update},
					Rule:       admissionregistrationv1.Rule{APIGroups: []string{""}, APIVersions: []string{"v1"}, Resources: []string{"configmaps"}},
				}},
			}},
		},
	}
	return &sim.Input{
		Name: "webhook", Duration: 20 * time.Second, Models: sim.DefaultModels(),
		Pools:   []sim.NodePool{{Name: "pool", Count: 1, Capacity: corev1.ResourceList{corev1.ResourceCPU: resource.MustParse("4"), corev1.ResourceMemory: resource.MustParse("16Gi")}}},
		Objects: objs,
		Faults: []sim.Fault{{Name: "PodChaos/opa-down", Action: sim.PodFailure, At: 5 * time.Second,
			Pods: sim.PodSelector{Namespaces: []string{"opa"}, Labels: labels.SelectorFromSet(labels.Set{"app": "opa"}), Mode: sim.ModeAll}}},
	}
}

// processesNaming lists the live processes whose command line contains s.
func processesNaming(t *testing.T, s string) []string {
	t.Helper()
	ents, err := os.ReadDir("/proc")
	require.NoError(t, err)
	var out []string
	for _, e := range ents {
		if _, err := strconv.Atoi(e.Name()); err != nil {
			continue
		}
		cmd, err := os.ReadFile("/proc/" + e.Name() + "/cmdline")
		if err != nil || len(cmd) == 0 {
			continue // gone, or a zombie
		}
		if strings.Contains(string(cmd), s) {
			out = append(out, e.Name()+": "+strings.ReplaceAll(string(cmd), "\x00", " "))
		}
	}
	return out
}

// The built-in injectors on a real control plane: a node stopped for 40 s (its heartbeat taken
// from KWOK; with the scenario's 20 s grace period and 5 s tolerations its pods are evicted and
// replaced), then kube-controller-manager stopped for 12 s (a Deployment scaled up in the window
// gets its new pod only after the restart). The cluster is started with the model's timings.
func TestNodeStopAndControllerManagerDown(t *testing.T) {
	requireE2E(t)
	t.Parallel()
	m := sim.DefaultModels()
	m.NodeLifecycle.GracePeriod = metav1.Duration{Duration: 20 * time.Second}
	m.NodeLifecycle.DefaultTolerationSeconds = 5
	in := &sim.Input{
		Name: "faults", Duration: 75 * time.Second, Models: m,
		Pools: []sim.NodePool{{Name: "pool", Count: 2, Zones: []string{"a", "b"},
			Capacity: corev1.ResourceList{corev1.ResourceCPU: resource.MustParse("4"), corev1.ResourceMemory: resource.MustParse("16Gi")}}},
		Objects: []runtime.Object{&appsv1.Deployment{
			TypeMeta:   metav1.TypeMeta{APIVersion: "apps/v1", Kind: "Deployment"},
			ObjectMeta: metav1.ObjectMeta{Name: "web"},
			Spec: appsv1.DeploymentSpec{
				Replicas: ptr.To[int32](2),
				Selector: &metav1.LabelSelector{MatchLabels: map[string]string{"app": "web"}},
				Template: corev1.PodTemplateSpec{
					ObjectMeta: metav1.ObjectMeta{Labels: map[string]string{"app": "web"}},
					Spec: corev1.PodSpec{Containers: []corev1.Container{{Name: "web", Image: "example.com/web:1",
						Resources: corev1.ResourceRequirements{Requests: corev1.ResourceList{corev1.ResourceCPU: resource.MustParse("100m")}}}}},
				},
			},
		}},
		Faults: []sim.Fault{
			{Name: "GCPChaos/stop-pool-1", Action: sim.NodeStop, At: 2 * time.Second, Duration: 40 * time.Second, Nodes: []string{"pool-1"}},
			{Name: "PodChaos/kcm-down", Action: sim.ControllerManagerDown, At: 47 * time.Second, Duration: 12 * time.Second},
		},
	}
	cl := acquire(t, in)
	cs, err := kubernetes.NewForConfig(cl.Config)
	require.NoError(t, err)
	ctx := t.Context()

	var (
		res  sim.Result
		rep  *realrun.Report
		rerr error
		wg   sync.WaitGroup
	)
	began := time.Now()
	wg.Add(1)
	go func() {
		defer wg.Done()
		res, rep, rerr = realrun.Run(ctx, cl.Config, in, realrun.Options{Seed: 1, ControlPlane: cl.ControlPlane})
	}()
	// the node goes NotReady (Unknown) once its lease is 20 s old
	require.Eventually(t, func() bool {
		n, err := cs.CoreV1().Nodes().Get(ctx, "pool-1", metav1.GetOptions{})
		return err == nil && !ready(n)
	}, 50*time.Second, 250*time.Millisecond, "pool-1 never went NotReady")
	t.Logf("pool-1 NotReady after %s", time.Since(began).Round(time.Second))
	// in the controller-manager's window, scale up: no new pod while it is down
	require.Eventually(t, func() bool {
		st, err := provider.Status(ctx, cl.Name)
		if err != nil {
			return false
		}
		for _, p := range st.Processes {
			if p.Name == local.ControllerManager {
				return !p.Running
			}
		}
		return false
	}, 80*time.Second, 100*time.Millisecond, "kube-controller-manager was never stopped")
	t.Logf("kube-controller-manager stopped after %s", time.Since(began).Round(time.Second))
	_, err = cs.AppsV1().Deployments("default").Patch(ctx, "web", "application/merge-patch+json", []byte(`{"spec":{"replicas":3}}`), metav1.PatchOptions{})
	require.NoError(t, err)
	time.Sleep(3 * time.Second)
	pods, err := cs.CoreV1().Pods("default").List(ctx, metav1.ListOptions{LabelSelector: "app=web"})
	require.NoError(t, err)
	live := 0
	for _, p := range pods.Items {
		if p.DeletionTimestamp == nil {
			live++
		}
	}
	assert.Equal(t, 2, live, "no ReplicaSet controller while kube-controller-manager is down")
	wg.Wait()
	require.NoError(t, rerr)
	t.Logf("%v; injected %v; not injected %v", res, rep.Injected, rep.NotInjected)
	assert.Empty(t, rep.NotInjected)
	assert.Len(t, rep.Injected, 2)
	assert.GreaterOrEqual(t, indicator(t, res, "pods-lost"), 1.0)
	assert.GreaterOrEqual(t, indicator(t, res, "evictions"), 1.0, "pods on the silent node were evicted after their 5 s toleration")
	require.Eventually(t, func() bool {
		d, err := cs.AppsV1().Deployments("default").Get(ctx, "web", metav1.GetOptions{})
		return err == nil && d.Status.ReadyReplicas == 3
	}, time.Minute, 250*time.Millisecond, "the third replica comes once kube-controller-manager is back")
	n, err := cs.CoreV1().Nodes().Get(ctx, "pool-1", metav1.GetOptions{})
	require.NoError(t, err)
	assert.True(t, ready(n), "pool-1 reports Ready again once KWOK has its lease back")
	st, err := provider.Status(ctx, cl.Name)
	require.NoError(t, err)
	assert.True(t, st.Healthy(), "%+v", st.Processes)
}

func ready(n *corev1.Node) bool {
	for _, c := range n.Status.Conditions {
		if c.Type == corev1.NodeReady {
			return c.Status == corev1.ConditionTrue
		}
	}
	return false
}
