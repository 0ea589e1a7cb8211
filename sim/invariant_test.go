package sim

import (
	"errors"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	corev1 "k8s.io/api/core/v1"
	networkingv1 "k8s.io/api/networking/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/faultline-dev/faultline/sim/cluster"
)

// checkedWorld runs in with the checker on and requires that no invariant broke.
func checkedWorld(t *testing.T, in *Input) *World {
	t.Helper()
	w, err := New(in, 3, Options{CheckInvariants: true})
	require.NoError(t, err)
	w.Run()
	require.NoError(t, w.Violation())
	require.NotNil(t, w.inv)
	return w
}

// invariantInput has what every invariant looks at: Deployments behind an Ingress (the network
// path), a load, CronJobs, a node stop with auto-repair.
func invariantInput() *Input {
	web := deployment("web", 3, "1")
	ing := &networkingv1.Ingress{ObjectMeta: metav1.ObjectMeta{Name: "web", Namespace: "default"},
		Spec: networkingv1.IngressSpec{DefaultBackend: &networkingv1.IngressBackend{Service: &networkingv1.IngressServiceBackend{Name: "web"}}}}
	svc := &corev1.Service{ObjectMeta: metav1.ObjectMeta{Name: "web", Namespace: "default"}, Spec: corev1.ServiceSpec{Selector: map[string]string{"app": "web"}}}
	in := input(3, web, svc, ing, cronJobObj("tick", "*/5 * * * *"))
	in.Duration = 40 * time.Minute
	in.Load = []Load{{Target: "deployment/web", RequestsPerSecond: 100}}
	in.Faults = []Fault{{Name: "GCPChaos/stop", Action: NodeStop, At: 10 * time.Minute, Duration: 10 * time.Minute, Nodes: []string{"n-1"}}}
	return in
}

func TestInvariantsHoldOnAModelRun(t *testing.T) {
	w := checkedWorld(t, invariantInput())
	assert.Equal(t, 40*time.Minute, w.q.Now(), "the checked loop ends at the end of the run, as RunUntil")
	assert.Positive(t, w.cron.runBase+len(w.cron.runs), "the run had Jobs to check")
	assert.True(t, w.net.path, "the run had the network path to check")
}

// The checked loop must not change the run: same seed, same result with the checker on or off.
func TestInvariantCheckerDoesNotChangeTheRun(t *testing.T) {
	off, err := Run(invariantInput(), 3, Options{})
	require.NoError(t, err)
	on, err := Run(invariantInput(), 3, Options{CheckInvariants: true})
	require.NoError(t, err)
	assert.Equal(t, off.String(), on.String())
}

