package sim

import (
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	networkingv1 "k8s.io/api/networking/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/util/intstr"

	"github.com/faultline-dev/faultline/sim/trace"
)

func service(name string) *corev1.Service {
	return &corev1.Service{
		ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: "default"},
		Spec:       corev1.ServiceSpec{Selector: map[string]string{"app": name}},
	}
}

func ingress(name, svc string) *networkingv1.Ingress {
	return &networkingv1.Ingress{
		ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: "default"},
		Spec: networkingv1.IngressSpec{DefaultBackend: &networkingv1.IngressBackend{
			Service: &networkingv1.IngressServiceBackend{Name: svc, Port: networkingv1.ServiceBackendPort{Number: 80}},
		}},
	}
}

func withReadiness(d *appsv1.Deployment, initialDelay, period, failures int32) *appsv1.Deployment {
	d.Spec.Template.Spec.Containers[0].ReadinessProbe = &corev1.Probe{
		InitialDelaySeconds: initialDelay, PeriodSeconds: period, FailureThreshold: failures,
	}
	return d
}

func fixedLag(d time.Duration) Lag {
	return Lag{Min: metav1.Duration{Duration: d}, Max: metav1.Duration{Duration: d}}
}

func netInput(objs []runtime.Object, load []Load, faults ...Fault) *Input {
	in := input(3, objs...)
	in.Duration = 30 * time.Minute
	in.Load = load
	in.Faults = faults
	in.Models.Network.KubeProxyLag = fixedLag(time.Second)
	in.Models.Network.IngressLag = fixedLag(30 * time.Second)
	return in
}

func podFault(action FaultAction, app string, mode SelectMode, value string, at, dur time.Duration) Fault {
	return Fault{
		Name: "PodChaos/" + app, Action: action, At: at, Duration: dur,
		Pods: PodSelector{Labels: labels.SelectorFromSet(labels.Set{"app": app}), Mode: mode, Value: value},
	}
}

func indicator(t *testing.T, r Result, name string) float64 {
	t.Helper()
	v, ok := r.Get(name)
	require.True(t, ok, "indicator %s not reported", name)
	return v
}

// Each data plane learns of an endpoint change after its own lag: a killed pod (the process
// gone at once) keeps getting the Ingress's share of requests, as 502s, for the Ingress lag, and
// kube-proxy's for the kube-proxy lag.
func TestEndpointLagPerDataPlane(t *testing.T) {
	kill := podFault(PodKill, "web", ModeOne, "", 10*time.Minute, 0)
	tests := []struct {
		name    string
		objs    []runtime.Object
		want502 float64 // 100 rps over 2 endpoints for the plane's lag
		plane   string
		lag     time.Duration
	}{
		{"ingress", []runtime.Object{deployment("web", 2, "100m"), service("web"), ingress("web", "web")}, 50 * 30, "ingress/default/web", 30 * time.Second},
		{"kube-proxy", []runtime.Object{deployment("web", 2, "100m"), service("web")}, 50 * 1, "kube-proxy", time.Second},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			load := []Load{{Target: "deployment/web", RequestsPerSecond: 100, OnSIGTERM: SIGTERMExit}}
			r, evs, _ := eventsOf(t, netInput(tc.objs, load, kill), 1)
			killed := firstAt[trace.PodTerminating](t, evs, nil)
			gone := firstAt(t, evs, func(e trace.DataPlaneUpdated) bool { return e.Plane == tc.plane && !e.Ready })
			assert.Equal(t, 10*time.Minute, killed)
			assert.Equal(t, killed+tc.lag, gone)
			assert.InDelta(t, tc.want502, indicator(t, r, "requests-502"), 1)
			assert.Zero(t, indicator(t, r, "requests-503"))
		})
	}
}

