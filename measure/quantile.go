package measure

import "slices"

// Quantile is the q-quantile of xs by nearest rank (the smallest value with at least q of the
// sample at or below it); 0 for an empty sample. xs is sorted in place.
func Quantile[T float32 | float64](xs []T, q float64) float64 {
	if len(xs) == 0 {
		return 0
	}
	slices.Sort(xs)
	i := int(q*float64(len(xs))+0.999999) - 1
	i = max(0, min(i, len(xs)-1))
	return float64(xs[i])
}
