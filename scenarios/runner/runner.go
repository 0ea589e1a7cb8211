// Package runner replays a scenario's variants over many seeds in the simulator. Seeds fan out
// over worker goroutines, each seed single-threaded; results are stored by (variant, seed index),
// so the output never depends on the worker count or on which worker finished first. A cancelled
// context stops handing out work; whatever finished is kept and marked complete.
package runner

import (
	"context"
	"errors"
	"fmt"
	"io"
	"runtime"
	"runtime/debug"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/faultline-dev/faultline/measure/promql"
	"github.com/faultline-dev/faultline/scenarios"
	"github.com/faultline-dev/faultline/sim"
	"github.com/faultline-dev/faultline/sim/trace"
)

// Config says what to run.
type Config struct {
	Variants []string // empty: all, in file order
	Seeds    []uint64 // the seeds, in report order
	Workers  int      // 0: GOMAXPROCS
	// SeriesSeed is the seed whose time series is kept for reports (the first seed when zero
	// and KeepSeries is set).
	KeepSeries bool
	// Trace receives the event log of every run; use with one seed and one variant.
	Trace io.Writer
	// TraceJSON receives the same events as JSON lines (trace.JSONSink), each naming its variant
	// and seed.
	TraceJSON io.Writer
	// Window, when positive and shorter than the scenario, ends every run at this virtual time
	// (sim.Options.Until: a golden trace keeps the first minutes of a long scenario).
	Window time.Duration
	// CheckInvariants runs the simulator's invariant checker after every event of every run
	// (sim.Options.CheckInvariants); the first violation is the run's error.
	CheckInvariants bool
	// Progress is called after each finished (variant, seed), from one goroutine at a time.
	Progress func(done, total int)
}

// Outcome holds every result.
type Outcome struct {
	Scenario *scenarios.Scenario
	Variants []string
	Seeds    []uint64
	// Results[v][i] is variant v at Seeds[i]; valid when Done[v][i].
	Results [][]sim.Result
	Done    [][]bool
	// Interrupted is set when the context ended before every run finished.
	Interrupted bool
	// Rep[v] is the index of variant v's representative seed (KeepRepresentative), -1 when
	// none finished; nil until chosen.
	Rep []int
	// Alerts[v] are the alert timelines of variant v's representative seed (scenarios with
	// rule files); nil until KeepRepresentative.
	Alerts [][]promql.Timeline
}

// Complete counts finished runs.
func (o *Outcome) Complete() int {
	n := 0
	for _, row := range o.Done {
		for _, d := range row {
			if d {
				n++
			}
		}
	}
	return n
}

type job struct{ v, i int }

// Run replays the scenario. It returns the outcome, partial when ctx ends early (then the error
// is ctx.Err()), and the first simulation error otherwise.
func Run(ctx context.Context, sc *scenarios.Scenario, cfg Config) (*Outcome, error) {
	names := cfg.Variants
	if len(names) == 0 {
		names = sc.VariantNames()
	}
	inputs := make([]*sim.Input, len(names))
	specs := make([]*promql.Spec, len(names))
	for i, n := range names {
		v, err := sc.Variant(n)
		if err != nil {
			return nil, err
		}
		inputs[i] = sc.Compile(v)
		specs[i] = sc.PromQL(inputs[i])
	}
	if len(cfg.Seeds) == 0 {
		return nil, errors.New("no seeds to run")
	}
	out := &Outcome{Scenario: sc, Variants: names, Seeds: cfg.Seeds}
	out.Results = make([][]sim.Result, len(names))
	out.Done = make([][]bool, len(names))
	for v := range names {
		out.Results[v] = make([]sim.Result, len(cfg.Seeds))
		out.Done[v] = make([]bool, len(cfg.Seeds))
	}
	workers := cfg.Workers
	if workers <= 0 {
		workers = runtime.GOMAXPROCS(0)
	}
	if cfg.Trace != nil || cfg.TraceJSON != nil {
		workers = 1 // one ordered log
	}
	total := len(names) * len(cfg.Seeds)
	// Workers take the next job themselves, in seed-major order: every variant of a seed finishes
	// close together, so an interrupted run keeps complete pairs for the paired comparison. (A
	// goroutine handing jobs over a channel woke once per job, and at a fraction of a
	// millisecond per replay the other core spent a good share of its time spinning up for it.)
	var (
		next     atomic.Int64 // the next job: seed next/len(names), variant next%len(names)
		failed   atomic.Bool  // firstErr is set: take no more jobs
		mu       sync.Mutex
		done     int
		firstErr error
		wg       sync.WaitGroup
	)
	take := func() (job, bool) {
		if failed.Load() {
			return job{}, false
		}
		select {
		case <-ctx.Done():
			return job{}, false
		default:
		}
		k := int(next.Add(1) - 1)
		if k >= total {
			return job{}, false
		}
		return job{v: k % len(names), i: k / len(names)}, true
	}
	for range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			var scratch sim.Scratch // the worker's memory, lent from each seed to the next
			for j, ok := take(); ok; j, ok = take() {
				opts := sim.Options{Series: cfg.KeepSeries && j.i == 0, Trace: cfg.Trace, CheckInvariants: cfg.CheckInvariants, Until: cfg.Window}
				if cfg.Trace != nil {
					fmt.Fprintf(cfg.Trace, "# variant %s seed %d\n", names[j.v], cfg.Seeds[j.i])
				}
				if cfg.TraceJSON != nil {
					opts.Events = &trace.JSONSink{W: cfg.TraceJSON, Variant: names[j.v], Seed: cfg.Seeds[j.i]}
				}
				r, err := runSafely(&scratch, inputs[j.v], specs[j.v], cfg.Seeds[j.i], opts, names[j.v])
				mu.Lock()
				if err != nil {
					var pe *PanicError
					if firstErr == nil && errors.As(err, &pe) {
						firstErr = err
					} else if firstErr == nil {
						firstErr = fmt.Errorf("variant %s seed %d: %w", names[j.v], cfg.Seeds[j.i], err)
					}
					failed.Store(true)
				} else {
					out.Results[j.v][j.i] = r
					out.Done[j.v][j.i] = true
					done++
					if cfg.Progress != nil {
						cfg.Progress(done, total)
					}
				}
				mu.Unlock()
			}
		}()
	}
	wg.Wait()
	if firstErr != nil {
		return out, firstErr
	}
	if ctx.Err() != nil && out.Complete() < total {
		out.Interrupted = true
		return out, ctx.Err()
	}
	return out, nil
}

