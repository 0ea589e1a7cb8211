package engine

import (
	"fmt"
	"math"
	"math/bits"
	"time"
)

// Handler receives events. Models implement it on a pointer receiver and pack what the event is
// about into arg (for example a kind and an object index), so that scheduling an event stores two
// words and allocates nothing.
type Handler interface {
	// Fire runs the event. now is the virtual time of the event; arg is the value given to At.
	Fire(now time.Duration, arg uint32)
}

// HandlerFunc adapts a function to Handler. Creating a closure allocates, so use it off the hot path.
type HandlerFunc func(now time.Duration, arg uint32)

// Fire calls f.
func (f HandlerFunc) Fire(now time.Duration, arg uint32) { f(now, arg) }

// Timer identifies a scheduled event so that it can be cancelled. The zero Timer is never pending.
type Timer struct {
	key uint64 // the event's key (sequence<<slotBits | slot); 0 means none
}

// IsZero reports whether t was never set.
func (t Timer) IsZero() bool { return t.key == 0 }

// slotBits is how many low bits of an item's key hold its slot: at most 2^24 (16.7 M) events may
// be pending at once; the sequence number takes the 40 high bits (10^12 events per run).
const (
	slotBits = 24
	slotMask = 1<<slotBits - 1
	maxSlots = 1 << slotBits
)

// item is one pending-set entry: 16 bytes and pointer-free, so moving items costs no GC write
// barriers and the buckets are never scanned by the collector. key orders ties by sequence (high
// bits) and names the slot (low bits); the slot holds the live key, which tells a cancelled item
// from a pending one, and the event's arg and handler, which only the firing event needs.
type item struct {
	at  int64
	key uint64
}

// slot is a pending event's side entry: its key (0 when the slot is free or the event was
// cancelled) and what it fires. One 16-byte read when the event fires gives all three.
type slot struct {
	key uint64
	arg uint32
	hid HandlerID
}

// HandlerID is a handler registered with Register. Models register themselves once and schedule
// with AtID, which keeps the handler table a few entries long and always in cache.
type HandlerID uint32

type handlerEntry struct {
	h         Handler
	transient bool // registered by At for one event; released when it fires or is cancelled
}

// Queue is the event loop: a monotone priority queue (a radix heap) of (time, sequence) with
// lazy cancellation. Events at the same virtual time fire in the order they were scheduled.
//
// A discrete-event simulation never goes back in time: every event is scheduled at or after the
// current time (AtID clamps), and its sequence number is larger than every other pending event's.
// So no event is ever scheduled before the last one taken out, and the pending set can be a radix
// heap (Ahuja, Mehlhorn, Orlin and Tarjan 1990) instead of a comparison heap. Bucket b > 0 holds
// the items whose time first differs from last (the time of the last item taken out) in bit
// b-1; the ready list holds those at last itself. Scheduling appends to one bucket, with no
// sifting. When the ready list runs out, the lowest non-empty bucket is scanned for its earliest
// time, which becomes last, and its items are redistributed to lower buckets (those at the new
// last to the ready list); an item only ever moves down, so at most 63 times (about 9 on average in P1's loop:
// 1e5 pending, delays up to an hour).
//
// Ties need no comparison: items enter a bucket in increasing sequence, since a newly scheduled
// event has the largest sequence of all and redistribution copies a bucket in order into
// buckets that are empty, so every bucket, and the ready list, is in sequence order.
//
// Only taking an event out to fire it (or to discard a cancelled one in Step and RunUntil) moves
// last. NextAt and Peek locate the minimum without moving it, so an event may still be scheduled
// between the current time and a peeked one (RunUntil stops before an event after its end, and
// the caller may schedule earlier ones).
//
// Buckets keep the arrays they grew to, so the loop allocates nothing once they have grown. The
// price is memory: a bucket that once held many events keeps their room, and the highest buckets
// fill up once each time the clock crosses a power of two, so the arrays can hold several times as
// many items as are pending at the peak (16 bytes each; 8 times after P1's 4 M events).
type Queue struct {
	now  int64
	seq  uint64
	last int64 // the time of the last item taken out of the buckets; no pending item is earlier
	// ready holds the items at time last, in sequence order, from ready[head] on.
	ready []item
	head  int
	// buckets[b] for b in 1..63 holds the items whose time differs from last first in bit b-1;
	// bit b of mask is set when buckets[b] is not empty. buckets[0] is unused (see ready).
	buckets [64][]item
	mask    uint64
	n       int // items in ready[head:] and the buckets, cancelled ones included
	// slots[s].key is the key of the pending event that holds slot s, 0 when free. An item whose
	// key differs was cancelled. Slots are recycled LIFO, so the table stays small and hot.
	slots     []slot
	free      []int32
	handlers  []handlerEntry
	freeH     []HandlerID
	cancelled int // items whose slot no longer holds their key
	fired     uint64
	stop      bool
}

