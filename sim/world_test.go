package sim

import (
	"bytes"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/util/validation/field"

	"github.com/faultline-dev/faultline/sim/cluster"
	"github.com/faultline-dev/faultline/sim/trace"
)

var t0 = time.Date(2024, 1, 1, 0, 0, 0, 0, time.UTC)

func deployment(name string, replicas int32, cpuRequest string) *appsv1.Deployment {
	lbl := map[string]string{"app": name}
	return &appsv1.Deployment{
		ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: "default"},
		Spec: appsv1.DeploymentSpec{
			Replicas: &replicas,
			Selector: &metav1.LabelSelector{MatchLabels: lbl},
			Template: corev1.PodTemplateSpec{
				ObjectMeta: metav1.ObjectMeta{Labels: lbl},
				Spec: corev1.PodSpec{Containers: []corev1.Container{{
					Name:      name,
					Resources: corev1.ResourceRequirements{Requests: corev1.ResourceList{corev1.ResourceCPU: resource.MustParse(cpuRequest)}},
				}}},
			},
		},
	}
}

func input(nodes int, objs ...runtime.Object) *Input {
	return &Input{
		Name:     "test",
		Start:    t0,
		Duration: 2 * time.Hour,
		Pools: []NodePool{{Name: "n", Count: nodes, Capacity: corev1.ResourceList{
			corev1.ResourceCPU: resource.MustParse("4"), corev1.ResourceMemory: resource.MustParse("16Gi")}}},
		Objects: objs,
		Models:  DefaultModels(),
	}
}

// eventsOf runs in and returns the result, the typed trace events and the world.
func eventsOf(t *testing.T, in *Input, seed uint64) (Result, []trace.Stamped, *World) {
	t.Helper()
	var rec trace.Recorder
	w, err := New(in, seed, Options{Events: &rec})
	require.NoError(t, err)
	r := w.Run()
	return r, rec.Events, w
}

// firstAt returns the virtual time of the first event of type E that matches (any, with a nil
// match); the test fails when there is none.
func firstAt[E trace.Event](t *testing.T, evs []trace.Stamped, match func(E) bool) time.Duration {
	t.Helper()
	return firstAfter(t, evs, -1, match)
}

// firstAfter is firstAt for events after the given time.
func firstAfter[E trace.Event](t *testing.T, evs []trace.Stamped, after time.Duration, match func(E) bool) time.Duration {
	t.Helper()
	for _, at := range trace.Times(evs, match) {
		if at > after {
			return at
		}
	}
	var zero E
	if after < 0 {
		t.Fatalf("no %s event that matches", zero.Kind())
	}
	t.Fatalf("no %s event after %s that matches", zero.Kind(), FormatVirtual(after))
	return 0
}

