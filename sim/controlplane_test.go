package sim

import (
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	admissionregistrationv1 "k8s.io/api/admissionregistration/v1"
	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/util/intstr"
	"k8s.io/apimachinery/pkg/util/validation/field"

	"github.com/faultline-dev/faultline/sim/trace"
)

// webhookInput is a 3-node cluster with the OPA webhook, its backend cut off from hangAt (for
// hangFor, 0: to the end) and a control-plane upgrade at upgradeAt (negative: none).
func webhookInput(hangAt, hangFor, upgradeAt time.Duration, muts ...func(*admissionregistrationv1.ValidatingWebhook)) *Input {
	in := input(3, webhookObjects(muts...)...)
	in.Duration = 3 * time.Hour
	in.Faults = []Fault{{Name: "NetworkChaos/opa", Action: PodUnreachable, At: hangAt, Duration: hangFor,
		Pods: PodSelector{Namespaces: []string{"opa"}, Labels: labels.SelectorFromSet(labels.Set{"app": "opa"})}}}
	if upgradeAt >= 0 {
		in.Faults = append(in.Faults, Fault{Name: "ControlPlaneUpgrade/up", Action: ControlPlaneUpgrade, At: upgradeAt, Version: "v2", Timeout: 20 * time.Minute})
	}
	return in
}

func metav1LabelSelectorNotIn(ns ...string) *metav1.LabelSelector {
	return &metav1.LabelSelector{MatchExpressions: []metav1.LabelSelectorRequirement{
		{Key: corev1.LabelMetadataName, Operator: metav1.LabelSelectorOpNotIn, Values: ns}}}
}

// The client-CA post-start hook against a hung Fail-policy webhook: every try waits the 10 s
// time-out, the apiserver exits at the first try that ends past the 30 s poll timeout, and the
// kubelet restarts it after 10 s, 20 s, 40 s ...; the upgrade never gets past this instance and
// is reported failed at its 20-minute time-out.
func TestPostStartHookFailure(t *testing.T) {
	in := webhookInput(time.Minute, 0, 2*time.Minute)
	r, evs, _ := eventsOf(t, in, 1)
	cp := in.Models.ControlPlane
	starts := trace.Times(evs, func(e trace.APIServerStarting) bool { return e.Instance == "kube-apiserver-1" })
	exits := trace.Times(evs, func(e trace.APIServerExited) bool { return e.Instance == "kube-apiserver-1" })
	require.GreaterOrEqual(t, len(starts), 4)
	require.GreaterOrEqual(t, len(exits), 3)
	assert.Equal(t, 2*time.Minute+cp.UpgradeInstanceTime.Duration, starts[0], "the new version starts after the replacement")
	hookStart := starts[0] + cp.StartTime.Duration
	// tries at +1 s, then back to back: 1 s + 3 × (10 s + request latency) is past 30 s
	call := 10*time.Second + in.Models.APIServer.RequestLatency.Duration
	assert.Equal(t, hookStart+cp.HookPollInterval.Duration+3*call, exits[0])
	assert.GreaterOrEqual(t, exits[0]-hookStart, cp.HookTimeout.Duration)
	assert.Equal(t, exits[0]+10*time.Second, starts[1], "CrashLoopBackOff 10 s")
	assert.Equal(t, exits[1]+20*time.Second, starts[2], "then 20 s")
	assert.Equal(t, exits[2]+40*time.Second, starts[3], "then 40 s")
	assert.Empty(t, trace.Of[trace.APIServerReady](evs), "no instance passes the hook")
	assert.Equal(t, 2*time.Minute+20*time.Minute, firstAt[trace.UpgradeTimedOut](t, evs, nil))
	assert.Zero(t, get(t, r, "upgrade-completed"))
	assert.Equal(t, float64(len(exits)), get(t, r, "apiserver-exits"))
}

