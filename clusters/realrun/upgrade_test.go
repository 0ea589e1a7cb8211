package realrun

import (
	"context"
	"errors"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"

	"github.com/faultline-dev/faultline/clusters/webhook"
	"github.com/faultline-dev/faultline/measure"
	"github.com/faultline-dev/faultline/sim"
)

// upgradeControlPlane records Stop and Start of the API server; the first starts fail as a
// crashing process does.
type upgradeControlPlane struct {
	mu          sync.Mutex
	calls       []string
	failStarts  int
	blockStarts bool
}

func (c *upgradeControlPlane) Stop(_ context.Context, comp string) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.calls = append(c.calls, "stop "+comp)
	return nil
}

func (c *upgradeControlPlane) Start(ctx context.Context, comp string) error {
	c.mu.Lock()
	c.calls = append(c.calls, "start "+comp)
	fail, block := c.failStarts > 0, c.blockStarts
	if fail {
		c.failStarts--
	}
	c.mu.Unlock()
	switch {
	case block:
		<-ctx.Done()
		return ctx.Err()
	case fail:
		return errors.New("kube-apiserver exited; end of its log:\nunable to initialize client CA configmap")
	}
	return nil
}

func upgradeRun(t *testing.T, cp ControlPlane, instances int) *run {
	t.Helper()
	m := sim.DefaultModels()
	m.ControlPlane.APIServers = instances
	m.ControlPlane.UpgradeInstanceTime = metav1.Duration{Duration: 10 * time.Millisecond}
	r := guardedRun(t, ok, cp)
	r.in = &sim.Input{Name: "upgrade", Models: m}
	return r
}

// An upgrade restarts the API server once per modelled instance, one after the other, and
// starts a crashing one again after the back-off; it is expected down meanwhile.
func TestControlPlaneUpgradeRestartsTheAPIServerPerInstance(t *testing.T) {
	defer func(d time.Duration) { crashBackOff = d }(crashBackOff)
	crashBackOff = 20 * time.Millisecond
	cp := &upgradeControlPlane{failStarts: 2}
	r := upgradeRun(t, cp, 3)
	r.controlPlaneUpgrade(t.Context(), sim.Fault{Name: "ControlPlaneUpgrade/u", Action: sim.ControlPlaneUpgrade, Version: "v2", Timeout: time.Minute})
	assert.Equal(t, []string{
		"stop kube-apiserver", "start kube-apiserver", "start kube-apiserver", "start kube-apiserver",
		"stop kube-apiserver", "start kube-apiserver",
		"stop kube-apiserver", "start kube-apiserver",
	}, cp.calls)
	assert.False(t, r.expectedDown(APIServer), "up again after the upgrade")
	assert.Empty(t, r.rep.Invalid)
	assert.Contains(t, strings.Join(r.rep.Injected, "\n"), "upgrade complete: 3 of 3 instances")
	t0 := r.up.began
	o, fig := upgradeFigures(r, t0, r.clock.Now().Add(time.Hour), 1)
	require.Len(t, o.APIServerExits, 2, "the two failed starts")
	assert.Contains(t, o.APIServerExits[0].Reason, "exited before it was ready")
	up := o.ControlPlane.Upgrade
	require.Len(t, up.Steps, 3, "one step per modelled instance")
	for i, st := range up.Steps {
		assert.True(t, st.IsReady, "step %d", i)
		assert.Greater(t, st.Ready, st.Out, "step %d", i)
		if i > 0 {
			assert.GreaterOrEqual(t, st.Out, up.Steps[i-1].Ready, "step %d follows the previous instance's readiness", i)
		}
	}
	assert.True(t, up.Done)
	assert.False(t, up.TimedOut)
	assert.Equal(t, up.Steps[2].Ready, up.DoneAt)
	// the figures a KWOK run reports, derived by the simulator's code from the record
	assert.Equal(t, map[string]float64{"apiserver-exits": 2, "upgrade-completed": 1, "upgrade-minutes": fig["upgrade-minutes"]}, fig)
	assert.Less(t, fig["upgrade-minutes"], 1.0, "upgrade-minutes: until completion, not the end of the run")
	assert.InDelta(t, up.DoneAt.Minutes(), fig["upgrade-minutes"], 1e-9)
}

