package sim

import (
	"math/rand/v2"
	"time"

	"github.com/faultline-dev/faultline/measure"
	"github.com/faultline-dev/faultline/sim/engine"
	"github.com/faultline-dev/faultline/sim/trace"
)

// env is what the models of one World share: the event queue and its clock, the random streams,
// the trace sink, the scenario (its start, length and model parameters), the run's options and
// whether finished runs are retained. The World embeds it and the models that own their state
// (the batch side: cron.go, cronjob_controller*.go, job_controller.go, jobpod_start.go,
// registry.go; the network side through netEnv; the control plane through cpEnv, controlplane.go)
// hold a pointer to it, so settling's fresh queue (World.resetQueue) reaches them all.
// A model registers its own engine handler on q and handles its own event kinds.
type env struct {
	in      *Input
	m       Models
	q       *engine.Queue
	clock   *engine.Clock
	streams engine.Streams
	// rngs, when set, hold the world's random streams (stream); nil in models' unit tests
	rngs *slab[rngBox]
	sink trace.Sink // nil unless tracing
	opts Options
	// retain keeps every cron run and Job pod (no retirement, no slot reuse): tests compare a run
	// with it to the same run without.
	retain bool
}

// envEmit sends e to the trace sink, stamped with the virtual time; emit's counterpart for the
// models holding an *env (an interface value, and so an allocation, only when there is a sink).
func envEmit[E trace.Event](v *env, e E) {
	if v.sink != nil {
		v.sink.Emit(v.q.Now(), e)
	}
}

// stream is streams.Stream(name): the same generator, drawing the same numbers, but from the
// world's slab when it has one, so that a Scratch reseeds the last world's generators in place
// rather than allocating new ones.
func (v *env) stream(name string) *rand.Rand {
	if v.rngs == nil {
		return v.streams.Stream(name)
	}
	b := v.rngs.next()
	b.src.Seed(v.streams.Seed(), streamKey(name))
	b.r = *rand.New(&b.src)
	return &b.r
}

// streamKey is the 64-bit FNV-1a hash of name, which engine.Streams.Stream seeds a stream with
// (hash/fnv without its allocations).
func streamKey(name string) uint64 {
	const offset64, prime64 = 14695981039346656037, 1099511628211
	h := uint64(offset64)
	for i := 0; i < len(name); i++ {
		h ^= uint64(name[i])
		h *= prime64
	}
	return h
}

// wall is virtual time d on the scenario's wall clock.
func (v *env) wall(d time.Duration) time.Time { return v.in.Start.Add(d) }

// window is the scenario's span, which the indicators cover.
func (v *env) window() measure.Window {
	return measure.Window{Start: v.in.Start, Length: v.in.Duration}
}
