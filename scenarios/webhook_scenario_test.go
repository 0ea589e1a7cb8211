package scenarios_test

import (
	"strings"
	"testing"
	"testing/fstest"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/faultline-dev/faultline/scenarios"
	"github.com/faultline-dev/faultline/sim"
)

const faultFile = `apiVersion: faultline.dev/v1alpha1
kind: Scenario
metadata: {name: f}
spec:
  duration: 2h
  cluster:
    nodePools: [{name: p, count: 1, capacity: {cpu: "4", memory: 8Gi}}]
  faults:
    - at: 1h
      object:
FAULT
`

func loadFault(t *testing.T, object string) (*scenarios.Scenario, error) {
	t.Helper()
	indented := "        " + strings.ReplaceAll(strings.TrimSpace(object), "\n", "\n        ")
	data := strings.Replace(faultFile, "FAULT", indented, 1)
	return scenarios.LoadFS(fstest.MapFS{"s.yaml": {Data: []byte(data)}}, "s.yaml", "s.yaml")
}

func TestNetworkChaosAndUpgradeTranslation(t *testing.T) {
	for _, tc := range []struct {
		name    string
		object  string
		want    sim.Fault
		errPath string
		errMsg  string
	}{
		{name: "loss 100 cuts the pods off", object: `
apiVersion: chaos-mesh.org/v1alpha1
kind: NetworkChaos
metadata: {name: opa}
spec: {action: loss, mode: all, selector: {namespaces: [opa]}, loss: {loss: "100"}, duration: 30m}`,
			want: sim.Fault{Name: "NetworkChaos/opa", Action: sim.PodUnreachable, At: time.Hour, Duration: 30 * time.Minute}},
		{name: "partial loss", object: `
apiVersion: chaos-mesh.org/v1alpha1
kind: NetworkChaos
metadata: {name: opa}
spec: {action: loss, mode: all, selector: {namespaces: [opa]}, loss: {loss: "50"}}`,
			errPath: "spec.faults[0].object.spec.loss.loss", errMsg: `only a loss of "100"`},
		{name: "delay", object: `
apiVersion: chaos-mesh.org/v1alpha1
kind: NetworkChaos
metadata: {name: opa}
spec: {action: delay, mode: all, selector: {namespaces: [opa]}, delay: {latency: 1s}}`,
			errPath: "spec.faults[0].object.spec.action", errMsg: `action "delay" is not modelled`},
		{name: "upgrade", object: `
apiVersion: faultline.dev/v1alpha1
kind: ControlPlaneUpgrade
metadata: {name: up}
spec: {version: 1.13.7-gke.8, timeout: 20m}`,
			want: sim.Fault{Name: "ControlPlaneUpgrade/up", Action: sim.ControlPlaneUpgrade, At: time.Hour, Version: "1.13.7-gke.8", Timeout: 20 * time.Minute}},
		{name: "upgrade without version", object: `
apiVersion: faultline.dev/v1alpha1
kind: ControlPlaneUpgrade
metadata: {name: up}
spec: {timeout: 20m}`,
			errPath: "spec.faults[0].object.spec.version", errMsg: "expected the target version"},
		{name: "upgrade with a bad timeout", object: `
apiVersion: faultline.dev/v1alpha1
kind: ControlPlaneUpgrade
metadata: {name: up}
spec: {version: v2, timeout: soon}`,
			errPath: "spec.faults[0].object.spec.timeout", errMsg: `"soon" is not a positive duration`},
		{name: "unknown faultline kind", object: `
apiVersion: faultline.dev/v1alpha1
kind: NodePoolUpgrade
metadata: {name: up}`,
			errPath: "spec.faults[0].object.kind", errMsg: "expected ControlPlaneUpgrade"},
		{name: "unknown apiVersion", object: `
apiVersion: example.com/v1
kind: ControlPlaneUpgrade
metadata: {name: up}`,
			errPath: "spec.faults[0].object.apiVersion", errMsg: "expected chaos-mesh.org/v1alpha1 (or faultline.dev/v1alpha1 for ControlPlaneUpgrade)"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s, err := loadFault(t, tc.object)
			if tc.errPath != "" {
				require.Error(t, err)
				var e *scenarios.Error
				require.ErrorAs(t, err, &e)
				assert.Equal(t, tc.errPath, e.Path)
				assert.Contains(t, e.Msg, tc.errMsg)
				return
			}
			require.NoError(t, err)
			require.Len(t, s.Faults, 1)
			got := s.Faults[0].Sim
			got.Pods = sim.PodSelector{}
			assert.Equal(t, tc.want, got)
		})
	}
}