// NewQueue returns an empty queue at virtual time 0.
func NewQueue() *Queue { return &Queue{} }

// Reset empties q for a new run: afterwards it behaves as NewQueue's, event for event, with the
// memory of its buckets and tables kept (a replay of many short seeds reuses one queue).
func (q *Queue) Reset() {
	clear(q.handlers) // no reference to the last run's handlers
	r := Queue{ready: q.ready[:0], slots: q.slots[:0], free: q.free[:0], handlers: q.handlers[:0], freeH: q.freeH[:0]}
	for b := range q.buckets {
		r.buckets[b] = q.buckets[b][:0]
	}
	*q = r
}

// Now is the current virtual time, measured from the start of the run.
func (q *Queue) Now() time.Duration { return time.Duration(q.now) }

// Fired counts the events run so far.
func (q *Queue) Fired() uint64 { return q.fired }

// Pending counts events scheduled and not yet fired or cancelled.
func (q *Queue) Pending() int { return q.n - q.cancelled }

// Register adds a long-lived handler and returns its id for AtID and AfterID.
func (q *Queue) Register(h Handler) HandlerID {
	if h == nil {
		panic("engine: Register with nil handler")
	}
	q.handlers = append(q.handlers, handlerEntry{h: h})
	return HandlerID(len(q.handlers) - 1)
}

// At schedules h.Fire(at, arg) for a handler that is not registered (a one-off: it takes a
// transient handler entry until it fires). A time in the past is clamped to now: events never
// run backwards.
func (q *Queue) At(at time.Duration, h Handler, arg uint32) Timer {
	if h == nil {
		panic("engine: At with nil handler")
	}
	var id HandlerID
	if n := len(q.freeH); n > 0 {
		id = q.freeH[n-1]
		q.freeH = q.freeH[:n-1]
		q.handlers[id] = handlerEntry{h: h, transient: true}
	} else {
		q.handlers = append(q.handlers, handlerEntry{h: h, transient: true})
		id = HandlerID(len(q.handlers) - 1)
	}
	return q.AtID(at, id, arg)
}

// AtID schedules the registered handler id at virtual time at with arg.
func (q *Queue) AtID(at time.Duration, id HandlerID, arg uint32) Timer {
	t := int64(at)
	if t < q.now {
		t = q.now
	}
	var s int32
	if n := len(q.free); n > 0 {
		s = q.free[n-1]
		q.free = q.free[:n-1]
	} else {
		if len(q.slots) == maxSlots {
			panic(fmt.Sprintf("engine: more than %d events pending", maxSlots))
		}
		q.slots = append(q.slots, slot{})
		s = int32(len(q.slots) - 1)
	}
	q.seq++
	key := q.seq<<slotBits | uint64(s)
	q.slots[s] = slot{key: key, arg: arg, hid: id}
	q.push(item{at: t, key: key})
	return Timer{key: key}
}