// The same hook when the backend is refused (no endpoints: a webhook whose rules leave the
// EndpointSlice write alone lets the endpoints follow the pod): tries every second, exit at
// exactly the 30 s timeout.
func TestPostStartHookRefused(t *testing.T) {
	onlyConfigMaps := func(h *admissionregistrationv1.ValidatingWebhook) {
		h.Rules[0].Resources = []string{"configmaps"}
	}
	in := webhookInput(time.Minute, 0, 2*time.Minute, onlyConfigMaps)
	in.Faults[0].Action = PodFailure // not ready: out of the endpoints
	_, evs, _ := eventsOf(t, in, 1)
	cp := in.Models.ControlPlane
	start := firstAt(t, evs, func(e trace.APIServerStarting) bool { return e.Instance == "kube-apiserver-1" })
	exit := firstAt(t, evs, func(e trace.APIServerExited) bool { return e.Instance == "kube-apiserver-1" })
	assert.Equal(t, start+cp.StartTime.Duration+cp.HookTimeout.Duration, exit)
}

// What passes the hook: Ignore admits after one timed-out try; a namespaceSelector without
// kube-system and rules limited to Ingress and Service never call the webhook for it.
func TestPostStartHookPasses(t *testing.T) {
	cp := DefaultModels().ControlPlane
	base := DefaultModels().APIServer.RequestLatency.Duration
	for _, tc := range []struct {
		name  string
		mut   func(*admissionregistrationv1.ValidatingWebhook)
		ready time.Duration // from the process start
	}{
		{"failurePolicy Ignore", func(h *admissionregistrationv1.ValidatingWebhook) {
			p := admissionregistrationv1.Ignore
			h.FailurePolicy = &p
		}, cp.StartTime.Duration + cp.HookPollInterval.Duration + 10*time.Second + base},
		{"namespaceSelector without kube-system", func(h *admissionregistrationv1.ValidatingWebhook) {
			h.NamespaceSelector = metav1LabelSelectorNotIn("kube-system")
		}, cp.StartTime.Duration + cp.HookPollInterval.Duration + base},
		{"Ingress and Service only", func(h *admissionregistrationv1.ValidatingWebhook) {
			h.Rules[0].APIGroups = []string{"", "networking.k8s.io"}
			h.Rules[0].Resources = []string{"services", "ingresses"}
		}, cp.StartTime.Duration + cp.HookPollInterval.Duration + base},
	} {
		t.Run(tc.name, func(t *testing.T) {
			// the backend hangs as the new instance starts, before any node goes NotReady
			in := webhookInput(5*time.Minute, 0, 2*time.Minute, tc.mut)
			r, evs, _ := eventsOf(t, in, 1)
			start := firstAt(t, evs, func(e trace.APIServerStarting) bool { return e.Instance == "kube-apiserver-1" })
			assert.Equal(t, start+tc.ready, firstAt(t, evs, func(e trace.APIServerReady) bool { return e.Instance == "kube-apiserver-1" }))
			assert.Equal(t, 1.0, get(t, r, "upgrade-completed"))
			assert.Zero(t, get(t, r, "apiserver-exits"))
			assert.Len(t, trace.Of[trace.APIServerReady](evs), 3, "one instance at a time, all three")
		})
	}
}

