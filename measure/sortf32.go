package measure

import (
	"math"
	"slices"
)

// radixMin is the length from which sortFloat32s sorts by radix; shorter slices (and the
// radix sort's buckets shorter than it) go to slices.Sort.
const radixMin = 1 << 12

// sortFloat32s sorts v in increasing order, with the result of slices.Sort(v), faster for the
// millions of values a year of cron runs keeps (Sample.raw: slices.Sort of a year's two raw
// series was ~5 % of P9's CPU). It is an in-place most-significant-digit radix sort (American
// flag sort) on the values' bits, a byte at a time, so it needs no second buffer (P9's peak
// resident set is near its bound). Values whose bits are equal are equal, and conversely but for
// -0 and +0, which slices.Sort leaves in any order: a slice holding -0 or a NaN goes to
// slices.Sort, so that the result is always the same as its.
func sortFloat32s(v []float32) {
	if len(v) < radixMin {
		slices.Sort(v)
		return
	}
	for _, x := range v {
		if x != x || x == 0 && math.Signbit(float64(x)) {
			slices.Sort(v)
			return
		}
	}
	flagSort(v, 24)
}

// f32key maps a float32's bits to an unsigned key in the value's order (for values other than
// NaN; -0 is below +0).
func f32key(x float32) uint32 {
	b := math.Float32bits(x)
	if b&(1<<31) != 0 {
		return ^b
	}
	return b | 1<<31
}

// flagSort sorts v by byte shift/8 of the values' keys, in place, then each bucket by the next
// byte down.
func flagSort(v []float32, shift uint) {
	var count [256]int
	for _, x := range v {
		count[f32key(x)>>shift&0xff]++
	}
	var head, tail [256]int
	n := 0
	for d := range 256 {
		head[d] = n
		n += count[d]
		tail[d] = n
	}
	for d := range 256 {
		for head[d] < tail[d] {
			x := v[head[d]]
			// carry x to its bucket, taking the value found there on, until one belongs in d
			for e := int(f32key(x) >> shift & 0xff); e != d; e = int(f32key(x) >> shift & 0xff) {
				v[head[e]], x = x, v[head[e]]
				head[e]++
			}
			v[head[d]] = x
			head[d]++
		}
	}
	if shift == 0 {
		return
	}
	start := 0
	for d := range 256 {
		b := v[start : start+count[d]]
		start += count[d]
		if len(b) < radixMin {
			slices.Sort(b)
		} else {
			flagSort(b, shift-8)
		}
	}
}
