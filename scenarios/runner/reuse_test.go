package runner_test

import (
	"bytes"
	"fmt"
	"math"
	"math/rand/v2"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	batchv1 "k8s.io/api/batch/v1"

	"github.com/faultline-dev/faultline/scenarios"
	"github.com/faultline-dev/faultline/sim"
)

// reuseRun is one (scenario variant, seed, options) replay of the reuse test.
type reuseRun struct {
	name string
	in   *sim.Input
	seed uint64
	opts func() sim.Options
}

// A world built by a sim.Scratch must replay exactly as a fresh one, whatever ran on the scratch
// before it: every variant of every library scenario, a few seeds each, run fresh (sim.Run) and
// then through one scratch in three orders (forward, backward, shuffled), scenarios and variants
// interleaved, with series kept on some runs, and the event traces of a window compared too.
// Runs stop after three days of simulated time (Options.Until), four hours with CronJobs, traced
// ones after six hours.
func TestScratchReplaysAsFresh(t *testing.T) {
	lib, err := scenarios.Library()
	require.NoError(t, err)
	var runs []reuseRun
	for _, e := range lib {
		sc, err := scenarios.Open(e.Name)
		require.NoError(t, err)
		for _, vn := range sc.VariantNames() {
			v, err := sc.Variant(vn)
			require.NoError(t, err)
			in := sc.Compile(v)
			if len(in.Extensions) > 0 {
				continue // built by sim.New: a scratch lends nothing to them
			}
			// up to three days, four hours with CronJobs (a day of them takes seconds)
			until := min(in.Duration, 72*time.Hour)
			for _, o := range in.Objects {
				if _, ok := o.(*batchv1.CronJob); ok {
					until = min(until, 4*time.Hour)
				}
			}
			for seed := uint64(1); seed <= 3; seed++ {
				series := seed == 2
				runs = append(runs, reuseRun{name: e.Name + "/" + vn, in: in, seed: seed, opts: func() sim.Options { return sim.Options{Series: series, Until: until} }})
			}
			// the first hours traced event by event
			window := min(in.Duration, 6*time.Hour)
			runs = append(runs, reuseRun{name: e.Name + "/" + vn + "/trace", in: in, seed: 4, opts: func() sim.Options {
				return sim.Options{Trace: &bytes.Buffer{}, Until: window}
			}})
		}
	}
	type outcome struct {
		r     sim.Result
		trace string
	}
	play := func(s *sim.Scratch, run reuseRun) outcome {
		opts := run.opts()
		var r sim.Result
		var err error
		if s == nil {
			r, err = sim.Run(run.in, run.seed, opts)
		} else {
			r, err = s.Run(run.in, run.seed, opts)
		}
		require.NoError(t, err, "%s seed %d", run.name, run.seed)
		o := outcome{r: r}
		if b, ok := opts.Trace.(*bytes.Buffer); ok {
			o.trace = b.String()
		}
		return o
	}
	fresh := make([]outcome, len(runs))
	for i, run := range runs {
		fresh[i] = play(nil, run)
	}
	order := make([]int, len(runs))
	for i := range order {
		order[i] = i
	}
	backward := make([]int, len(runs))
	for i := range backward {
		backward[i] = len(runs) - 1 - i
	}
	shuffled := append([]int(nil), order...)
	rand.New(rand.NewPCG(1, 2)).Shuffle(len(shuffled), func(i, j int) { shuffled[i], shuffled[j] = shuffled[j], shuffled[i] })
	var s sim.Scratch // one scratch for all three orders
	for _, ord := range [][]int{order, backward, shuffled} {
		for _, i := range ord {
			got := play(&s, runs[i])
			sameResult(t, runs[i], fresh[i].r, got.r)
			require.Equal(t, fresh[i].trace, got.trace, "%s seed %d: the trace differs from a fresh world's", runs[i].name, runs[i].seed)
		}
	}
}

// sameResult compares two results bit for bit (NaN indicators included).
func sameResult(t *testing.T, run reuseRun, want, got sim.Result) {
	t.Helper()
	where := func(what string) string { return fmt.Sprintf("%s seed %d: %s", run.name, run.seed, what) }
	require.Equal(t, want.Seed, got.Seed, where("seed"))
	require.Equal(t, want.Events, got.Events, where("events fired"))
	require.Equal(t, string(want.Metrics), string(got.Metrics), where("metrics"))
	require.Equal(t, len(want.Indicators), len(got.Indicators), where("indicators"))
	for i := range want.Indicators {
		require.Equal(t, want.Indicators[i].Name, got.Indicators[i].Name, where("indicator"))
		require.Equal(t, math.Float64bits(want.Indicators[i].Value), math.Float64bits(got.Indicators[i].Value), where(want.Indicators[i].Name))
	}
	require.Equal(t, want.Series == nil, got.Series == nil, where("series kept"))
	if want.Series != nil {
		require.Equal(t, want.Series.Columns, got.Series.Columns, where("series columns"))
		require.Equal(t, len(want.Series.Rows), len(got.Series.Rows), where("series rows"))
		for i := range want.Series.Rows {
			require.Equal(t, len(want.Series.Rows[i]), len(got.Series.Rows[i]), where("series row"))
			for j := range want.Series.Rows[i] {
				require.Equal(t, math.Float64bits(want.Series.Rows[i][j]), math.Float64bits(got.Series.Rows[i][j]), where("series value"))
			}
		}
	}
}
