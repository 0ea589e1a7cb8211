package kind_test

// End-to-end test of the kind provider on this machine: a real 3-worker kind cluster from the
// offline node image (or kind's official one), a readiness gate, the platform from platform/deploy (Ready,
// /metrics, webhook), the kernel-panic placement check
// and a CronJob storm on real kubelets, and a teardown that must leave nothing behind; then the
// real-world runner plays scenarios/kernel-panic-stacking on throwaway kind clusters. It needs
// root, apt-get (or the packages installed) and the node image (make kind-image); it runs only
// with FAULTLINE_E2E_KIND=1 (make e2e-kind), and says so when skipped.

import (
	"bytes"
	"context"
	"fmt"
	"log/slog"
	"os"
	"os/exec"
	"regexp"
	"slices"
	"sort"
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
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/apimachinery/pkg/util/intstr"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/tools/clientcmd"
	"k8s.io/utils/ptr"

	"github.com/faultline-dev/faultline/clusters"
	"github.com/faultline-dev/faultline/clusters/kind"
	"github.com/faultline-dev/faultline/sim"
)

const echoImage = "faultline/echo:e2e"

// hostSnapshot is what must be the same before the cluster and after down.
type hostSnapshot struct {
	iptables string
	links    []string
	modules  bool
}

var counters = regexp.MustCompile(`\[\d+:\d+\]`)

func snapshot(t *testing.T) hostSnapshot {
	t.Helper()
	var s hostSnapshot
	for _, tool := range []string{"iptables-save", "ip6tables-save"} {
		out, err := exec.Command(tool).Output()
		require.NoError(t, err, tool)
		for _, l := range strings.Split(string(out), "\n") {
			if !strings.HasPrefix(l, "#") {
				s.iptables += counters.ReplaceAllString(l, "") + "\n"
			}
		}
	}
	out, err := exec.Command("ip", "-o", "link", "show").Output()
	require.NoError(t, err)
	for _, l := range strings.Split(strings.TrimSpace(string(out)), "\n") {
		if f := strings.Fields(l); len(f) > 1 {
			s.links = append(s.links, strings.TrimSuffix(strings.Split(f[1], "@")[0], ":"))
		}
	}
	sort.Strings(s.links)
	_, err = os.Stat("/lib/modules")
	s.modules = err == nil
	return s
}

