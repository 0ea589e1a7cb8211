package simadapter_test

import (
	"context"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	"k8s.io/apimachinery/pkg/runtime"

	"github.com/faultline-dev/faultline/platform"
	"github.com/faultline-dev/faultline/platform/cron"
	"github.com/faultline-dev/faultline/platform/cron/crontest"
	"github.com/faultline-dev/faultline/platform/simadapter"
	"github.com/faultline-dev/faultline/sim"
)

// simEnv runs a decision case inside a World: one node, the case's CronJob, the platform as a
// manual extension whose steps are events at their virtual instants.
type simEnv struct{}

func (simEnv) RunCase(t *testing.T, c crontest.Case, cj *batchv1.CronJob) {
	cfg := c.Config
	last := time.Duration(0)
	for _, s := range c.Steps {
		last = max(last, s.At)
	}
	ran := 0
	in := &sim.Input{
		Name:     "crontest",
		Start:    crontest.Start,
		Duration: last + time.Minute,
		Pools: []sim.NodePool{{Name: "n", Count: 1, Capacity: corev1.ResourceList{
			corev1.ResourceCPU: resource.MustParse("4"), corev1.ResourceMemory: resource.MustParse("16Gi")}}},
		Objects: []runtime.Object{cj},
		Models:  sim.DefaultModels(),
		Extensions: []sim.ExtensionFactory{simadapter.Manual(platform.Config{Cron: &cfg}, func(e *simadapter.Extension) {
			for _, s := range c.Steps {
				e.Clock().AfterFunc(s.At, func() {
					h := &crontest.Harness{T: t, Ctx: context.Background(), Ctrl: e.Controller(), Client: e.Client(),
						Metrics: e.Metrics(), Namespace: cj.Namespace, Name: cj.Name, Now: e.Clock().Now()}
					s.Do(h)
					ran++
				})
			}
		})},
	}
	w, err := sim.New(in, 1, sim.Options{})
	require.NoError(t, err)
	w.Run()
	require.Equal(t, len(c.Steps), ran, "every step ran")
}

// TestDecisionsInSimulation runs the decision table of package crontest inside the simulator;
// platform/kube's TestDecisionsOnLocalCluster runs the same table against a real control plane.
func TestDecisionsInSimulation(t *testing.T) {
	crontest.Run(t, simEnv{})
}

var _ = cron.AnnManaged