// A stopped node is seen NotReady after the grace period (at a monitor pass), its pods are
// evicted after the 300 s default toleration and replaced on the other nodes; when it boots,
// the taints go and the Terminating pods are released.
func TestNodeFailureTimeline(t *testing.T) {
	in := input(2, deployment("web", 2, "100m"))
	in.Faults = []Fault{{Name: "stop", Action: NodeStop, At: 10 * time.Minute, Duration: 30 * time.Minute, Nodes: []string{"n-1"}}}
	r, evs, w := eventsOf(t, in, 1)

	stop := 10 * time.Minute
	notReady := firstAt(t, evs, func(e trace.NodeNotReady) bool { return e.Node == "n-1" })
	lc := in.Models.NodeLifecycle
	assert.Greater(t, notReady-stop, lc.GracePeriod.Duration-lc.StatusUpdateFrequency.Duration, "NotReady before the grace period ran out")
	assert.LessOrEqual(t, notReady-stop, lc.GracePeriod.Duration+lc.MonitorPeriod.Duration, "NotReady later than grace + one monitor period")
	assert.Zero(t, notReady%lc.MonitorPeriod.Duration, "NotReady is decided at a monitor pass")

	evicted := firstAt(t, evs, func(e trace.PodDeleted) bool { return e.Reason == "taint eviction" })
	assert.Equal(t, 300*time.Second, evicted-notReady, "eviction after the default toleration")
	replaced := firstAfter(t, evs, 0, func(e trace.PodBound) bool { return e.Node == "n-2" })
	assert.Equal(t, evicted+in.Models.Scheduler.Latency.Duration, replaced, "the replacement is scheduled one cycle after the eviction")

	boot := firstAt(t, evs, func(e trace.NodeBooted) bool { return e.Node == "n-1" })
	assert.Equal(t, stop+30*time.Minute, boot)
	ready := firstAt(t, evs, func(e trace.NodeReady) bool { return e.Node == "n-1" })
	assert.Less(t, ready-boot, lc.StatusUpdateFrequency.Duration+time.Nanosecond)

	for _, n := range w.State().Nodes {
		assert.Empty(t, n.Taints, "%s keeps taints after recovery", n.Name)
		for _, p := range n.Pods {
			assert.NotEqual(t, cluster.PodTerminating, p.Phase, "terminating pod %s not released", p.Name)
		}
	}
	ev, _ := r.Get("evictions")
	assert.Equal(t, 1.0, ev, "one of the two replicas was on n-1")
}

// A node back before the controller noticed keeps its pods: nothing is evicted.
func TestShortOutageNoEviction(t *testing.T) {
	in := input(2, deployment("web", 2, "100m"))
	in.Faults = []Fault{{Name: "blip", Action: NodeStop, At: 10 * time.Minute, Duration: 20 * time.Second, Nodes: []string{"n-1"}}}
	r, evs, _ := eventsOf(t, in, 1)
	assert.Empty(t, trace.Of[trace.NodeNotReady](evs))
	ev, _ := r.Get("evictions")
	assert.Zero(t, ev)
}

// When every node is down the controller enters full disruption and evicts nothing.
func TestFullDisruptionStopsEvictions(t *testing.T) {
	in := input(2, deployment("web", 2, "100m"))
	in.Load = []Load{{Target: "deployment/web", RequestsPerSecond: 10, CPUPerReplica: resource.MustParse("100m")}}
	in.Faults = []Fault{{Name: "all", Action: NodeStop, At: 10 * time.Minute, Duration: 20 * time.Minute, Nodes: []string{"n-1", "n-2"}}}
	r, evs, _ := eventsOf(t, in, 1)
	assert.NotEmpty(t, trace.Of[trace.FullDisruption](evs))
	ev, _ := r.Get("evictions")
	assert.Zero(t, ev)
	out, _ := r.Get("full-outage-minutes")
	assert.InDelta(t, 20, out, 1.5, "every request fails while both nodes are down (plus the time to ready)")
}

// CPU contention: the node grants CPU in proportion to requests (shares), capped by demand.
func TestWaterFillByShares(t *testing.T) {
	big, small := deployment("big", 1, "3"), deployment("small", 1, "1")
	in := input(1, big, small)
	in.Load = []Load{
		{Target: "deployment/big", CPUPerReplica: resource.MustParse("4")},
		{Target: "deployment/small", CPUPerReplica: resource.MustParse("4")},
	}
	in.Models.KernelPanic.Enabled = new(bool)
	w, err := New(in, 1, Options{})
	require.NoError(t, err)
	w.Run()
	served := map[string]float64{}
	for _, ps := range w.pods {
		served[ps.wl.name] = ps.served
	}
	// 4 cores, demand 4+4: shares 3:1 give big 3 cores (75 % of its 4) and small 1 core (25 %)
	assert.InDelta(t, 0.75, served["big"], 1e-9)
	assert.InDelta(t, 0.25, served["small"], 1e-9)

	// what a capped pod does not use goes to the others
	in.Load[1].CPUPerReplica = resource.MustParse("500m")
	w, err = New(in, 1, Options{})
	require.NoError(t, err)
	w.Run()
	for _, ps := range w.pods {
		served[ps.wl.name] = ps.served
	}
	assert.InDelta(t, 1.0, served["small"], 1e-9)
	assert.InDelta(t, 3.5/4, served["big"], 1e-9)
}

