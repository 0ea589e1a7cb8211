package stats

import (
	"errors"
	"fmt"
	"math"
	"sort"

	"gonum.org/v1/gonum/stat"
	"gonum.org/v1/gonum/stat/distuv"
)

// ErrLengthMismatch is returned by ComparePaired when baseline and variant
// do not have one value per seed each.
var ErrLengthMismatch = errors.New("stats: baseline and variant lengths differ")

// ErrNoData is returned by ComparePaired when no usable (non-NaN) pair remains.
var ErrNoData = errors.New("stats: no usable pairs")

// ExactMaxN is the largest number of non-zero paired differences for which
// the Wilcoxon p-value is computed exactly (when there are no ties). It
// matches R's wilcox.test, which is exact for n < 50.
const ExactMaxN = 49

// Paired compares a variant with the baseline over the same seeds:
// baseline[i] (x) and variant[i] (y) come from seed i, and every difference
// is y[i]-x[i] (variant minus baseline), so a positive difference means the
// variant scored higher.
type Paired struct {
	N int // pairs used (pairs with a NaN are skipped)

	MedianDiff   float64  // median of y-x (conventional median, see Median)
	MedianDiffCI Interval // percentile bootstrap CI of the median of y-x
	MeanDiff     float64  // mean of y-x

	// WilcoxonW is W+, the sum of the ranks of |y-x| over the pairs with
	// y > x, after dropping zero differences and giving tied |y-x| their
	// average rank (R's "V"). Under no difference its mean is
	// NonZero*(NonZero+1)/4; larger means the variant tends to be higher.
	WilcoxonW float64
	// PValue is the two-sided Wilcoxon signed-rank p-value, see ComparePaired.
	PValue float64
	// NonZero is the number of non-zero differences the signed-rank test used.
	NonZero int
	// Exact reports whether PValue came from the exact null distribution
	// (true) or from the normal approximation (false).
	Exact bool

	// CliffsDelta is P(y > x) - P(y < x) over all N*N (baseline, variant)
	// combinations, the unpaired definition (Cliff 1993); see CliffsDelta.
	CliffsDelta float64
	// A12 is the Vargha–Delaney A = P(y > x) + P(y = x)/2 = (CliffsDelta+1)/2.
	A12 float64
}

// ComparePaired compares variant with baseline seed by seed.
//
// Pairs in which either value, or their difference (Inf-Inf), is NaN are
// skipped; N is the number of pairs left. It returns ErrLengthMismatch if
// the slices differ in length, ErrNoData if no pair is left, and an error
// if level is not in (0,1) or resamples < 1.
//
// The p-value is the two-sided Wilcoxon signed-rank test of "the differences
// are symmetric about zero", written by hand (gonum has no rank tests):
//
//   - zero differences are dropped before ranking (Wilcoxon's original
//     method, as in R's wilcox.test); tied |differences| get average ranks;
//   - if the NonZero remaining differences have no ties and
//     NonZero <= ExactMaxN (49), the p-value is exact:
//     min(1, 2*min(P(W+ <= w), P(W+ >= w))) under the null distribution of
//     W+ (all 2^n sign patterns equally likely), obtained by counting
//     subsets of {1..n} by their sum. Unlike R, dropped zeros do not force
//     the approximation: conditional on the zeros the exact law is still
//     valid;
//   - otherwise the normal approximation with tie correction
//     Var = n(n+1)(2n+1)/24 - sum(t^3-t)/48 and a continuity correction of
//     0.5 towards the mean, exactly as R's wilcox.test(..., correct = TRUE);
//   - with no non-zero difference (identical samples) the p-value is 1.
//
// MedianDiffCI is BootstrapCI of the median of the differences with the
// given level, resamples and seed (pairs resampled together). CliffsDelta
// and A12 treat the two samples as unpaired.
func ComparePaired(baseline, variant []float64, level float64, resamples int, seed uint64) (Paired, error) {
	if len(baseline) != len(variant) {
		return Paired{}, fmt.Errorf("%w: %d baseline values, %d variant values", ErrLengthMismatch, len(baseline), len(variant))
	}
	if !validLevel(level) {
		return Paired{}, fmt.Errorf("stats: confidence level %v not in (0,1)", level)
	}
	if resamples < 1 {
		return Paired{}, fmt.Errorf("stats: resamples %d < 1", resamples)
	}
	x := make([]float64, 0, len(baseline))
	y := make([]float64, 0, len(baseline))
	d := make([]float64, 0, len(baseline))
	for i := range baseline {
		diff := variant[i] - baseline[i]
		if math.IsNaN(diff) { // also true when either value is NaN
			continue
		}
		x = append(x, baseline[i])
		y = append(y, variant[i])
		d = append(d, diff)
	}
	if len(d) == 0 {
		return Paired{}, fmt.Errorf("%w: %d pairs, all contain NaN", ErrNoData, len(baseline))
	}

	sorted := append([]float64(nil), d...)
	sort.Float64s(sorted)
	sr := signedRank(d, true, true)
	delta := CliffsDelta(x, y)
	return Paired{
		N:            len(d),
		MedianDiff:   medianSorted(sorted),
		MedianDiffCI: BootstrapCI(d, medianInPlace, level, resamples, seed),
		MeanDiff:     stat.Mean(d, nil),
		WilcoxonW:    sr.wPlus,
		PValue:       sr.p,
		NonZero:      sr.n,
		Exact:        sr.exact,
		CliffsDelta:  delta,
		A12:          (delta + 1) / 2,
	}, nil
}

