package bench

import (
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// The simulator-only scale targets at a toy size: the synthetic recording is read back, imported
// with its node additions and Jobs, and replayed; the what-if places every pod.
func TestScaleTargetsAtAToySize(t *testing.T) {
	f := &flags{scale: scaleFlags{nodes: 10, hour: 7 * time.Minute, whatIfNodes: 30}}
	r, err := s2(t.Context(), f)
	require.NoError(t, err)
	require.NotNil(t, r.Met, r.Detail)
	assert.Greater(t, r.Figure, 0.0)
	assert.Contains(t, r.Detail, "0 events not replayed", "node additions, deletions and Jobs all replay")
	assert.Contains(t, r.Detail, "1 nodes added, Jobs 3")

	r, err = s3(t.Context(), f)
	require.NoError(t, err)
	require.NotNil(t, r.Met, r.Detail)
	assert.Contains(t, r.Detail, "300 of 300 pods placed")
}
