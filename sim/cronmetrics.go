package sim

import (
	"bytes"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/common/expfmt"

	"github.com/faultline-dev/faultline/internal/cronmetrics"
)

// cronMetrics are Lyft's cron platform metrics (scenarios/cron-missed-start-storm/README.md), the families of package
// internal/cronmetrics that the platform's real controller serves too, registered on a registry of
// the run's own (never the global one), so that runs in parallel do not share them.
type cronMetrics struct {
	reg *prometheus.Registry
	*cronmetrics.Families
}

func newCronMetrics() *cronMetrics {
	reg := prometheus.NewRegistry()
	return &cronMetrics{reg: reg, Families: cronmetrics.New(reg)}
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
