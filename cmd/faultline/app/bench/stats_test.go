package bench

import (
	"testing"

	"github.com/stretchr/testify/assert"
)

// P4's spread: the quartiles of the rounds by nearest rank, whatever order they came in.
func TestQuantileFNearestRank(t *testing.T) {
	rounds := []float64{1.9, 1.3, 2.3, 1.8, 1.85, 1.95, 1.7} // sorted: 1.3 1.7 1.8 1.85 1.9 1.95 2.3
	assert.Equal(t, 1.7, quantileF(rounds, 0.25))
	assert.Equal(t, 1.85, quantileF(rounds, 0.5))
	assert.Equal(t, medianF(rounds), quantileF(rounds, 0.5))
	assert.Equal(t, 1.95, quantileF(rounds, 0.75))
	assert.Equal(t, 1.3, quantileF(rounds, 0))
	assert.Equal(t, 2.3, quantileF(rounds, 1))
	assert.Equal(t, []float64{1.9, 1.3, 2.3, 1.8, 1.85, 1.95, 1.7}, rounds, "the caller's rounds keep their order")
}