// Kubelet heartbeats through an unscoped Fail webhook with a hung backend: every node goes
// NotReady within the grace period (plus a monitor period); auto-repair recreates each one
// UnhealthyFor after NotReady, and again every UnhealthyFor + RecreateTime while the
// heartbeats cannot get through.
func TestHeartbeatsBlockedAndAutoRepair(t *testing.T) {
	in := webhookInput(10*time.Minute, 0, -1)
	in.Models.AutoRepair.Enabled = true
	r, evs, w := eventsOf(t, in, 1)
	lc := in.Models.NodeLifecycle
	ar := in.Models.AutoRepair
	for _, ns := range w.nodes {
		name := ns.n.Name
		notReady := firstAt(t, evs, func(e trace.NodeNotReady) bool { return e.Node == name })
		assert.Greater(t, notReady-10*time.Minute, lc.GracePeriod.Duration-lc.StatusUpdateFrequency.Duration, name)
		assert.LessOrEqual(t, notReady-10*time.Minute, lc.GracePeriod.Duration+lc.MonitorPeriod.Duration, name)
		repairs := trace.Times(evs, func(e trace.NodeRepairStarted) bool { return e.Node == name })
		require.GreaterOrEqual(t, len(repairs), 3, name)
		assert.Equal(t, notReady+ar.UnhealthyFor.Duration, repairs[0], "%s: first repair after 10 minutes NotReady", name)
		for k := 1; k < len(repairs); k++ {
			assert.Equal(t, ar.UnhealthyFor.Duration+ar.RecreateTime.Duration, repairs[k]-repairs[k-1], "%s: the loop's cadence", name)
		}
	}
	assert.InDelta(t, (ar.UnhealthyFor.Duration + ar.RecreateTime.Duration).Minutes(), get(t, r, "repair-cadence-minutes"), 1e-6)
	assert.Greater(t, get(t, r, "nodes-recreated"), 6.0)
	assert.Less(t, get(t, r, "api-write-availability"), 0.5)
}

// Auto-repair of a node that is really down: recreated once, Ready again with its first
// heartbeat, no loop.
func TestAutoRepairOfAStoppedNode(t *testing.T) {
	in := input(2, deployment("web", 2, "100m"))
	in.Models.AutoRepair.Enabled = true
	in.Faults = []Fault{{Name: "stop", Action: NodeStop, At: 10 * time.Minute, Duration: time.Hour, Nodes: []string{"n-1"}}}
	r, evs, w := eventsOf(t, in, 1)
	notReady := firstAt(t, evs, func(e trace.NodeNotReady) bool { return e.Node == "n-1" })
	repair := firstAt(t, evs, func(e trace.NodeRepairStarted) bool { return e.Node == "n-1" })
	assert.Equal(t, notReady+in.Models.AutoRepair.UnhealthyFor.Duration, repair)
	ready := firstAt(t, evs, func(e trace.NodeReady) bool { return e.Node == "n-1" })
	assert.LessOrEqual(t, ready-repair, in.Models.AutoRepair.RecreateTime.Duration+in.Models.NodeLifecycle.StatusUpdateFrequency.Duration)
	assert.Equal(t, 1.0, get(t, r, "nodes-recreated"))
	assert.Zero(t, get(t, r, "repair-cadence-minutes"))
	assert.True(t, w.nodes[0].n.Ready)
	// the model is off by default: the same run without auto-repair reports no control-plane figures
	in.Models.AutoRepair.Enabled = false
	r2, _, _ := eventsOf(t, in, 1)
	_, ok := r2.Get("nodes-recreated")
	assert.False(t, ok)
}

// The latency alert: p99 of mutating requests at the webhook's 10 s time-out; pending at the
// next evaluation, firing 10 minutes later. A backend that is back before then is never
// detected, and the impaired minutes are what the indicator counts.
func TestLatencyAlert(t *testing.T) {
	a := DefaultModels().ControlPlane.LatencyAlert
	in := webhookInput(10*time.Minute+7*time.Second, 0, -1)
	r, evs, _ := eventsOf(t, in, 1)
	fire := firstAt[trace.AlertFiring](t, evs, nil)
	assert.Equal(t, 10*time.Minute+a.EvaluationInterval.Duration+a.For.Duration, fire)
	assert.InDelta(t, (fire - (10*time.Minute + 7*time.Second)).Minutes(), get(t, r, "latency-alert-detect-minutes"), 1e-9)
	assert.InDelta(t, 10.005, get(t, r, "api-latency-p99-max-seconds"), 1e-9)

	short := webhookInput(10*time.Minute, 20*time.Second, -1)
	r2, evs2, w2 := eventsOf(t, short, 1)
	assert.Empty(t, trace.Of[trace.AlertFiring](evs2))
	assert.Empty(t, trace.Of[trace.NodeNotReady](evs2), "back within the grace period")
	assert.InDelta(t, 20.0/60, get(t, r2, "latency-alert-detect-minutes"), 1e-9, "impaired while the backend hung")
	for _, ns := range w2.nodes {
		assert.True(t, ns.n.Ready)
	}
}

