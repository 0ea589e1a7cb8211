package locate

import (
	"bytes"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	yaml "go.yaml.in/yaml/v3"
)

// ParseFrom places every node, and every error, where Parse does after as many empty lines.
func TestParseFromIsParseAfterEmptyLines(t *testing.T) {
	for name, doc := range map[string]string{
		"mapping":    "a: 1\nb:\n  - x\n  - {y: 2}\n",
		"aliases":    "base: &b\n  cpu: 1\nuse:\n  <<: *b\n  more: *b\n",
		"comments":   "# head\na: 1 # line\n\n# foot\n",
		"null":       "~\n",
		"syntax":     "a: [1, 2\nb: 3\n",
		"second doc": "a: 1\n---\nb: 2\n",
		"indent":     "a:\n  b: 1\n c: 2\n",
	} {
		for _, skip := range []int{0, 1, 7} {
			want, wantErr := Parse("f.yaml", append(bytes.Repeat([]byte("\n"), skip), doc...))
			got, err := ParseFrom("f.yaml", []byte(doc), skip)
			if wantErr != nil {
				assert.Equal(t, wantErr, err, "%s after %d lines", name, skip)
				continue
			}
			require.NoError(t, err, "%s after %d lines", name, skip)
			assert.Equal(t, positions(want.YAML()), positions(got.YAML()), "%s after %d lines", name, skip)
			assert.Equal(t, want.budget, got.budget)
		}
	}
}

func positions(n *yaml.Node) [][3]int {
	out := [][3]int{{int(n.Kind), n.Line, n.Column}}
	for _, c := range n.Content {
		out = append(out, positions(c)...)
	}
	return out
}
