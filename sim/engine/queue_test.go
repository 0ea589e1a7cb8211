package engine

import (
	"cmp"
	"math/rand/v2"
	"slices"
	"testing"
	"time"
	"unsafe"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

type recorder struct {
	got []uint32
	at  []time.Duration
}

func (r *recorder) Fire(now time.Duration, arg uint32) {
	r.got = append(r.got, arg)
	r.at = append(r.at, now)
}

func TestQueueOrdersByTimeThenSequence(t *testing.T) {
	q := NewQueue()
	r := &recorder{}
	q.At(3*time.Second, r, 3)
	q.At(1*time.Second, r, 1)
	q.At(2*time.Second, r, 20)
	q.At(2*time.Second, r, 21) // tie: scheduled later, fires later
	q.At(2*time.Second, r, 22)
	q.At(0, r, 0)
	for q.Step() {
	}
	assert.Equal(t, []uint32{0, 1, 20, 21, 22, 3}, r.got)
	assert.Equal(t, []time.Duration{0, time.Second, 2 * time.Second, 2 * time.Second, 2 * time.Second, 3 * time.Second}, r.at)
	assert.Equal(t, 3*time.Second, q.Now())
	assert.Equal(t, uint64(6), q.Fired())
}

func TestQueueTiesAcrossManyEvents(t *testing.T) {
	// the buckets' redistribution must still honour FIFO among equal times.
	q := NewQueue()
	r := &recorder{}
	for i := 0; i < 1000; i++ {
		q.At(time.Duration(i%7)*time.Second, r, uint32(i))
	}
	for q.Step() {
	}
	require.Len(t, r.got, 1000)
	for i := 1; i < len(r.got); i++ {
		prev, cur := r.got[i-1], r.got[i]
		if prev%7 == cur%7 {
			assert.Less(t, prev, cur, "FIFO among ties broken at %d", i)
		} else {
			assert.Less(t, prev%7, cur%7, "time order broken at %d", i)
		}
	}
}

func TestQueueCancel(t *testing.T) {
	q := NewQueue()
	r := &recorder{}
	a := q.At(time.Second, r, 1)
	b := q.At(2*time.Second, r, 2)
	q.At(3*time.Second, r, 3)
	assert.True(t, q.IsPending(a))
	assert.True(t, q.Cancel(b))
	assert.False(t, q.Cancel(b), "second cancel is a no-op")
	assert.False(t, q.IsPending(b))
	assert.Equal(t, 2, q.Pending())
	// the cancelled slot is reused; the stale item must not fire the new event early or twice
	c := q.At(5*time.Second, r, 5)
	assert.True(t, q.IsPending(c))
	for q.Step() {
	}
	assert.Equal(t, []uint32{1, 3, 5}, r.got)
	assert.False(t, q.Cancel(a), "fired events cannot be cancelled")
	assert.False(t, q.Cancel(Timer{}), "zero timer")
	assert.Equal(t, 0, q.Pending())
}

func TestQueueCancelManyCompacts(t *testing.T) {
	q := NewQueue()
	r := &recorder{}
	var timers []Timer
	for i := 0; i < 5000; i++ {
		timers = append(timers, q.At(time.Duration(i)*time.Millisecond, r, uint32(i)))
	}
	for i, tm := range timers {
		if i%10 != 0 {
			require.True(t, q.Cancel(tm))
		}
	}
	assert.Equal(t, 500, q.Pending())
	assert.LessOrEqual(t, q.n, 2500, "compaction bounds stale items")
	for q.Step() {
	}
	require.Len(t, r.got, 500)
	for i, v := range r.got {
		assert.Equal(t, uint32(i*10), v)
	}
}

func TestQueuePastIsClampedAndRunUntil(t *testing.T) {
	q := NewQueue()
	r := &recorder{}
	q.At(10*time.Second, HandlerFunc(func(now time.Duration, _ uint32) {
		q.At(now-5*time.Second, r, 99) // in the past: runs now, not before
	}), 0)
	q.At(20*time.Second, r, 20)
	q.RunUntil(15 * time.Second)
	assert.Equal(t, []uint32{99}, r.got)
	assert.Equal(t, []time.Duration{10 * time.Second}, r.at)
	assert.Equal(t, 15*time.Second, q.Now(), "clock advances to the end of the window")
	q.RunUntil(time.Minute)
	assert.Equal(t, []uint32{99, 20}, r.got)
}

func TestQueueStop(t *testing.T) {
	q := NewQueue()
	r := &recorder{}
	q.At(time.Second, HandlerFunc(func(time.Duration, uint32) { q.Stop() }), 0)
	q.At(2*time.Second, r, 2)
	q.RunUntil(time.Hour)
	assert.Empty(t, r.got)
	assert.Equal(t, time.Second, q.Now())
}

func TestQueueZeroAllocsPerEvent(t *testing.T) {
	q := NewQueue()
	h := &counter{}
	for i := 0; i < 1000; i++ {
		q.At(time.Duration(i), h, 0)
	}
	allocs := testing.AllocsPerRun(1000, func() {
		q.Step()
		q.After(time.Duration(1000), h, 0)
	})
	assert.Zero(t, allocs)
}

type counter struct{ n int }

func (c *counter) Fire(time.Duration, uint32) { c.n++ }

func TestRegisteredAndTransientHandlers(t *testing.T) {
	q := NewQueue()
	r := &recorder{}
	id := q.Register(r)
	q.AtID(2*time.Second, id, 2)
	tm := q.At(time.Second, r, 1) // transient
	assert.True(t, q.Cancel(tm))
	assert.Len(t, q.freeH, 1, "a cancelled transient handler is released")
	q.At(3*time.Second, r, 3) // reuses the released entry
	assert.Len(t, q.handlers, 2)
	for q.Step() {
	}
	assert.Equal(t, []uint32{2, 3}, r.got)
	assert.Len(t, q.freeH, 1, "fired transient handler released")
	assert.False(t, q.handlers[id].transient, "registered handlers stay")
}

// TestQueueMatchesReference drives the queue and a plain sorted list with the same random mix of
// scheduling (many ties), cancelling and firing, across compactions, and checks that both fire the
// same events with the same args and handlers in the same order.
func TestQueueMatchesReference(t *testing.T) {
	type ev struct {
		at   time.Duration
		seq  int
		arg  uint32
		h    int
		tm   Timer
		dead bool
	}
	rng := rand.New(rand.NewPCG(7, 9))
	q := NewQueue()
	type fired struct {
		at  time.Duration
		arg uint32
		h   int
	}
	var got []fired
	hs := make([]HandlerID, 3)
	for i := range hs {
		hs[i] = q.Register(HandlerFunc(func(now time.Duration, arg uint32) { got = append(got, fired{now, arg, i}) }))
	}
	var ref []*ev
	var want []fired
	seq, compactions := 0, 0
	for round := 0; round < 40_000; round++ {
		op := rng.IntN(10)
		switch round / 4000 % 4 { // phases of growth, then of mostly cancelling (to compact)
		case 1:
			op = []int{0, 0, 0, 0, 0, 0, 0, 0, 5, 9}[op]
		case 2:
			op = []int{5, 5, 5, 5, 5, 5, 5, 5, 5, 9}[op]
		}
		before := q.cancelled
		switch {
		case op < 5:
			seq++
			e := &ev{at: q.Now() + time.Duration(rng.IntN(50)), seq: seq, arg: rng.Uint32(), h: rng.IntN(len(hs))}
			e.tm = q.AtID(e.at, hs[e.h], e.arg)
			ref = append(ref, e)
		case op < 8 && len(ref) > 0:
			e := ref[rng.IntN(len(ref))]
			require.Equal(t, !e.dead, q.Cancel(e.tm))
			e.dead = true
		default:
			live := ref[:0]
			for _, e := range ref {
				if !e.dead {
					live = append(live, e)
				}
			}
			ref = live
			if len(ref) == 0 {
				require.False(t, q.Step())
				continue
			}
			slices.SortStableFunc(ref, func(a, b *ev) int {
				if a.at != b.at {
					return cmp.Compare(a.at, b.at)
				}
				return cmp.Compare(a.seq, b.seq)
			})
			e := ref[0]
			ref = ref[1:]
			want = append(want, fired{e.at, e.arg, e.h})
			require.True(t, q.Step())
			require.False(t, q.IsPending(e.tm))
		}
		require.Equal(t, len(want), len(got), "round %d", round)
		if before > 1024 && q.cancelled == 0 {
			compactions++
		}
	}
	assert.Equal(t, want, got)
	assert.Positive(t, compactions, "the mix must exercise compaction")
	assert.Equal(t, 16, int(unsafe.Sizeof(item{})), "item size (the P1 target depends on it)")
}
