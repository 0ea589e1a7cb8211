package trace

import (
	"math"
	"strconv"
	"time"
	"unicode/utf8"
)

// encoder writes an event's fields either as the text log's " key=value" pairs or as JSON
// members (",\"key\":value"), so that both renderings list the same fields in the same order.
type encoder struct {
	b    []byte
	json bool
}

func (e *encoder) key(k string) {
	if e.json {
		e.b = append(e.b, ',', '"')
		e.b = append(e.b, k...)
		e.b = append(e.b, '"', ':')
		return
	}
	e.b = append(e.b, ' ')
	e.b = append(e.b, k...)
	e.b = append(e.b, '=')
}

func (e *encoder) str(k, v string) {
	e.key(k)
	if e.json {
		e.b = appendJSONString(e.b, v)
	} else {
		e.b = append(e.b, v...)
	}
}

func (e *encoder) int(k string, v int) {
	e.key(k)
	e.b = strconv.AppendInt(e.b, int64(v), 10)
}

func (e *encoder) bool(k string, v bool) {
	e.key(k)
	e.b = strconv.AppendBool(e.b, v)
}

// dur prints a duration as Go does (1m30s) in text, in nanoseconds in JSON.
func (e *encoder) dur(k string, v time.Duration) {
	e.key(k)
	if e.json {
		e.b = strconv.AppendInt(e.b, int64(v), 10)
	} else {
		e.b = append(e.b, v.String()...)
	}
}

// cores prints CPU cores with two decimals in text, as a number in JSON (null when not finite).
func (e *encoder) cores(k string, v float64) {
	e.key(k)
	finite := !math.IsNaN(v) && !math.IsInf(v, 0)
	switch {
	case !e.json && finite:
		e.b = strconv.AppendFloat(e.b, v, 'f', 2, 64)
	case !e.json:
		e.b = strconv.AppendFloat(e.b, v, 'f', -1, 64)
	case finite:
		e.b = strconv.AppendFloat(e.b, v, 'g', -1, 64)
	default:
		e.b = append(e.b, "null"...)
	}
}

// wall prints a wall-clock time as RFC 3339 in UTC, in both renderings.
func (e *encoder) wall(k string, v time.Time) {
	e.str(k, v.UTC().Format(time.RFC3339))
}

// appendJSONString appends s as a JSON string: quotes, backslashes and control characters
// escaped, invalid UTF-8 replaced by U+FFFD.
func appendJSONString(b []byte, s string) []byte {
	const hex = "0123456789abcdef"
	b = append(b, '"')
	for i := 0; i < len(s); {
		c := s[i]
		if c < utf8.RuneSelf {
			switch {
			case c == '"' || c == '\\':
				b = append(b, '\\', c)
			case c == '\n':
				b = append(b, '\\', 'n')
			case c == '\t':
				b = append(b, '\\', 't')
			case c == '\r':
				b = append(b, '\\', 'r')
			case c < 0x20:
				b = append(b, '\\', 'u', '0', '0', hex[c>>4], hex[c&0xf])
			default:
				b = append(b, c)
			}
			i++
			continue
		}
		r, size := utf8.DecodeRuneInString(s[i:])
		if r == utf8.RuneError && size == 1 {
			b = append(b, `\ufffd`...)
		} else {
			b = append(b, s[i:i+size]...)
		}
		i += size
	}
	return append(b, '"')
}
