package engine

import (
	"math/rand/v2"
	"time"
)

// LoopCost measures the P1 target: the full event loop against a bare typed binary heap of
// (time, sequence) keys with no payload, no cancellation and no dispatch, both holding pending
// events and doing the same pop-then-push work. The two loops run interleaved in chunks, so load
// on the machine hits both alike. It returns nanoseconds per event for each.
func LoopCost(pending, events int) (bareNS, engineNS float64) {
	d := loopDelays(1 << 16)
	h := make(bareHeap, 0, pending+1)
	var seq uint64
	for i := 0; i < pending; i++ {
		seq++
		h.push(bareItem{at: d[i&(len(d)-1)], seq: seq})
	}
	q := NewQueue()
	r := &rescheduler{q: q, d: d}
	r.id = q.Register(r)
	for i := 0; i < pending; i++ {
		q.AtID(time.Duration(d[i&(len(d)-1)]), r.id, uint32(i))
	}
	const chunk = 4096
	var bare, eng time.Duration
	var sink int64
	for done := 0; done < events; done += chunk {
		n := min(chunk, events-done)
		t0 := time.Now()
		for i := 0; i < n; i++ {
			top := h.pop()
			sink += top.at
			seq++
			h.push(bareItem{at: top.at + d[(done+i)&(len(d)-1)], seq: seq})
		}
		t1 := time.Now()
		for i := 0; i < n; i++ {
			q.Step()
		}
		bare += t1.Sub(t0)
		eng += time.Since(t1)
	}
	_ = sink
	return float64(bare.Nanoseconds()) / float64(events), float64(eng.Nanoseconds()) / float64(events)
}

type bareItem struct {
	at  int64
	seq uint64
}

type bareHeap []bareItem

func (h bareHeap) less(i, j int) bool {
	if h[i].at != h[j].at {
		return h[i].at < h[j].at
	}
	return h[i].seq < h[j].seq
}

func (h *bareHeap) push(x bareItem) {
	*h = append(*h, x)
	s := *h
	for i := len(s) - 1; i > 0; {
		p := (i - 1) / 2
		if !s.less(i, p) {
			break
		}
		s[i], s[p] = s[p], s[i]
		i = p
	}
}

func (h *bareHeap) pop() bareItem {
	s := *h
	top := s[0]
	n := len(s) - 1
	s[0] = s[n]
	s = s[:n]
	for i := 0; ; {
		l := 2*i + 1
		if l >= n {
			break
		}
		m := l
		if r := l + 1; r < n && s.less(r, l) {
			m = r
		}
		if !s.less(m, i) {
			break
		}
		s[i], s[m] = s[m], s[i]
		i = m
	}
	*h = s
	return top
}

// loopDelays is a fixed pseudo-random sequence shared by both loops so they do the same work.
func loopDelays(n int) []int64 {
	r := rand.New(rand.NewPCG(1, 2))
	d := make([]int64, n)
	for i := range d {
		d[i] = 1 + r.Int64N(int64(time.Hour))
	}
	return d
}

// rescheduler is a handler that, like a model, schedules its next event when it fires.
type rescheduler struct {
	q  *Queue
	id HandlerID
	d  []int64
	i  int
}

func (r *rescheduler) Fire(time.Duration, uint32) {
	r.i++
	r.q.AfterID(time.Duration(r.d[r.i&(len(r.d)-1)]), r.id, uint32(r.i))
}
