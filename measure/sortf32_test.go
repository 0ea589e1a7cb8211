package measure

import (
	"math"
	"math/rand/v2"
	"slices"
	"testing"

	"github.com/stretchr/testify/require"
)

// TestSortFloat32sIsSlicesSort compares sortFloat32s with slices.Sort bit for bit on long slices
// of start-delay-like values (few exponents, many duplicates), wide ranges with negatives, and
// the -0 and NaN cases it hands to slices.Sort.
func TestSortFloat32sIsSlicesSort(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	gens := map[string]func() float32{
		"delays":     func() float32 { return float32(time30s(rng)) },
		"duplicates": func() float32 { return float32(rng.IntN(50)) / 4 },
		"wide":       func() float32 { return float32(rng.NormFloat64() * math.Pow(10, float64(rng.IntN(20)-10))) },
		"one value":  func() float32 { return 3.5 },
		"close":      func() float32 { return math.Float32frombits(0x3f800000 + rng.Uint32N(1024)) }, // buckets to the last byte
	}
	for name, gen := range gens {
		for _, n := range []int{0, 1, 100, radixMin - 1, radixMin, 5 * radixMin, 300000} {
			v := make([]float32, n)
			for i := range v {
				v[i] = gen()
			}
			want := slices.Clone(v)
			slices.Sort(want)
			sortFloat32s(v)
			for i := range v {
				require.Equal(t, math.Float32bits(want[i]), math.Float32bits(v[i]), "%s, n %d, at %d", name, n, i)
			}
		}
	}
	v := make([]float32, 2*radixMin)
	for i := range v {
		v[i] = float32(rng.IntN(7) - 3)
	}
	v[5] = float32(math.Copysign(0, -1))
	sortFloat32s(v) // -0 present: slices.Sort's order, whatever it makes of -0 and +0
	require.True(t, slices.IsSorted(v))
	v[7] = float32(math.NaN())
	sortFloat32s(v)
	require.Equal(t, 2*radixMin, len(v))
}

func time30s(rng *rand.Rand) float64 { return 0.5 + rng.ExpFloat64()*30 }
