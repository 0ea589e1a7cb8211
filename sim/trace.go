package sim

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"strings"
	"time"
)

// traceHandler is a slog.Handler that stamps every record with virtual time instead of the wall
// clock, so a trace is a deterministic event log: the same seed prints the same bytes.
type traceHandler struct {
	w     io.Writer
	now   func() time.Duration
	attrs []slog.Attr
}

func newTraceLogger(w io.Writer, now func() time.Duration) *slog.Logger {
	return slog.New(&traceHandler{w: w, now: now})
}

func (h *traceHandler) Enabled(context.Context, slog.Level) bool { return true }

func (h *traceHandler) Handle(_ context.Context, r slog.Record) error {
	var b strings.Builder
	b.WriteString(FormatVirtual(h.now()))
	b.WriteString("  ")
	b.WriteString(r.Message)
	write := func(a slog.Attr) bool {
		b.WriteByte(' ')
		b.WriteString(a.Key)
		b.WriteByte('=')
		b.WriteString(a.Value.String())
		return true
	}
	for _, a := range h.attrs {
		write(a)
	}
	r.Attrs(write)
	b.WriteByte('\n')
	_, err := io.WriteString(h.w, b.String())
	return err
}

func (h *traceHandler) WithAttrs(as []slog.Attr) slog.Handler {
	c := *h
	c.attrs = append(append([]slog.Attr(nil), h.attrs...), as...)
	return &c
}

func (h *traceHandler) WithGroup(string) slog.Handler { return h }

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
