package engine

import (
	"math/rand/v2"
	"slices"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// A peek must not stop events from being scheduled before the peeked one: RunUntil stops at an
// event after its end, and the caller then schedules between now and that event.
func TestPeekThenScheduleEarlier(t *testing.T) {
	q := NewQueue()
	r := &recorder{}
	id := q.Register(r)
	q.AtID(10*time.Second, id, 10)
	q.AtID(time.Hour, id, 3600)
	q.RunUntil(5 * time.Second) // locates the 10 s event, fires nothing
	require.Empty(t, r.got)
	at, ok := q.NextAt()
	require.True(t, ok)
	assert.Equal(t, 10*time.Second, at)
	q.AtID(7*time.Second, id, 7) // between now (5 s) and the peeked event
	q.AtID(5*time.Second, id, 5) // at now
	at, _, arg, ok := q.Peek()
	require.True(t, ok)
	assert.Equal(t, 5*time.Second, at)
	assert.Equal(t, uint32(5), arg)
	q.RunUntil(8 * time.Second)
	q.AtID(9*time.Second, id, 9)
	q.AtID(8*time.Second, id, 8)
	for q.Step() {
	}
	assert.Equal(t, []uint32{5, 7, 8, 9, 10, 3600}, r.got)
	assert.Equal(t, []time.Duration{5 * time.Second, 7 * time.Second, 8 * time.Second, 9 * time.Second, 10 * time.Second, time.Hour}, r.at)
}

// When the earliest pending event was cancelled, peeking drops it but must not move the queue past
// the current time: an event scheduled afterwards at now still fires first.
func TestPeekDropsCancelledMinimum(t *testing.T) {
	q := NewQueue()
	r := &recorder{}
	id := q.Register(r)
	q.AtID(time.Second, id, 1)
	for i := uint32(0); i < 8; i++ {
		q.AtID(time.Duration(3+i)*time.Second, id, 3+i)
	}
	c := q.AtID(2*time.Second, id, 2)
	q.Step() // fires 1 s: the rest sit in buckets relative to 1 s
	require.True(t, q.Cancel(c))
	at, ok := q.NextAt()
	require.True(t, ok)
	assert.Equal(t, 3*time.Second, at)
	assert.Equal(t, 8, q.Pending())
	q.AtID(time.Second, id, 100) // at now, before every pending event
	q.AtID(2*time.Second, id, 200)
	for q.Step() {
	}
	assert.Equal(t, []uint32{1, 100, 200, 3, 4, 5, 6, 7, 8, 9, 10}, r.got)
}

// A cancelled event taken out by Step with nothing left behind it must not keep the queue ahead
// of the clock: the next event may be scheduled at now.
func TestStepOverCancelledThenScheduleAtNow(t *testing.T) {
	q := NewQueue()
	r := &recorder{}
	id := q.Register(r)
	q.AtID(time.Second, id, 1)
	c := q.AtID(time.Minute, id, 60)
	require.True(t, q.Step())
	require.True(t, q.Cancel(c))
	require.False(t, q.Step(), "only a cancelled event was left")
	assert.Equal(t, 0, q.Pending())
	q.AtID(0, id, 2) // clamped to now = 1 s
	q.AtID(2*time.Second, id, 3)
	for q.Step() {
	}
	assert.Equal(t, []uint32{1, 2, 3}, r.got)
	assert.Equal(t, []time.Duration{time.Second, time.Second, 2 * time.Second}, r.at)
}

// TestQueueRandomOpsMatchSortedReference drives the queue with a fixed-seed random mix of every
// operation - scheduling at delays from zero (ties) to hours (high buckets), in the past (clamped),
// cancelling, peeking (NextAt, Peek), Step, RunUntil to an end before, at or after the next
// event, scheduling after a peek - and checks each against a plain list sorted by (time,
// sequence): what fires, in which order, at which time, and what Pending, NextAt and Peek say.
func TestQueueRandomOpsMatchSortedReference(t *testing.T) {
	type ev struct {
		at   time.Duration
		seq  int
		arg  uint32
		tm   Timer
		dead bool
	}
	for _, seed := range []uint64{1, 2, 3, 4} {
		rng := rand.New(rand.NewPCG(seed, 42))
		q := NewQueue()
		type fired struct {
			at  time.Duration
			arg uint32
		}
		var got, want []fired
		id := q.Register(HandlerFunc(func(now time.Duration, arg uint32) { got = append(got, fired{now, arg}) }))
		var ref []*ev // pending, unsorted
		seq := 0
		delay := func() time.Duration {
			switch rng.IntN(5) {
			case 0:
				return 0
			case 1:
				return time.Duration(rng.IntN(4))
			case 2:
				return time.Duration(rng.Int64N(int64(time.Millisecond)))
			case 3:
				return time.Duration(rng.Int64N(int64(time.Hour)))
			default:
				return -time.Duration(rng.IntN(1000)) // in the past: clamped to now
			}
		}
		sortRef := func() { // drops cancelled events; ref is kept sorted by (time, sequence)
			ref = slices.DeleteFunc(ref, func(e *ev) bool { return e.dead })
		}
		fireRef := func(end time.Duration) { // what RunUntil(end) fires; the handler schedules nothing
			sortRef()
			for len(ref) > 0 && ref[0].at <= end {
				want = append(want, fired{ref[0].at, ref[0].arg})
				ref = ref[1:]
			}
		}
		compactions := 0
		for round := 0; round < 20_000; round++ {
			op := rng.IntN(20)
			switch round / 2500 % 4 { // phases of growth, then of mostly cancelling (to compact)
			case 1:
				op = []int{0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 0, 1, 2, 3, 4, 5, 6, 10, 14, 16}[op]
			case 2:
				op = []int{0, 1, 10, 10, 10, 10, 10, 10, 10, 10, 10, 10, 10, 10, 10, 10, 10, 10, 14, 16}[op]
			}
			before := q.cancelled
			switch {
			case op < 10:
				seq++
				at := q.Now() + delay()
				e := &ev{at: max(at, q.Now()), seq: seq, arg: rng.Uint32()}
				e.tm = q.AtID(at, id, e.arg)
				// the newest sequence goes after every event at the same time
				i, _ := slices.BinarySearchFunc(ref, e.at, func(x *ev, at time.Duration) int {
					if x.at <= at {
						return -1
					}
					return 1
				})
				ref = slices.Insert(ref, i, e)
			case op < 14:
				if len(ref) > 0 {
					e := ref[rng.IntN(len(ref))]
					require.Equal(t, !e.dead, q.Cancel(e.tm), "seed %d round %d", seed, round)
					e.dead = true
				}
			case op < 16:
				sortRef()
				at, ok := q.NextAt()
				if rng.IntN(2) == 0 {
					var h HandlerID
					var arg uint32
					at, h, arg, ok = q.Peek()
					if ok {
						require.Equal(t, id, h)
						require.Equal(t, ref[0].arg, arg, "seed %d round %d", seed, round)
					}
				}
				require.Equal(t, len(ref) > 0, ok, "seed %d round %d", seed, round)
				if ok {
					require.Equal(t, ref[0].at, at, "seed %d round %d", seed, round)
				}
			case op < 18:
				sortRef()
				ok := q.Step()
				require.Equal(t, len(ref) > 0, ok)
				if ok {
					want = append(want, fired{ref[0].at, ref[0].arg})
					require.False(t, q.IsPending(ref[0].tm))
					ref = ref[1:]
				}
			default:
				end := q.Now() + delay()
				if sortRef(); len(ref) > 0 && rng.IntN(3) == 0 {
					end = ref[0].at - time.Duration(rng.IntN(2)) // just at or just before the next event
				}
				now := q.Now()
				fireRef(end)
				q.RunUntil(end)
				require.Equal(t, max(now, end), q.Now(), "seed %d round %d", seed, round)
			}
			require.Equal(t, len(want), len(got), "seed %d round %d", seed, round)
			if len(got) > 0 {
				require.Equal(t, want[len(want)-1], got[len(got)-1], "seed %d round %d", seed, round)
			}
			sortRef()
			require.Equal(t, len(ref), q.Pending(), "seed %d round %d", seed, round)
			if before >= 1024 && q.cancelled == 0 { // the 1025th cancellation compacts
				compactions++
			}
		}
		fireRef(time.Duration(1<<63 - 1))
		for q.Step() {
		}
		assert.Equal(t, want, got)
		assert.Positive(t, compactions, "the mix must exercise compaction")
	}
}
