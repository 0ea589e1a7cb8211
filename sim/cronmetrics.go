package sim

import (
	"bytes"
	"slices"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/common/expfmt"
)

// cronMetrics are Lyft's cron platform metrics (INCIDENTS §4) as Prometheus families, registered
// on a registry of the run's own (never the global one), so that runs in parallel do not share
// them. Values are aggregated over all CronJobs: a per-CronJob label would multiply the families
// by the CronJob count for no indicator that needs it.
type cronMetrics struct {
	reg         *prometheus.Registry
	started     prometheus.Counter
	success     prometheus.Counter
	failure     prometheus.Counter
	attemptFail prometheus.Counter
	invoke      prometheus.Counter
	skip        [3]prometheus.Counter // by reason
	startDelay  prometheus.Histogram
	appDuration prometheus.Histogram
}

func newCronMetrics() *cronMetrics {
	m := &cronMetrics{reg: prometheus.NewRegistry()}
	m.started = prometheus.NewCounter(prometheus.CounterOpts{Name: "cron_started_total", Help: "Cron runs whose app container started (T2 recorded)."})
	m.success = prometheus.NewCounter(prometheus.CounterOpts{Name: "cron_success_total", Help: "Cron runs whose Job completed."})
	m.failure = prometheus.NewCounter(prometheus.CounterOpts{Name: "cron_failure_total", Help: "Cron runs whose Job failed (backoffLimit or activeDeadlineSeconds)."})
	m.attemptFail = prometheus.NewCounter(prometheus.CounterOpts{Name: "cron_attempt_failure_total", Help: "Failed pods of cron Jobs, retried ones included (the noise a per-attempt wrapper emits; kube_job_status_failed counts only final failures)."})
	dec := prometheus.NewCounterVec(prometheus.CounterOpts{Name: "cron_scheduling_decision_total", Help: "Scheduling decisions per scheduled time: invoke, or skip with a reason."}, []string{"decision", "reason"})
	m.invoke = dec.WithLabelValues("invoke", "")
	for i, r := range reasonNames {
		m.skip[i] = dec.WithLabelValues("skip", r)
	}
	m.startDelay = prometheus.NewHistogram(prometheus.HistogramOpts{
		Name: "cron_start_delay_seconds", Help: "Start delay T2 - T1: scheduled time to the app container running.",
		Buckets: []float64{0.5, 1, 2, 5, 10, 15, 20, 30, 45, 60, 120, 300, 600, 1800},
	})
	m.appDuration = prometheus.NewHistogram(prometheus.HistogramOpts{
		Name: "cron_app_container_duration_seconds", Help: "Run time of the app container.",
		Buckets: prometheus.ExponentialBuckets(1, 2, 14),
	})
	m.reg.MustRegister(m.started, m.success, m.failure, m.attemptFail, dec, m.startDelay, m.appDuration)
	return m
}

// openMetrics writes the families as OpenMetrics text (without _created lines, which would carry
// wall-clock time).
func (m *cronMetrics) openMetrics() []byte {
	mfs, err := m.reg.Gather()
	if err != nil {
		panic("sim: gather cron metrics: " + err.Error())
	}
	var b bytes.Buffer
	enc := expfmt.NewEncoder(&b, expfmt.NewFormat(expfmt.TypeOpenMetrics))
	for _, mf := range mfs {
		if err := enc.Encode(mf); err != nil {
			panic("sim: encode cron metrics: " + err.Error())
		}
	}
	if c, ok := enc.(expfmt.Closer); ok {
		_ = c.Close()
	}
	return b.Bytes()
}

// quantile is the q-quantile of xs (nearest rank); xs is sorted in place.
func quantile(xs []float32, q float64) float64 {
	if len(xs) == 0 {
		return 0
	}
	slices.Sort(xs)
	i := int(q*float64(len(xs))+0.999999) - 1
	i = max(0, min(i, len(xs)-1))
	return float64(xs[i])
}

// cronColumns are the cron counters sampled into the run's Series (cumulative, as Prometheus
// counters are; a rate is the difference between rows).
var cronColumns = []string{"cron/started", "cron/success", "cron/failure", "cron/invoke",
	"cron/skip/concurrencyPolicy", "cron/skip/missedDeadline", "cron/skip/error", "cron/throttle-seconds"}

func (c *cronWorld) sampleRow(row []float64) []float64 {
	return append(row, float64(c.started), float64(c.ok), float64(c.fail), float64(c.created),
		float64(c.skips[0]), float64(c.skips[1]), float64(c.skips[2]), c.cronClient.throttled.Seconds())
}
