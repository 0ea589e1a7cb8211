// Package cronmetrics defines Lyft's cron platform metric families (scenarios/cron-missed-start-storm/README.md) once, for both
// worlds: the simulator (sim registers them on each run's own registry) and the platform's cron
// controller against a real cluster (platform/cron serves them on /metrics). The names, labels,
// help texts and buckets are the same by construction, so one dashboard and one alert
// (rate(cron_scheduling_decision_total{decision="skip"}[5m]) > 0, rate(cron_failure_total[5m]) > 0)
// read a simulated run's metrics file and a real controller's /metrics alike.
//
// Values are aggregated over all CronJobs: a per-CronJob label would multiply the families by the
// CronJob count for no indicator that needs it.
package cronmetrics

import "github.com/prometheus/client_golang/prometheus"

// The reasons of a skip decision (the reason label of cron_scheduling_decision_total).
const (
	ReasonConcurrencyPolicy = "concurrencyPolicy" // Forbid with a run still active
	ReasonMissedDeadline    = "missedDeadline"    // startingDeadlineSeconds passed
	ReasonError             = "error"             // the Job could not be created
)

// Reasons are the skip reasons in the order of Families.Skip.
var Reasons = [...]string{ReasonConcurrencyPolicy, ReasonMissedDeadline, ReasonError}

// Families are the metric families, registered by New.
type Families struct {
	Started     prometheus.Counter // cron_started_total
	Success     prometheus.Counter // cron_success_total
	Failure     prometheus.Counter // cron_failure_total
	AttemptFail prometheus.Counter // cron_attempt_failure_total
	Invoke      prometheus.Counter // cron_scheduling_decision_total{decision="invoke"}
	// Skip are cron_scheduling_decision_total{decision="skip"} by reason, in the order of Reasons.
	Skip        [len(Reasons)]prometheus.Counter
	StartDelay  prometheus.Histogram // cron_start_delay_seconds
	AppDuration prometheus.Histogram // cron_app_container_duration_seconds
}

// StartDelayBuckets are cron_start_delay_seconds' buckets: fine below a minute, where a healthy
// controller's delays lie, coarse up to the half hour a stalled one reaches.
var StartDelayBuckets = []float64{0.5, 1, 2, 5, 10, 15, 20, 30, 45, 60, 120, 300, 600, 1800}

// New creates the families and registers them on reg.
func New(reg prometheus.Registerer) *Families {
	f := &Families{}
	f.Started = prometheus.NewCounter(prometheus.CounterOpts{Name: "cron_started_total", Help: "Cron runs whose app container started (T2 recorded)."})
	f.Success = prometheus.NewCounter(prometheus.CounterOpts{Name: "cron_success_total", Help: "Cron runs whose Job completed."})
	f.Failure = prometheus.NewCounter(prometheus.CounterOpts{Name: "cron_failure_total", Help: "Cron runs whose Job failed (backoffLimit or activeDeadlineSeconds)."})
	f.AttemptFail = prometheus.NewCounter(prometheus.CounterOpts{Name: "cron_attempt_failure_total", Help: "Failed pods of cron Jobs, retried ones included (the noise a per-attempt wrapper emits; kube_job_status_failed counts only final failures)."})
	dec := prometheus.NewCounterVec(prometheus.CounterOpts{Name: "cron_scheduling_decision_total", Help: "Scheduling decisions per scheduled time: invoke, or skip with a reason."}, []string{"decision", "reason"})
	f.Invoke = dec.WithLabelValues("invoke", "")
	for i, r := range Reasons {
		f.Skip[i] = dec.WithLabelValues("skip", r)
	}
	f.StartDelay = prometheus.NewHistogram(prometheus.HistogramOpts{
		Name: "cron_start_delay_seconds", Help: "Start delay T2 - T1: scheduled time to the app container running.",
		Buckets: StartDelayBuckets,
	})
	f.AppDuration = prometheus.NewHistogram(prometheus.HistogramOpts{
		Name: "cron_app_container_duration_seconds", Help: "Run time of the app container.",
		Buckets: prometheus.ExponentialBuckets(1, 2, 14),
	})
	reg.MustRegister(f.Started, f.Success, f.Failure, f.AttemptFail, dec, f.StartDelay, f.AppDuration)
	return f
}

// SkipFor is the skip counter for reason, one of Reasons; nil for another.
func (f *Families) SkipFor(reason string) prometheus.Counter {
	for i, r := range Reasons {
		if r == reason {
			return f.Skip[i]
		}
	}
	return nil
}
