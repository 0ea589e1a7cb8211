// Package trace holds the simulator's trace events: one Go type per kind of event, each with the
// virtual time it happened at, and the sinks that print them (Text: the `faultline run --trace`
// log; JSON: `--trace-json`, one object per line) or keep them (Recorder, for tests that assert
// on typed events rather than on text).
//
// The simulator emits an event only when a sink is set; with none it builds nothing, so tracing
// off costs no allocation.
package trace

import (
	"fmt"
	"io"
	"strconv"
	"time"
)

// Event is one thing that happened in a simulated cluster. Every kind is a struct in this
// package (events.go); its fields are the event's data, in the order both renderings print them.
type Event interface {
	// Kind names the event type, as its Go type name ("PodBound"): the "kind" of a JSON line.
	Kind() string
	// Message is the text log's message ("pod bound").
	Message() string
	// fields writes the fields, in order, to an encoder.
	fields(*encoder)
}

// Sink receives events with the virtual time they happened at.
type Sink interface {
	Emit(at time.Duration, e Event)
}

// Stamped is an event with its virtual time.
type Stamped struct {
	At    time.Duration
	Event Event
}

// Text renders the event as the text log does, without the time stamp: the message, then
// " key=value" per field.
func Text(e Event) string {
	return string(appendText(nil, e))
}

func appendText(b []byte, e Event) []byte {
	b = append(b, e.Message()...)
	enc := encoder{b: b}
	e.fields(&enc)
	return enc.b
}

// FormatVirtual prints a virtual time as +DDdHH:MM:SS.mmm, fixed width for aligned traces.
func FormatVirtual(d time.Duration) string {
	ms := d.Milliseconds()
	days := ms / 86_400_000
	ms -= days * 86_400_000
	h := ms / 3_600_000
	ms -= h * 3_600_000
	m := ms / 60_000
	ms -= m * 60_000
	s := ms / 1000
	ms -= s * 1000
	return fmt.Sprintf("+%02dd%02d:%02d:%02d.%03d", days, h, m, s, ms)
}

// TextSink writes the text log: one line per event, "+DDdHH:MM:SS.mmm  message key=value ...".
// Values print as Go prints them (durations as 1m30s, booleans as true/false); a write error is
// dropped, as a log's is.
type TextSink struct {
	W   io.Writer
	buf []byte
}

// NewText returns a text sink writing to w.
func NewText(w io.Writer) *TextSink { return &TextSink{W: w} }

// Emit writes one line.
func (s *TextSink) Emit(at time.Duration, e Event) {
	b := append(s.buf[:0], FormatVirtual(at)...)
	b = append(b, "  "...)
	b = appendText(b, e)
	b = append(b, '\n')
	s.buf = b
	_, _ = s.W.Write(b)
}

// JSONSink writes JSON lines: one object per event, with the keys in a fixed order:
//
//	{"variant":"baseline","seed":1,"at":"+00d00:10:00.000","ns":600000000000,"kind":"PodBound","pod":"web-1","node":"n-2"}
//
// variant and seed name the replay (left out when Variant is empty); at is the virtual time as
// the text log prints it and ns the same in nanoseconds; kind is the event type (Event.Kind);
// the event's fields follow in their declared order, named as in the text log. Durations are
// integer nanoseconds, wall times RFC 3339 strings, CPU figures numbers of cores.
type JSONSink struct {
	W       io.Writer
	Variant string
	Seed    uint64
	buf     []byte
}

// NewJSON returns a JSON-lines sink writing to w.
func NewJSON(w io.Writer) *JSONSink { return &JSONSink{W: w} }

// Emit writes one line.
func (s *JSONSink) Emit(at time.Duration, e Event) {
	b := append(s.buf[:0], '{')
	if s.Variant != "" {
		b = append(b, `"variant":`...)
		b = appendJSONString(b, s.Variant)
		b = append(b, `,"seed":`...)
		b = strconv.AppendUint(b, s.Seed, 10)
		b = append(b, ',')
	}
	b = append(b, `"at":"`...)
	b = append(b, FormatVirtual(at)...)
	b = append(b, `","ns":`...)
	b = strconv.AppendInt(b, int64(at), 10)
	b = append(b, `,"kind":`...)
	b = appendJSONString(b, e.Kind())
	enc := encoder{b: b, json: true}
	e.fields(&enc)
	b = append(enc.b, "}\n"...)
	s.buf = b
	_, _ = s.W.Write(b)
}

// Recorder keeps every event, for tests.
type Recorder struct {
	Events []Stamped
}

// Emit keeps the event.
func (r *Recorder) Emit(at time.Duration, e Event) {
	r.Events = append(r.Events, Stamped{At: at, Event: e})
}

// Tee sends every event to each sink in turn.
type Tee []Sink

// Emit passes the event on.
func (t Tee) Emit(at time.Duration, e Event) {
	for _, s := range t {
		s.Emit(at, e)
	}
}

// Of returns the recorded events of type E, in order.
func Of[E Event](evs []Stamped) []E {
	var out []E
	for _, s := range evs {
		if e, ok := s.Event.(E); ok {
			out = append(out, e)
		}
	}
	return out
}

// Times returns the virtual times of the recorded events of type E that match (every one when
// match is nil), in order.
func Times[E Event](evs []Stamped, match func(E) bool) []time.Duration {
	var out []time.Duration
	for _, s := range evs {
		if e, ok := s.Event.(E); ok && (match == nil || match(e)) {
			out = append(out, s.At)
		}
	}
	return out
}
