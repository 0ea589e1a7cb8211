package runner_test

import (
	"bytes"
	"fmt"
	"math"
	"math/rand/v2"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	batchv1 "k8s.io/api/batch/v1"

	"github.com/faultline-dev/faultline/scenarios"
	"github.com/faultline-dev/faultline/sim"
	"github.com/faultline-dev/faultline/sim/trace"
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
	var runs []reuseRun
	libraryInputs(t, func(name string, in *sim.Input, cron bool) {
		// up to three days, four hours with CronJobs (a day of them takes seconds)
		until := min(in.Duration, 72*time.Hour)
		if cron {
			until = min(until, 4*time.Hour)
		}
		for seed := uint64(1); seed <= 3; seed++ {
			series := seed == 2
			runs = append(runs, reuseRun{name: name, in: in, seed: seed, opts: func() sim.Options { return sim.Options{Series: series, Until: until} }})
		}
		// the first hours traced event by event
		window := min(in.Duration, 6*time.Hour)
		runs = append(runs, reuseRun{name: name + "/trace", in: in, seed: 4, opts: func() sim.Options {
			return sim.Options{Trace: &bytes.Buffer{}, Until: window}
		}})
	})
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
		// compared once the whole order has played: a Result must not share memory that a later
		// world on the scratch writes over (results are kept and compared long after their seed)
		got := make([]outcome, len(runs))
		for _, i := range ord {
			got[i] = play(&s, runs[i])
		}
		for i := range runs {
			sameResult(t, runs[i], fresh[i].r, got[i].r)
			require.Equal(t, fresh[i].trace, got[i].trace, "%s seed %d: the trace differs from a fresh world's", runs[i].name, runs[i].seed)
		}
	}
}

// libraryInputs calls f with every variant of every library scenario that a Scratch builds
// (those without extensions, which sim.New builds without lending), named scenario/variant, and
// whether it has CronJobs (a day of them takes seconds).
func libraryInputs(t *testing.T, f func(name string, in *sim.Input, cron bool)) {
	lib, err := scenarios.Library()
	require.NoError(t, err)
	for _, e := range lib {
		sc, err := scenarios.Open(e.Name)
		require.NoError(t, err)
		for _, vn := range sc.VariantNames() {
			v, err := sc.Variant(vn)
			require.NoError(t, err)
			in := sc.Compile(v)
			if len(in.Extensions) > 0 {
				continue
			}
			cron := false
			for _, o := range in.Objects {
				if _, ok := o.(*batchv1.CronJob); ok {
					cron = true
				}
			}
			f(e.Name+"/"+vn, in, cron)
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

// panicSink panics at the k-th trace event it is given, in the middle of whichever model's
// handler emits it, leaving that world half-changed.
type panicSink struct{ n, k int }

func (s *panicSink) Emit(time.Duration, trace.Event) {
	if s.n++; s.n == s.k {
		panic(fmt.Sprintf("panicSink: event %d", s.k))
	}
}

// A seed that panics halfway (its trace sink panics at the k-th event: at settling, early in the
// run, deep into it) leaves the scratch's world in whatever state the panic caught it; the seed
// played next on that scratch, of the same variant or of another scenario, must still replay
// exactly as a fresh world. runner.Run stops a worker's seeds at a panic, but a Scratch is
// documented as reusable whatever its last world did. The panics fall where models emit trace
// events (binds, evictions, node transitions, ...), not inside a scheduling cycle between its
// filters and scores: nothing outside the scheduler can stop one there, and Reset drops a
// cycle's state whole.
func TestScratchAfterPanicReplaysAsFresh(t *testing.T) {
	var runs []reuseRun
	libraryInputs(t, func(name string, in *sim.Input, cron bool) {
		until := min(in.Duration, 24*time.Hour)
		if cron {
			until = min(until, 2*time.Hour)
		}
		runs = append(runs, reuseRun{name: name, in: in, seed: 2, opts: func() sim.Options { return sim.Options{Until: until} }})
	})
	require.NotEmpty(t, runs)
	var s sim.Scratch
	panics := 0
	for i, next := range runs {
		want, err := sim.Run(next.in, next.seed, next.opts())
		require.NoError(t, err, next.name)
		// the seed before: the same variant, then the previous one in the list
		for _, before := range []reuseRun{next, runs[(i+len(runs)-1)%len(runs)]} {
			for _, k := range []int{1, 40, 2000} {
				caught := func() (v any) {
					defer func() { v = recover() }()
					opts := before.opts()
					opts.Events = &panicSink{k: k}
					_, _ = s.Run(before.in, 1, opts)
					return nil
				}()
				if caught == nil {
					continue // fewer than k events before Until
				}
				panics++
				got, err := s.Run(next.in, next.seed, next.opts())
				require.NoError(t, err, "%s after a panic of %s at event %d", next.name, before.name, k)
				sameResult(t, reuseRun{name: fmt.Sprintf("%s after a panic of %s at event %d", next.name, before.name, k), seed: next.seed}, want, got)
			}
		}
	}
	assert.Greater(t, panics, 2*len(runs), "most seeds before panicked")
}
