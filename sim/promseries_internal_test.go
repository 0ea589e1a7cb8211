package sim

import (
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// The scrape reads the cron families straight from their metrics, and the histograms from their
// mirrors (cronScrape); what it records is what recording their registry's Gather gives, series
// for series and point for point, with every family kept or only some.
func TestCronScrapeIsGather(t *testing.T) {
	for _, want := range []map[string]bool{nil, {"cron_start_delay_seconds": true, "cron_scheduling_decision_total": true}} {
		m := newCronMetrics()
		rec := func() *promRec {
			r := &promRec{w: &World{cron: &cronWorld{met: m}}, index: map[string]int{}, want: want}
			r.w.opts.PromSeries = &PromScrape{}
			return r
		}
		scraped, gathered := rec(), rec()
		steps := []func(){
			func() {
				m.Started.Add(3)
				m.Failure.Inc()
				m.Invoke.Add(4)
				m.Skip[1].Inc()
				m.observeStartDelay(0.7)
				m.observeStartDelay(42)
				m.observeAppDuration(30)
			},
			func() {}, // nothing changed
			func() {
				for _, v := range []float64{0.5, 1e-9, 1800, 1801, 3.3, 0.1 + 0.2} {
					m.observeStartDelay(v)
					m.observeAppDuration(v * 7)
				}
				m.Skip[2].Add(2)
			},
		}
		for i, step := range steps {
			step()
			for _, r := range []*promRec{scraped, gathered} {
				r.n++
				r.prev, r.live, r.cur = r.live, r.prev[:0], 0
			}
			now := time.Duration(i) * 30 * time.Second
			scraped.cronScrape(now)
			gathered.gather(now, m.reg.Gather)
		}
		require.NotEmpty(t, gathered.out.Series)
		assert.Equal(t, gathered.out.Series, scraped.out.Series)
	}
}