func TestKindE2E(t *testing.T) {
	if os.Getenv("FAULTLINE_E2E_KIND") == "" {
		t.Skip("the kind e2e runs with FAULTLINE_E2E_KIND=1 (make e2e-kind): it needs root, Docker packages and the node image")
	}
	if os.Geteuid() != 0 {
		t.Fatal("the kind e2e needs root (it runs its own dockerd)")
	}
	before := snapshot(t)
	logger := slog.New(slog.NewTextHandler(os.Stderr, nil))
	pools := []sim.NodePool{{Name: "pool-a", Count: 3, Zones: []string{"zone-b", "zone-c", "zone-d"}}}
	// the provider's state (kubeconfigs, host.json) in a directory of the test's; through
	// XDG_STATE_HOME so that faultline run --kubeconfig finds the cluster recorded as faultline's
	t.Setenv("XDG_STATE_HOME", t.TempDir())
	p, err := kind.New(kind.WithLogger(logger), kind.WithNodePools(pools, "e2e"))
	require.NoError(t, err)
	const name = "e2e"
	ctx := t.Context()

	began := time.Now()
	err = p.Create(ctx, name, clusters.WithWaitForReady(4*time.Minute))
	deleted := false
	t.Cleanup(func() {
		if !deleted {
			_ = p.Delete(context.Background(), name)
		}
	})
	require.NoError(t, err)
	t.Logf("cluster up in %s", time.Since(began).Round(time.Second))
	kc, err := p.KubeConfig(name)
	require.NoError(t, err)
	cfg, err := clientcmd.RESTConfigFromKubeConfig([]byte(kc))
	require.NoError(t, err)
	cs, err := kubernetes.NewForConfig(cfg)
	require.NoError(t, err)

	// workers by their scenario name (pool-a-1 ...), from the labels Config gave them
	workers := map[string]string{}
	ok := t.Run("readiness: every node Ready, CoreDNS Ready", func(t *testing.T) {
		require.Eventually(t, func() bool {
			nodes, err := cs.CoreV1().Nodes().List(ctx, metav1.ListOptions{})
			if err != nil || len(nodes.Items) != 4 {
				return false
			}
			for _, n := range nodes.Items {
				if !nodeReady(n) {
					return false
				}
				if s := n.Labels[kind.NodeLabel]; s != "" {
					workers[s] = n.Name
				}
			}
			return true
		}, 3*time.Minute, time.Second, "4 nodes Ready")
		require.Len(t, workers, 3)
		nodes, err := cs.CoreV1().Nodes().List(ctx, metav1.ListOptions{LabelSelector: kind.PoolLabel + "=pool-a"})
		require.NoError(t, err)
		zones := map[string]string{}
		for _, n := range nodes.Items {
			zones[n.Labels[kind.NodeLabel]] = n.Labels[kind.ZoneLabel]
		}
		assert.Equal(t, map[string]string{"pool-a-1": "zone-b", "pool-a-2": "zone-c", "pool-a-3": "zone-d"}, zones)
		require.Eventually(t, func() bool {
			d, err := cs.AppsV1().Deployments("kube-system").Get(ctx, "coredns", metav1.GetOptions{})
			return err == nil && d.Status.ReadyReplicas >= 1 && d.Status.ReadyReplicas == *d.Spec.Replicas
		}, 3*time.Minute, time.Second, "CoreDNS Ready")
	})
	require.True(t, ok, "the cluster is not ready; the other checks need it")
	w1, w2, w3 := workers["pool-a-1"], workers["pool-a-2"], workers["pool-a-3"]

	ok = t.Run("a static binary of ours as an image, loaded with kind", func(t *testing.T) {
		start := time.Now()
		require.NoError(t, p.BuildGoImage(ctx, "github.com/faultline-dev/faultline/clusters/kind/internal/cmd/faultline-echo", echoImage))
		require.NoError(t, p.LoadImage(ctx, name, echoImage))
		t.Logf("built and loaded %s in %s", echoImage, time.Since(start).Round(100*time.Millisecond))
	})
	require.True(t, ok)

	// The platform (faultline platform run) from platform/deploy's manifests: faultline built as
	// a static program in a minimal image, loaded, Ready on a real kubelet (its readiness probe),
	// /metrics answering through its Service from another pod, and its spreading webhook called
	// by the API server through the Service (a dry-run create is mutated).
	t.Run("platform: faultline's image loaded, its Deployment Ready, /metrics and the webhook answer", func(t *testing.T) {
		start := time.Now()
		require.NoError(t, p.InstallPlatform(ctx, name, cs))
		installed := time.Since(start)
		if !assert.Eventually(t, func() bool {
			d, err := cs.AppsV1().Deployments(kind.PlatformNamespace).Get(ctx, kind.PlatformDeployment, metav1.GetOptions{})
			return err == nil && d.Status.ObservedGeneration == d.Generation && d.Status.ReadyReplicas == *d.Spec.Replicas && d.Status.ReadyReplicas > 0
		}, 3*time.Minute, time.Second, "the platform Deployment should become Ready") {
			t.Fatalf("platform pods: %s", podStates(t, cs, kind.PlatformNamespace))
		}
		t.Logf("platform image built, loaded and applied in %s; Ready %s later", installed.Round(100*time.Millisecond), (time.Since(start) - installed).Round(time.Second))

		job := clientJob("metrics-client", "", []string{"/faultline-echo", "-get", "http://faultline-platform.faultline-platform.svc.cluster.local:9090/metrics", "-expect", "cron_started_total", "-timeout", "90s"})
		_, err := cs.BatchV1().Jobs("default").Create(ctx, job, metav1.CreateOptions{})
		require.NoError(t, err)
		require.Eventually(t, func() bool {
			j, err := cs.BatchV1().Jobs("default").Get(ctx, "metrics-client", metav1.GetOptions{})
			return err == nil && (j.Status.Succeeded > 0 || j.Status.Failed > 0)
		}, 2*time.Minute, time.Second)
		j, err := cs.BatchV1().Jobs("default").Get(ctx, "metrics-client", metav1.GetOptions{})
		require.NoError(t, err)
		assert.EqualValues(t, 1, j.Status.Succeeded, "the platform's /metrics should answer through its Service; pod log: %s", jobLog(t, cs, "metrics-client"))
		t.Logf("/metrics:\n%s", jobLog(t, cs, "metrics-client"))
		require.NoError(t, cs.BatchV1().Jobs("default").Delete(ctx, "metrics-client", metav1.DeleteOptions{PropagationPolicy: ptr.To(metav1.DeletePropagationBackground)}))

		// CPU-heavy, 2 replicas, no spreading rule: the webhook adds required anti-affinity
		heavy := deployment("heavy", 2, nil, "")
		heavy.Spec.Template.Spec.Affinity = nil
		heavy.Spec.Template.Spec.Containers[0].Resources.Requests[corev1.ResourceCPU] = resource.MustParse("1")
		var got *appsv1.Deployment
		if !assert.Eventually(t, func() bool {
			got, err = cs.AppsV1().Deployments("default").Create(ctx, heavy, metav1.CreateOptions{DryRun: []string{metav1.DryRunAll}})
			return err == nil && got.Spec.Template.Spec.Affinity != nil && got.Spec.Template.Spec.Affinity.PodAntiAffinity != nil
		}, time.Minute, 2*time.Second, "the API server should call the platform's webhook, which adds anti-affinity") {
			var affinity *corev1.Affinity
			if got != nil {
				affinity = got.Spec.Template.Spec.Affinity
			}
			t.Fatalf("last dry-run create: error %v, affinity %+v; platform log: %s", err, affinity, platformLog(t, cs))
		}
		t.Logf("webhook added: %+v", got.Spec.Template.Spec.Affinity.PodAntiAffinity.RequiredDuringSchedulingIgnoredDuringExecution)
	})

	t.Run("readiness: a request to a Service answered from other nodes", func(t *testing.T) {
		anti := antiAffinity("echo")
		d := deployment("echo", 2, anti, "")
		d.Spec.Template.Spec.Affinity.NodeAffinity = &corev1.NodeAffinity{RequiredDuringSchedulingIgnoredDuringExecution: &corev1.NodeSelector{
			NodeSelectorTerms: []corev1.NodeSelectorTerm{{MatchExpressions: []corev1.NodeSelectorRequirement{{Key: "kubernetes.io/hostname", Operator: corev1.NodeSelectorOpIn, Values: []string{w2, w3}}}}},
		}}
		_, err := cs.AppsV1().Deployments("default").Create(ctx, d, metav1.CreateOptions{})
		require.NoError(t, err)
		placed := waitPods(t, cs, "app=echo", 2)
		assert.Equal(t, map[string]int{w2: 1, w3: 1}, placed)
		_, err = cs.CoreV1().Services("default").Create(ctx, &corev1.Service{
			ObjectMeta: metav1.ObjectMeta{Name: "echo"},
			Spec: corev1.ServiceSpec{Selector: map[string]string{"app": "echo"},
				Ports: []corev1.ServicePort{{Port: 8080, TargetPort: intstr.FromInt32(8080)}}},
		}, metav1.CreateOptions{})
		require.NoError(t, err)
		// the client runs on the one worker without an echo pod: DNS, the Service's ClusterIP
		// (kube-proxy) and the routes to both other nodes
		job := clientJob("echo-client", w1, []string{"/faultline-echo", "-get", "http://echo.default.svc.cluster.local:8080/", "-want", "2", "-timeout", "90s"})
		_, err = cs.BatchV1().Jobs("default").Create(ctx, job, metav1.CreateOptions{})
		require.NoError(t, err)
		require.Eventually(t, func() bool {
			j, err := cs.BatchV1().Jobs("default").Get(ctx, "echo-client", metav1.GetOptions{})
			return err == nil && (j.Status.Succeeded > 0 || j.Status.Failed > 0)
		}, 2*time.Minute, time.Second)
		j, err := cs.BatchV1().Jobs("default").Get(ctx, "echo-client", metav1.GetOptions{})
		require.NoError(t, err)
		assert.EqualValues(t, 1, j.Status.Succeeded, "the client should have reached both echo pods through the Service; pod log: %s", jobLog(t, cs, "echo-client"))
		t.Logf("answered by:\n%s", jobLog(t, cs, "echo-client"))
		remove(t, cs, "echo")
	})

	// The Moonlight placement (scenarios/kernel-panic-stacking/README.md) on real kubelets, as TestSchedulerStacks... in
	// clusters/local checks it with KWOK: replicas placed while the other nodes are unschedulable
	// stack and stay stacked; with required anti-affinity they wait, then spread one per node.
	t.Run("kernel-panic placement: stacked without anti-affinity, spread with it", func(t *testing.T) {
		cordon := func(unschedulable bool, nodes ...string) {
			t.Helper()
			for _, n := range nodes {
				patch := fmt.Sprintf(`{"spec":{"unschedulable":%t}}`, unschedulable)
				_, err := cs.CoreV1().Nodes().Patch(ctx, n, types.StrategicMergePatchType, []byte(patch), metav1.PatchOptions{})
				require.NoError(t, err)
			}
		}
		cordon(true, w2, w3)
		_, err := cs.AppsV1().Deployments("default").Create(ctx, deployment("stacked", 3, nil, ""), metav1.CreateOptions{})
		require.NoError(t, err)
		placed := waitPods(t, cs, "app=stacked", 3)
		cordon(false, w2, w3)
		time.Sleep(5 * time.Second) // the nodes are back; nothing rebalances running pods
		placed = waitPods(t, cs, "app=stacked", 3)
		t.Logf("without anti-affinity: %v", placed)
		assert.Equal(t, map[string]int{w1: 3}, placed)
		remove(t, cs, "stacked")

		cordon(true, w2, w3)
		_, err = cs.AppsV1().Deployments("default").Create(ctx, deployment("spread", 3, antiAffinity("spread"), ""), metav1.CreateOptions{})
		require.NoError(t, err)
		placed = waitPods(t, cs, "app=spread", 1)
		assert.Equal(t, map[string]int{w1: 1}, placed)
		require.Eventually(t, func() bool {
			pods, err := cs.CoreV1().Pods("default").List(ctx, metav1.ListOptions{LabelSelector: "app=spread", FieldSelector: "status.phase=Pending"})
			return err == nil && len(pods.Items) == 2
		}, time.Minute, 200*time.Millisecond, "two replicas should wait Pending while only one node can take them")
		cordon(false, w2, w3)
		placed = waitPods(t, cs, "app=spread", 3)
		t.Logf("with required anti-affinity: %v", placed)
		assert.Equal(t, map[string]int{w1: 1, w2: 1, w3: 1}, placed)
		remove(t, cs, "spread")
	})

	// The kernel panic itself: the node container is frozen (every process at once, as a panic
	// stops a machine). The control plane notices only by the missing heartbeats: the node goes
	// NotReady after the grace period and its pod is marked not Ready; thawed, the node returns.
	t.Run("kernel panic: a frozen node goes NotReady, its pod unready; thawed, it returns", func(t *testing.T) {
		_, err := cs.AppsV1().Deployments("default").Create(ctx, deployment("panic", 3, antiAffinity("panic"), ""), metav1.CreateOptions{})
		require.NoError(t, err)
		waitPods(t, cs, "app=panic", 3)
		start := time.Now()
		require.NoError(t, p.NodeFaultAction(ctx, name, w1, kind.Pause))
		resumed := false
		defer func() {
			if !resumed {
				_ = p.NodeFaultAction(context.Background(), name, w1, kind.Resume)
			}
		}()
		require.Eventually(t, func() bool {
			n, err := cs.CoreV1().Nodes().Get(ctx, w1, metav1.GetOptions{})
			return err == nil && !nodeReady(*n)
		}, 3*time.Minute, time.Second, "the frozen node should go NotReady")
		notReady := time.Since(start)
		require.Eventually(t, func() bool {
			pods, err := cs.CoreV1().Pods("default").List(ctx, metav1.ListOptions{LabelSelector: "app=panic", FieldSelector: "spec.nodeName=" + w1})
			if err != nil || len(pods.Items) != 1 {
				return false
			}
			for _, c := range pods.Items[0].Status.Conditions {
				if c.Type == corev1.PodReady {
					return c.Status == corev1.ConditionFalse
				}
			}
			return false
		}, time.Minute, time.Second, "the frozen node's pod should be marked not Ready")
		require.NoError(t, p.NodeFaultAction(ctx, name, w1, kind.Resume))
		resumed = true
		thawed := time.Now()
		require.Eventually(t, func() bool {
			n, err := cs.CoreV1().Nodes().Get(ctx, w1, metav1.GetOptions{})
			return err == nil && nodeReady(*n)
		}, 3*time.Minute, time.Second, "the thawed node should be Ready again")
		t.Logf("frozen node NotReady after %s; Ready again %s after the thaw", notReady.Round(time.Second), time.Since(thawed).Round(time.Second))
		remove(t, cs, "panic")
	})

	// A CronJob storm on real kubelets: many CronJobs due in the same minute start together;
	// every one must produce a Job that completes (real containers, real pod startup).
	t.Run("CronJob storm: every CronJob due in the same minute completes", func(t *testing.T) {
		const n = 20
		for i := range n {
			cj := &batchv1.CronJob{
				ObjectMeta: metav1.ObjectMeta{Name: fmt.Sprintf("storm-%02d", i)},
				Spec: batchv1.CronJobSpec{
					Schedule:          "* * * * *",
					ConcurrencyPolicy: batchv1.ForbidConcurrent,
					JobTemplate:       batchv1.JobTemplateSpec{Spec: clientJob("", "", []string{"/faultline-echo", "-get", "http://unused/", "-want", "0"}).Spec},
				},
			}
			cj.Spec.JobTemplate.Spec.Template.Labels = map[string]string{"role": "storm"}
			_, err := cs.BatchV1().CronJobs("default").Create(ctx, cj, metav1.CreateOptions{})
			require.NoError(t, err)
		}
		var lags []time.Duration
		require.Eventually(t, func() bool {
			jobs, err := cs.BatchV1().Jobs("default").List(ctx, metav1.ListOptions{})
			if err != nil {
				return false
			}
			done := map[string]time.Duration{}
			for _, j := range jobs.Items {
				if len(j.OwnerReferences) == 0 || j.Status.Succeeded == 0 || j.Status.CompletionTime == nil {
					continue
				}
				sched, err := time.Parse(time.RFC3339, j.Annotations["batch.kubernetes.io/cronjob-scheduled-timestamp"])
				if err != nil {
					continue
				}
				if _, seen := done[j.OwnerReferences[0].Name]; !seen {
					done[j.OwnerReferences[0].Name] = j.Status.CompletionTime.Sub(sched)
				}
			}
			if len(done) < n {
				return false
			}
			lags = lags[:0]
			for _, d := range done {
				lags = append(lags, d)
			}
			return true
		}, 4*time.Minute, 2*time.Second, "every CronJob should have a completed Job")
		slices.Sort(lags)
		t.Logf("%d CronJobs: scheduled→completed median %s, max %s", n, lags[len(lags)/2], lags[len(lags)-1])
		for i := range n {
			_ = cs.BatchV1().CronJobs("default").Delete(ctx, fmt.Sprintf("storm-%02d", i), metav1.DeleteOptions{PropagationPolicy: ptr.To(metav1.DeletePropagationBackground)})
		}
	})

	t.Run("runner: faultline run --kubeconfig on this cluster, its workers as the pool, a node paused, all undone", func(t *testing.T) {
		testRunnerOnExisting(t, p, name, cs)
	})

	t.Run("down leaves no container, network, iptables rule or process", func(t *testing.T) {
		start := time.Now()
		require.NoError(t, p.Delete(context.Background(), name))
		deleted = true
		t.Logf("down in %s", time.Since(start).Round(100*time.Millisecond))
		assert.False(t, p.Daemon().Running(context.Background()), "faultline's dockerd still runs")
		out, _ := exec.Command("ps", "-eo", "pid,args").Output()
		for _, l := range strings.Split(string(out), "\n") {
			assert.NotContains(t, l, "faultline-docker", "a process of faultline's Docker is left: %s", l)
			assert.NotContains(t, l, "faultline-e2e-", "a node process is left: %s", l)
		}
		after := snapshot(t)
		assert.Equal(t, before.links, after.links, "network interfaces")
		assert.Equal(t, before.iptables, after.iptables, "iptables rules")
		assert.Equal(t, before.modules, after.modules, "/lib/modules")
		names, err := p.List()
		require.NoError(t, err)
		assert.Empty(t, names)
	})

	// The real-world runner on kind (`faultline run --cluster kind`), after the cluster above is
	// gone so that the runs have the machine to themselves.
	t.Run("runner: kernel-panic-stacking on throwaway kind clusters, nodes frozen and thawed, stacked vs spread, nothing left", func(t *testing.T) {
		testRunnerOnKind(t, before)
	})
}

