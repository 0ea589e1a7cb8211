package realrun_test

import (
	"errors"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/client-go/kubernetes"
	"k8s.io/utils/ptr"

	"github.com/faultline-dev/faultline/clusters/local"
	"github.com/faultline-dev/faultline/clusters/realrun"
	"github.com/faultline-dev/faultline/sim"
)

// webInput is a small world: one pool, a Deployment of replicas on it, the given faults.
func webInput(name string, nodes int, replicas int32, d time.Duration, faults ...sim.Fault) *sim.Input {
	m := sim.DefaultModels()
	m.NodeLifecycle.GracePeriod = metav1.Duration{Duration: 20 * time.Second}
	m.NodeLifecycle.DefaultTolerationSeconds = 5
	return &sim.Input{
		Name: name, Duration: d, Models: m,
		Pools: []sim.NodePool{{Name: "pool", Count: nodes, Zones: []string{"a"},
			Capacity: corev1.ResourceList{corev1.ResourceCPU: resource.MustParse("4"), corev1.ResourceMemory: resource.MustParse("16Gi")}}},
		Objects: []runtime.Object{&appsv1.Deployment{
			TypeMeta:   metav1.TypeMeta{APIVersion: "apps/v1", Kind: "Deployment"},
			ObjectMeta: metav1.ObjectMeta{Name: "web"},
			Spec: appsv1.DeploymentSpec{
				Replicas: ptr.To(replicas),
				Selector: &metav1.LabelSelector{MatchLabels: map[string]string{"app": "web"}},
				Template: corev1.PodTemplateSpec{
					ObjectMeta: metav1.ObjectMeta{Labels: map[string]string{"app": "web"}},
					Spec: corev1.PodSpec{Containers: []corev1.Container{{Name: "web", Image: "example.com/web:1",
						Resources: corev1.ResourceRequirements{Requests: corev1.ResourceList{corev1.ResourceCPU: resource.MustParse("100m")}}}}},
				},
			},
		}},
		Faults: faults,
	}
}

// kill -9 of the API server in the middle of a run: the run stops within seconds and is invalid,
// saying so, instead of going on to a scored result.
func TestRunWithKilledAPIServerIsInvalid(t *testing.T) {
	requireE2E(t)
	t.Parallel()
	in := webInput("killed-apiserver", 2, 2, 60*time.Second,
		sim.Fault{Name: "GCPChaos/stop-pool-1", Action: sim.NodeStop, At: 20 * time.Second, Duration: 10 * time.Second, Nodes: []string{"pool-1"}})
	cl := acquire(t, in)
	cs, err := kubernetes.NewForConfig(cl.Config)
	require.NoError(t, err)

	type outcome struct {
		rep *realrun.Report
		err error
	}
	done := make(chan outcome, 1)
	go func() {
		_, rep, err := realrun.Run(t.Context(), cl.Config, in, realrun.Options{Seed: 1, ControlPlane: cl.ControlPlane})
		done <- outcome{rep, err}
	}()
	require.Eventually(t, func() bool {
		d, err := cs.AppsV1().Deployments("default").Get(t.Context(), "web", metav1.GetOptions{})
		return err == nil && d.Status.ReadyReplicas == 2
	}, time.Minute, 200*time.Millisecond, "the run never got going")
	st, err := provider.Status(t.Context(), cl.Name)
	require.NoError(t, err)
	for _, p := range st.Processes {
		if p.Name == local.APIServer {
			require.NoError(t, syscall.Kill(p.PID, syscall.SIGKILL))
		}
	}
	killed := time.Now()
	var o outcome
	select {
	case o = <-done:
	case <-time.After(30 * time.Second):
		t.Fatal("the run went on after its API server was killed")
	}
	t.Logf("run ended %s after the kill: %v", time.Since(killed).Round(time.Millisecond), o.err)
	var inv *realrun.InvalidError
	require.True(t, errors.As(o.err, &inv), "expected an invalid run, got %v", o.err)
	assert.Contains(t, inv.Error(), "kube-apiserver")
	require.NotNil(t, o.rep)
	assert.NotEmpty(t, o.rep.Invalid)
	assert.Less(t, time.Since(killed), 10*time.Second)
}