// The self-hosted webhook deadlock: a backend that answers again only after the nodes went
// NotReady does not heal the cluster. Its pod was marked not ready with its node; once the
// backend answers, the EndpointSlice controller's pending write gets through and takes it out of
// the endpoints; calls are then refused, Fail rejects the kubelets' renewals, and no node (the
// backend's included) can report Ready again.
func TestWebhookDeadlock(t *testing.T) {
	in := webhookInput(10*time.Minute, 2*time.Minute, -1)
	r, evs, w := eventsOf(t, in, 1)
	healthy := firstAt[trace.APIHealthy](t, evs, nil)
	assert.Equal(t, 12*time.Minute, healthy, "answering again at the fault's end")
	assert.Greater(t, firstAfter[trace.APIImpaired](t, evs, healthy, nil), healthy, "refused once the endpoint is gone")
	for _, ns := range w.nodes {
		assert.False(t, ns.n.Ready, "%s stays NotReady", ns.n.Name)
	}
	assert.Less(t, get(t, r, "api-write-availability"), 0.2)
}

// A liveness probe on an unreachable backend: failureThreshold × period (the first failure
// within a period of the fault) plus the probe timeout, then the container restarts and, in the
// model, answers again.
func TestUnreachableLivenessRestart(t *testing.T) {
	in := webhookInput(10*time.Minute, 0, -1)
	opa := in.Objects[0].(*appsv1.Deployment)
	opa.Spec.Template.Spec.Containers[0].LivenessProbe = &corev1.Probe{
		ProbeHandler:  corev1.ProbeHandler{HTTPGet: &corev1.HTTPGetAction{Path: "/health", Port: intstr.FromInt32(443)}},
		PeriodSeconds: 10, FailureThreshold: 3, TimeoutSeconds: 1,
	}
	r, evs, _ := eventsOf(t, in, 1)
	restart := firstAt[trace.LivenessRestart](t, evs, nil)
	assert.GreaterOrEqual(t, restart-10*time.Minute, 21*time.Second)
	assert.Less(t, restart-10*time.Minute, 31*time.Second)
	assert.Greater(t, firstAt(t, evs, func(e trace.PodReady) bool { return strings.HasPrefix(e.Pod, "opa-") }), restart)
	assert.Zero(t, get(t, r, "nodes-recreated"))
	assert.Empty(t, trace.Of[trace.AlertFiring](evs))
	assert.Less(t, get(t, r, "latency-alert-detect-minutes"), 1.0)
}

// Without webhooks, upgrades or auto-repair the control-plane model stays off and results have
// no control-plane indicators (existing scenarios are unchanged).
func TestControlPlaneOff(t *testing.T) {
	w, err := New(input(1, deployment("web", 1, "100m")), 1, Options{})
	require.NoError(t, err)
	assert.Nil(t, w.cp)
	r := w.Run()
	_, ok := r.Get("api-availability")
	assert.False(t, ok)
}

func TestControlPlaneModelsValidate(t *testing.T) {
	for _, tc := range []struct {
		name string
		mut  func(*Models)
		want string
	}{
		{"apiservers", func(m *Models) { m.ControlPlane.APIServers = 0 }, "controlPlane.apiServers"},
		{"hook", func(m *Models) { m.ControlPlane.HookTimeout.Duration = 0 }, "controlPlane.hookPollInterval"},
		{"quantile", func(m *Models) { m.ControlPlane.LatencyAlert.Quantile = 1 }, "controlPlane.latencyAlert.quantile"},
		{"repair", func(m *Models) { m.AutoRepair.UnhealthyFor.Duration = 0 }, "autoRepair.unhealthyFor"},
		{"request op", func(m *Models) {
			m.ControlPlane.Requests = []APIRequest{{Operation: "PATCH", APIVersion: "v1", Resource: "pods"}}
		}, "controlPlane.requests[0].operation"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			m := DefaultModels()
			tc.mut(&m)
			errs := m.Validate(field.NewPath("models"))
			require.Len(t, errs, 1)
			assert.Equal(t, "models."+tc.want, errs[0].Field)
		})
	}
	assert.Empty(t, DefaultModels().Validate(nil))
}