// A kernel panic can only happen on a saturated node, and CPU limits keep a node below
// saturation where requests would not.
func TestPanicNeedsSaturation(t *testing.T) {
	hog := deployment("hog", 1, "100m")
	in := input(1, hog)
	in.Duration = 24 * time.Hour
	in.Load = []Load{{Target: "deployment/hog", CPUPerReplica: resource.MustParse("3900m")}}
	r, _, _ := eventsOf(t, in, 1)
	p, _ := r.Get("node-panics")
	assert.Zero(t, p, "3.9 of 4 cores is below the 0.98 threshold")

	in.Load[0].CPUPerReplica = resource.MustParse("5")
	r, evs, _ := eventsOf(t, in, 1)
	p, _ = r.Get("node-panics")
	assert.Positive(t, p, "a node saturated for a day panics")
	assert.NotEmpty(t, trace.Of[trace.NodeSaturated](evs))

	hog.Spec.Template.Spec.Containers[0].Resources.Limits = corev1.ResourceList{corev1.ResourceCPU: resource.MustParse("3")}
	r, _, _ = eventsOf(t, in, 1)
	p, _ = r.Get("node-panics")
	assert.Zero(t, p, "a CPU limit caps real use below saturation")
}

// Availability counts requests that reach dead pods before the controller removes them.
func TestAvailabilityAccountsDeadEndpoints(t *testing.T) {
	in := input(2, deployment("web", 2, "100m"))
	in.Load = []Load{{Target: "deployment/web", RequestsPerSecond: 100, CPUPerReplica: resource.MustParse("100m")}}
	in.Faults = []Fault{{Name: "stop", Action: NodeStop, At: 10 * time.Minute, Duration: time.Hour, Nodes: []string{"n-1"}}}
	r, evs, _ := eventsOf(t, in, 1)
	notReady := firstAt[trace.NodeNotReady](t, evs, nil)
	lost := 0.5 * (notReady - 10*time.Minute).Seconds() // half the traffic went to n-1 until then
	ratio, _ := r.Get("request-success-ratio")
	assert.InDelta(t, 1-lost/in.Duration.Seconds(), ratio, 1e-9)
}

func TestPodFaults(t *testing.T) {
	in := input(2, deployment("web", 4, "100m"))
	in.Load = []Load{{Target: "deployment/web", RequestsPerSecond: 100, CPUPerReplica: resource.MustParse("100m")}}
	in.Faults = []Fault{
		{Name: "kill", Action: PodKill, At: 10 * time.Minute, Pods: PodSelector{Mode: ModeFixed, Value: "2"}},
		{Name: "stress", Action: CPUStress, At: 20 * time.Minute, Duration: 10 * time.Minute, CPU: 1, Pods: PodSelector{Mode: ModeAll}},
	}
	_, evs, w := eventsOf(t, in, 1)
	assert.Len(t, trace.Times(evs, func(e trace.PodDeleted) bool { return e.Reason == "fault kill" }), 2)
	live := 0
	for _, p := range w.State().Pods {
		if p.Phase == cluster.PodRunning {
			live++
		}
	}
	assert.Equal(t, 4, live, "killed pods were replaced")
	assert.Len(t, trace.Times(evs, func(e trace.FaultEnded) bool { return e.Fault == "stress" }), 1)
}

