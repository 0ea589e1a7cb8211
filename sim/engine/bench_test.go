package engine

import (
	"math/rand/v2"
	"testing"
	"time"
)

// The P1 target: the full event loop (slot table, cancellation support, handler dispatch) must
// run at >= 0.7x the speed of a bare typed-heap loop with the same (time, sequence) keys, at 1e5
// pending events, with zero allocations per event. Compare ns/op of the two benchmarks:
//
//	go test -run=^$ -bench='EventLoop' -benchmem ./sim/engine/
const pendingEvents = 100_000

// bareHeap is the baseline: a plain binary min-heap of (time, seq) values with no payload,
// no cancellation and no dispatch.
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
	i := len(s) - 1
	for i > 0 {
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
	i := 0
	for {
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

// delays is a fixed pseudo-random sequence shared by both loops so that they do the same work.
func delays(n int) []int64 {
	r := rand.New(rand.NewPCG(1, 2))
	d := make([]int64, n)
	for i := range d {
		d[i] = 1 + r.Int64N(int64(time.Hour))
	}
	return d
}

func BenchmarkEventLoopBareHeap(b *testing.B) {
	d := delays(1 << 16)
	h := make(bareHeap, 0, pendingEvents+1)
	var seq uint64
	for i := 0; i < pendingEvents; i++ {
		seq++
		h.push(bareItem{at: d[i&(len(d)-1)], seq: seq})
	}
	b.ReportAllocs()
	b.ResetTimer()
	var sink int64
	for i := 0; i < b.N; i++ {
		top := h.pop()
		sink += top.at
		seq++
		h.push(bareItem{at: top.at + d[i&(len(d)-1)], seq: seq})
	}
	_ = sink
}

// reschedule is a handler that, like a model, schedules its next event when it fires.
type reschedule struct {
	q  *Queue
	id HandlerID
	d  []int64
	i  int
}

func newReschedule(q *Queue, d []int64) *reschedule {
	r := &reschedule{q: q, d: d}
	r.id = q.Register(r)
	return r
}

func (r *reschedule) Fire(_ time.Duration, _ uint32) {
	r.i++
	r.q.AfterID(time.Duration(r.d[r.i&(len(r.d)-1)]), r.id, uint32(r.i))
}

func BenchmarkEventLoopEngine(b *testing.B) {
	d := delays(1 << 16)
	q := NewQueue()
	h := newReschedule(q, d)
	for i := 0; i < pendingEvents; i++ {
		q.AtID(time.Duration(d[i&(len(d)-1)]), h.id, uint32(i))
	}
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		q.Step()
	}
}

// BenchmarkEventLoopRatio runs both loops interleaved in chunks, in the same process and the same
// moments, so that machine load affects both alike, and reports ns/event of each and their ratio
// (bare / engine: 1.0 means the engine costs nothing extra; the P1 target is >= 0.7).
func BenchmarkEventLoopRatio(b *testing.B) {
	d := delays(1 << 16)
	h := make(bareHeap, 0, pendingEvents+1)
	var seq uint64
	for i := 0; i < pendingEvents; i++ {
		seq++
		h.push(bareItem{at: d[i&(len(d)-1)], seq: seq})
	}
	q := NewQueue()
	r := newReschedule(q, d)
	for i := 0; i < pendingEvents; i++ {
		q.AtID(time.Duration(d[i&(len(d)-1)]), r.id, uint32(i))
	}
	const chunk = 4096
	var bareNS, engNS int64
	var sink int64
	b.ReportAllocs()
	b.ResetTimer()
	for done := 0; done < b.N; done += chunk {
		n := min(chunk, b.N-done)
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
		t2 := time.Now()
		bareNS += t1.Sub(t0).Nanoseconds()
		engNS += t2.Sub(t1).Nanoseconds()
	}
	_ = sink
	b.ReportMetric(float64(bareNS)/float64(b.N), "bare-ns/event")
	b.ReportMetric(float64(engNS)/float64(b.N), "engine-ns/event")
	b.ReportMetric(float64(bareNS)/float64(engNS), "ratio")
}
