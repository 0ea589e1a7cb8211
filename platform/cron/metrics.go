package cron

import (
	"github.com/prometheus/client_golang/prometheus"

	"github.com/faultline-dev/faultline/internal/cronmetrics"
)

// Metrics are Lyft's cron platform metrics (scenarios/cron-missed-start-storm/README.md): the families of package
// internal/cronmetrics, which the simulator registers too, so that a real run's /metrics and a
// simulated run's metrics file can be read by the same dashboards and alerts
// (rate(cron_scheduling_decision_total{decision="skip"}[5m]) > 0, rate(cron_failure_total[5m]) > 0).
type Metrics struct {
	*cronmetrics.Families
}

// NewMetrics creates the families and registers them on reg.
func NewMetrics(reg prometheus.Registerer) *Metrics {
	return &Metrics{Families: cronmetrics.New(reg)}
}

// Skip counts n skips with reason (one of the Reason constants).
func (m *Metrics) Skip(reason string, n int) { m.SkipCounter(reason).Add(float64(n)) }

// SkipCounter is the skip counter for reason (for tests and dashboards).
func (m *Metrics) SkipCounter(reason string) prometheus.Counter {
	c := m.SkipFor(reason)
	if c == nil {
		panic("cron: unknown skip reason " + reason)
	}
	return c
}
