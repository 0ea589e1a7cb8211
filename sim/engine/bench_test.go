package engine

import (
	"testing"
	"time"
)

// The P1 target: the full event loop (cancellation support, handler dispatch) must run at >= 0.85x
// the speed of a bare typed-heap loop with the same (time, sequence) keys, at 1e5 pending events,
// with zero allocations per event:
//
//	go test -run=^$ -bench='EventLoop' -benchmem ./sim/engine/
const pendingEvents = 100_000

func BenchmarkEventLoopBareHeap(b *testing.B) {
	d := loopDelays(1 << 16)
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

func BenchmarkEventLoopEngine(b *testing.B) {
	d := loopDelays(1 << 16)
	q := NewQueue()
	r := &rescheduler{q: q, d: d}
	r.id = q.Register(r)
	for i := 0; i < pendingEvents; i++ {
		q.AtID(time.Duration(d[i&(len(d)-1)]), r.id, uint32(i))
	}
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		q.Step()
	}
}

// BenchmarkEventLoopRatio runs both loops interleaved (LoopCost) and reports ns/event of each and
// their ratio (bare / engine: 1.0 means the engine costs nothing extra; target >= 0.85).
func BenchmarkEventLoopRatio(b *testing.B) {
	b.ReportAllocs()
	bare, eng := LoopCost(pendingEvents, max(b.N, 1))
	b.ReportMetric(bare, "bare-ns/event")
	b.ReportMetric(eng, "engine-ns/event")
	b.ReportMetric(bare/eng, "ratio")
}
