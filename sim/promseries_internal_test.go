package sim

import (
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"google.golang.org/protobuf/proto"
)

// The scrape reads the cron families straight from their metrics (cronGather); what it reads is
// what their registry's Gather gives, family for family and metric for metric (the help
// aside, which the scrape does not record), whichever are kept.
func TestCronGatherIsGather(t *testing.T) {
	m := newCronMetrics()
	m.Started.Add(3)
	m.Failure.Inc()
	m.Invoke.Add(4)
	m.Skip[1].Inc()
	m.StartDelay.Observe(0.7)
	m.StartDelay.Observe(42)
	m.AppDuration.Observe(30)
	for _, keep := range [][]string{nil, {"cron_start_delay_seconds_bucket", "cron_scheduling_decision_total"}} {
		r := &promRec{w: &World{cron: &cronWorld{met: m}}}
		if keep != nil {
			r.want = map[string]bool{"cron_start_delay_seconds": true, "cron_scheduling_decision_total": true}
		}
		want, err := m.reg.Gather()
		require.NoError(t, err)
		got, err := r.cronGather()
		require.NoError(t, err)
		var kept []string
		for _, mf := range want {
			if r.on(mf.GetName()) {
				kept = append(kept, mf.GetName())
			}
		}
		require.Len(t, got, len(kept))
		i := 0
		for _, mf := range want {
			if !r.on(mf.GetName()) {
				continue
			}
			mf.Help = nil // the scrape records no help
			assert.True(t, proto.Equal(mf, got[i]), "%s:\n%v\n%v", mf.GetName(), mf, got[i])
			i++
		}
	}
}