// platformLog is the tail of the platform pod's log.
func platformLog(t *testing.T, cs kubernetes.Interface) string {
	pods, err := cs.CoreV1().Pods(kind.PlatformNamespace).List(t.Context(), metav1.ListOptions{})
	if err != nil || len(pods.Items) == 0 {
		return "(no pod)"
	}
	b, err := cs.CoreV1().Pods(kind.PlatformNamespace).GetLogs(pods.Items[0].Name, &corev1.PodLogOptions{TailLines: ptr.To[int64](30)}).Do(t.Context()).Raw()
	if err != nil {
		return "(no log: " + err.Error() + ")"
	}
	return string(bytes.TrimSpace(b))
}

// podStates lists the pods of namespace ns with their phase, node and waiting reasons.
func podStates(t *testing.T, cs kubernetes.Interface, ns string) string {
	pods, err := cs.CoreV1().Pods(ns).List(t.Context(), metav1.ListOptions{})
	if err != nil {
		return err.Error()
	}
	var out []string
	for _, p := range pods.Items {
		st := fmt.Sprintf("%s:%s@%s", p.Name, p.Status.Phase, p.Spec.NodeName)
		for _, c := range p.Status.ContainerStatuses {
			if c.State.Waiting != nil {
				st += " " + c.State.Waiting.Reason + ": " + c.State.Waiting.Message
			}
		}
		out = append(out, st)
	}
	return strings.Join(out, "; ")
}