// A hung pod (pod-failure) keeps its endpoint until failureThreshold probes failed, then the
// data planes drop it; with no endpoint left, requests fail as 503.
func TestProbeFailureThenNoEndpoints(t *testing.T) {
	d := withReadiness(deployment("web", 1, "100m"), 0, 10, 3)
	hang := podFault(PodFailure, "web", ModeAll, "", 10*time.Minute, 5*time.Minute)
	in := netInput([]runtime.Object{d, service("web")}, []Load{{Target: "deployment/web", RequestsPerSecond: 10, Readiness: ReadinessShallow}}, hang)
	r, evs, _ := eventsOf(t, in, 1)
	notReady := firstAt(t, evs, func(e trace.ProbeResult) bool { return e.Probe == "readiness" && !e.OK })
	// probes tick on the pod's phase: the third failing one is 20-30 s after the hang
	assert.GreaterOrEqual(t, notReady, 10*time.Minute+20*time.Second)
	assert.LessOrEqual(t, notReady, 10*time.Minute+30*time.Second)
	removed := firstAt(t, evs, func(e trace.DataPlaneUpdated) bool { return !e.Ready })
	assert.Equal(t, notReady+time.Second, removed)
	back := firstAt(t, evs, func(e trace.ProbeResult) bool { return e.Probe == "readiness" && e.OK })
	assert.Greater(t, back, 15*time.Minute)
	assert.LessOrEqual(t, back, 15*time.Minute+10*time.Second, "successThreshold 1: the next probe")
	assert.InDelta(t, 10*(removed-10*time.Minute).Seconds(), indicator(t, r, "requests-502"), 1)
	assert.InDelta(t, 10*(back+time.Second-removed).Seconds(), indicator(t, r, "requests-503"), 1)
}

// The threshold crossing is computed, not ticked: failureThreshold consecutive probes from the
// first probe at or after the change; defaults period 10 s, failureThreshold 3, successThreshold 1.
func TestProbeThresholdCrossing(t *testing.T) {
	tests := []struct {
		name   string
		spec   corev1.Probe
		origin time.Duration
		at     time.Duration
		cond   bool
		want   time.Duration
	}{
		{"defaults: fail", corev1.Probe{}, 0, 25 * time.Second, false, 50 * time.Second},
		{"defaults: recover", corev1.Probe{}, 0, 25 * time.Second, true, 30 * time.Second},
		{"change on a probe tick", corev1.Probe{}, 0, 30 * time.Second, false, 50 * time.Second},
		{"before the initial delay", corev1.Probe{}, 20 * time.Second, 5 * time.Second, true, 20 * time.Second},
		{"successThreshold 2, period 5", corev1.Probe{PeriodSeconds: 5, SuccessThreshold: 2}, 2 * time.Second, 13 * time.Second, true, 22 * time.Second},
		{"failureThreshold 1", corev1.Probe{FailureThreshold: 1}, 0, 1 * time.Second, false, 10 * time.Second},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			pr := probe{spec: &tc.spec, origin: tc.origin}
			assert.Equal(t, tc.want, pr.crossing(tc.at, tc.cond))
		})
	}
}

// A liveness probe restarts a hung container after failureThreshold failures, with
// CrashLoopBackOff between restarts.
func TestLivenessRestarts(t *testing.T) {
	d := deployment("web", 1, "100m")
	d.Spec.Template.Spec.Containers[0].LivenessProbe = &corev1.Probe{PeriodSeconds: 10, FailureThreshold: 3}
	hang := podFault(PodFailure, "web", ModeAll, "", 10*time.Minute, 0)
	in := netInput([]runtime.Object{d, service("web")}, []Load{{Target: "deployment/web", RequestsPerSecond: 10, Readiness: ReadinessShallow}}, hang)
	r, evs, _ := eventsOf(t, in, 1)
	restart := func(n int) func(trace.ContainerRestarted) bool {
		return func(e trace.ContainerRestarted) bool { return e.Restarts == n }
	}
	first := firstAt(t, evs, restart(1))
	second := firstAt(t, evs, restart(2))
	assert.LessOrEqual(t, first-10*time.Minute, 30*time.Second)
	// restarted at once (3 s container start), then 3 failing probes from the new start
	assert.Equal(t, first+3*time.Second+20*time.Second, second)
	third := firstAt(t, evs, restart(3))
	assert.Equal(t, second+10*time.Second+3*time.Second+20*time.Second, third, "10 s back-off before the second restart")
	assert.Greater(t, indicator(t, r, "container-restarts"), 5.0)
}

