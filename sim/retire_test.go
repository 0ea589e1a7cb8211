package sim

import (
	"fmt"
	"testing"
	"time"

	batchv1 "k8s.io/api/batch/v1"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/runtime"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// retireInput is three hours of 20 CronJobs every minute, some failing, some replacing their
// running Job, with pod kills and a controller-manager outage that hit Job pods and runs in flight.
func retireInput() *Input {
	var objs []runtime.Object
	for i := range 20 {
		objs = append(objs, cronJobObj(fmt.Sprintf("cj-%d", i), "* * * * *", func(cj *batchv1.CronJob) {
			cj.Annotations[AnnFailureRatio] = "0.2"
			cj.Annotations[AnnRunTime] = []string{"20s", "90s"}[i%2]
			if i%3 == 0 {
				cj.Spec.ConcurrencyPolicy = batchv1.ReplaceConcurrent
			}
		}))
	}
	in := cronInput("v2", 3*time.Hour, objs...)
	kill := func(at time.Duration, mode SelectMode, v string) Fault {
		return Fault{Name: "PodChaos/kill", Action: PodKill, At: at,
			Pods: PodSelector{Namespaces: []string{"default"}, Labels: labels.Everything(), Mode: mode, Value: v}}
	}
	in.Faults = []Fault{kill(time.Hour, ModeFixed, "3"), kill(2*time.Hour+30*time.Second, ModeOne, ""), outage(150*time.Minute, 10*time.Minute)}
	return in
}

// Retiring finished runs and reusing the slots of gone Job pods changes nothing a run reports,
// faults that pick Job pods by creation order included, and keeps memory to what is in flight.
func TestRetirementChangesNothing(t *testing.T) {
	run := func(retain bool) (*World, Result) {
		w, err := New(retireInput(), 5, Options{CheckInvariants: true})
		require.NoError(t, err)
		w.retain = retain
		r := w.Run()
		require.NoError(t, w.Violation())
		return w, r
	}
	kept, want := run(true)
	w, got := run(false)
	assert.Equal(t, want.String(), got.String())
	assert.Equal(t, want.Events, got.Events)
	started := get(t, got, "cron-runs-started")
	require.Greater(t, started, 2500.0)
	assert.Greater(t, len(kept.st.Pods), 2500, "kept: a pod per attempt")
	assert.Less(t, len(w.st.Pods), 400, "pods in memory follow the pods in flight")
	assert.Less(t, len(w.cron.runs), 400, "runs in memory follow the runs in flight")
	assert.True(t, w.jobPods.reuse)
}