// signedRankResult is the outcome of the Wilcoxon signed-rank test.
type signedRankResult struct {
	wPlus float64 // sum of ranks of positive differences
	n     int     // non-zero differences
	p     float64 // two-sided p-value
	exact bool    // p from the exact null distribution
	z     float64 // normal deviate (0 when exact or n == 0)
}

// signedRank runs the two-sided Wilcoxon signed-rank test on the differences
// d (no NaN). allowExact permits the exact distribution when it applies;
// correct enables the continuity correction of the normal approximation.
func signedRank(d []float64, allowExact, correct bool) signedRankResult {
	type obs struct {
		abs float64
		pos bool
	}
	nz := make([]obs, 0, len(d))
	for _, v := range d {
		if v != 0 {
			nz = append(nz, obs{abs: math.Abs(v), pos: v > 0})
		}
	}
	n := len(nz)
	if n == 0 {
		return signedRankResult{p: 1}
	}
	sort.SliceStable(nz, func(i, j int) bool { return nz[i].abs < nz[j].abs })

	var wPlus, tieSum float64
	ties := false
	for i := 0; i < n; {
		j := i + 1
		for j < n && nz[j].abs == nz[i].abs {
			j++
		}
		// positions i..j-1 share the average of ranks i+1..j.
		rank := float64(i+1+j) / 2
		for k := i; k < j; k++ {
			if nz[k].pos {
				wPlus += rank
			}
		}
		if t := float64(j - i); t > 1 {
			ties = true
			tieSum += t*t*t - t
		}
		i = j
	}

	res := signedRankResult{wPlus: wPlus, n: n}
	if allowExact && !ties && n <= ExactMaxN {
		res.exact = true
		res.p = exactSignedRankP(n, int(math.Round(wPlus)))
		return res
	}

	nf := float64(n)
	mean := nf * (nf + 1) / 4
	variance := nf*(nf+1)*(2*nf+1)/24 - tieSum/48
	z := wPlus - mean
	if correct {
		switch {
		case z > 0:
			z -= 0.5
		case z < 0:
			z += 0.5
		}
	}
	z /= math.Sqrt(variance)
	res.z = z
	res.p = math.Min(1, 2*distuv.UnitNormal.Survival(math.Abs(z)))
	return res
}

// signedRankCounts returns c where c[s] is the number of subsets of
// {1,...,n} whose elements sum to s, s = 0..n(n+1)/2: the null distribution
// of W+ times 2^n. Counts stay below 2^53 for n <= 52, so float64 is exact.
func signedRankCounts(n int) []float64 {
	maxSum := n * (n + 1) / 2
	c := make([]float64, maxSum+1)
	c[0] = 1
	for k := 1; k <= n; k++ {
		for s := k * (k + 1) / 2; s >= k; s-- {
			c[s] += c[s-k]
		}
	}
	return c
}

// exactSignedRankP returns the exact two-sided p-value for W+ = w with n
// untied non-zero differences: min(1, 2*min(P(W+ <= w), P(W+ >= w))).
func exactSignedRankP(n, w int) float64 {
	c := signedRankCounts(n)
	total := math.Ldexp(1, n)
	var lower, upper float64
	for s, v := range c {
		if s <= w {
			lower += v
		}
		if s >= w {
			upper += v
		}
	}
	return math.Min(1, 2*math.Min(lower, upper)/total)
}

// CliffsDelta returns Cliff's delta of variant against baseline, the
// unpaired dominance statistic (Cliff 1993):
//
//	delta = (#{(i,j): variant[j] > baseline[i]} - #{(i,j): variant[j] < baseline[i]}) / (m*n)
//
// over all m*n combinations, so it lies in [-1, 1] and is positive when the
// variant tends to be higher. NaN values are skipped in either sample; it
// returns NaN if either sample is then empty. It is computed in
// O((m+n) log m) by sorting baseline and binary searching. Written by hand:
// gonum has no Cliff's delta. For R's effsize, this equals
// cliff.delta(variant, baseline)$estimate.
func CliffsDelta(baseline, variant []float64) float64 {
	xs := dropNaN(baseline)
	m := len(xs)
	if m == 0 {
		return math.NaN()
	}
	sort.Float64s(xs)
	var greater, less, n int64
	for _, v := range variant {
		if math.IsNaN(v) {
			continue
		}
		n++
		below := sort.SearchFloat64s(xs, v)                               // baseline values < v
		notAbove := sort.Search(m, func(i int) bool { return xs[i] > v }) // baseline values <= v
		greater += int64(below)
		less += int64(m - notAbove)
	}
	if n == 0 {
		return math.NaN()
	}
	return float64(greater-less) / (float64(m) * float64(n))
}

// VarghaDelaneyA returns the Vargha–Delaney A of variant against baseline,
// P(variant > baseline) + P(variant == baseline)/2 over all combinations,
// which equals (CliffsDelta(baseline, variant)+1)/2 (Vargha & Delaney 2000).
// 0.5 means no effect; above 0.5 the variant tends to be higher.
func VarghaDelaneyA(baseline, variant []float64) float64 {
	return (CliffsDelta(baseline, variant) + 1) / 2
}
