package sim

import (
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/faultline-dev/faultline/sim/engine"
)

// A stream from a world's slab draws what engine.Streams gives for its seed and name, also when
// its slot served another stream of another seed before.
func TestSlabStreamsDrawAsEngineStreams(t *testing.T) {
	var rngs slab[rngBox]
	names := []string{"scheduler", "node/pool-a-1", "deployment/default/web", "", "fault/0/kernel-panic"}
	for _, seed := range []uint64{1, 2, 1 << 40} {
		rngs.reset()
		v := &env{streams: engine.NewStreams(seed), rngs: &rngs}
		for _, name := range names {
			got, want := v.stream(name), engine.NewStreams(seed).Stream(name)
			for range 20 {
				require.Equal(t, want.Uint64(), got.Uint64(), "seed %d stream %q", seed, name)
			}
		}
	}
}
