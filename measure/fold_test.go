package measure_test

import (
	"math/rand/v2"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/faultline-dev/faultline/measure"
)

// Folding finished runs into a CronRunSummary gives the very indicator values that keeping every
// run does, whichever runs were folded, with step durations that take few distinct values (the
// sample counts them) and many (it keeps them one by one).
func TestFoldedRunsGiveTheSameIndicators(t *testing.T) {
	rng := rand.New(rand.NewPCG(7, 9))
	win := measure.Window{Length: 48 * time.Hour}
	runs := make([]measure.CronRun, 20_000)
	for i := range runs {
		sched := time.Duration(rng.Int64N(int64(win.Length)))
		r := measure.CronRun{CronJob: "default/cj", Scheduled: sched, Seen: measure.JobCreated,
			JobCreated: sched + time.Duration(rng.Int64N(int64(30*time.Second))), Deleted: rng.IntN(50) == 0}
		if rng.IntN(10) > 0 {
			r.PodCreated = r.JobCreated + time.Duration(rng.IntN(4))*time.Second // few distinct values
			r.PodBound = r.PodCreated + 500*time.Millisecond
			r.AppRunning = r.PodBound + time.Duration(rng.Int64N(int64(time.Minute)))
			r.Seen |= measure.PodCreated | measure.PodBound | measure.AppRunning
		}
		runs[i] = r
	}
	compute := func(o *measure.CronObservations) []measure.Indicator {
		vals, _ := measure.Compute(&measure.Observations{World: measure.Simulated, Scopes: measure.Cron, Cron: o}, win)
		return vals
	}
	want := compute(&measure.CronObservations{Runs: append([]measure.CronRun(nil), runs...)})
	for _, folded := range []int{0, 1, 1500, 19_999, 20_000} {
		var s measure.CronRunSummary
		for i := range runs[:folded] {
			s.Add(&runs[i], win)
		}
		got := compute(&measure.CronObservations{Runs: append([]measure.CronRun(nil), runs[folded:]...), Folded: &s})
		require.Equal(t, want, got, "%d runs folded", folded)
	}
}

func TestSampleQuantileIsNearestRank(t *testing.T) {
	var s measure.Sample
	assert.Equal(t, 0.0, s.Quantile(0.5, nil))
	for _, x := range []float32{5, 1, 4, 4} {
		s.Add(x)
	}
	assert.Equal(t, 4, s.Len())
	assert.Equal(t, 3.0, s.Quantile(0.5, []float32{3, 2})) // 1 2 3 4 4 5
	assert.Equal(t, 5.0, s.Quantile(1, []float32{3, 2}))
	assert.Equal(t, 1.0, s.Quantile(0, nil))
	// many distinct values: kept one by one, still exact
	rng := rand.New(rand.NewPCG(1, 2))
	var m measure.Sample
	var all []float32
	for range 5000 {
		x := rng.Float32()
		m.Add(x)
		all = append(all, x)
	}
	for _, q := range []float64{0, 0.01, 0.5, 0.99, 1} {
		assert.Equal(t, measure.Quantile(append([]float32(nil), all...), q), m.Quantile(q, nil), "q=%g", q)
	}
}