// Deleting a pod publishes the endpoint removal and starts preStop at the same instant; the
// process goes after preStop (exit) or when the grace period ends (keep-serving).
func TestTerminationOrder(t *testing.T) {
	tests := []struct {
		name   string
		policy string
		sleep  int64
		grace  int64
		exit   time.Duration
		no502  bool
	}{
		{"exit at once", SIGTERMExit, 0, 30, 0, false},
		{"preStop shorter than the lag", SIGTERMExit, 10, 30, 10 * time.Second, false},
		{"preStop longer than the lag", SIGTERMExit, 40, 60, 40 * time.Second, true},
		{"preStop cut by the grace period", SIGTERMExit, 40, 20, 20 * time.Second, false},
		{"keep serving", SIGTERMKeepServing, 0, 45, 45 * time.Second, true},
		{"keep serving past the grace period", SIGTERMConnectionClose, 50, 45, 47 * time.Second, true},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			d := deployment("web", 2, "100m")
			d.Spec.Template.Spec.TerminationGracePeriodSeconds = &tc.grace
			d.Spec.Template.Spec.Containers[0].Lifecycle = &corev1.Lifecycle{PreStop: &corev1.LifecycleHandler{Sleep: &corev1.SleepAction{Seconds: tc.sleep}}}
			kill := podFault(PodKill, "web", ModeOne, "", 10*time.Minute, 0)
			load := []Load{{Target: "deployment/web", RequestsPerSecond: 100, OnSIGTERM: tc.policy}}
			r, evs, _ := eventsOf(t, netInput([]runtime.Object{d, service("web"), ingress("web", "web")}, load, kill), 1)
			term := firstAt[trace.PodTerminating](t, evs, nil)
			assert.Equal(t, term, firstAt(t, evs, func(e trace.EndpointChanged) bool { return !e.Ready }), "endpoint removal and preStop start together")
			assert.Equal(t, term+tc.exit, firstAt[trace.ProcessExited](t, evs, nil))
			want := 50 * max(0, 30*time.Second-tc.exit).Seconds()
			assert.InDelta(t, want, indicator(t, r, "requests-502"), 1)
			assert.Equal(t, tc.no502, indicator(t, r, "requests-502") == 0)
		})
	}
}

func TestPreStopSleep(t *testing.T) {
	tests := []struct {
		name string
		lc   *corev1.Lifecycle
		want time.Duration
	}{
		{"none", nil, 0},
		{"sleep action", &corev1.Lifecycle{PreStop: &corev1.LifecycleHandler{Sleep: &corev1.SleepAction{Seconds: 15}}}, 15 * time.Second},
		{"exec sleep", &corev1.Lifecycle{PreStop: &corev1.LifecycleHandler{Exec: &corev1.ExecAction{Command: []string{"sleep", "5"}}}}, 5 * time.Second},
		{"sh -c sleep", &corev1.Lifecycle{PreStop: &corev1.LifecycleHandler{Exec: &corev1.ExecAction{Command: []string{"/bin/sh", "-c", "sleep 40"}}}}, 40 * time.Second},
		{"other exec", &corev1.Lifecycle{PreStop: &corev1.LifecycleHandler{Exec: &corev1.ExecAction{Command: []string{"nginx", "-s", "quit"}}}}, 0},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) { assert.Equal(t, tc.want, preStopSleep(tc.lc)) })
	}
}

func intOrStr(s string) *intstr.IntOrString { v := intstr.Parse(s); return &v }

func TestRolloutStrategy(t *testing.T) {
	tests := []struct {
		name           string
		replicas       int32
		surge, unavail string
		wantS, wantU   int
		recreate       bool
	}{
		{"defaults 25 %", 4, "", "", 1, 1, false},
		{"25 % of 10: surge rounds up, unavailable down", 10, "", "", 3, 2, false},
		{"explicit", 4, "1", "0", 1, 0, false},
		{"both zero", 4, "0", "0", 0, 1, false},
		{"recreate", 4, "", "", 0, 0, true},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			d := deployment("web", tc.replicas, "100m")
			if tc.recreate {
				d.Spec.Strategy.Type = appsv1.RecreateDeploymentStrategyType
			} else if tc.surge != "" {
				d.Spec.Strategy.RollingUpdate = &appsv1.RollingUpdateDeployment{MaxSurge: intOrStr(tc.surge), MaxUnavailable: intOrStr(tc.unavail)}
			}
			s, u, rec, err := strategyOf(d)
			require.NoError(t, err)
			assert.Equal(t, []any{tc.wantS, tc.wantU, tc.recreate}, []any{s, u, rec})
		})
	}
}