// After schedules h.Fire after d from now (a one-off handler, as At).
func (q *Queue) After(d time.Duration, h Handler, arg uint32) Timer {
	return q.At(time.Duration(q.now)+d, h, arg)
}

// AfterID schedules the registered handler id after d from now.
func (q *Queue) AfterID(d time.Duration, id HandlerID, arg uint32) Timer {
	return q.AtID(time.Duration(q.now)+d, id, arg)
}

// Cancel removes a pending event. It reports whether the event was still pending.
func (q *Queue) Cancel(t Timer) bool {
	if !q.IsPending(t) {
		return false
	}
	s := int32(t.key & slotMask)
	q.releaseHandler(q.slots[s].hid)
	q.release(s)
	q.cancelled++
	if q.cancelled > 1024 && q.cancelled > q.n/2 {
		q.compact()
	}
	return true
}

// IsPending reports whether t is scheduled and has not fired or been cancelled.
func (q *Queue) IsPending(t Timer) bool {
	if t.key == 0 {
		return false
	}
	s := t.key & slotMask
	return s < uint64(len(q.slots)) && q.slots[s].key == t.key
}

func (q *Queue) releaseHandler(id HandlerID) {
	if e := &q.handlers[id]; e.transient {
		*e = handlerEntry{}
		q.freeH = append(q.freeH, id)
	}
}

func (q *Queue) release(s int32) {
	q.slots[s].key = 0
	q.free = append(q.free, s)
}

// Step fires the next event. It returns false when the queue is empty.
func (q *Queue) Step() bool {
	for {
		if q.head == len(q.ready) && !q.settle(math.MaxInt64) {
			return false
		}
		if q.fire() {
			return true
		}
	}
}

// fire takes the first ready item out and runs its event. It reports false, running nothing, when
// the item was cancelled.
func (q *Queue) fire() bool {
	top := q.ready[q.head]
	q.head++
	q.n--
	s := int32(top.key & slotMask)
	sl := q.slots[s]
	if sl.key != top.key {
		q.cancelled--
		return false
	}
	q.release(s)
	q.now = top.at
	q.fired++
	e := q.handlers[sl.hid]
	if e.transient {
		q.releaseHandler(sl.hid)
	}
	e.h.Fire(time.Duration(top.at), sl.arg)
	return true
}

// Peek returns the next live event (its time, handler and arg) without firing it, and false when
// there is none. Like NextAt it drops cancelled entries on the way; it is for tools that watch a
// run step by step (an invariant checker), not for the hot path.
func (q *Queue) Peek() (at time.Duration, h HandlerID, arg uint32, ok bool) {
	it, ok := q.peek()
	if !ok {
		return 0, 0, 0, false
	}
	sl := &q.slots[it.key&slotMask]
	return time.Duration(it.at), sl.hid, sl.arg, true
}

// NextAt returns the time of the next live event, and false when there is none.
func (q *Queue) NextAt() (time.Duration, bool) {
	it, ok := q.peek()
	return time.Duration(it.at), ok
}

// peek finds the next live item without taking it out: last does not move, so events may still be
// scheduled before it. Cancelled items met on the way are dropped; one in a bucket is cut out in
// place, keeping the bucket in sequence order.
func (q *Queue) peek() (item, bool) {
	for q.head < len(q.ready) {
		it := q.ready[q.head]
		if q.slots[it.key&slotMask].key == it.key {
			return it, true
		}
		q.head++
		q.n--
		q.cancelled--
	}
	for q.mask != 0 {
		b := bits.TrailingZeros64(q.mask)
		bk := q.buckets[b]
		m := 0
		for i := 1; i < len(bk); i++ {
			if bk[i].at < bk[m].at {
				m = i
			}
		}
		it := bk[m]
		if q.slots[it.key&slotMask].key == it.key {
			return it, true
		}
		q.buckets[b] = append(bk[:m], bk[m+1:]...)
		if len(bk) == 1 {
			q.mask &^= 1 << b
		}
		q.n--
		q.cancelled--
	}
	return item{}, false
}

