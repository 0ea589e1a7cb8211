package search

import (
	"fmt"
	"math"
	"strconv"
	"strings"
	"time"
)

// maxKnobValues bounds one knob's range so a typo (0:1e9:1) fails at once.
const maxKnobValues = 1000

// Knob is one parameter the search may change: a path as in scenarios.Scenario.Set and its
// values, cheapest first.
type Knob struct {
	Path   string
	Values []string  // as passed to Set, cheapest first
	X      []float64 // the values as numbers (durations in seconds), for costs and plots
	// Cost is the cost of one unit of the knob (a duration knob's unit is the second); 0 when
	// the user gave none.
	Cost float64
}

// ParseKnob parses PATH=FROM:TO:STEP (numbers or Go durations; FROM is the cheap end, so
// 40:10:5 searches downward from the dear end 10) or PATH=V1,V2,... (numbers, cheapest first).
func ParseKnob(s string) (Knob, error) {
	i := strings.LastIndex(s, "=")
	if i <= 0 || i == len(s)-1 {
		return Knob{}, fmt.Errorf("--knob %q: expected PATH=FROM:TO:STEP or PATH=V1,V2,...", s)
	}
	k := Knob{Path: s[:i]}
	spec := s[i+1:]
	if parts := strings.Split(spec, ":"); len(parts) == 3 {
		xs, vals, err := valueRange(parts[0], parts[1], parts[2])
		if err != nil {
			return Knob{}, fmt.Errorf("--knob %q: %v", s, err)
		}
		k.X, k.Values = xs, vals
		return k, nil
	}
	for _, v := range strings.Split(spec, ",") {
		v = strings.TrimSpace(v)
		x, err := number(v)
		if err != nil {
			return Knob{}, fmt.Errorf("--knob %q: value %q: %v", s, v, err)
		}
		k.X, k.Values = append(k.X, x), append(k.Values, v)
	}
	if len(k.Values) > maxKnobValues {
		return Knob{}, fmt.Errorf("--knob %q: %d values; at most %d", s, len(k.Values), maxKnobValues)
	}
	return k, nil
}

// number reads a number or a Go duration (in seconds).
func number(v string) (float64, error) {
	if x, err := strconv.ParseFloat(v, 64); err == nil && !math.IsNaN(x) && !math.IsInf(x, 0) {
		return x, nil
	}
	d, err := time.ParseDuration(v)
	if err != nil {
		return 0, fmt.Errorf("expected a number or a duration such as 30s")
	}
	return d.Seconds(), nil
}

// valueRange expands FROM:TO:STEP, walking from FROM toward TO.
func valueRange(from, to, step string) ([]float64, []string, error) {
	a, err1 := number(from)
	b, err2 := number(to)
	st, err3 := number(step)
	if err1 != nil || err2 != nil || err3 != nil || st <= 0 {
		return nil, nil, fmt.Errorf("FROM:TO:STEP needs numbers or durations and STEP > 0")
	}
	_, durErr := strconv.ParseFloat(from, 64)
	isDur := durErr != nil
	n := int(math.Floor(math.Abs(b-a)/st+1e-9)) + 1
	if n > maxKnobValues {
		return nil, nil, fmt.Errorf("%d values; at most %d (a larger STEP)", n, maxKnobValues)
	}
	dir := 1.0
	if b < a {
		dir = -1
	}
	var xs []float64
	var vals []string
	for i := range n {
		// multiply rather than accumulate, and round off binary noise (0.1+0.2)
		x := a + dir*float64(i)*st
		x, _ = strconv.ParseFloat(strconv.FormatFloat(x, 'g', 12, 64), 64)
		xs = append(xs, x)
		if isDur {
			vals = append(vals, time.Duration(math.Round(x*1e9)).String())
		} else {
			vals = append(vals, strconv.FormatFloat(x, 'g', -1, 64))
		}
	}
	return xs, vals, nil
}

// ParseCost parses PATH=PER_UNIT, the cost of one unit of a knob.
func ParseCost(s string) (path string, perUnit float64, err error) {
	i := strings.LastIndex(s, "=")
	if i <= 0 {
		return "", 0, fmt.Errorf("--cost %q: expected PATH=COST_PER_UNIT", s)
	}
	c, err := strconv.ParseFloat(s[i+1:], 64)
	if err != nil || c < 0 || math.IsNaN(c) || math.IsInf(c, 0) {
		return "", 0, fmt.Errorf("--cost %q: expected a cost per unit >= 0", s)
	}
	return s[:i], c, nil
}