// The webhook incident's shape (scenarios/webhook-blocked-upgrade/README.md): with the unscoped Fail webhook and its backend
// hung, the upgrade is stuck (the second apiserver exits again and again) and nodes are
// recreated every UnhealthyFor + RecreateTime (about 10 minutes plus the recreation); with the
// webhook scoped (opted-in namespaces, or Ingress and Service only) or OPA restarted by its
// liveness probe, the upgrade completes and no node is recreated. Excluding only kube-system
// saves the upgrade but not the nodes (their leases live in kube-node-lease). The latency alert
// fires 10 minutes after the backend hangs wherever the slow calls persist.
func TestWebhookBlockedUpgradeShape(t *testing.T) {
	const name = "webhook-blocked-upgrade"
	base := runVariant(t, name, "baseline", 1)
	assert.Zero(t, value(t, base, "upgrade-completed"))
	assert.Greater(t, value(t, base, "apiserver-exits"), 10.0)
	assert.Greater(t, value(t, base, "nodes-recreated"), 30.0, "every node, again and again")
	assert.InDelta(t, 13, value(t, base, "repair-cadence-minutes"), 0.5, "10 minutes NotReady + 3 minutes to recreate")
	assert.InDelta(t, 10, value(t, base, "latency-alert-detect-minutes"), 0.6)
	assert.Less(t, value(t, base, "api-write-availability"), 0.5)

	for _, v := range []string{"scoped-namespaces", "ingress-and-service", "liveness-probe"} {
		t.Run(v, func(t *testing.T) {
			r := runVariant(t, name, v, 1)
			assert.Equal(t, 1.0, value(t, r, "upgrade-completed"))
			assert.Zero(t, value(t, r, "nodes-recreated"))
			assert.Zero(t, value(t, r, "apiserver-exits"))
			assert.Equal(t, 1.0, value(t, r, "request-success-ratio"), "the teams' service keeps serving")
			assert.Greater(t, value(t, r, "api-availability"), value(t, base, "api-availability"))
		})
	}
	excl := runVariant(t, name, "exclude-kube-system", 1)
	assert.Equal(t, 1.0, value(t, excl, "upgrade-completed"), "the post-start write is exempt")
	assert.Greater(t, value(t, excl, "nodes-recreated"), 30.0, "the kubelets' leases are not in kube-system")

	ign := runVariant(t, name, "failure-policy-ignore", 1)
	assert.Equal(t, 1.0, value(t, ign, "upgrade-completed"))
	assert.Greater(t, value(t, ign, "api-write-availability"), 0.9)
	assert.Greater(t, value(t, ign, "latency-alert-detect-minutes"), 60.0, "flapping nodes reset the alert's 10-minute for")

	live := runVariant(t, name, "liveness-probe", 1)
	assert.Less(t, value(t, live, "latency-alert-detect-minutes"), 1.0, "OPA restarts before anything is detected")

	// Kubernetes 1.34 (measured, clusters/realrun TestAPIServerRestartUnderHangingWebhook): the
	// client-CA write is a background controller's; the upgrade completes on schedule (3 steps of
	// upgradeInstanceTime + startTime) and no apiserver exits; the webhook still blocks the rest
	k134 := runVariant(t, name, "kubernetes-1.34", 1)
	assert.Equal(t, 1.0, value(t, k134, "upgrade-completed"))
	assert.Zero(t, value(t, k134, "apiserver-exits"))
	assert.InDelta(t, 3*(3*60+5)/60.0, value(t, k134, "upgrade-minutes"), 0.01)
	assert.Equal(t, value(t, base, "nodes-recreated"), value(t, k134, "nodes-recreated"), "the kubelets' leases are blocked as before")
}