// A new image rolls out within maxSurge and maxUnavailable: never more than replicas+surge
// active pods, never fewer than replicas-unavailable ready endpoints; Recreate removes every old
// pod before creating new ones.
func TestRollingUpdate(t *testing.T) {
	tests := []struct {
		name           string
		surge, unavail string
		recreate       bool
	}{
		{"surge 1, unavailable 0", "1", "0", false},
		{"surge 0, unavailable 1", "0", "1", false},
		{"surge 2, unavailable 1", "2", "1", false},
		{"recreate", "", "", true},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			d := withReadiness(deployment("api", 4, "100m"), 5, 5, 3)
			if tc.recreate {
				d.Spec.Strategy.Type = appsv1.RecreateDeploymentStrategyType
			} else {
				d.Spec.Strategy.RollingUpdate = &appsv1.RollingUpdateDeployment{MaxSurge: intOrStr(tc.surge), MaxUnavailable: intOrStr(tc.unavail)}
			}
			v2 := d.DeepCopy()
			v2.Spec.Template.Spec.Containers[0].Image = "api:v2"
			in := netInput([]runtime.Object{d, service("api")}, []Load{{Target: "deployment/api", RequestsPerSecond: 100, OnSIGTERM: SIGTERMExit}})
			in.Changes = []Change{{Name: "deployment/default/api", At: 5 * time.Minute, Object: v2}}
			r, evs, w := eventsOf(t, in, 1)
			surge, unavail, _, err := strategyOf(d)
			require.NoError(t, err)
			active, ready, maxActive, minReady, newSeen, changed := 0, 4, 4, 4, false, false
			for _, s := range evs {
				_, deleted := s.Event.(trace.PodDeleted)
				switch e := s.Event.(type) {
				case trace.DeploymentChanged:
					changed = true
				case trace.PodCreated:
					active++
					newSeen = newSeen || changed // before the change: settling before the start
				case trace.PodDeleted:
					active--
					if tc.recreate {
						assert.False(t, newSeen, "recreate: an old pod deleted after a new one was created")
					}
				case trace.EndpointChanged:
					if e.Ready {
						ready++
					} else {
						ready--
					}
				}
				if newSeen || deleted {
					maxActive, minReady = max(maxActive, active), min(minReady, ready)
				}
			}
			if !tc.recreate {
				assert.LessOrEqual(t, maxActive, 4+surge)
				assert.GreaterOrEqual(t, minReady, 4-unavail)
			} else {
				assert.Equal(t, 0, minReady)
			}
			assert.Zero(t, indicator(t, r, "rollouts-incomplete"))
			assert.Greater(t, indicator(t, r, "rollout-minutes"), 0.0)
			n := 0
			for _, pi := range w.wls[0].pods {
				if p := w.st.Pods[pi]; p.Phase != 3 {
					n++
					assert.Equal(t, "api:v2", p.Spec.Containers[0].Image)
					assert.True(t, p.Ready)
				}
			}
			assert.Equal(t, 4, n)
		})
	}
}

// Deep readiness takes out a service that checks a failed dependency it does not need; shallow
// readiness keeps that traffic. Requests that need the failed dependency fail either way.
func TestDeepVersusShallowReadiness(t *testing.T) {
	objs := []runtime.Object{
		withReadiness(deployment("front", 2, "100m"), 0, 10, 3), service("front"),
		withReadiness(deployment("other", 2, "100m"), 0, 10, 3), service("other"),
		withReadiness(deployment("auth", 2, "100m"), 0, 10, 3), service("auth"),
	}
	outage := podFault(PodFailure, "auth", ModeAll, "", 5*time.Minute, 10*time.Minute)
	run := func(mode string) Result {
		load := []Load{
			{Target: "deployment/front", RequestsPerSecond: 100, DependsOn: []string{"deployment/auth"}, Readiness: mode},
			{Target: "deployment/other", RequestsPerSecond: 100, Readiness: mode, ReadinessChecks: []string{"deployment/auth"}},
			{Target: "deployment/auth"},
		}
		r, err := Run(netInput(objs, load, outage), 1, Options{})
		require.NoError(t, err)
		return r
	}
	deep, shallow := run(ReadinessDeep), run(ReadinessShallow)
	assert.Less(t, indicator(t, deep, "request-success-ratio/deployment/other"), 0.7, "deep: out for most of the 10 minutes of 30")
	assert.Greater(t, indicator(t, deep, "collateral-loss-ratio"), 0.3)
	assert.Greater(t, indicator(t, deep, "requests-503"), 0.0)
	assert.Equal(t, 1.0, indicator(t, shallow, "request-success-ratio/deployment/other"))
	assert.Zero(t, indicator(t, shallow, "collateral-loss-ratio"))
	for _, r := range []Result{deep, shallow} {
		assert.Less(t, indicator(t, r, "request-success-ratio/deployment/front"), 0.7)
	}
}

