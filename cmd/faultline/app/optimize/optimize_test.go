package optimize

import (
	"bytes"
	"context"
	"encoding/json"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/faultline-dev/faultline/cmd/faultline/app/cli"
)

// Scripts read --json: one object whose setting maps each knob's path to the value chosen.
func TestJSONSetting(t *testing.T) {
	var out, errb bytes.Buffer
	cmd := NewCommand(cli.Streams{Out: &out, Err: &errb})
	knob := "deployment/api:spec.template.spec.containers[0].lifecycle.preStop.sleep.seconds"
	cmd.SetArgs([]string{"../../../../scenarios/search/testdata/ingress-lag", "--variant", "baseline", "--knob", knob + "=10:40:1",
		"--json", "--out", t.TempDir()})
	require.NoError(t, cmd.ExecuteContext(context.Background()))
	var res struct {
		Setting     map[string]any `json:"setting"`
		Confidence  float64        `json:"confidence"`
		Evaluations int            `json:"evaluations"`
		Method      string         `json:"method"`
	}
	require.NoError(t, json.Unmarshal(out.Bytes(), &res), out.String())
	assert.Equal(t, 23.0, res.Setting[knob])
	assert.GreaterOrEqual(t, res.Confidence, 0.95)
	assert.Positive(t, res.Evaluations)
	assert.Equal(t, "bisection", res.Method)
	assert.Contains(t, errb.String(), "ETA")
}

func TestBadKnob(t *testing.T) {
	var out bytes.Buffer
	cmd := NewCommand(cli.Streams{Out: &out, Err: &out})
	cmd.SetArgs([]string{"../../../../scenarios/search/testdata/ingress-lag", "--knob", "spec.nope=1:3:1", "--out", t.TempDir()})
	err := cmd.ExecuteContext(context.Background())
	require.Error(t, err)
	assert.Equal(t, cli.ExitBadInput, cli.Code(err))
}
