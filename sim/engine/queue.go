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
	Fire(now time.Duration, arg uint32)
}

// HandlerFunc adapts a function to Handler. Creating a closure allocates, so use it off the hot path.
type HandlerFunc func(now time.Duration, arg uint32)

// Fire calls f.
func (f HandlerFunc) Fire(now time.Duration, arg uint32) { f(now, arg) }

// Timer identifies a scheduled event so that it can be cancelled. The zero Timer is never pending.
type Timer struct {
	key uint64 // the event's heap key (sequence<<slotBits | slot); 0 means none
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

// item is one heap entry: 16 bytes and pointer-free, so four siblings of the 4-ary heap share a
// cache line, moving items costs no GC write barriers and the heap is never scanned. key orders
// ties by sequence (high bits) and names the slot (low bits); the slot holds the live key, which
// tells a cancelled item from a pending one, and the event's arg and handler, which only the
// firing event needs and so stay out of the heap's sift paths.
type item struct {
	at  int64
	key uint64
}

// slot is a pending event's side entry: its key (0 when the slot is free or the event was
// cancelled) and what it fires. One 16-byte read at the top of the heap gives all three.
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

func (a *item) less(b *item) bool {
	if a.at != b.at {
		return a.at < b.at
	}
	return a.key < b.key
}

// Queue is the event loop: a 4-ary min-heap of (time, sequence) with lazy cancellation.
// Events at the same virtual time fire in the order they were scheduled.
type Queue struct {
	now  int64
	seq  uint64
	heap []item
	// slots[s].key is the key of the pending event that holds slot s, 0 when free. A heap item
	// whose key differs was cancelled. Slots are recycled LIFO, so the table stays small and hot.
	slots     []slot
	free      []int32
	handlers  []handlerEntry
	freeH     []HandlerID
	cancelled int // heap items whose slot generation no longer matches
	fired     uint64
	stop      bool
}

// NewQueue returns an empty queue at virtual time 0.
func NewQueue() *Queue { return &Queue{} }

// Reset empties q for a new run: afterwards it behaves as NewQueue's, event for event, with the
// memory of its heap and tables kept (a replay of many short seeds reuses one queue).
func (q *Queue) Reset() {
	clear(q.handlers) // no reference to the last run's handlers
	*q = Queue{heap: q.heap[:0], slots: q.slots[:0], free: q.free[:0], handlers: q.handlers[:0], freeH: q.freeH[:0]}
}

// Now is the current virtual time, measured from the start of the run.
func (q *Queue) Now() time.Duration { return time.Duration(q.now) }

// Fired counts the events run so far.
func (q *Queue) Fired() uint64 { return q.fired }

// Pending counts events scheduled and not yet fired or cancelled.
func (q *Queue) Pending() int { return len(q.heap) - q.cancelled }

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
	q.heap = append(q.heap, item{at: t, key: key})
	q.up(len(q.heap) - 1)
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
	if q.cancelled > 1024 && q.cancelled > len(q.heap)/2 {
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
	for len(q.heap) > 0 {
		top := q.heap[0]
		q.pop()
		s := int32(top.key & slotMask)
		sl := q.slots[s]
		if sl.key != top.key {
			q.cancelled--
			continue
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
	return false
}

// Peek returns the next live event (its time, handler and arg) without firing it, and false when
// there is none. Like NextAt it drops cancelled entries on the way; it is for tools that watch a
// run step by step (an invariant checker), not for the hot path.
func (q *Queue) Peek() (at time.Duration, h HandlerID, arg uint32, ok bool) {
	if _, ok := q.NextAt(); !ok {
		return 0, 0, 0, false
	}
	top := &q.heap[0]
	sl := &q.slots[top.key&slotMask]
	return time.Duration(top.at), sl.hid, sl.arg, true
}

// NextAt returns the time of the next live event, and false when there is none.
func (q *Queue) NextAt() (time.Duration, bool) {
	for len(q.heap) > 0 {
		top := &q.heap[0]
		if q.slots[top.key&slotMask].key == top.key {
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

// pop removes the minimum. It uses Floyd's bottom-up method: the hole at the root sinks to a
// leaf along the smallest children (3 comparisons a level on a 4-ary heap, none against the moved
// element), then the last element is sifted up from there, which is rarely more than a step since
// it came from the bottom.
func (q *Queue) pop() {
	h := q.heap
	n := len(h) - 1
	last := h[n]
	h = h[:n]
	q.heap = h
	if n == 0 {
		return
	}
	i := 0
	for {
		c := 4*i + 1
		if c >= n {
			break
		}
		m := c
		end := min(c+4, n)
		for j := c + 1; j < end; j++ {
			if h[j].less(&h[m]) {
				m = j
			}
		}
		h[i] = h[m]
		i = m
	}
	for i > 0 {
		p := (i - 1) / 4
		if !last.less(&h[p]) {
			break
		}
		h[i] = h[p]
		i = p
	}
	h[i] = last
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
		if q.slots[it.key&slotMask].key == it.key {
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
