package golden

import (
	"testing"

	"github.com/stretchr/testify/assert"
)

func TestDiff(t *testing.T) {
	assert.Empty(t, Diff([]byte("a\nb\n"), []byte("a\nb\n")))
	assert.Equal(t, "line 2:\n want: b\n  got: c", Diff([]byte("a\nb\n"), []byte("a\nc\n")))
	assert.Equal(t, "want 2 lines, got 3", Diff([]byte("a\nb"), []byte("a\nb\nc")))
}
