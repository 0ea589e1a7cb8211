package engine

import (
	"hash/fnv"
	"math/rand/v2"
)

// Streams derives independent random streams from one run seed. Each model asks for its stream by
// a stable name ("scheduler", "node/pool-a-1/panic"); the stream depends only on the seed and the
// name, never on the order in which streams are created or on what other models drew. So every
// variant of one seed sees the same numbers in every component it shares with the baseline:
// common random numbers, which make paired comparisons between variants far sharper.
type Streams struct {
	seed uint64
}

// NewStreams returns the stream factory for seed.
func NewStreams(seed uint64) Streams { return Streams{seed: seed} }

// Seed is the run seed.
func (s Streams) Seed() uint64 { return s.seed }

// Stream returns a new PCG-backed generator for name. Calling it twice with one name returns two
// generators that produce the same sequence.
func (s Streams) Stream(name string) *rand.Rand {
	h := fnv.New64a()
	_, _ = h.Write([]byte(name))
	return rand.New(rand.NewPCG(s.seed, h.Sum64()))
}
