package engine

import (
	"fmt"
	"time"
)

// Handler receives events. Models implement it on a pointer receiver and pack what the event is
// about into arg (for example a kind and an object index), so that scheduling an event stores two
// words and allocates nothing.
type Handler interface {
	// Fire runs the event. now is the virtual time of the event; arg is the value given to At.
	Fire(now time.Duration, arg uint64)
}

// HandlerFunc adapts a function to Handler. Creating a closure allocates, so use it off the hot path.
type HandlerFunc func(now time.Duration, arg uint64)

// Fire calls f.
func (f HandlerFunc) Fire(now time.Duration, arg uint64) { f(now, arg) }

// Timer identifies a scheduled event so that it can be cancelled. The zero Timer is never pending.
type Timer struct {
	slot int32 // index+1 into the slot table; 0 means none
	gen  uint32
}

// IsZero reports whether t was never set.
func (t Timer) IsZero() bool { return t.slot == 0 }

// item is one heap entry. It carries the handler and its argument inline, so that firing an
// event reads only the heap; cancellation is checked against the small gens table.
type item struct {
	at   int64
	seq  uint64
	arg  uint64
	h    Handler
	slot int32
	gen  uint32
}

func (a *item) less(b *item) bool {
	if a.at != b.at {
		return a.at < b.at
	}
	return a.seq < b.seq
}

// Queue is the event loop: a 4-ary min-heap of (time, sequence) with lazy cancellation.
// Events at the same virtual time fire in the order they were scheduled.
type Queue struct {
	now       int64
	seq       uint64
	heap []item
	// gens[slot] is the generation of the event that holds slot; a heap item whose gen differs
	// was cancelled. live[slot] tells a scheduled slot from a free one. Slots are recycled LIFO.
	gens      []uint32
	live      []bool
	free      []int32
	cancelled int // heap items whose slot generation no longer matches
	fired     uint64
	stop      bool
}

// NewQueue returns an empty queue at virtual time 0.
func NewQueue() *Queue { return &Queue{} }

// Now is the current virtual time, measured from the start of the run.
func (q *Queue) Now() time.Duration { return time.Duration(q.now) }

// Fired counts the events run so far.
func (q *Queue) Fired() uint64 { return q.fired }

// Pending counts events scheduled and not yet fired or cancelled.
func (q *Queue) Pending() int { return len(q.heap) - q.cancelled }

// At schedules h.Fire(at, arg). A time in the past is clamped to now: events never run backwards.
func (q *Queue) At(at time.Duration, h Handler, arg uint64) Timer {
	if h == nil {
		panic("engine: At with nil handler")
	}
	t := int64(at)
	if t < q.now {
		t = q.now
	}
	var s int32
	if n := len(q.free); n > 0 {
		s = q.free[n-1]
		q.free = q.free[:n-1]
	} else {
		q.gens = append(q.gens, 0)
		q.live = append(q.live, false)
		s = int32(len(q.gens) - 1)
	}
	q.live[s] = true
	gen := q.gens[s]
	q.seq++
	q.heap = append(q.heap, item{at: t, seq: q.seq, arg: arg, h: h, slot: s, gen: gen})
	q.up(len(q.heap) - 1)
	return Timer{slot: s + 1, gen: gen}
}

// After schedules h.Fire after d from now.
func (q *Queue) After(d time.Duration, h Handler, arg uint64) Timer {
	return q.At(time.Duration(q.now)+d, h, arg)
}

// Cancel removes a pending event. It reports whether the event was still pending.
func (q *Queue) Cancel(t Timer) bool {
	if !q.IsPending(t) {
		return false
	}
	q.release(t.slot - 1)
	q.cancelled++
	if q.cancelled > 1024 && q.cancelled > len(q.heap)/2 {
		q.compact()
	}
	return true
}

// IsPending reports whether t is scheduled and has not fired or been cancelled.
func (q *Queue) IsPending(t Timer) bool {
	if t.slot == 0 || int(t.slot) > len(q.gens) {
		return false
	}
	s := t.slot - 1
	return q.live[s] && q.gens[s] == t.gen
}

func (q *Queue) release(s int32) {
	q.live[s] = false
	q.gens[s]++
	q.free = append(q.free, s)
}

// Step fires the next event. It returns false when the queue is empty.
func (q *Queue) Step() bool {
	for len(q.heap) > 0 {
		top := q.heap[0]
		q.pop()
		if q.gens[top.slot] != top.gen {
			q.cancelled--
			continue
		}
		q.release(top.slot)
		q.now = top.at
		q.fired++
		top.h.Fire(time.Duration(top.at), top.arg)
		return true
	}
	return false
}

// NextAt returns the time of the next live event, and false when there is none.
func (q *Queue) NextAt() (time.Duration, bool) {
	for len(q.heap) > 0 {
		top := &q.heap[0]
		if q.gens[top.slot] == top.gen {
			return time.Duration(top.at), true
		}
		q.pop()
		q.cancelled--
	}
	return 0, false
}

// RunUntil fires every event due at or before end, then sets the clock to end. It stops early,
// leaving the clock at the last fired event, when Stop is called from inside an event.
func (q *Queue) RunUntil(end time.Duration) {
	q.stop = false
	for !q.stop {
		at, ok := q.NextAt()
		if !ok || at > end {
			break
		}
		q.Step()
	}
	if !q.stop && int64(end) > q.now {
		q.now = int64(end)
	}
}

// Stop makes the running RunUntil return after the current event.
func (q *Queue) Stop() { q.stop = true }

func (q *Queue) pop() {
	n := len(q.heap) - 1
	q.heap[0] = q.heap[n]
	q.heap[n] = item{} // drop the handler reference
	q.heap = q.heap[:n]
	if n > 0 {
		q.down(0)
	}
}

func (q *Queue) up(i int) {
	h := q.heap
	x := h[i]
	for i > 0 {
		p := (i - 1) / 4
		if !x.less(&h[p]) {
			break
		}
		h[i] = h[p]
		i = p
	}
	h[i] = x
}

func (q *Queue) down(i int) {
	h := q.heap
	n := len(h)
	x := h[i]
	for {
		c := 4*i + 1
		if c >= n {
			break
		}
		m := c
		end := c + 4
		if end > n {
			end = n
		}
		for j := c + 1; j < end; j++ {
			if h[j].less(&h[m]) {
				m = j
			}
		}
		if !h[m].less(&x) {
			break
		}
		h[i] = h[m]
		i = m
	}
	h[i] = x
}

// compact drops cancelled items and re-heapifies, bounding memory when many timers are cancelled.
func (q *Queue) compact() {
	live := q.heap[:0]
	for _, it := range q.heap {
		if q.gens[it.slot] == it.gen {
			live = append(live, it)
		}
	}
	q.heap = live
	q.cancelled = 0
	for i := len(q.heap)/4 + 1; i >= 0; i-- {
		if i < len(q.heap) {
			q.down(i)
		}
	}
}

// String summarises the queue for debugging.
func (q *Queue) String() string {
	return fmt.Sprintf("queue{now=%v pending=%d fired=%d}", time.Duration(q.now), q.Pending(), q.fired)
}