// Each invariant catches its own corruption, and the error names the invariant, the time, the
// event and the object.
func TestInvariantViolations(t *testing.T) {
	cases := []struct {
		name      string
		corrupt   func(w *World)
		check     func(w *World, c *invChecker) bool
		invariant string
		object    string
	}{
		{"requests exceed allocatable", func(w *World) {
			n := busyNode(w)
			p := n.Pods[0]
			p.Requests.MilliCPU += 10_000 // as if a bind forgot to check the fit
			n.Requested.MilliCPU += 10_000
		}, (*World).checkStep, InvRequestsFit, "node/n-"},
		{"requested out of step with the pods", func(w *World) {
			w.st.Nodes[1].Requested.Memory++
		}, (*World).checkStep, InvRequestsFit, "node/n-2"},
		{"ready pod not running", func(w *World) {
			p := busyNode(w).Pods[0]
			p.Phase = cluster.PodPending
			p.Ready = true
		}, (*World).checkInstant, InvEndpointsRunning, ""},
		{"published endpoint out of step", func(w *World) {
			for _, p := range w.st.Pods {
				if np := w.net.pods[p.Index]; np.tracked && p.Ready {
					np.pub = false
					return
				}
			}
			panic("no ready tracked pod")
		}, (*World).checkInstant, InvEndpointsRunning, ""},
		{"shares do not add up", func(w *World) {
			w.loads[0].net.e503 += 0.25
		}, (*World).checkInstant, InvRequestsConserved, "deployment/web"},
		{"succeeded more than offered", func(w *World) {
			w.loads[0].ok = w.loads[0].total + 1
		}, (*World).checkStep, InvRequestsConserved, "deployment/web"},
		{"requests lost between counters", func(w *World) {
			w.net.n503 += 1000
		}, (*World).checkStep, InvRequestsConserved, "all targets"},
		{"pod on a deleted node", func(w *World) {
			w.inv.deleted[busyNode(w).Index] = true
		}, (*World).checkStep, InvNoPodOnDeletedNode, ""},
		{"gone pod still bound", func(w *World) {
			busyNode(w).Pods[0].Phase = cluster.PodGone
		}, (*World).checkStep, InvNoPodOnDeletedNode, ""},
		{"running Job left its CronJob's active list", func(w *World) {
			r := someRun(w)
			r.done = false // still running, as far as the checker knows
			w.inv.runs = append(w.inv.runs, r.idx)
			r.cj.active = nil
		}, (*World).checkStep, InvJobOwned, "job/"},
		{"finished Job still active", func(w *World) {
			r := someRun(w)
			r.done = true
			r.cj.active = append(r.cj.active, r.idx)
		}, (*World).checkStep, InvJobOwned, "job/"},
		{"finished Job still active when retired", func(*World) {}, func(w *World, c *invChecker) bool {
			r := someRun(w)
			r.done = true
			r.cj.active = append(r.cj.active, r.idx)
			w.cron.retireRun(r)
			return c.err != nil && w.cron.run(r.idx) == r
		}, InvJobOwned, "job/"},
		{"Job of a CronJob not in the cluster", func(w *World) {
			r := someRun(w)
			r.done = false
			w.inv.runs = append(w.inv.runs, r.idx)
			r.cj = &cronJob{idx: 99, key: "default/gone"}
		}, (*World).checkStep, InvJobOwned, "job/"},
		{"clock went back", func(w *World) {
			w.inv.last = w.q.Now() + time.Second
		}, (*World).checkStep, InvClockMonotonic, "clock"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			w := checkedWorld(t, invariantInput())
			w.inv.event = "test"
			tc.corrupt(w)
			require.True(t, tc.check(w, w.inv), "the checker missed it")
			err := w.Violation()
			require.ErrorIs(t, err, ErrInvariant)
			var ie *InvariantError
			require.True(t, errors.As(err, &ie))
			assert.Equal(t, tc.invariant, ie.Invariant)
			assert.Contains(t, ie.Object, tc.object)
			assert.Equal(t, w.q.Now(), ie.At)
			assert.Contains(t, err.Error(), "invariant "+tc.invariant+" violated at +00d00:40:00.000 after event test: ")
		})
	}
}

// someRun is a run the checker still sees: the last one kept, else a finished one added (finished
// runs are retired).
func someRun(w *World) *cronRun {
	for i := len(w.cron.runs) - 1; i >= 0; i-- {
		if r := w.cron.runs[i]; r != nil {
			return r
		}
	}
	return w.cron.addRun(&cronRun{cj: w.cron.cjs[0], name: "tick-added", pod: -1, done: true})
}

func busyNode(w *World) *cluster.Node {
	for _, n := range w.st.Nodes {
		if len(n.Pods) > 0 {
			return n
		}
	}
	panic("no node has pods")
}

// A violation inside a run stops it at the event that caused it.
func TestViolationStopsTheRun(t *testing.T) {
	in := invariantInput()
	var w *World
	// OnRun is called from inside the app-start event: corrupt the world there
	runs := 0
	opts := Options{CheckInvariants: true, OnRun: func(rr RunRecord) {
		runs++
		if runs == 2 {
			cj := w.cron.cjs[0]
			cj.active = append(cj.active, cj.active...)
		}
	}}
	var err error
	w, err = New(in, 3, opts)
	require.NoError(t, err)
	w.Run()
	var ie *InvariantError
	require.True(t, errors.As(w.Violation(), &ie), "got %v", w.Violation())
	assert.Equal(t, InvJobOwned, ie.Invariant)
	assert.Regexp(t, `^app-start\[\d+\]$`, ie.Event)
	assert.Contains(t, ie.Object, "job/tick-")
	assert.Less(t, w.q.Now(), in.Duration, "the run stopped at the violation")
	assert.Equal(t, 2, runs)
}