func TestInputErrors(t *testing.T) {
	cases := map[string]struct {
		mutate func(*Input)
		field  string
	}{
		"load target missing": {func(in *Input) { in.Load = []Load{{Target: "deployment/nope"}} }, "load[0].target"},
		"load target form":    {func(in *Input) { in.Load = []Load{{Target: "web"}} }, "load[0].target"},
		"fault node":          {func(in *Input) { in.Faults = []Fault{{Name: "x", Action: NodeStop, Nodes: []string{"zz"}}} }, "faults[0].nodes[0]"},
		"fault mode":          {func(in *Input) { in.Faults = []Fault{{Name: "x", Action: PodKill, Pods: PodSelector{Mode: "some"}}} }, "faults[0].pods"},
		"dependency cycle": {func(in *Input) {
			in.Objects = append(in.Objects, deployment("b", 1, "1m"))
			in.Load = []Load{{Target: "deployment/web", DependsOn: []string{"deployment/b"}}, {Target: "deployment/b", DependsOn: []string{"deployment/web"}}}
		}, "load[1].dependsOn[0]"},
		"bad model":    {func(in *Input) { in.Models.KernelPanic.SaturationAbove = 2 }, "models.kernelPanic.saturationAbove"},
		"no nodes":     {func(in *Input) { in.Pools = nil }, "pools"},
		"no duration":  {func(in *Input) { in.Duration = 0 }, "duration"},
		"unknown kind": {func(in *Input) { in.Objects = append(in.Objects, &corev1.Secret{}) }, "objects[1].kind"},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			in := input(1, deployment("web", 1, "1m"))
			tc.mutate(in)
			_, err := New(in, 1, Options{})
			errs := inputErrors(t, err)
			require.Len(t, errs, 1, "%v", err)
			assert.Equal(t, tc.field, errs[0].Field)
		})
	}
}

// Every problem of an input is reported at once, in input order, and no world is built.
func TestInputErrorsAllAtOnce(t *testing.T) {
	in := input(1, deployment("web", 1, "1m"))
	in.Duration = -time.Hour
	in.Models.Scheduler.Latency.Duration = -1
	in.Load = []Load{{Target: "deployment/nope"}, {Target: "deployment/web", OnSIGTERM: "ignore"}}
	in.Faults = []Fault{{Name: "x", Action: NodeStop, Nodes: []string{"zz", "n-1"}}, {Name: "y", Action: "melt"}}
	w, err := New(in, 1, Options{})
	assert.Nil(t, w)
	var fields []string
	for _, e := range inputErrors(t, err) {
		fields = append(fields, e.Field)
	}
	assert.Equal(t, []string{"models.scheduler.latency", "duration", "load[0].target", "load[1].onSIGTERM", "faults[0].nodes[0]", "faults[0].at", "faults[1].action", "faults[1].at"}, fields)
	assert.Equal(t, fields, func() []string {
		var out []string
		for _, e := range Validate(in) {
			out = append(out, e.Field)
		}
		return out
	}(), "New reports what Validate finds")
}

func TestProfile(t *testing.T) {
	p := &Profile{Hourly: make([]float64, 24), Weekend: 0.5}
	for i := range p.Hourly {
		p.Hourly[i] = float64(i)
	}
	assert.Equal(t, 10.0, p.At(time.Date(2024, 1, 1, 10, 30, 0, 0, time.UTC)), "Monday 10:30")
	assert.Equal(t, 5.0, p.At(time.Date(2024, 1, 6, 10, 0, 0, 0, time.UTC)), "Saturday halves")
	assert.Equal(t, 1.0, (*Profile)(nil).At(t0))
}

// textTrace runs in and returns its text log.
func textTrace(t *testing.T, in *Input, seed uint64) string {
	t.Helper()
	var buf bytes.Buffer
	w, err := New(in, seed, Options{Trace: &buf})
	require.NoError(t, err)
	w.Run()
	return buf.String()
}

// inputErrors is the list of problems New reported.
func inputErrors(t *testing.T, err error) field.ErrorList {
	t.Helper()
	var ie *InputError
	require.ErrorAs(t, err, &ie)
	require.ErrorIs(t, err, ErrInput)
	return ie.Errs
}
