package sim

import (
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/validation/field"
)

// ControlPlane holds the parameters of the API server instances, their post-start hook, managed
// upgrades, the kubelets' heartbeat path through the API and the apiserver latency alert
// (docs/upstream.md "Admission webhooks", "Node lifecycle").
type ControlPlane struct {
	// APIServers is the number of kube-apiserver instances behind the load balancer: 3 for a
	// regional (HA) control plane, 1 for a zonal one.
	APIServers int `json:"apiServers"`
	// StartTime is from the process starting to its post-start hooks running (faultline choice).
	StartTime metav1.Duration `json:"startTime"`
	// ClientCAWriter is how a starting apiserver writes ConfigMap
	// kube-system/extension-apiserver-authentication, which an upgrade changing the
	// authentication data makes it write (through its own admission chain, webhooks included):
	//   - "hook" (Kubernetes up to 1.16, the incident's 1.13): the client-CA post-start hook
	//     (client_ca_hook.go) retries it with wait.Poll(HookPollInterval, HookTimeout); the
	//     apiserver is not ready until it succeeds and exits when it has not within the timeout.
	//   - "controller" (Kubernetes 1.17 on; measured on 1.34, clusters/realrun
	//     TestAPIServerRestartUnderHangingWebhook): the post-start hook only starts the
	//     cluster-authentication-trust controller, which retries the write in the background;
	//     a blocked write neither delays readiness nor stops the process.
	// Empty means "hook".
	ClientCAWriter string `json:"clientCAWriter,omitempty"`
	// HookPollInterval and HookTimeout are the client-CA post-start hook's wait.Poll(1s, 30s):
	// it writes ConfigMap kube-system/extension-apiserver-authentication and the apiserver exits
	// when it has not succeeded within the timeout (ClientCAWriter "hook").
	HookPollInterval metav1.Duration `json:"hookPollInterval"`
	HookTimeout      metav1.Duration `json:"hookTimeout"`
	// RestartBackoffBase and RestartBackoffMax are the kubelet's CrashLoopBackOff for the
	// apiserver's static pod (10 s doubling to 300 s).
	RestartBackoffBase metav1.Duration `json:"restartBackoffBase"`
	RestartBackoffMax  metav1.Duration `json:"restartBackoffMax"`
	// UpgradeInstanceTime is how long a managed upgrade takes to replace one instance, from
	// taking it out of the load balancer to the new version's process starting (faultline choice).
	UpgradeInstanceTime metav1.Duration `json:"upgradeInstanceTime"`
	// UpgradeTimeout is the client's time-out for an upgrade that does not set its own
	// (Terraform google_container_cluster update timeout, 60 min; uncertain).
	UpgradeTimeout metav1.Duration `json:"upgradeTimeout"`
	// WebhookLatency is one answered webhook call (faultline choice); RefusedLatency a call
	// refused because the backend Service has no ready endpoint (faultline choice).
	WebhookLatency metav1.Duration `json:"webhookLatency"`
	RefusedLatency metav1.Duration `json:"refusedLatency"`
	// HeartbeatTimeout is the kubelet heartbeat client's timeout: min(nodeStatusUpdateFrequency,
	// nodeLeaseDurationSeconds) = 10 s (cmd/kubelet/app/server.go). A lease renewal slower than
	// this fails even when admission lets it through.
	HeartbeatTimeout metav1.Duration `json:"heartbeatTimeout"`
	// Requests are the clients' requests (a mix with rates) that API availability and the
	// latency metric are measured on; empty means DefaultAPIRequests. The kubelets' lease
	// renewals are added to them.
	Requests []APIRequest `json:"requests,omitempty"`
	// LatencyAlert is the alert on apiserver request latency of mutating requests.
	LatencyAlert LatencyAlert `json:"latencyAlert"`
}

