package realrun

import (
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	batchv1 "k8s.io/api/batch/v1"
	"k8s.io/apimachinery/pkg/runtime"

	"github.com/faultline-dev/faultline/sim"
)

func TestStartInstant(t *testing.T) {
	at := func(s string) time.Time {
		v, err := time.Parse(time.RFC3339Nano, s)
		require.NoError(t, err)
		return v
	}
	cron := []runtime.Object{&batchv1.CronJob{}}
	for _, tc := range []struct {
		name         string
		start        string // spec.start
		objects      []runtime.Object
		apply, ended string
		want         string
		err          bool
	}{
		{name: "no CronJobs: t0 is when the objects are in", start: "2020-03-02T00:00:00Z", apply: "2026-01-01T10:00:07Z", ended: "2026-01-01T10:00:09Z", want: "2026-01-01T10:00:09Z"},
		{name: "CronJobs: the minute boundary before the apply", start: "2020-03-02T00:00:00Z", objects: cron, apply: "2026-01-01T10:00:07Z", ended: "2026-01-01T10:00:09Z", want: "2026-01-01T10:00:00Z"},
		{name: "in phase with a start at :30", start: "2020-03-02T00:00:30Z", objects: cron, apply: "2026-01-01T10:00:07Z", ended: "2026-01-01T10:00:09Z", want: "2026-01-01T09:59:30Z"},
		{name: "an apply across a boundary is an error", start: "2020-03-02T00:00:00Z", objects: cron, apply: "2026-01-01T10:00:55Z", ended: "2026-01-01T10:01:01Z", err: true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := &run{in: &sim.Input{Start: at(tc.start), Objects: tc.objects}}
			got, err := r.startInstant(at(tc.apply), at(tc.ended))
			if tc.err {
				assert.ErrorContains(t, err, "crossed a minute boundary")
				return
			}
			require.NoError(t, err)
			assert.Equal(t, at(tc.want), got)
		})
	}
}

func TestComponentArgsCarryTheModels(t *testing.T) {
	m := sim.DefaultModels()
	m.NodeLifecycle.DefaultTolerationSeconds = 20
	m.APIServer.ControllerManagerQPS = 20
	m.APIServer.ControllerManagerBurst = 30
	args := ComponentArgs(m)
	assert.Contains(t, args["kube-apiserver"], "--default-unreachable-toleration-seconds=20")
	assert.Contains(t, args["kube-controller-manager"], "--node-monitor-grace-period=40s")
	assert.Contains(t, args["kube-controller-manager"], "--kube-api-qps=20")
	assert.Contains(t, args["kube-controller-manager"], "--kube-api-burst=30")
	assert.Contains(t, args["kube-controller-manager"], "--concurrent-cron-job-syncs=5")
}