// upgradeFigures is r's record from t0 to end (its node transitions, apiserver exits and
// control-plane record, as Run builds it) and the ControlPlane figures measure.Compute derives
// from it for a KWOK run with time scale scale.
func upgradeFigures(r *run, t0, end time.Time, scale float64) (*measure.Observations, map[string]float64) {
	o := &measure.Observations{World: measure.KWOK, ControlPlane: r.up.observe(t0, end)}
	r.rec.nodeRecord(o, t0, end)
	vals, _ := measure.Compute(o, measure.Window{Start: t0, Length: end.Sub(t0), Scale: scale})
	fig := map[string]float64{}
	for _, v := range vals {
		if d, _ := measure.Lookup(v.Name); d.Scope == measure.ControlPlane {
			fig[v.Name] = v.Value
		}
	}
	return o, fig
}

// An API server that never gets ready again: the time-out is reported with how far the upgrade
// got, it stays expected down (the guard does not call the run broken), and the revert starts it
// for the clean-up.
func TestControlPlaneUpgradeTimeOut(t *testing.T) {
	cp := &upgradeControlPlane{blockStarts: true}
	r := upgradeRun(t, cp, 3)
	ctx, cancel := context.WithTimeout(t.Context(), 300*time.Millisecond)
	defer cancel()
	r.controlPlaneUpgrade(ctx, sim.Fault{Name: "ControlPlaneUpgrade/u", Action: sim.ControlPlaneUpgrade, Version: "v2", Timeout: 100 * time.Millisecond})
	joined := strings.Join(r.rep.Injected, "\n")
	assert.Contains(t, joined, "time-out (100ms) passed with 0 of 3 instances upgraded")
	assert.NotContains(t, joined, "upgrade complete")
	end := r.clock.Now()
	o, fig := upgradeFigures(r, r.up.began, end, 0.5)
	assert.True(t, o.ControlPlane.Upgrade.TimedOut, "the time-out passed before the end")
	assert.False(t, o.ControlPlane.Upgrade.Done)
	assert.Zero(t, fig["upgrade-completed"])
	assert.InDelta(t, 2*end.Sub(r.up.began).Minutes(), fig["upgrade-minutes"], 1e-9, "to the end of the run, in scenario minutes (time scale 0.5)")
	assert.True(t, r.expectedDown(APIServer))
	require.Len(t, r.reverts, 1)
	cp.blockStarts = false
	require.NoError(t, r.reverts[0](t.Context()))
	assert.False(t, r.expectedDown(APIServer))
}

// Without a control plane of faultline's own the upgrade is not supported: reported, not a
// broken world.
func TestControlPlaneUpgradeUnsupportedElsewhere(t *testing.T) {
	r := upgradeRun(t, nil, 3)
	r.controlPlaneUpgrade(t.Context(), sim.Fault{Name: "ControlPlaneUpgrade/u", Action: sim.ControlPlaneUpgrade})
	assert.Empty(t, r.rep.Invalid)
	require.Len(t, r.rep.NotInjected, 1)
	assert.Contains(t, r.rep.NotInjected[0], "use --cluster local")
}

// NetworkChaos loss on a webhook's backend pods hangs faultline's backend for the window; on any
// other pods it is not supported.
func TestPodUnreachableHangsTheWebhookBackend(t *testing.T) {
	r := upgradeRun(t, nil, 1)
	h, err := webhook.Start()
	require.NoError(t, err)
	defer h.Close(context.Background())
	r.hook = h
	r.hookSvc["opa/opa"] = &corev1.Service{Spec: corev1.ServiceSpec{Selector: map[string]string{"app": "opa"}}}
	before := h.Mode()

	other := sim.Fault{Name: "NetworkChaos/web", Action: sim.PodUnreachable,
		Pods: sim.PodSelector{Namespaces: []string{"apps"}, Labels: labels.SelectorFromSet(labels.Set{"app": "web"}), Mode: sim.ModeAll}}
	_, err = r.podUnreachable(t.Context(), other)
	assert.ErrorIs(t, err, ErrUnsupported)
	assert.Equal(t, before, h.Mode())

	opa := sim.Fault{Name: "NetworkChaos/opa", Action: sim.PodUnreachable,
		Pods: sim.PodSelector{Namespaces: []string{"opa"}, Labels: labels.SelectorFromSet(labels.Set{"app": "opa"}), Mode: sim.ModeAll}}
	revert, err := r.podUnreachable(t.Context(), opa)
	require.NoError(t, err)
	assert.Equal(t, webhook.Hang, h.Mode())
	require.NoError(t, revert(t.Context()))
	assert.Equal(t, before, h.Mode())
}
