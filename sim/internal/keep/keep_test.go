package keep

import (
	"testing"

	"github.com/stretchr/testify/assert"
)

func TestEmptyZeroesUpToCapacityAndDropsLargeBuffers(t *testing.T) {
	x, y := new(int), new(int)
	s := []*int{x, y, x}[:1] // elements beyond the length still point at objects
	got := Empty(s, 8)
	assert.Empty(t, got)
	assert.Equal(t, 3, cap(got), "the backing array is kept")
	for _, p := range got[:cap(got)] {
		assert.Nil(t, p, "no element keeps an object of the last use")
	}
	assert.Nil(t, Empty(make([]*int, 0, 9), 8), "room for more than the limit is dropped")
	assert.NotNil(t, Empty(make([]*int, 0, 8), 8))
}
