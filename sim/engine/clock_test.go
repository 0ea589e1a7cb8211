package engine

import (
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

var epoch = time.Date(2019, 1, 18, 0, 0, 0, 0, time.UTC)

func TestClockNowFollowsQueue(t *testing.T) {
	q := NewQueue()
	c := NewClock(q, epoch)
	assert.Equal(t, epoch, c.Now())
	q.RunUntil(90 * time.Second)
	assert.Equal(t, epoch.Add(90*time.Second), c.Now())
	assert.Equal(t, 30*time.Second, c.Since(epoch.Add(time.Minute)))
}

func TestClockTimer(t *testing.T) {
	q := NewQueue()
	c := NewClock(q, epoch)
	tm := c.NewTimer(5 * time.Second)
	q.RunUntil(4 * time.Second)
	select {
	case <-tm.C():
		t.Fatal("timer fired early")
	default:
	}
	q.RunUntil(5 * time.Second)
	select {
	case v := <-tm.C():
		assert.Equal(t, epoch.Add(5*time.Second), v)
	default:
		t.Fatal("timer did not fire at its time")
	}
	assert.False(t, tm.Stop(), "stopping a fired timer reports false")

	tm2 := c.NewTimer(time.Second)
	assert.True(t, tm2.Stop())
	q.RunUntil(time.Minute)
	assert.Len(t, tm2.C(), 0, "stopped timer never fires")

	assert.False(t, tm2.Reset(time.Second), "reset of a stopped timer")
	q.RunUntil(time.Minute + time.Second)
	assert.Len(t, tm2.C(), 1, "reset timer fires")
}

func TestClockAfterFuncRunsAsEvent(t *testing.T) {
	q := NewQueue()
	c := NewClock(q, epoch)
	var at []time.Time
	c.AfterFunc(2*time.Second, func() { at = append(at, c.Now()) })
	stopped := c.AfterFunc(time.Second, func() { t.Fatal("stopped AfterFunc ran") })
	require.True(t, stopped.Stop())
	q.RunUntil(time.Hour)
	assert.Equal(t, []time.Time{epoch.Add(2 * time.Second)}, at)
}

func TestClockTicker(t *testing.T) {
	q := NewQueue()
	c := NewClock(q, epoch)
	tk := c.NewTicker(10 * time.Second)
	var got []time.Time
	// drain the ticker from an event after each tick, as a single-threaded consumer would
	var drain HandlerFunc
	drain = func(now time.Duration, _ uint32) {
		select {
		case v := <-tk.C():
			got = append(got, v)
		default:
		}
		if now < 35*time.Second {
			q.After(time.Second, drain, 0)
		}
	}
	q.At(0, drain, 0)
	q.RunUntil(40 * time.Second)
	assert.Equal(t, []time.Time{epoch.Add(10 * time.Second), epoch.Add(20 * time.Second), epoch.Add(30 * time.Second)}, got)
	<-tk.C() // the tick at 40 s, left unread by the consumer
	tk.Stop()
	q.RunUntil(time.Hour)
	assert.Len(t, tk.C(), 0)
	assert.Nil(t, c.Tick(0))
}

func TestClockSleepPanics(t *testing.T) {
	c := NewClock(NewQueue(), epoch)
	assert.Panics(t, func() { c.Sleep(time.Second) })
}

func TestStreamsAreNamedAndSeeded(t *testing.T) {
	a := NewStreams(42)
	x1 := a.Stream("scheduler").Uint64()
	x2 := a.Stream("scheduler").Uint64()
	y := a.Stream("node/a").Uint64()
	z := NewStreams(43).Stream("scheduler").Uint64()
	assert.Equal(t, x1, x2, "same seed and name, same numbers")
	assert.NotEqual(t, x1, y, "different names are independent streams")
	assert.NotEqual(t, x1, z, "different seeds differ")
	assert.Equal(t, uint64(42), a.Seed())
}