// The apiserver's request metrics: every answered request in apiserver_request_duration_seconds,
// webhook rejections as code 500, and the counts add up to the integrated rates.
func TestControlPlaneMetrics(t *testing.T) {
	in := webhookInput(time.Hour, 0, -1)
	in.Duration = 2 * time.Hour
	r, err := Run(in, 1, Options{})
	require.NoError(t, err)
	text := string(r.Metrics)
	assert.Contains(t, text, `apiserver_request_duration_seconds_bucket{group="",resource="events",scope="namespace",subresource="",verb="POST",le="10.0"} 7200`, "the first hour's, answered")
	assert.Contains(t, text, `apiserver_request_duration_seconds_bucket{group="",resource="events",scope="namespace",subresource="",verb="POST",le="15.0"} 14400`, "the second hour's at the 10 s time-out")
	assert.Contains(t, text, `apiserver_request_total{code="500",group="",resource="events",verb="POST"} 7200.0`, "the second hour's events, all rejected")
	assert.Contains(t, text, `apiserver_request_duration_seconds_count{group="",resource="events",scope="namespace",subresource="",verb="POST"} 14400`)
	assert.Contains(t, text, "# EOF")
}

// A zonal control plane (one apiserver) during an upgrade: the API is down while the instance is
// replaced, but the node lifecycle controller is as blind as the kubelets, so no node goes
// NotReady; the upgrade completes once the new instance passes its hook.
func TestZonalUpgradeAPIDown(t *testing.T) {
	in := input(3, deployment("web", 3, "100m"))
	in.Duration = time.Hour
	in.Models.ControlPlane.APIServers = 1
	in.Faults = []Fault{{Name: "ControlPlaneUpgrade/up", Action: ControlPlaneUpgrade, At: 10 * time.Minute, Version: "v2"}}
	r, evs, _ := eventsOf(t, in, 1)
	assert.Empty(t, trace.Of[trace.NodeNotReady](evs))
	assert.Equal(t, 1.0, get(t, r, "upgrade-completed"))
	down := in.Models.ControlPlane.UpgradeInstanceTime.Duration + in.Models.ControlPlane.StartTime.Duration + in.Models.ControlPlane.HookPollInterval.Duration
	assert.InDelta(t, 1-down.Seconds()/in.Duration.Seconds(), get(t, r, "api-availability"), 1e-3, "every request fails while no instance is ready")
}

// Half the backend hung: each try of a lease renewal gets through with probability 1/2, and the
// kubelet retries a renewal 5 times at once, so a renewal fails once in 32 and a node would need
// four failed renewals in a row to go NotReady: the nodes stay Ready while half the clients'
// writes fail.
func TestMixedHeartbeats(t *testing.T) {
	in := webhookInput(10*time.Minute, 0, -1)
	in.Duration = time.Hour + 10*time.Minute
	two := int32(2)
	in.Objects[0].(*appsv1.Deployment).Spec.Replicas = &two
	in.Faults[0].Pods.Mode = ModeOne
	r, evs, w := eventsOf(t, in, 1)
	assert.NotEmpty(t, trace.Of[trace.HeartbeatsFailing](evs), "some renewals fail")
	assert.Empty(t, trace.Of[trace.NodeNotReady](evs))
	for _, ns := range w.nodes {
		assert.True(t, ns.n.Ready)
	}
	// events, pods, deployments: from 10 min on, half rejected
	assert.InDelta(t, 1-0.5*60.0/70, get(t, r, "api-write-availability"), 0.03)
}
