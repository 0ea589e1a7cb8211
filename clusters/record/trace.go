package record

import (
	"bufio"
	"compress/gzip"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	goruntime "runtime"
	"slices"
	"sync"
	"time"

	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
)

// Format names the trace format in its header line.
const Format = "faultline.dev/trace/v1alpha1"

// Line is one line of a trace. The first line is the header (Format, Source, Started), then
// events (Op, Kind, Object, Time), a Synced line when every informer has listed, and a last line
// with End and Reason.
type Line struct {
	Format  string     `json:"format,omitempty"`
	Source  string     `json:"source,omitempty"`
	Started *time.Time `json:"started,omitempty"`

	// Time is when the event was observed.
	Time *time.Time `json:"t,omitempty"`
	// Op is add, update or delete.
	Op   string `json:"op,omitempty"`
	Kind string `json:"kind,omitempty"`
	// Initial marks the adds of the informers' first list: the cluster as it was.
	Initial bool           `json:"initial,omitempty"`
	Object  map[string]any `json:"object,omitempty"`

	Synced *time.Time `json:"synced,omitempty"`

	End    *time.Time `json:"end,omitempty"`
	Reason string     `json:"reason,omitempty"`
	Events int        `json:"events,omitempty"`
}

// Event ops.
const (
	OpAdd    = "add"
	OpUpdate = "update"
	OpDelete = "delete"
)

// Trace is a recording, read back.
type Trace struct {
	Source  string
	Started time.Time
	// Synced is when every informer had listed: the instant the scenario starts from.
	Synced time.Time
	End    time.Time
	Reason string
	Events []Event
}

// Event is one observed change.
type Event struct {
	Time    time.Time
	Op      string
	Initial bool
	Object  *unstructured.Unstructured
}

// MaxTraceBytes bounds what ReadTrace decompresses.
const MaxTraceBytes = 8 << 30

