package results

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"math"
	"strings"
)

// Censoring says when an indicator's value is censored: the indicator times an event (the first
// kernel panic, a rollout, an upgrade) and the event never happened within the run, so the
// simulator reports the run's length, a lower bound of the true time. A seed is censored when its
// Companion indicator satisfies When.
type Censoring struct {
	Indicator, Companion string
	// When is true for the companion values that mean "the event never happened".
	When func(companion float64) bool
	// Note says what a censored value means, for reports.
	Note string
}

// Censorings lists the censored indicators faultline knows.
var Censorings = []Censoring{
	{"time-to-first-panic", "node-panics", func(x float64) bool { return x == 0 }, "no node panicked: the value is the run's length"},
	{"rollout-minutes", "rollouts-incomplete", func(x float64) bool { return x > 0 }, "a rollout did not finish: it counts until the end of the run"},
	{"upgrade-minutes", "upgrade-completed", func(x float64) bool { return x == 0 }, "the upgrade never completed: the value runs to the end of the run"},
}

// CensoringOf returns the censoring rule of an indicator, if it has one.
func CensoringOf(indicator string) (Censoring, bool) {
	for _, c := range Censorings {
		if c.Indicator == indicator {
			return c, true
		}
	}
	return Censoring{}, false
}

// censoredCount counts the finished seeds of variant v whose value of indicator is censored.
func censoredCount(in Input, v int, indicator string) int {
	c, ok := CensoringOf(indicator)
	if !ok {
		return 0
	}
	k := -1
	for i, n := range in.Indicators {
		if n == c.Companion {
			k = i
		}
	}
	if k < 0 {
		return 0
	}
	n := 0
	for i := range in.Seeds {
		if in.Done[v][i] && c.When(in.Values[v][i][k]) {
			n++
		}
	}
	return n
}

// perSeed is variant v's value of indicator column k per seed, nil where the seed did not finish
// or the value is not a finite number (JSON has neither NaN nor Inf).
func perSeed(in Input, v, k int) []*float64 {
	out := make([]*float64, len(in.Seeds))
	for i := range in.Seeds {
		if !in.Done[v][i] {
			continue
		}
		x := in.Values[v][i][k]
		if math.IsNaN(x) || math.IsInf(x, 0) {
			continue
		}
		out[i] = &x
	}
	return out
}

// FoldSets folds --set overrides into a scenario digest: the digest of a scenario run with
// overrides differs from the file's, so `faultline check` notices a run that is not the
// baseline's scenario. Without overrides the digest is returned unchanged.
func FoldSets(digest string, sets []string) string {
	if len(sets) == 0 {
		return digest
	}
	h := sha256.New()
	h.Write([]byte(digest))
	for _, s := range sets {
		h.Write([]byte("\n--set "))
		h.Write([]byte(s))
	}
	return "sha256:" + hex.EncodeToString(h.Sum(nil))
}

// CensorMark is "≥ " when a figure includes censored seeds (it is then a lower bound), else "".
func CensorMark(censored int) string {
	if censored > 0 {
		return "≥ "
	}
	return ""
}

// CensorNote explains the censored seeds of objective oi, one phrase per variant that has any,
// e.g. "≥: time-to-first-panic censored on baseline 3 of 200, fix 200 of 200 seeds (no node
// panicked: the value is the run's length)"; "" when no seed is censored.
func CensorNote(s *Summary, oi int) string {
	c, ok := CensoringOf(s.Objectives[oi].Indicator)
	if !ok {
		return ""
	}
	var parts []string
	for _, v := range s.Variants {
		if n := v.Objectives[oi].Censored; n > 0 {
			parts = append(parts, fmt.Sprintf("%s %d of %d", v.Name, n, v.Complete))
		}
	}
	if len(parts) == 0 {
		return ""
	}
	return fmt.Sprintf("≥: %s censored on %s seeds (%s; figures with such seeds are lower bounds)", c.Indicator, strings.Join(parts, ", "), c.Note)
}