func nodeReady(n corev1.Node) bool {
	for _, c := range n.Status.Conditions {
		if c.Type == corev1.NodeReady {
			return c.Status == corev1.ConditionTrue
		}
	}
	return false
}

func antiAffinity(app string) *corev1.Affinity {
	return &corev1.Affinity{PodAntiAffinity: &corev1.PodAntiAffinity{
		RequiredDuringSchedulingIgnoredDuringExecution: []corev1.PodAffinityTerm{{
			LabelSelector: &metav1.LabelSelector{MatchLabels: map[string]string{"app": app}},
			TopologyKey:   "kubernetes.io/hostname",
		}},
	}}
}

func deployment(name string, replicas int32, affinity *corev1.Affinity, _ string) *appsv1.Deployment {
	l := map[string]string{"app": name}
	if affinity == nil {
		affinity = &corev1.Affinity{}
	}
	return &appsv1.Deployment{
		ObjectMeta: metav1.ObjectMeta{Name: name, Labels: l},
		Spec: appsv1.DeploymentSpec{
			Replicas: ptr.To(replicas),
			Selector: &metav1.LabelSelector{MatchLabels: l},
			Template: corev1.PodTemplateSpec{
				ObjectMeta: metav1.ObjectMeta{Labels: l},
				Spec: corev1.PodSpec{
					Affinity:                      affinity,
					TerminationGracePeriodSeconds: ptr.To[int64](1),
					Containers: []corev1.Container{{
						Name: name, Image: echoImage, ImagePullPolicy: corev1.PullNever,
						Env:       []corev1.EnvVar{{Name: "POD_NAME", ValueFrom: &corev1.EnvVarSource{FieldRef: &corev1.ObjectFieldSelector{FieldPath: "metadata.name"}}}},
						Resources: corev1.ResourceRequirements{Requests: corev1.ResourceList{corev1.ResourceCPU: resource.MustParse("10m"), corev1.ResourceMemory: resource.MustParse("16Mi")}},
					}},
				},
			},
		},
	}
}