// RunUntil fires every event due at or before end, then sets the clock to end. It stops early,
// leaving the clock at the last fired event, when Stop is called from inside an event.
func (q *Queue) RunUntil(end time.Duration) {
	q.stop = false
	for !q.stop {
		if q.head == len(q.ready) {
			if !q.settle(int64(end)) {
				break
			}
		} else if q.ready[q.head].at > int64(end) {
			break
		}
		q.fire()
	}
	if !q.stop && int64(end) > q.now {
		q.now = int64(end)
	}
}

// Stop makes the running RunUntil return after the current event.
func (q *Queue) Stop() { q.stop = true }

// push adds an item: one append to the bucket of the highest bit in which its time differs from
// last. The caller guarantees it.at >= last (AtID clamps to now, and now >= last whenever items
// are pending).
func (q *Queue) push(it item) {
	if q.n == 0 {
		// Nothing pending: last may have been left at a cancelled item's time ahead of now.
		q.last = q.now
		q.head = 0
		q.ready = q.ready[:0]
	}
	q.n++
	b := bits.Len64(uint64(it.at ^ q.last))
	if b == 0 {
		q.pushReady(it)
		return
	}
	q.buckets[b] = append(q.buckets[b], it)
	q.mask |= 1 << b
}

// pushReady appends to the ready list, first sliding it back to the start of its array when it is
// full, so that a long run of events at one instant does not grow it without bound.
func (q *Queue) pushReady(it item) {
	if len(q.ready) == cap(q.ready) && q.head > 0 {
		n := copy(q.ready, q.ready[q.head:])
		q.ready = q.ready[:n]
		q.head = 0
	}
	q.ready = append(q.ready, it)
}

// settle refills the empty ready list: it finds the earliest time in the lowest non-empty bucket,
// makes it last, and redistributes that bucket, in order, to the ready list and lower buckets
// (all empty, so each stays in sequence order). It reports false, changing nothing, when no item
// is pending or the earliest is after limit.
func (q *Queue) settle(limit int64) bool {
	if q.mask == 0 {
		return false
	}
	b := bits.TrailingZeros64(q.mask)
	bk := q.buckets[b]
	m := bk[0].at
	for _, it := range bk[1:] {
		m = min(m, it.at)
	}
	if m > limit {
		return false
	}
	q.last = m
	q.head = 0
	ready := q.ready[:0]
	for _, it := range bk {
		nb := bits.Len64(uint64(it.at ^ m))
		if nb == 0 {
			ready = append(ready, it)
			continue
		}
		q.buckets[nb] = append(q.buckets[nb], it)
		q.mask |= 1 << nb
	}
	q.ready = ready
	q.buckets[b] = bk[:0]
	q.mask &^= 1 << b
	return true
}

// compact drops cancelled items, keeping every bucket in order, bounding memory when many timers
// are cancelled.
func (q *Queue) compact() {
	live := func(out, bk []item) []item { // out aliases bk at or before it
		for _, it := range bk {
			if q.slots[it.key&slotMask].key == it.key {
				out = append(out, it)
			}
		}
		return out
	}
	q.ready = live(q.ready[:0], q.ready[q.head:])
	q.head = 0
	q.n = len(q.ready)
	for m := q.mask; m != 0; m &= m - 1 {
		b := bits.TrailingZeros64(m)
		q.buckets[b] = live(q.buckets[b][:0], q.buckets[b])
		q.n += len(q.buckets[b])
		if len(q.buckets[b]) == 0 {
			q.mask &^= 1 << b
		}
	}
	q.cancelled = 0
}

// String summarises the queue for debugging.
func (q *Queue) String() string {
	return fmt.Sprintf("queue{now=%v pending=%d fired=%d}", time.Duration(q.now), q.Pending(), q.fired)
}
