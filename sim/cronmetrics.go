package sim

import (
	"bytes"

	"github.com/prometheus/client_golang/prometheus"
	dto "github.com/prometheus/client_model/go"
	"github.com/prometheus/common/expfmt"

	"github.com/faultline-dev/faultline/internal/cronmetrics"
)

// cronMetrics are Lyft's cron platform metrics (scenarios/cron-missed-start-storm/README.md), the families of package
// internal/cronmetrics that the platform's real controller serves too, registered on a registry of
// the run's own (never the global one), so that runs in parallel do not share them.
type cronMetrics struct {
	reg *prometheus.Registry
	*cronmetrics.Families
	// startDelay and appDuration follow the StartDelay and AppDuration histograms, which are
	// observed through observeStartDelay and observeAppDuration only
	startDelay, appDuration histMirror
}

func newCronMetrics() *cronMetrics {
	reg := prometheus.NewRegistry()
	m := &cronMetrics{reg: reg, Families: cronmetrics.New(reg)}
	m.startDelay = newHistMirror(m.StartDelay)
	m.appDuration = newHistMirror(m.AppDuration)
	return m
}

// observeStartDelay observes cron_start_delay_seconds.
func (m *cronMetrics) observeStartDelay(v float64) {
	m.StartDelay.Observe(v)
	m.startDelay.observe(v)
}

// observeAppDuration observes cron_app_container_duration_seconds.
func (m *cronMetrics) observeAppDuration(v float64) {
	m.AppDuration.Observe(v)
	m.appDuration.observe(v)
}

// histMirror follows a client_golang histogram observation by observation, with the same bucket
// choice and the same additions in the same order, so its counts and sum are the ones the
// histogram's Write reports. A scrape reads it instead of calling Write, which builds the whole
// dto histogram each time (most of the scrape cost and garbage of a cron storm).
type histMirror struct {
	bounds []float64 // the upper bounds, as Write reports them
	counts []uint64  // per bucket, not cumulative; observations above the last bound are in count only
	count  uint64
	sum    float64
}

func newHistMirror(h prometheus.Histogram) histMirror {
	var d dto.Metric
	if err := h.Write(&d); err != nil {
		panic("sim: read histogram buckets: " + err.Error())
	}
	m := histMirror{counts: make([]uint64, len(d.GetHistogram().GetBucket()))}
	for _, b := range d.GetHistogram().GetBucket() {
		m.bounds = append(m.bounds, b.GetUpperBound())
	}
	return m
}

// observe adds v as the histogram's Observe does: to the first bucket whose upper bound is at
// least v (none for NaN or above the last).
func (m *histMirror) observe(v float64) {
	for i, b := range m.bounds {
		if v <= b {
			m.counts[i]++
			break
		}
	}
	m.count++
	m.sum += v
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

// cronColumns are the cron counters sampled into the run's Series (cumulative, as Prometheus
// counters are; a rate is the difference between rows).
var cronColumns = []string{"cron/started", "cron/success", "cron/failure", "cron/invoke",
	"cron/skip/concurrencyPolicy", "cron/skip/missedDeadline", "cron/skip/error", "cron/throttle-seconds"}

func (c *cronWorld) sampleRow(row []float64) []float64 {
	return append(row, float64(c.started), float64(c.ok), float64(c.fail), float64(c.created),
		float64(c.skips[0]), float64(c.skips[1]), float64(c.skips[2]), c.ctl.apiClient().throttled.Seconds())
}