// LatencyAlert is a Prometheus alert on the Quantile of mutating request latency
// (apiserver_request_duration_seconds, verbs other than reads): active while the quantile is above
// Threshold, firing once it has been active for For, evaluated every EvaluationInterval. Defaults
// follow kubernetes-mixin's KubeAPILatencyHigh (p99 > 1 s for 10 min; uncertain) and the common
// 30 s evaluation interval.
type LatencyAlert struct {
	Quantile           float64         `json:"quantile"`
	Threshold          metav1.Duration `json:"threshold"`
	For                metav1.Duration `json:"for"`
	EvaluationInterval metav1.Duration `json:"evaluationInterval"`
}

// AutoRepair is a managed node auto-repair (GKE): a node NotReady for UnhealthyFor is drained,
// its VM deleted and a fresh one created, up RecreateTime later. Off by default (not a Kubernetes
// feature).
type AutoRepair struct {
	Enabled      bool            `json:"enabled,omitempty"`
	UnhealthyFor metav1.Duration `json:"unhealthyFor"`
	RecreateTime metav1.Duration `json:"recreateTime"`
}

// The values of ControlPlane.ClientCAWriter.
const (
	ClientCAHook       = "hook"
	ClientCAController = "controller"
)

func defaultControlPlane() ControlPlane {
	return ControlPlane{
		APIServers:          3,                                                // a regional GKE control plane
		StartTime:           metav1.Duration{Duration: 5 * time.Second},       // faultline choice
		HookPollInterval:    metav1.Duration{Duration: time.Second},           // client_ca_hook.go wait.Poll interval
		HookTimeout:         metav1.Duration{Duration: 30 * time.Second},      // client_ca_hook.go wait.Poll timeout
		RestartBackoffBase:  metav1.Duration{Duration: 10 * time.Second},      // kubelet CrashLoopBackOff
		RestartBackoffMax:   metav1.Duration{Duration: 300 * time.Second},     // kubelet CrashLoopBackOff cap
		UpgradeInstanceTime: metav1.Duration{Duration: 3 * time.Minute},       // faultline choice
		UpgradeTimeout:      metav1.Duration{Duration: 60 * time.Minute},      // Terraform update timeout (uncertain)
		WebhookLatency:      metav1.Duration{Duration: 10 * time.Millisecond}, // faultline choice
		RefusedLatency:      metav1.Duration{Duration: time.Millisecond},      // faultline choice
		HeartbeatTimeout:    metav1.Duration{Duration: 10 * time.Second},      // kubelet heartbeat client timeout
		LatencyAlert: LatencyAlert{
			Quantile:           0.99,                                        // KubeAPILatencyHigh
			Threshold:          metav1.Duration{Duration: time.Second},      // KubeAPILatencyHigh warning
			For:                metav1.Duration{Duration: 10 * time.Minute}, // KubeAPILatencyHigh for
			EvaluationInterval: metav1.Duration{Duration: 30 * time.Second}, // faultline choice
		},
	}
}

func defaultAutoRepair() AutoRepair {
	return AutoRepair{
		UnhealthyFor: metav1.Duration{Duration: 10 * time.Minute}, // GKE auto-repair: about 10 min NotReady
		RecreateTime: metav1.Duration{Duration: 3 * time.Minute},  // faultline choice: drain, new VM, boot
	}
}

// DefaultAPIRequests is the client mix of a small cluster (faultline choice): reads, the
// controller-manager's and scheduler's leader-election renewals, events, pod creations and
// Deployment updates.
func DefaultAPIRequests() []APIRequest {
	return []APIRequest{
		{Name: "reads", Operation: "GET", APIVersion: "v1", Resource: "pods", Namespace: "default", RatePerSecond: 20},
		{Name: "leader-election", Operation: "UPDATE", APIGroup: "coordination.k8s.io", APIVersion: "v1", Resource: "leases", Namespace: "kube-system", RatePerSecond: 1},
		{Name: "events", Operation: "CREATE", APIVersion: "v1", Resource: "events", Namespace: "default", RatePerSecond: 2},
		{Name: "pods", Operation: "CREATE", APIVersion: "v1", Resource: "pods", Namespace: "default", RatePerSecond: 0.5},
		{Name: "deployments", Operation: "UPDATE", APIGroup: "apps", APIVersion: "v1", Resource: "deployments", Namespace: "default", RatePerSecond: 0.2},
	}
}

