package fidelity

import (
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestCompare(t *testing.T) {
	for _, tc := range []struct {
		name      string
		sim, real map[string][]float64
		within    map[string]bool
		ks        map[string]float64
		calibrate map[string]string
	}{
		{
			name:   "the same samples are within, KS 0",
			sim:    map[string][]float64{"start-delay-p50-seconds": {4, 5, 6}},
			real:   map[string][]float64{"start-delay-p50-seconds": {6, 5, 4}},
			within: map[string]bool{"start-delay-p50-seconds": true},
			ks:     map[string]float64{"start-delay-p50-seconds": 0},
		},
		{
			name:      "a median 50 % off is outside, with the parameters to calibrate",
			sim:       map[string][]float64{"start-delay-p99-seconds": {10, 10, 10, 10}},
			real:      map[string][]float64{"start-delay-p99-seconds": {15, 15, 15}},
			within:    map[string]bool{"start-delay-p99-seconds": false},
			ks:        map[string]float64{"start-delay-p99-seconds": 1},
			calibrate: map[string]string{"start-delay-p99-seconds": "simulator lower than reality: calibrate the step rows"},
		},
		{
			name:   "seconds have a 1 s floor: 0.4 against 1.2 is within",
			sim:    map[string][]float64{"start-delay-p50-seconds": {0.4}},
			real:   map[string][]float64{"start-delay-p50-seconds": {1.2}},
			within: map[string]bool{"start-delay-p50-seconds": true},
		},
		{
			name:      "counts must match to the half",
			sim:       map[string][]float64{"max-replicas-per-node": {3, 3, 2}},
			real:      map[string][]float64{"max-replicas-per-node": {2, 2}},
			within:    map[string]bool{"max-replicas-per-node": false},
			calibrate: map[string]string{"max-replicas-per-node": "simulator higher than reality: calibrate the scheduler model"},
		},
		{
			name:   "indicators in only one world are left out",
			sim:    map[string][]float64{"node-panics": {1}, "evictions": {3}},
			real:   map[string][]float64{"job-create-delay-p50-seconds": {2}, "evictions": {3}},
			within: map[string]bool{"evictions": true},
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			rows := Compare(tc.sim, tc.real, DefaultTolerance())
			require.Len(t, rows, len(tc.within))
			for _, r := range rows {
				want, ok := tc.within[r.Indicator]
				require.True(t, ok, "unexpected row %s", r.Indicator)
				assert.Equal(t, want, r.Within, "%s: sim %v real %v allowed %v", r.Indicator, r.SimMedian, r.RealMedian, r.Allowed)
				if ks, ok := tc.ks[r.Indicator]; ok {
					assert.InDelta(t, ks, r.KS, 1e-9)
				}
				if c, ok := tc.calibrate[r.Indicator]; ok {
					assert.Contains(t, r.Calibrate, c)
				}
				if r.Within {
					assert.Empty(t, r.Calibrate)
				}
			}
		})
	}
}
