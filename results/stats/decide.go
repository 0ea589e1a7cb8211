package stats

import (
	"math"
	"sort"
)

// Holm returns Holm–Bonferroni adjusted p-values (Holm 1979) in the order
// of p. With the m non-NaN p-values sorted ascending, p(1) <= ... <= p(m),
//
//	adj(k) = max over j <= k of min(1, (m-j+1) * p(j))
//
// which is the step-down procedure expressed as adjusted p-values (as R's
// p.adjust(p, "holm")): rejecting every hypothesis with adj < alpha is
// Holm's test at family-wise level alpha. The result is monotone in the
// ordering of p, never below the raw p-value and capped at 1. NaN entries
// stay NaN and do not count towards m; equal p-values keep their input
// order. Written by hand: gonum has no multiple-comparison adjustment. The
// input is not modified.
func Holm(p []float64) []float64 {
	out := make([]float64, len(p))
	idx := make([]int, 0, len(p))
	for i, v := range p {
		if math.IsNaN(v) {
			out[i] = math.NaN()
			continue
		}
		idx = append(idx, i)
	}
	sort.SliceStable(idx, func(a, b int) bool { return p[idx[a]] < p[idx[b]] })
	m := len(idx)
	running := 0.0
	for k, i := range idx {
		adj := math.Min(1, float64(m-k)*p[i])
		running = math.Max(running, adj)
		out[i] = running
	}
	return out
}

// Verdict is the outcome of comparing a mitigation with the baseline.
type Verdict string

// The three verdicts Decide can return.
const (
	Better       Verdict = "better"
	Worse        Verdict = "worse"
	NoDifference Verdict = "no detectable difference"
)

// Decide turns a paired comparison into a verdict. The variant is Better or
// Worse only if both
//
//   - adjustedP < alpha (adjustedP is normally p.PValue after Holm across
//     the mitigations of one study), and
//   - p.MedianDiffCI excludes zero (Lo > 0 or Hi < 0);
//
// the direction is then the sign of the median difference (variant minus
// baseline): up is Better when higherIsBetter, Worse otherwise, and the
// reverse for down. Anything else, including NaN inputs, is NoDifference.
func Decide(p Paired, adjustedP, alpha float64, higherIsBetter bool) Verdict {
	if !(adjustedP < alpha) {
		return NoDifference
	}
	var up bool
	switch {
	case p.MedianDiffCI.Lo > 0:
		up = true
	case p.MedianDiffCI.Hi < 0:
		up = false
	default:
		return NoDifference
	}
	if up == higherIsBetter {
		return Better
	}
	return Worse
}