func clientJob(name, node string, command []string) *batchv1.Job {
	j := &batchv1.Job{
		ObjectMeta: metav1.ObjectMeta{Name: name},
		Spec: batchv1.JobSpec{
			BackoffLimit: ptr.To[int32](0),
			Template: corev1.PodTemplateSpec{
				ObjectMeta: metav1.ObjectMeta{Labels: map[string]string{"job": name}},
				Spec: corev1.PodSpec{
					RestartPolicy:                 corev1.RestartPolicyNever,
					TerminationGracePeriodSeconds: ptr.To[int64](1),
					Containers:                    []corev1.Container{{Name: "client", Image: echoImage, ImagePullPolicy: corev1.PullNever, Command: command}},
				},
			},
		},
	}
	if node != "" {
		j.Spec.Template.Spec.NodeName = node
	}
	return j
}

func jobLog(t *testing.T, cs kubernetes.Interface, job string) string {
	pods, err := cs.CoreV1().Pods("default").List(t.Context(), metav1.ListOptions{LabelSelector: "job=" + job})
	if err != nil || len(pods.Items) == 0 {
		return "(no pod)"
	}
	b, err := cs.CoreV1().Pods("default").GetLogs(pods.Items[0].Name, &corev1.PodLogOptions{}).Do(t.Context()).Raw()
	if err != nil {
		return "(no log: " + err.Error() + ")"
	}
	return string(bytes.TrimSpace(b))
}

// waitPods waits until n pods that match selector are Running, and returns them per node.
func waitPods(t *testing.T, cs kubernetes.Interface, selector string, n int) map[string]int {
	t.Helper()
	var last string
	deadline := time.Now().Add(2 * time.Minute)
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
		time.Sleep(250 * time.Millisecond)
	}
	t.Fatalf("pods %s: want %d Running, have %s", selector, n, last)
	return nil
}

func remove(t *testing.T, cs kubernetes.Interface, name string) {
	t.Helper()
	require.NoError(t, cs.AppsV1().Deployments("default").Delete(t.Context(), name, metav1.DeleteOptions{PropagationPolicy: ptr.To(metav1.DeletePropagationForeground)}))
	require.Eventually(t, func() bool {
		pods, err := cs.CoreV1().Pods("default").List(t.Context(), metav1.ListOptions{LabelSelector: "app=" + name})
		return err == nil && len(pods.Items) == 0
	}, 2*time.Minute, 250*time.Millisecond, "pods app=%s not gone", name)
}
