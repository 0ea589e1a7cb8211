package realrun

import (
	"os"
	"slices"
	"time"
)

// quantile is the q-quantile of xs by nearest rank, the simulator's rule (sim/cronmetrics.go),
// so that both worlds summarise the same way. xs is sorted in place.
func quantile(xs []float64, q float64) float64 {
	if len(xs) == 0 {
		return 0
	}
	slices.Sort(xs)
	i := int(q*float64(len(xs))+0.999999) - 1
	i = max(0, min(i, len(xs)-1))
	return xs[i]
}

func seconds(d time.Duration) float64 { return d.Seconds() }

func readFile(p string) ([]byte, error) { return os.ReadFile(p) }
