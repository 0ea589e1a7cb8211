package engine

import (
	"time"

	"k8s.io/utils/clock"
)

// Clock is virtual time for code written against k8s.io/utils/clock: controllers and the platform
// take a clock.WithTicker (or clock.WithDelayedExecution) and get this one inside a simulation.
// Timers and tickers are events in the Queue. Their channels are buffered (capacity 1) and filled
// without blocking when the event fires, as the real timers do; code inside a simulation should
// prefer AfterFunc, which runs the function as the event itself.
//
// Sleep cannot block in a single-threaded simulation and panics: decision code never sleeps, it
// returns "requeue after d" (docs/design.md, "Conventions").
type Clock struct {
	q     *Queue
	epoch time.Time
}

var (
	_ clock.WithTicker           = (*Clock)(nil)
	_ clock.WithDelayedExecution = (*Clock)(nil)
)

// NewClock returns a clock whose virtual time 0 is epoch.
func NewClock(q *Queue, epoch time.Time) *Clock { return &Clock{q: q, epoch: epoch} }

// Epoch is the wall-clock instant that virtual time 0 stands for.
func (c *Clock) Epoch() time.Time { return c.epoch }

// Now returns epoch + the queue's virtual time.
func (c *Clock) Now() time.Time { return c.epoch.Add(c.q.Now()) }

// Since returns Now() - t.
func (c *Clock) Since(t time.Time) time.Duration { return c.Now().Sub(t) }

// After is NewTimer(d).C().
func (c *Clock) After(d time.Duration) <-chan time.Time { return c.NewTimer(d).C() }

// Tick is NewTicker(d).C(), or nil for d <= 0 as in the standard library.
func (c *Clock) Tick(d time.Duration) <-chan time.Time {
	if d <= 0 {
		return nil
	}
	return c.NewTicker(d).C()
}

// Sleep panics: nothing may block inside a simulation.
func (c *Clock) Sleep(time.Duration) {
	panic("engine: Clock.Sleep inside a simulation; schedule with AfterFunc or return a requeue delay")
}

// NewTimer returns a timer that sends the virtual time on its channel after d.
func (c *Clock) NewTimer(d time.Duration) clock.Timer {
	t := &vTimer{c: c, ch: make(chan time.Time, 1)}
	t.Reset(d)
	return t
}

// AfterFunc runs f as an event after d.
func (c *Clock) AfterFunc(d time.Duration, f func()) clock.Timer {
	t := &vTimer{c: c, f: f}
	t.Reset(d)
	return t
}

// NewTicker returns a ticker that fires every d.
func (c *Clock) NewTicker(d time.Duration) clock.Ticker {
	if d <= 0 {
		panic("engine: non-positive interval for NewTicker")
	}
	t := &vTicker{c: c, d: d, ch: make(chan time.Time, 1)}
	t.ev = c.q.After(d, t, 0)
	return t
}

type vTimer struct {
	c  *Clock
	ch chan time.Time
	f  func()
	ev Timer
}

func (t *vTimer) C() <-chan time.Time { return t.ch }

func (t *vTimer) Stop() bool { return t.c.q.Cancel(t.ev) }

func (t *vTimer) Reset(d time.Duration) bool {
	was := t.Stop()
	t.ev = t.c.q.After(d, t, 0)
	return was
}

func (t *vTimer) Fire(time.Duration, uint32) {
	if t.f != nil {
		t.f()
		return
	}
	select {
	case t.ch <- t.c.Now():
	default:
	}
}

type vTicker struct {
	c  *Clock
	d  time.Duration
	ch chan time.Time
	ev Timer
}

func (t *vTicker) C() <-chan time.Time { return t.ch }

func (t *vTicker) Stop() { t.c.q.Cancel(t.ev) }

func (t *vTicker) Fire(time.Duration, uint32) {
	select {
	case t.ch <- t.c.Now():
	default: // a slow reader drops ticks, as time.Ticker does
	}
	t.ev = t.c.q.After(t.d, t, 0)
}
