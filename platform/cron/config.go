package cron

import (
	"fmt"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// Annotations and labels the platform reads and writes.
const (
	// AnnManaged "true" on a CronJob (with spec.suspend: true) hands it to the platform.
	AnnManaged = "platform.faultline.dev/cron"
	// AnnPaused "true" stops the platform from starting runs of a managed CronJob.
	AnnPaused = "platform.faultline.dev/paused"
	// AnnJitter on a CronJob overrides Config.MaxJitter ("0" turns jitter off).
	AnnJitter = "platform.faultline.dev/jitter"
	// AnnApp binds a CronJob to an app: the app container's image is resolved from the app when
	// each Job is created (scenarios/cron-deleted-images/README.md).
	AnnApp = "platform.faultline.dev/app"
	// AnnLastSchedule on a CronJob is the latest scheduled time the platform decided (run or skip),
	// RFC 3339; the platform's equivalent of status.lastScheduleTime.
	AnnLastSchedule = "platform.faultline.dev/last-schedule-time"
	// AnnScheduled (T1) on a Job: the scheduled time, jitter included, RFC 3339 with nanoseconds.
	AnnScheduled = "platform.faultline.dev/scheduled-at"
	// AnnUpstreamScheduled is upstream's annotation for the same instant (1.28+), so tools that
	// read it work with the platform's Jobs too.
	AnnUpstreamScheduled = "batch.kubernetes.io/cronjob-scheduled-timestamp"
	// AnnStarted (T2) on a Job: the first time its app container ran; later restarts are ignored.
	AnnStarted = "platform.faultline.dev/started-at"
	// AnnTrigger on a Job: "manual" for on-demand runs.
	AnnTrigger = "platform.faultline.dev/trigger"
	// LabelCronJob on a Job names its CronJob.
	LabelCronJob = "platform.faultline.dev/cronjob"
)

// Config tunes the scheduler. The zero value is valid: no jitter, defaults below.
type Config struct {
	// MaxJitter bounds the deterministic schedule offset of every managed CronJob (0: none). The
	// offset is further bounded by the schedule's shortest gap, so runs keep their order.
	MaxJitter metav1.Duration `json:"maxJitter,omitempty"`
	// QPS and Burst are the platform's API client rate limits (default 50 and 100).
	QPS   float64 `json:"qps,omitempty"`
	Burst int     `json:"burst,omitempty"`
	// Workers is how many CronJobs the real adapter syncs in parallel (default 5).
	Workers int `json:"workers,omitempty"`
}

// Defaults for Config's zero fields.
const (
	DefaultQPS     = 50
	DefaultBurst   = 100
	DefaultWorkers = 5
)

// WithDefaults fills zero fields.
func (c Config) WithDefaults() Config {
	if c.QPS == 0 {
		c.QPS = DefaultQPS
	}
	if c.Burst == 0 {
		c.Burst = DefaultBurst
	}
	if c.Workers == 0 {
		c.Workers = DefaultWorkers
	}
	return c
}

// Validate checks ranges; the error starts with the field name.
func (c Config) Validate() error {
	switch {
	case c.MaxJitter.Duration < 0:
		return fmt.Errorf("maxJitter: %s; expected a non-negative duration", c.MaxJitter.Duration)
	case c.MaxJitter.Duration > 24*time.Hour:
		return fmt.Errorf("maxJitter: %s; expected at most 24h", c.MaxJitter.Duration)
	case c.QPS < 0 || c.Burst < 0:
		return fmt.Errorf("qps: expected non-negative qps and burst")
	case c.Workers < 0:
		return fmt.Errorf("workers: expected >= 0")
	}
	return nil
}