// SeedRange returns count seeds starting at first.
func SeedRange(first uint64, count int) []uint64 {
	s := make([]uint64, count)
	for i := range s {
		s[i] = first + uint64(i)
	}
	return s
}

// Append adds the runs of more (same scenario and variants, later seeds) to out.
func (out *Outcome) Append(more *Outcome) error {
	if fmt.Sprint(out.Variants) != fmt.Sprint(more.Variants) {
		return fmt.Errorf("append: variants differ: %v and %v", out.Variants, more.Variants)
	}
	out.Seeds = append(out.Seeds, more.Seeds...)
	for v := range out.Variants {
		out.Results[v] = append(out.Results[v], more.Results[v]...)
		out.Done[v] = append(out.Done[v], more.Done[v]...)
	}
	out.Interrupted = out.Interrupted || more.Interrupted
	return nil
}

// PanicError is a panic inside one simulation, caught in its worker so that it ends the run as
// an error naming the variant and seed that replay it, instead of crashing the process with a
// goroutine's stack trace.
type PanicError struct {
	Variant string
	Seed    uint64
	Value   any
	Stack   []byte // the panicking goroutine's stack, for FAULTLINE_TRACEBACK=1
}

func (e *PanicError) Error() string {
	msg := strings.Join(strings.Fields(fmt.Sprint(e.Value)), " ")
	return fmt.Sprintf("variant %s seed %d: panic in the simulator: %s (replay: --seed %d --seeds 1 --variant %s --trace)", e.Variant, e.Seed, msg, e.Seed, e.Variant)
}

// runSafely plays one seed of one variant with the worker's scratch, turning a panic into a
// *PanicError.
func runSafely(scratch *sim.Scratch, in *sim.Input, spec *promql.Spec, seed uint64, opts sim.Options, variant string) (r sim.Result, err error) {
	defer func() {
		if v := recover(); v != nil {
			err = &PanicError{Variant: variant, Seed: seed, Value: v, Stack: debug.Stack()}
		}
	}()
	r, _, err = runSeed(scratch, in, spec, seed, opts)
	return r, err
}

// RunSeed plays one seed and, when spec is not nil, evaluates its PromQL objectives and alerting
// rules on the run's series: their indicators are appended to the result's (the series are
// dropped afterwards), and the alerts' timelines returned.
func RunSeed(in *sim.Input, spec *promql.Spec, seed uint64, opts sim.Options) (sim.Result, []promql.Timeline, error) {
	return runSeed(nil, in, spec, seed, opts)
}

// runSeed is RunSeed building the world with scratch (nil: sim.New's own memory).
func runSeed(scratch *sim.Scratch, in *sim.Input, spec *promql.Spec, seed uint64, opts sim.Options) (sim.Result, []promql.Timeline, error) {
	if spec != nil {
		opts.PromSeries = &sim.PromScrape{Families: spec.Families(), Horizons: spec.Horizons()}
	}
	r, err := scratch.Run(in, seed, opts)
	if err != nil || spec == nil {
		return r, nil, err
	}
	ins, tls, err := promql.Evaluate(context.Background(), spec, r.Prom, in.Duration)
	r.Prom = nil
	if err != nil {
		return r, nil, err
	}
	r.Indicators = append(r.Indicators, ins...)
	return r, tls, nil
}
