package runner_test

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/faultline-dev/faultline/internal/golden"
	"github.com/faultline-dev/faultline/scenarios"
	"github.com/faultline-dev/faultline/scenarios/runner"
)

// Golden traces: every library scenario's event log is checked in under testdata/golden/, one
// file per scenario, and compared byte for byte. The file is the test's data: its first line
// says what was replayed (seed, window, variants), so a long scenario keeps a reviewable excerpt
// by editing its window and regenerating. A model change shows up as a diff here; regenerate with
// `make golden` and review it. The runs check the simulator's invariants after every event.
const goldenDir = "testdata/golden"

// goldenMaxBytes keeps each file reviewable: shorten its window when a trace outgrows it.
const goldenMaxBytes = 256 << 10

// goldenHeader is the first line of a golden file.
type goldenHeader struct {
	seed     uint64
	window   time.Duration
	variants []string // nil: every variant, in file order
	drop     []string // trace messages left out (per-object noise of large scenarios)
}

// defaultGolden is what a new scenario's golden file replays until its header is edited.
var defaultGolden = goldenHeader{seed: 1, window: 30 * time.Minute}

func (h goldenHeader) String() string {
	v := "all"
	if h.variants != nil {
		v = strings.Join(h.variants, ",")
	}
	line := fmt.Sprintf("# golden trace: seed=%d window=%s variants=%s", h.seed, h.window, v)
	if len(h.drop) > 0 {
		line += " drop=" + strings.Join(h.drop, "|")
	}
	return line
}

func parseGoldenHeader(line string) (goldenHeader, error) {
	var h goldenHeader
	rest, ok := strings.CutPrefix(line, "# golden trace: ")
	if !ok {
		return h, fmt.Errorf("first line %q: want %q", line, defaultGolden.String())
	}
	// drop= comes last and runs to the end of the line: messages have spaces
	if before, list, ok := strings.Cut(rest, " drop="); ok {
		rest, h.drop = before, strings.Split(list, "|")
	}
	for _, kv := range strings.Fields(rest) {
		k, v, _ := strings.Cut(kv, "=")
		var err error
		switch k {
		case "seed":
			h.seed, err = strconv.ParseUint(v, 10, 64)
		case "window":
			h.window, err = time.ParseDuration(v)
		case "variants":
			if v != "all" {
				h.variants = strings.Split(v, ",")
			}
		default:
			err = fmt.Errorf("unknown key (want seed, window, variants, then drop=MESSAGE|...)")
		}
		if err != nil {
			return h, fmt.Errorf("first line: %s: %v", kv, err)
		}
	}
	if h.window <= 0 {
		return h, fmt.Errorf("first line %q: window must be positive", line)
	}
	return h, nil
}

// goldenTrace replays what h says and returns the golden file's content.
func goldenTrace(t *testing.T, sc *scenarios.Scenario, h goldenHeader) []byte {
	t.Helper()
	var buf bytes.Buffer
	buf.WriteString(h.String() + "\n")
	_, err := runner.Run(context.Background(), sc, runner.Config{
		Variants: h.variants, Seeds: []uint64{h.seed}, Trace: &buf, Window: h.window, CheckInvariants: true,
	})
	require.NoError(t, err)
	if len(h.drop) == 0 {
		return buf.Bytes()
	}
	var kept bytes.Buffer
	for line := range strings.Lines(buf.String()) {
		if !dropped(line, h.drop) {
			kept.WriteString(line)
		}
	}
	return kept.Bytes()
}

// dropped reports whether a trace line ("+DDdHH:MM:SS.mmm  message key=value ...") carries one
// of the messages.
func dropped(line string, drop []string) bool {
	_, msg, ok := strings.Cut(line, "  ")
	if !ok || strings.HasPrefix(line, "#") {
		return false
	}
	for _, d := range drop {
		if rest, ok := strings.CutPrefix(msg, d); ok && (rest == "\n" || strings.HasPrefix(rest, " ")) {
			return true
		}
	}
	return false
}

func TestGoldenTraces(t *testing.T) {
	lib, err := scenarios.Library()
	require.NoError(t, err)
	names := map[string]bool{}
	for _, e := range lib {
		names[e.Name] = true
		t.Run(e.Name, func(t *testing.T) {
			path := filepath.Join(goldenDir, e.Name+".trace")
			h := defaultGolden
			if data, err := os.ReadFile(path); err == nil {
				first, _, _ := strings.Cut(string(data), "\n")
				h, err = parseGoldenHeader(first)
				require.NoError(t, err, path)
			} else if !golden.Updating() {
				t.Fatalf("no golden trace for library scenario %s: run `make golden` and review %s", e.Name, path)
			}
			got := goldenTrace(t, open(t, e.Name), h)
			require.LessOrEqual(t, len(got), goldenMaxBytes, "%s: %d bytes; shorten the window in its first line", path, len(got))
			golden.Check(t, path, got)
		})
	}
	// a golden file of a scenario that left the library is stale
	files, err := filepath.Glob(filepath.Join(goldenDir, "*.trace"))
	require.NoError(t, err)
	for _, f := range files {
		name := strings.TrimSuffix(filepath.Base(f), ".trace")
		if !names[name] {
			t.Errorf("%s: no library scenario %s; remove the file", f, name)
		}
	}
}

func TestGoldenHeader(t *testing.T) {
	const line = "# golden trace: seed=7 window=1h30m0s variants=baseline,v2 drop=pod bound|job failed"
	h, err := parseGoldenHeader(line)
	require.NoError(t, err)
	require.Equal(t, goldenHeader{seed: 7, window: 90 * time.Minute, variants: []string{"baseline", "v2"}, drop: []string{"pod bound", "job failed"}}, h)
	require.Equal(t, line, h.String())
	require.True(t, dropped("+00d00:00:01.000  pod bound pod=a node=b\n", h.drop))
	require.True(t, dropped("+00d00:00:01.000  job failed\n", h.drop))
	require.False(t, dropped("+00d00:00:01.000  pod bound-ish x=1\n", h.drop))
	require.False(t, dropped("+00d00:00:01.000  job deadline exceeded job=x\n", h.drop))
	for _, bad := range []string{"# variant baseline seed 1", "# golden trace: seed=x window=1h", "# golden trace: window=0s", "# golden trace: window=1h colour=red"} {
		_, err := parseGoldenHeader(bad)
		require.Error(t, err, bad)
	}
}
