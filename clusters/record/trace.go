package record

import (
	"bufio"
	"bytes"
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

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime"
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

// Event is one observed change: of a pod (Pod) or of any other object (Object).
type Event struct {
	Time    time.Time
	Op      string
	Initial bool
	Object  *unstructured.Unstructured
	// Pod is a pod's event, Object nil. ReadTrace decodes of a pod only what Import and Observe
	// read (PodFields): a trace is mostly pods, and their whole objects, as maps, were most of
	// reading and importing one, in time and memory. Pods of one template share their labels,
	// owner references and containers: read them, don't change them. An Event made with a pod
	// as Object is read as one made with its Pod.
	Pod *corev1.Pod
}

// Kind is the object's kind.
func (e *Event) Kind() string {
	if e.Pod != nil {
		return "Pod"
	}
	return e.Object.GetKind()
}

// Namespace is the object's namespace.
func (e *Event) Namespace() string {
	if e.Pod != nil {
		return e.Pod.Namespace
	}
	return e.Object.GetNamespace()
}

// Name is the object's name.
func (e *Event) Name() string {
	if e.Pod != nil {
		return e.Pod.Name
	}
	return e.Object.GetName()
}

// pod is a pod's event's Pod: an Event made with the pod as Object is converted (what does not
// convert is left out).
func (e *Event) pod() *corev1.Pod {
	if e.Pod != nil || e.Object == nil {
		return e.Pod
	}
	p := &corev1.Pod{}
	_ = runtime.DefaultUnstructuredConverter.FromUnstructured(e.Object.Object, p)
	return p
}

// key is kind/namespace/name.
func (e *Event) key() string { return e.Kind() + "/" + e.Namespace() + "/" + e.Name() }

// podEvents is events with every pod as Pod: an Event made with a pod as Object is converted
// (the slice is copied then). Pointers to the same object give the same Pod.
func podEvents(events []Event) ([]Event, error) {
	var out []Event
	conv := map[*unstructured.Unstructured]*corev1.Pod{}
	for i, e := range events {
		if e.Pod != nil || e.Object.GetKind() != "Pod" {
			continue
		}
		if out == nil {
			out = slices.Clone(events)
		}
		p, ok := conv[e.Object]
		if !ok {
			p = &corev1.Pod{}
			if err := runtime.DefaultUnstructuredConverter.FromUnstructured(e.Object.Object, p); err != nil {
				return nil, fmt.Errorf("event %d: pod %s/%s: %w", i, e.Object.GetNamespace(), e.Object.GetName(), err)
			}
			conv[e.Object] = p
		}
		out[i].Pod, out[i].Object = p, nil
	}
	if out == nil {
		return events, nil
	}
	return out, nil
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
	err = decodeLines(sc, func(d *decoded) error {
		n++
		l := &d.Line
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
			if l.Time == nil || d.object == nil && d.pod == nil || l.Kind == "" {
				return fmt.Errorf("line %d: an event needs t, kind and object", n)
			}
			e := Event{Time: *l.Time, Op: l.Op, Initial: l.Initial, Pod: d.pod}
			if d.object != nil {
				e.Object = &unstructured.Unstructured{Object: d.object}
			}
			t.Events = append(t.Events, e)
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

// decoded is a line read: Line without its object, and the object, a pod's as a Pod (decodePod).
type decoded struct {
	Line
	// Object is the line's object as it was written, to be decoded by kind.
	Object json.RawMessage `json:"object,omitempty"`
	object map[string]any
	pod    *corev1.Pod
}

// objectKey is how the writer ends an event line's other fields and starts its object, which
// is the line's last field (Line's field order).
var objectKey = []byte(`,"object":`)

// decode decodes one line. An event line as Writer writes it is cut at its object: the fields
// before it and the object are decoded apart, so that the object is scanned only by its own
// decoding (decoding the line whole scanned it twice more). The cut holds only when both halves
// decode: the fields before it then end outside any string, at the line's top level, and the
// rest is one JSON value, the object. Else the line is decoded whole.
func (d *decoded) decode(b []byte, c *podCache) error {
	if i := bytes.Index(b, objectKey); i > 0 && b[len(b)-1] == '}' {
		if err := json.Unmarshal(append(b[:i:i], '}'), d); err == nil && d.Object == nil {
			if err := d.decodeObject(b[i+len(objectKey):len(b)-1], c); err == nil {
				return nil
			}
		}
		*d = decoded{}
	}
	if err := json.Unmarshal(b, d); err != nil {
		return err
	}
	raw := d.Object
	d.Object = nil
	return d.decodeObject(raw, c)
}

// decodeObject decodes the line's object by its kind.
func (d *decoded) decodeObject(raw []byte, c *podCache) error {
	switch {
	case len(raw) == 0 || string(raw) == "null":
		return nil
	case d.Kind == "Pod":
		p, err := decodePod(raw, c)
		if err != nil {
			return fmt.Errorf("object: %w", err)
		}
		d.pod = p
		return nil
	default:
		return json.Unmarshal(raw, &d.object)
	}
}

// decodeLines decodes the scanner's lines on every core and gives them to fn in
// order: decoding the objects' JSON is most of reading a trace. A line that is not JSON ends it
// with an error naming the line, after fn has had the lines before it; so does fn's error. The
// scanner is done with when it returns.
func decodeLines(sc *bufio.Scanner, fn func(*decoded) error) error {
	const batch = 256
	type chunk struct {
		first int // number of its first line, from 1
		raw   [][]byte
		lines []decoded
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
			pc := newPodCache()
			for c := range work {
				c.lines, c.bad = make([]decoded, len(c.raw)), len(c.raw)
				for i, b := range c.raw {
					if err := c.lines[i].decode(b, pc); err != nil {
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