// ReadTrace reads a gzip'd trace written by Record. A trace cut short (no end line, a torn last
// line) is read up to its last whole line; Reason says so.
func ReadTrace(path string) (*Trace, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	zr, err := gzip.NewReader(f)
	if err != nil {
		return nil, fmt.Errorf("%s: not a gzip'd trace: %w", path, err)
	}
	sc := bufio.NewScanner(io.LimitReader(zr, MaxTraceBytes))
	sc.Buffer(make([]byte, 1<<20), 64<<20)
	t := &Trace{}
	n := 0
	err = decodeLines(sc, func(l *Line) error {
		n++
		switch {
		case n == 1:
			if l.Format != Format || l.Started == nil {
				return fmt.Errorf("line 1: format %q; expected a header with format %q and started", l.Format, Format)
			}
			t.Source, t.Started = l.Source, *l.Started
		case l.Synced != nil:
			t.Synced = *l.Synced
		case l.End != nil:
			t.End, t.Reason = *l.End, l.Reason
		case l.Op != "":
			if l.Time == nil || l.Object == nil || l.Kind == "" {
				return fmt.Errorf("line %d: an event needs t, kind and object", n)
			}
			u := &unstructured.Unstructured{Object: l.Object}
			t.Events = append(t.Events, Event{Time: *l.Time, Op: l.Op, Initial: l.Initial, Object: u})
		}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	if err := sc.Err(); err != nil && !errors.Is(err, io.ErrUnexpectedEOF) {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	if t.Started.IsZero() {
		return nil, fmt.Errorf("%s: empty; expected a trace written by faultline record", path)
	}
	if t.Synced.IsZero() {
		return nil, fmt.Errorf("%s: the recording stopped before the informers had listed the cluster", path)
	}
	if t.End.IsZero() {
		t.Reason = "cut short (no end line)"
		if n := len(t.Events); n > 0 {
			t.End = t.Events[n-1].Time
		} else {
			t.End = t.Synced
		}
	}
	return t, nil
}

// decodeLines decodes the scanner's lines as Lines on every core and gives them to fn in
// order: decoding the objects' JSON is most of reading a trace. A line that is not JSON ends it
// with an error naming the line, after fn has had the lines before it; so does fn's error. The
// scanner is done with when it returns.
func decodeLines(sc *bufio.Scanner, fn func(*Line) error) error {
	const batch = 256
	type chunk struct {
		first int // number of its first line, from 1
		raw   [][]byte
		lines []Line
		bad   int // index of the line that is not JSON, or len(lines)
		err   error
		done  chan struct{}
	}
	workers := goruntime.GOMAXPROCS(0)
	work := make(chan *chunk, workers)
	ordered := make(chan *chunk, 2*workers)
	stop := make(chan struct{})
	var wg sync.WaitGroup
	defer wg.Wait()
	defer close(stop)
	for range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for c := range work {
				c.lines, c.bad = make([]Line, len(c.raw)), len(c.raw)
				for i, b := range c.raw {
					if err := json.Unmarshal(b, &c.lines[i]); err != nil {
						c.bad, c.err = i, fmt.Errorf("line %d: %w", c.first+i, err)
						break
					}
				}
				c.raw = nil
				close(c.done)
			}
		}()
	}
	wg.Add(1)
	go func() { // reads the lines, in chunks: to the workers, and in order to fn
		defer wg.Done()
		defer close(ordered)
		defer close(work)
		c := &chunk{first: 1, done: make(chan struct{})}
		send := func() bool {
			select {
			case ordered <- c:
				work <- c
				return true
			case <-stop:
				return false
			}
		}
		for n := 1; sc.Scan(); n++ {
			c.raw = append(c.raw, slices.Clone(sc.Bytes()))
			if len(c.raw) == batch {
				if !send() {
					return
				}
				c = &chunk{first: n + 1, done: make(chan struct{})}
			}
		}
		if len(c.raw) > 0 {
			send()
		}
	}()
	for c := range ordered {
		<-c.done
		for i := range c.bad {
			if err := fn(&c.lines[i]); err != nil {
				return err
			}
		}
		if c.err != nil {
			return c.err
		}
	}
	return nil
}

// Writer writes a trace: a header, events, the Synced line and the end line, gzip'd, counting
// the compressed bytes that reach the underlying writer. Record writes through it; so can a tool
// that makes a synthetic trace (faultline bench), so that both are read back alike.
type Writer struct {
	cw     *countingWriter
	zw     *gzip.Writer
	enc    *json.Encoder
	events int
}

// NewWriter starts a trace on w with its header line.
func NewWriter(w io.Writer, source string, started time.Time) (*Writer, error) {
	cw := &countingWriter{w: w}
	zw := gzip.NewWriter(cw)
	tw := &Writer{cw: cw, zw: zw, enc: json.NewEncoder(zw)}
	return tw, tw.enc.Encode(Line{Format: Format, Source: source, Started: &started})
}

// Line writes one line; an event line (Op set) counts towards Events.
func (w *Writer) Line(l Line) error {
	if err := w.enc.Encode(l); err != nil {
		return err
	}
	if l.Op != "" {
		w.events++
	}
	return nil
}

// Event writes one observed event.
func (w *Writer) Event(at time.Time, op string, initial bool, obj map[string]any) error {
	kind, _ := obj["kind"].(string)
	return w.Line(Line{Time: &at, Op: op, Kind: kind, Initial: initial, Object: obj})
}

// Synced writes the line that ends the initial listing.
func (w *Writer) Synced(at time.Time) error { return w.Line(Line{Synced: &at}) }

// Close writes the end line and flushes the gzip stream (not the underlying writer).
func (w *Writer) Close(end time.Time, reason string) error {
	if err := w.enc.Encode(Line{End: &end, Reason: reason, Events: w.events}); err != nil {
		return err
	}
	return w.zw.Close()
}

// Events is how many event lines were written.
func (w *Writer) Events() int { return w.events }

// Bytes is how many compressed bytes have reached the underlying writer.
func (w *Writer) Bytes() int64 { return w.cw.n }
