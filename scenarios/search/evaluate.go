package search

import (
	"context"
	"fmt"
	"math"
	"slices"

	"gonum.org/v1/gonum/stat/distuv"

	"github.com/faultline-dev/faultline/scenarios"
	"github.com/faultline-dev/faultline/scenarios/runner"
	"github.com/faultline-dev/faultline/sim"
)

// Objectives returns the scenario's objectives named in names (all with a target when names is
// empty). Only objectives with a target can be missed, so a named one without a target is an
// error.
func Objectives(sc *scenarios.Scenario, names []string) ([]scenarios.ResolvedObjective, error) {
	all := sc.Objectives()
	var out []scenarios.ResolvedObjective
	if len(names) == 0 {
		for _, o := range all {
			if o.Target != nil {
				out = append(out, o)
			}
		}
		if len(out) == 0 {
			return nil, fmt.Errorf("%s: no objective has a target; expected at least one spec.objectives[].target", sc.File)
		}
		return out, nil
	}
	for _, n := range names {
		i := slices.IndexFunc(all, func(o scenarios.ResolvedObjective) bool { return o.Name == n })
		if i < 0 {
			var have []string
			for _, o := range all {
				have = append(have, o.Name)
			}
			return nil, fmt.Errorf("%s: no objective %q; expected one of %v", sc.File, n, have)
		}
		if all[i].Target == nil {
			return nil, fmt.Errorf("%s: objective %q has no target, so no seed can miss it", sc.File, n)
		}
		out = append(out, all[i])
	}
	return out, nil
}

// Missed reports whether a run misses the objective's target. A run that did not report the
// indicator, or reported NaN, misses it: nothing was shown to hold.
func Missed(r sim.Result, o scenarios.ResolvedObjective) bool {
	v, ok := r.Get(o.Indicator)
	if !ok || math.IsNaN(v) {
		return true
	}
	return !o.Target.Met(v)
}

// play runs one variant of sc over seeds and returns the results in seed order. A cancelled
// context returns the error with the results cut to the finished prefix.
func play(ctx context.Context, sc *scenarios.Scenario, variant string, seeds []uint64, workers int) ([]sim.Result, error) {
	out, err := runner.Run(ctx, sc, runner.Config{Variants: []string{variant}, Seeds: seeds, Workers: workers})
	if err != nil && out == nil {
		return nil, err
	}
	var rs []sim.Result
	for i, d := range out.Done[0] {
		if !d {
			break
		}
		rs = append(rs, out.Results[0][i])
	}
	return rs, err
}

// UpperBound is the one-sided Clopper-Pearson upper confidence bound at level for a share from
// k events in n trials: the p at which seeing k or fewer has probability 1-level, the quantile
// level of Beta(k+1, n-k); 1 when k == n (or n == 0). Exact, so conservative at small n: with no
// miss in n seeds it is 1-(1-level)^(1/n), and 59 clean seeds are the fewest that put a share of
// 5 % under the bound at 95 %.
func UpperBound(k, n int, level float64) float64 {
	if n <= 0 || k >= n {
		return 1
	}
	return distuv.Beta{Alpha: float64(k + 1), Beta: float64(n - k)}.Quantile(level)
}

// LowerBound is the one-sided Clopper-Pearson lower bound: the quantile 1-level of Beta(k, n-k+1);
// 0 when k == 0.
func LowerBound(k, n int, level float64) float64 {
	if n <= 0 || k <= 0 {
		return 0
	}
	return distuv.Beta{Alpha: float64(k), Beta: float64(n - k + 1)}.Quantile(1 - level)
}

// Confidence is the largest level at which the Clopper-Pearson upper bound of k misses in n
// stays at or under allowed: P(Binomial(n, allowed) > k), the chance of seeing more misses than
// k were the share exactly allowed. 0 when n is 0.
func Confidence(k, n int, allowed float64) float64 {
	if n <= 0 || k >= n {
		return 0
	}
	return 1 - distuv.Binomial{N: float64(n), P: allowed}.CDF(float64(k))
}

// Verdict is the state of a sequential test of one setting.
type Verdict int

// The verdicts: the setting meets every objective (every upper bound at or under the allowed
// share), misses one (some lower bound above it), or the seeds so far cannot tell.
const (
	Undecided Verdict = iota
	Meets
	Misses
)

func (v Verdict) String() string {
	return [...]string{"undecided", "meets", "misses"}[v]
}

// Tally is the misses of each objective over the seeds played so far at one setting.
type Tally struct {
	Seeds  int   `json:"seeds"`
	Missed []int `json:"missed"` // per objective
}

// verdict decides a tally at level against the allowed share.
func (t Tally) verdict(level, allowed float64) Verdict {
	all := true
	for _, k := range t.Missed {
		if LowerBound(k, t.Seeds, level) > allowed {
			return Misses
		}
		if UpperBound(k, t.Seeds, level) > allowed {
			all = false
		}
	}
	if all && t.Seeds > 0 {
		return Meets
	}
	return Undecided
}

// confidence is the weakest objective's Confidence.
func (t Tally) confidence(allowed float64) float64 {
	c := 1.0
	for _, k := range t.Missed {
		c = min(c, Confidence(k, t.Seeds, allowed))
	}
	return c
}
