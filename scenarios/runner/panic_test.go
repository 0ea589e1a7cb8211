package runner

import (
	"errors"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/faultline-dev/faultline/sim"
)

// A panic inside a simulation ends as an error that names the variant and seed to replay, with
// the stack kept, instead of crashing the process from a worker goroutine.
func TestPanicInASimulationIsAnError(t *testing.T) {
	_, err := runSafely(new(sim.Scratch), nil, nil, 7, sim.Options{}, "baseline") // a nil input panics inside sim
	require.Error(t, err)
	var pe *PanicError
	require.True(t, errors.As(err, &pe), "%v", err)
	assert.Equal(t, uint64(7), pe.Seed)
	assert.NotEmpty(t, pe.Stack)
	assert.Contains(t, err.Error(), "variant baseline seed 7: panic in the simulator")
	assert.Contains(t, err.Error(), "--seed 7 --seeds 1 --variant baseline")
	assert.NotContains(t, err.Error(), "\n", "one line")
}
