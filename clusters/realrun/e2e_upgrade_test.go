package realrun_test

import (
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"

	"github.com/faultline-dev/faultline/clusters/local"
	"github.com/faultline-dev/faultline/clusters/realrun"
	"github.com/faultline-dev/faultline/sim"
)

// The webhook scenario's two faults on a local control plane: a managed upgrade (kube-apiserver
// restarted once per modelled instance) and, first, NetworkChaos loss on the webhook's backend
// pods (faultline's backend hangs). Both are injected, the API server really restarts, and the
// run says how far the upgrade got; the cluster is healthy again afterwards.
func TestWebhookScenarioFaultsInjectedOnLocalControlPlane(t *testing.T) {
	requireE2E(t)
	t.Parallel()
	in := webhookInput(nil)
	in.Duration = 30 * time.Second
	in.Models.ControlPlane.APIServers = 2
	in.Models.ControlPlane.UpgradeInstanceTime = metav1.Duration{Duration: 2 * time.Second}
	in.Faults = []sim.Fault{
		{Name: "NetworkChaos/opa-unresponsive", Action: sim.PodUnreachable, At: 2 * time.Second,
			Pods: sim.PodSelector{Namespaces: []string{"opa"}, Labels: labels.SelectorFromSet(labels.Set{"app": "opa"}), Mode: sim.ModeAll}},
		{Name: "ControlPlaneUpgrade/master-upgrade", Action: sim.ControlPlaneUpgrade, At: 4 * time.Second, Version: "1.13.7-gke.8", Timeout: 20 * time.Second},
	}
	cl := acquire(t, in)
	pid := func() int {
		st, err := provider.Status(t.Context(), cl.Name)
		require.NoError(t, err)
		for _, p := range st.Processes {
			if p.Name == local.APIServer {
				return p.PID
			}
		}
		return 0
	}
	before := pid()
	res, rep, err := realrun.Run(t.Context(), cl.Config, in, realrun.Options{Seed: 1, ControlPlane: cl.ControlPlane})
	require.NotNil(t, rep)
	t.Logf("injected:\n  %s\nnot injected: %v\ninvalid: %v\nwebhook calls: %d", strings.Join(rep.Injected, "\n  "), rep.NotInjected, rep.Invalid, rep.WebhookCalls)
	require.NoError(t, err)
	assert.Empty(t, rep.NotInjected)
	joined := strings.Join(rep.Injected, "\n")
	assert.Contains(t, joined, "NetworkChaos/opa-unresponsive (NetworkChaos loss): the webhook backend of opa/opa gets no packets")
	assert.Contains(t, joined, "ControlPlaneUpgrade/master-upgrade: kube-apiserver restarted")
	assert.NotEqual(t, before, pid(), "kube-apiserver was restarted")
	// the upgrade's figures, derived from the run's control-plane record by the simulator's code
	// (measure.ControlPlaneIndicators)
	for _, name := range []string{"apiserver-exits", "upgrade-completed", "upgrade-minutes"} {
		v, ok := res.Get(name)
		assert.True(t, ok, "%s reported", name)
		t.Logf("%s = %v", name, v)
	}
	minutes, _ := res.Get("upgrade-minutes")
	assert.Positive(t, minutes, "two instances replaced, each down 2 s")
	// the run's revert starts kube-apiserver again; it takes a few seconds to serve /readyz
	var last any
	assert.Eventually(t, func() bool {
		st, err := provider.Status(t.Context(), cl.Name)
		if err != nil {
			last = err
			return false
		}
		last = st.Processes
		return st.Healthy()
	}, 90*time.Second, time.Second, "the cluster is healthy again after the run: %+v", &last)
}
