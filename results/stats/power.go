package stats

// Inconclusive is the verdict when the number of paired seeds cannot reach significance at all:
// even a variant that wins on every seed would get an adjusted p-value of at least alpha.
const Inconclusive Verdict = "inconclusive"

// MinSignedRankP is the smallest two-sided p-value the Wilcoxon signed-rank test of
// ComparePaired can return for n pairs: every difference non-zero, of one sign and of distinct
// size (the extreme of the null distribution, 2/2^n while the test is exact). It is computed by
// the same code path as ComparePaired, so the two cannot disagree. It returns 1 for n <= 0.
func MinSignedRankP(n int) float64 {
	if n <= 0 {
		return 1
	}
	d := make([]float64, n)
	for i := range d {
		d[i] = float64(i + 1)
	}
	return signedRank(d, true, true).p
}

// maxSeedsNeeded bounds SeedsNeeded: beyond it the answer is "more than that", not a number
// worth computing.
const maxSeedsNeeded = 1 << 16

// SeedsNeeded is the smallest number of paired seeds n for which the smallest attainable
// Holm-adjusted p-value, m × MinSignedRankP(n), is below alpha: the fewest seeds with which a
// family of m comparisons can reach significance at all. It returns 0 when m < 1 or alpha is not
// in (0, 1], and maxSeedsNeeded when even that many would not do.
func SeedsNeeded(m int, alpha float64) int {
	if m < 1 || !(alpha > 0 && alpha <= 1) {
		return 0
	}
	// the exact p halves per seed up to ExactMaxN; the normal approximation beyond it is monotone
	// but not continuous with the exact part, so walk the exact range and bisect only beyond it
	for n := 1; n <= ExactMaxN+1; n++ {
		if Reachable(n, m, alpha) {
			return n
		}
	}
	lo, hi := ExactMaxN+2, maxSeedsNeeded
	if !Reachable(hi, m, alpha) {
		return maxSeedsNeeded
	}
	for lo < hi {
		mid := (lo + hi) / 2
		if Reachable(mid, m, alpha) {
			hi = mid
		} else {
			lo = mid + 1
		}
	}
	return lo
}

// Reachable reports whether a family of m comparisons over n paired seeds can reach an adjusted
// p-value below alpha (Holm multiplies the smallest p-value by m).
func Reachable(n, m int, alpha float64) bool {
	return float64(max(m, 1))*MinSignedRankP(n) < alpha
}
