package scenarios_test

import (
	"strconv"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/faultline-dev/faultline/scenarios"
)

func TestParseTarget(t *testing.T) {
	tests := []struct {
		name    string
		in      string
		want    scenarios.Target
		wantErr string
	}{
		{name: ">= with spaces", in: ">= 0.999", want: scenarios.Target{Op: ">=", Value: 0.999}},
		{name: "< without a space", in: "<1", want: scenarios.Target{Op: "<", Value: 1}},
		{name: "<=", in: "<= 0", want: scenarios.Target{Op: "<=", Value: 0}},
		{name: "> negative", in: "> -1.5", want: scenarios.Target{Op: ">", Value: -1.5}},
		{name: "== with surrounding blanks", in: "  == 2  ", want: scenarios.Target{Op: "==", Value: 2}},
		{name: "exponent", in: "<= 1e3", want: scenarios.Target{Op: "<=", Value: 1000}},
		{name: "words", in: "about 3", wantErr: `"about 3": expected OP NUMBER with OP one of >=, >, <=, <, ==`},
		{name: "empty", in: "", wantErr: "expected OP NUMBER"},
		{name: "number without op", in: "0.9", wantErr: "expected OP NUMBER"},
		{name: "reversed op", in: "=> 1", wantErr: "expected OP NUMBER"},
		{name: "op without number", in: ">=", wantErr: "expected a finite number after >="},
		{name: "op with text", in: "< lots", wantErr: `"< lots": expected a finite number after <`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := scenarios.ParseTarget(tt.in)
			if tt.wantErr != "" {
				require.Error(t, err)
				assert.Contains(t, err.Error(), tt.wantErr)
				return
			}
			require.NoError(t, err)
			assert.Equal(t, tt.want, got)
		})
	}
}

func TestTargetMet(t *testing.T) {
	tests := []struct {
		target string
		v      float64
		want   bool
	}{
		{">= 0.999", 0.999, true},
		{">= 0.999", 0.9989, false},
		{">= 0.999", 1, true},
		{"> 1", 1, false},
		{"> 1", 1.01, true},
		{"<= 0", 0, true},
		{"<= 0", 1, false},
		{"< 5", 4.99, true},
		{"< 5", 5, false},
		{"== 3", 3, true},
		{"== 3", 3.1, false},
	}
	for _, tt := range tests {
		t.Run(tt.target+" vs "+formatFloat(tt.v), func(t *testing.T) {
			tg, err := scenarios.ParseTarget(tt.target)
			require.NoError(t, err)
			assert.Equal(t, tt.want, tg.Met(tt.v))
		})
	}
}

func TestTargetString(t *testing.T) {
	tg, err := scenarios.ParseTarget(">=0.999")
	require.NoError(t, err)
	assert.Equal(t, ">= 0.999", tg.String())
}

func TestObjectives(t *testing.T) {
	t.Run("from the file, with defaults", func(t *testing.T) {
		objs := openGood(t).Objectives()
		require.Len(t, objs, 2)
		assert.Equal(t, "availability", objs[0].Name)
		assert.Equal(t, "request-success-ratio", objs[0].Indicator)
		assert.True(t, objs[0].HigherIsBetter)
		assert.Equal(t, 1.0, objs[0].Weight)
		assert.Equal(t, "ratio", objs[0].Unit)
		require.NotNil(t, objs[0].Target)
		assert.Equal(t, scenarios.Target{Op: ">=", Value: 0.99}, *objs[0].Target)

		assert.Equal(t, "panics", objs[1].Name)
		assert.False(t, objs[1].HigherIsBetter)
		assert.Equal(t, 2.0, objs[1].Weight)
		assert.Nil(t, objs[1].Target)
	})
	t.Run("none in the file: availability and node panics", func(t *testing.T) {
		sc, err := scenarios.LoadFS(minimal(""), "scenario.yaml", "minimal.yaml")
		require.NoError(t, err)
		objs := sc.Objectives()
		require.Len(t, objs, 2)
		assert.Equal(t, "request-success-ratio", objs[0].Indicator)
		assert.Equal(t, "node-panics", objs[1].Indicator)
	})
}

func formatFloat(v float64) string { return strconv.FormatFloat(v, 'g', -1, 64) }
