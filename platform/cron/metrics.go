package cron

import (
	"github.com/prometheus/client_golang/prometheus"
)

// Metrics are Lyft's cron platform metrics (INCIDENTS §4) as Prometheus families, with the family
// names, labels and buckets the simulator registers (sim/cronmetrics.go): a real run's /metrics
// and a simulated run's metrics file can be read by the same dashboards and alerts
// (rate(cron_scheduling_decision_total{decision="skip"}[5m]) > 0, rate(cron_failure_total[5m]) > 0).
type Metrics struct {
	Started     prometheus.Counter
	Success     prometheus.Counter
	Failure     prometheus.Counter
	AttemptFail prometheus.Counter
	Invoke      prometheus.Counter
	skip        map[string]prometheus.Counter
	StartDelay  prometheus.Histogram
	AppDuration prometheus.Histogram
}

// NewMetrics creates the families and registers them on reg.
func NewMetrics(reg prometheus.Registerer) *Metrics {
	m := &Metrics{skip: map[string]prometheus.Counter{}}
	m.Started = prometheus.NewCounter(prometheus.CounterOpts{Name: "cron_started_total", Help: "Cron runs whose app container started (T2 recorded)."})
	m.Success = prometheus.NewCounter(prometheus.CounterOpts{Name: "cron_success_total", Help: "Cron runs whose Job completed."})
	m.Failure = prometheus.NewCounter(prometheus.CounterOpts{Name: "cron_failure_total", Help: "Cron runs whose Job failed (backoffLimit or activeDeadlineSeconds)."})
	m.AttemptFail = prometheus.NewCounter(prometheus.CounterOpts{Name: "cron_attempt_failure_total", Help: "Failed pods of cron Jobs, retried ones included."})
	dec := prometheus.NewCounterVec(prometheus.CounterOpts{Name: "cron_scheduling_decision_total", Help: "Scheduling decisions per scheduled time: invoke, or skip with a reason."}, []string{"decision", "reason"})
	m.Invoke = dec.WithLabelValues("invoke", "")
	for _, r := range []string{ReasonConcurrencyPolicy, ReasonMissedDeadline, ReasonError} {
		m.skip[r] = dec.WithLabelValues("skip", r)
	}
	m.StartDelay = prometheus.NewHistogram(prometheus.HistogramOpts{
		Name: "cron_start_delay_seconds", Help: "Start delay T2 - T1: scheduled time to the app container running.",
		Buckets: []float64{0.5, 1, 2, 5, 10, 15, 20, 30, 45, 60, 120, 300, 600, 1800},
	})
	m.AppDuration = prometheus.NewHistogram(prometheus.HistogramOpts{
		Name: "cron_app_container_duration_seconds", Help: "Run time of the app container.",
		Buckets: prometheus.ExponentialBuckets(1, 2, 14),
	})
	reg.MustRegister(m.Started, m.Success, m.Failure, m.AttemptFail, dec, m.StartDelay, m.AppDuration)
	return m
}

// Skip counts n skips with reason.
func (m *Metrics) Skip(reason string, n int) { m.skip[reason].Add(float64(n)) }

// SkipCounter is the skip counter for reason (for tests and dashboards).
func (m *Metrics) SkipCounter(reason string) prometheus.Counter { return m.skip[reason] }