// Retries with back-off hide a partial failure of a dependency (one of three replicas hangs until
// its readiness probe removes it) and count every failed attempt.
func TestCallerRetries(t *testing.T) {
	objs := []runtime.Object{
		deployment("front", 2, "100m"), service("front"),
		withReadiness(deployment("dep", 3, "100m"), 0, 10, 3), service("dep"),
	}
	hang := podFault(PodFailure, "dep", ModeFixed, "1", 5*time.Minute, 10*time.Minute)
	run := func(retry *Retry) Result {
		load := []Load{
			{Target: "deployment/front", RequestsPerSecond: 100, DependsOn: []string{"deployment/dep"}, Retry: retry},
			{Target: "deployment/dep", Readiness: ReadinessShallow},
		}
		r, err := Run(netInput(objs, load, hang), 1, Options{})
		require.NoError(t, err)
		return r
	}
	none := run(nil)
	three := run(&Retry{Attempts: 3, Backoff: metav1.Duration{Duration: 100 * time.Millisecond}, MaxBackoff: metav1.Duration{Duration: time.Second}})
	lostNone := 1 - indicator(t, none, "request-success-ratio")
	lostThree := 1 - indicator(t, three, "request-success-ratio")
	require.Greater(t, lostNone, 0.0)
	// a third of calls fail while the hung replica is an endpoint: 3 attempts leave (1/3)^3 of it
	assert.InDelta(t, lostNone/9, lostThree, lostNone/100)
	assert.Zero(t, indicator(t, none, "retries"))
	assert.InDelta(t, indicator(t, none, "dependency-call-errors")*(1+1.0/3+1.0/9), indicator(t, three, "dependency-call-errors"), 1)
	assert.Greater(t, indicator(t, three, "retry-wait-seconds"), 0.0)
}

// Without an Ingress or network app behaviour the earlier instant-endpoint model runs and no
// network indicator is reported (the kernel-panic replay stays byte for byte).
func TestNetworkPathOffByDefault(t *testing.T) {
	in := input(3, deployment("web", 2, "100m"), service("web"))
	in.Load = []Load{{Target: "deployment/web", RequestsPerSecond: 100}}
	r, err := Run(in, 1, Options{})
	require.NoError(t, err)
	_, ok := r.Get("requests-502")
	assert.False(t, ok)
}

func TestNetworkInputErrors(t *testing.T) {
	tests := []struct {
		name string
		load Load
		objs []runtime.Object
		want string
	}{
		{"readiness", Load{Target: "deployment/web", Readiness: "very"}, nil, "load[0].readiness"},
		{"sigterm", Load{Target: "deployment/web", OnSIGTERM: "ignore"}, nil, "load[0].onSIGTERM"},
		{"retry", Load{Target: "deployment/web", Retry: &Retry{}}, nil, "load[0].retry"},
		{"checks", Load{Target: "deployment/web", ReadinessChecks: []string{"deployment/nope"}}, nil, "load[0].readinessChecks[0]"},
		{"deep without a probe", Load{Target: "deployment/web", Readiness: ReadinessDeep}, nil, "load[0].readiness"},
		{"ingress without service", Load{Target: "deployment/web"}, []runtime.Object{ingress("web", "missing")}, "objects[1].spec"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			in := input(1, append([]runtime.Object{deployment("web", 1, "100m")}, tc.objs...)...)
			in.Load = []Load{tc.load}
			_, err := New(in, 1, Options{})
			errs := inputErrors(t, err)
			require.Len(t, errs, 1, "%v", err)
			assert.Equal(t, tc.want, errs[0].Field)
		})
	}
}

// BenchmarkNetworkPath replays 30 minutes of a three-service graph with deep readiness, an
// Ingress and a dependency outage (probes, propagations and routing on every event).
func BenchmarkNetworkPath(b *testing.B) {
	objs := []runtime.Object{
		withReadiness(deployment("front", 6, "100m"), 0, 10, 3), service("front"), ingress("front", "front"),
		withReadiness(deployment("mid", 6, "100m"), 0, 10, 3), service("mid"),
		withReadiness(deployment("auth", 3, "100m"), 0, 10, 3), service("auth"),
	}
	load := []Load{
		{Target: "deployment/front", RequestsPerSecond: 500, DependsOn: []string{"deployment/mid"}, Readiness: ReadinessDeep},
		{Target: "deployment/mid", RequestsPerSecond: 100, DependsOn: []string{"deployment/auth"}, Readiness: ReadinessDeep},
		{Target: "deployment/auth"},
	}
	in := netInput(objs, load, podFault(PodFailure, "auth", ModeAll, "", 5*time.Minute, 10*time.Minute))
	b.ReportAllocs()
	for i := 0; b.Loop(); i++ {
		if _, err := Run(in, uint64(i), Options{}); err != nil {
			b.Fatal(err)
		}
	}
}
