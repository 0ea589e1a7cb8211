package engine

import (
	"testing"
	"time"
)

// Peek shows the next live event without firing it, skipping cancelled ones.
func TestPeek(t *testing.T) {
	q := NewQueue()
	var fired []uint32
	id := q.Register(HandlerFunc(func(_ time.Duration, arg uint32) { fired = append(fired, arg) }))
	if _, _, _, ok := q.Peek(); ok {
		t.Fatal("Peek on an empty queue reported an event")
	}
	c := q.AtID(time.Second, id, 1)
	q.AtID(2*time.Second, id, 2)
	q.Cancel(c)
	at, h, arg, ok := q.Peek()
	if !ok || at != 2*time.Second || h != id || arg != 2 {
		t.Fatalf("Peek = %v %v %v %v, want 2s %v 2 true", at, h, arg, ok, id)
	}
	if len(fired) != 0 || q.Now() != 0 {
		t.Fatal("Peek fired an event or moved the clock")
	}
	q.Step()
	if len(fired) != 1 || fired[0] != 2 {
		t.Fatalf("fired %v, want [2]", fired)
	}
}
