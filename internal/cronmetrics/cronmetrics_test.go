package cronmetrics_test

import (
	"testing"

	"github.com/prometheus/client_golang/prometheus"
	dto "github.com/prometheus/client_model/go"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/faultline-dev/faultline/internal/cronmetrics"
)

func TestFamilies(t *testing.T) {
	reg := prometheus.NewRegistry()
	f := cronmetrics.New(reg)
	f.Invoke.Inc()
	f.SkipFor(cronmetrics.ReasonMissedDeadline).Add(3)
	f.StartDelay.Observe(7)

	mfs, err := reg.Gather()
	require.NoError(t, err)
	var names []string
	for _, mf := range mfs {
		names = append(names, mf.GetName())
	}
	assert.Equal(t, []string{"cron_app_container_duration_seconds", "cron_attempt_failure_total", "cron_failure_total",
		"cron_scheduling_decision_total", "cron_start_delay_seconds", "cron_started_total", "cron_success_total"}, names)

	assert.Equal(t, 3.0, value(t, f.Skip[1]), "Skip is indexed in the order of Reasons")
	assert.Equal(t, cronmetrics.ReasonMissedDeadline, cronmetrics.Reasons[1])
	assert.Nil(t, f.SkipFor("other"))

	// a second set of families on another registry is independent (one registry per run)
	g := cronmetrics.New(prometheus.NewRegistry())
	assert.Equal(t, 0.0, value(t, g.Invoke))
	assert.Panics(t, func() { cronmetrics.New(reg) }, "registering twice on one registry is a programming error")
}

func value(t *testing.T, c prometheus.Counter) float64 {
	t.Helper()
	var m dto.Metric
	require.NoError(t, c.Write(&m))
	return m.GetCounter().GetValue()
}