func (m Models) validateControlPlane(p *field.Path) field.ErrorList {
	var errs field.ErrorList
	c, r := m.ControlPlane, m.AutoRepair
	a := c.LatencyAlert
	if c.ClientCAWriter != "" && c.ClientCAWriter != ClientCAHook && c.ClientCAWriter != ClientCAController {
		errs = append(errs, invalid(p.Child("controlPlane", "clientCAWriter"), "%q; expected %q (Kubernetes up to 1.16) or %q (1.17 on)", c.ClientCAWriter, ClientCAHook, ClientCAController))
	}
	if c.APIServers < 1 || c.APIServers > 64 {
		errs = append(errs, invalid(p.Child("controlPlane", "apiServers"), "%d; expected 1..64", c.APIServers))
	}
	if c.StartTime.Duration < 0 || c.UpgradeInstanceTime.Duration < 0 {
		errs = append(errs, invalid(p.Child("controlPlane", "startTime"), "expected non-negative durations (startTime, upgradeInstanceTime)"))
	}
	if c.HookPollInterval.Duration <= 0 || c.HookTimeout.Duration < c.HookPollInterval.Duration {
		errs = append(errs, invalid(p.Child("controlPlane", "hookPollInterval"), "expected 0 < hookPollInterval <= hookTimeout"))
	}
	if c.RestartBackoffBase.Duration <= 0 || c.RestartBackoffMax.Duration < c.RestartBackoffBase.Duration {
		errs = append(errs, invalid(p.Child("controlPlane", "restartBackoffBase"), "expected 0 < restartBackoffBase <= restartBackoffMax"))
	}
	if c.UpgradeTimeout.Duration <= 0 {
		errs = append(errs, invalid(p.Child("controlPlane", "upgradeTimeout"), "expected a positive duration"))
	}
	if c.WebhookLatency.Duration < 0 || c.RefusedLatency.Duration < 0 {
		errs = append(errs, invalid(p.Child("controlPlane", "webhookLatency"), "expected non-negative latencies (webhookLatency, refusedLatency)"))
	}
	if c.HeartbeatTimeout.Duration <= 0 {
		errs = append(errs, invalid(p.Child("controlPlane", "heartbeatTimeout"), "expected a positive duration"))
	}
	if a.Quantile <= 0 || a.Quantile >= 1 {
		errs = append(errs, invalid(p.Child("controlPlane", "latencyAlert", "quantile"), "%v; expected a fraction in (0, 1)", a.Quantile))
	}
	if a.Threshold.Duration <= 0 || a.For.Duration < 0 || a.EvaluationInterval.Duration <= 0 {
		errs = append(errs, invalid(p.Child("controlPlane", "latencyAlert", "threshold"), "expected threshold > 0, for >= 0, evaluationInterval > 0"))
	}
	if r.UnhealthyFor.Duration <= 0 || r.RecreateTime.Duration < 0 {
		errs = append(errs, invalid(p.Child("autoRepair", "unhealthyFor"), "expected unhealthyFor > 0 and recreateTime >= 0"))
	}
	for i, q := range c.Requests {
		qp := p.Child("controlPlane", "requests").Index(i)
		if q.Operation != "GET" && !q.admitted() {
			errs = append(errs, invalid(qp.Child("operation"), "%q; expected CREATE, UPDATE, DELETE, CONNECT or GET", q.Operation))
		}
		if q.Resource == "" || q.APIVersion == "" {
			errs = append(errs, invalid(qp.Child("resource"), "expected resource and apiVersion"))
		}
		if q.RatePerSecond < 0 {
			errs = append(errs, invalid(qp.Child("ratePerSecond"), "expected >= 0"))
		}
	}
	return errs
}
