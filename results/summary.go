package results

import (
	"fmt"
	"math"

	"github.com/faultline-dev/faultline/results/stats"
)

// SchemaVersion is the version of summary.json; bump it on any incompatible change and describe
// the change in results/schema/README.md (results/schema/summary.schema.json is the schema).
const SchemaVersion = 1

// Objective is one scored indicator.
type Objective struct {
	Name           string   `json:"name"`
	Indicator      string   `json:"indicator"`
	Unit           string   `json:"unit,omitempty"`
	TargetOp       string   `json:"targetOp,omitempty"`
	TargetValue    *float64 `json:"targetValue,omitempty"`
	HigherIsBetter bool     `json:"higherIsBetter"`
	Weight         float64  `json:"weight"`
}

// Met reports whether v meets the objective's target (true without a target).
func (o Objective) Met(v float64) bool {
	if o.TargetValue == nil {
		return true
	}
	t := *o.TargetValue
	switch o.TargetOp {
	case ">=":
		return v >= t
	case ">":
		return v > t
	case "<=":
		return v <= t
	case "<":
		return v < t
	case "==":
		return v == t
	}
	return true
}

// Target prints the target, or "".
func (o Objective) Target() string {
	if o.TargetValue == nil {
		return ""
	}
	return fmt.Sprintf("%s %g", o.TargetOp, *o.TargetValue)
}

// Input is everything needed to score a run.
type Input struct {
	Scenario   string
	Digest     string
	Version    string // faultline version
	Baseline   string
	Variants   []string
	Seeds      []uint64
	Indicators []string // column names of Values
	// Values[v][i][k]: variant v, seed Seeds[i], indicator Indicators[k]; valid when Done[v][i].
	Values      [][][]float64
	Done        [][]bool
	Objectives  []Objective
	Interrupted bool
	// Sets are the --set PATH=VALUE overrides the run applied to the scenario, in order. They are
	// recorded in the summary and folded into its digest (see FoldSets).
	Sets []string
	// Alpha is the family-wise error rate for verdicts (default 0.05).
	Alpha float64
	// Invalid lists the runs that were not scored because the world under them broke (real
	// runs only: a control-plane process died, a fault could not be injected or reverted).
	Invalid []InvalidRun
}

// InvalidRun is one run left out of the figures, with why.
type InvalidRun struct {
	Variant string   `json:"variant"`
	Seed    uint64   `json:"seed"`
	Reasons []string `json:"reasons"`
}

// Summary is the content of summary.json.
type Summary struct {
	Schema      int              `json:"schema"`
	Faultline   string           `json:"faultline"`
	Scenario    string           `json:"scenario"`
	Digest      string           `json:"digest"`
	Sets        []string         `json:"sets,omitempty"`
	Seeds       []uint64         `json:"seeds"`
	Baseline    string           `json:"baseline"`
	Alpha       float64          `json:"alpha"`
	Interrupted bool             `json:"interrupted"`
	Invalid     []InvalidRun     `json:"invalid,omitempty"`
	Objectives  []Objective      `json:"objectives"`
	Variants    []VariantSummary `json:"variants"`
	Indicators  []string         `json:"indicators"`
	Resamples   int              `json:"bootstrapResamples"`
}

// VariantSummary is one variant's figures.
type VariantSummary struct {
	Name string `json:"name"`
	// Complete counts the seeds that finished (all of them unless interrupted).
	Complete   int                `json:"complete"`
	Objectives []ObjectiveSummary `json:"objectives"`
	// Means of every indicator, in Summary.Indicators order; empty when no seed finished.
	Means      []float64 `json:"indicatorMeans,omitempty"`
	Resilience *Estimate `json:"resilienceScore,omitempty"`
}

// Estimate is a value with its confidence interval.
type Estimate struct {
	Value float64 `json:"value"`
	Lo    float64 `json:"lo"`
	Hi    float64 `json:"hi"`
}

// ObjectiveSummary is one objective for one variant.
type ObjectiveSummary struct {
	Name   string   `json:"name"`
	Mean   float64  `json:"mean"`
	MeanCI Estimate `json:"meanCI"`
	Median float64  `json:"median"`
	P5     float64  `json:"p5"`
	P95    float64  `json:"p95"`
	// Censored counts the seeds whose value is censored: the event the indicator times never
	// happened, so the value is a bound (the run's length), not a measurement (see Censoring).
	Censored int `json:"censored,omitempty"`
	// Values are the per-seed values in Summary.Seeds order, null for a seed that did not finish
	// (or whose value is not a number). `faultline check` pairs them seed by seed across builds.
	Values     []*float64  `json:"values,omitempty"`
	Violations *Violations `json:"violations,omitempty"`
	// Comparison with the baseline; nil for the baseline itself.
	Comparison *Comparison `json:"comparison,omitempty"`
}

// Violations is the share of seeds that missed the target.
type Violations struct {
	Count int      `json:"count"`
	Rate  float64  `json:"rate"`
	CI    Estimate `json:"ci"`
}

// Comparison is the paired comparison of a variant with the baseline on one objective.
type Comparison struct {
	Pairs        int           `json:"pairs"`
	MedianDiff   float64       `json:"medianDiff"`
	MedianDiffCI Estimate      `json:"medianDiffCI"`
	MeanDiff     float64       `json:"meanDiff"`
	P            float64       `json:"p"`
	PHolm        float64       `json:"pHolm"`
	CliffsDelta  float64       `json:"cliffsDelta"`
	A12          float64       `json:"a12"`
	Verdict      stats.Verdict `json:"verdict"`
	// NeedsSeeds is set with the verdict "inconclusive": the fewest paired seeds with which this
	// run's family of comparisons could reach significance at all (stats.SeedsNeeded).
	NeedsSeeds int `json:"needsSeeds,omitempty"`
}

// VerdictText is the verdict as people read it: "inconclusive: needs at least N seeds" says why.
func (c *Comparison) VerdictText() string {
	if c.Verdict == stats.Inconclusive && c.NeedsSeeds > 0 {
		return fmt.Sprintf("inconclusive: needs at least %d seeds", c.NeedsSeeds)
	}
	return string(c.Verdict)
}

const (
	level     = 0.95
	resamples = 2000
	bootSeed  = 0x5eed
)

// Summarize computes every figure. It is deterministic: the bootstrap uses a fixed seed.
func Summarize(in Input) (*Summary, error) {
	if in.Alpha == 0 {
		in.Alpha = 0.05
	}
	base := -1
	for v, n := range in.Variants {
		if n == in.Baseline {
			base = v
		}
	}
	if base < 0 {
		return nil, fmt.Errorf("baseline %q is not among the variants", in.Baseline)
	}
	col := map[string]int{}
	for k, n := range in.Indicators {
		col[n] = k
	}
	for _, o := range in.Objectives {
		if _, ok := col[o.Indicator]; !ok {
			return nil, fmt.Errorf("objective %s: indicator %q was not measured", o.Name, o.Indicator)
		}
	}
	s := &Summary{
		Schema: SchemaVersion, Faultline: in.Version, Scenario: in.Scenario, Digest: FoldSets(in.Digest, in.Sets),
		Sets: in.Sets, Seeds: in.Seeds, Baseline: in.Baseline, Alpha: in.Alpha, Interrupted: in.Interrupted,
		Invalid: in.Invalid, Objectives: in.Objectives, Indicators: in.Indicators, Resamples: resamples,
	}
	column := func(v, k int) []float64 {
		var out []float64
		for i := range in.Seeds {
			if in.Done[v][i] {
				out = append(out, in.Values[v][i][k])
			}
		}
		return out
	}
	var pvals []float64
	for v, name := range in.Variants {
		vs := VariantSummary{Name: name}
		for i := range in.Seeds {
			if in.Done[v][i] {
				vs.Complete++
			}
		}
		for k := range in.Indicators {
			if vs.Complete == 0 {
				break // nothing to average; JSON has no NaN, so the means are left out
			}
			vs.Means = append(vs.Means, stats.Describe(column(v, k), level, 1, bootSeed).Mean)
		}
		var passes [][]bool
		weights := make([]float64, len(in.Objectives))
		for oi, o := range in.Objectives {
			weights[oi] = o.Weight
			k := col[o.Indicator]
			x := column(v, k)
			os := ObjectiveSummary{Name: o.Name, Values: perSeed(in, v, k), Censored: censoredCount(in, v, o.Indicator)}
			if len(x) > 0 {
				d := stats.Describe(x, level, resamples, bootSeed)
				os.Mean, os.Median, os.P5, os.P95 = d.Mean, d.Median, d.P5, d.P95
				os.MeanCI = Estimate{d.Mean, d.MeanCI.Lo, d.MeanCI.Hi}
			}
			if o.TargetValue != nil && len(x) > 0 {
				bad := 0
				for _, val := range x {
					if !o.Met(val) {
						bad++
					}
				}
				w := stats.Wilson(bad, len(x), level)
				os.Violations = &Violations{Count: bad, Rate: float64(bad) / float64(len(x)), CI: Estimate{float64(bad) / float64(len(x)), w.Lo, w.Hi}}
			}
			if v != base {
				var bx, vy []float64
				for i := range in.Seeds {
					if in.Done[v][i] && in.Done[base][i] {
						bx = append(bx, in.Values[base][i][k])
						vy = append(vy, in.Values[v][i][k])
					}
				}
				if len(bx) > 0 {
					p, err := stats.ComparePaired(bx, vy, level, resamples, bootSeed)
					if err != nil {
						return nil, fmt.Errorf("variant %s objective %s: %w", name, o.Name, err)
					}
					c := &Comparison{
						Pairs: p.N, MedianDiff: p.MedianDiff, MeanDiff: p.MeanDiff,
						MedianDiffCI: Estimate{p.MedianDiff, p.MedianDiffCI.Lo, p.MedianDiffCI.Hi},
						P:            p.PValue, CliffsDelta: p.CliffsDelta, A12: p.A12,
					}
					os.Comparison = c
					pvals = append(pvals, p.PValue)
				}
			}
			vs.Objectives = append(vs.Objectives, os)
		}
		// the resilience score weighs only objectives with a target: one without a target has
		// nothing to pass or fail, and counting it as passed would inflate every variant's score
		targetWeight := 0.0
		for oi, o := range in.Objectives {
			if o.TargetValue == nil {
				weights[oi] = 0
			}
			targetWeight += weights[oi]
		}
		if targetWeight > 0 {
			for i := range in.Seeds {
				if !in.Done[v][i] {
					continue
				}
				row := make([]bool, len(in.Objectives))
				for oi, o := range in.Objectives {
					row[oi] = o.Met(in.Values[v][i][col[o.Indicator]])
				}
				passes = append(passes, row)
			}
			if len(passes) > 0 {
				sc, ci := stats.ResilienceScore(passes, weights, level, resamples, bootSeed)
				vs.Resilience = &Estimate{sc, ci.Lo, ci.Hi}
			}
		}
		s.Variants = append(s.Variants, vs)
	}
	adj := stats.Holm(pvals)
	m := 0
	for _, p := range pvals {
		if !math.IsNaN(p) {
			m++
		}
	}
	// verdicts need each comparison's objective direction: walk in the same order
	idx := 0
	for v := range s.Variants {
		if v == base {
			continue
		}
		for oi := range s.Variants[v].Objectives {
			c := s.Variants[v].Objectives[oi].Comparison
			if c == nil {
				continue
			}
			c.PHolm = adj[idx]
			raw := stats.Paired{MedianDiff: c.MedianDiff, MedianDiffCI: stats.Interval{Lo: c.MedianDiffCI.Lo, Hi: c.MedianDiffCI.Hi, Level: level}, MeanDiff: c.MeanDiff, PValue: c.P}
			c.Verdict = stats.Decide(raw, c.PHolm, in.Alpha, in.Objectives[oi].HigherIsBetter)
			if c.Verdict == stats.NoDifference && !stats.Reachable(c.Pairs, m, in.Alpha) {
				// not "no difference": with this many seeds no difference could have been detected
				c.Verdict, c.NeedsSeeds = stats.Inconclusive, stats.SeedsNeeded(m, in.Alpha)
			}
			idx++
		}
	}
	return s, nil
}

// WorstPrecision is the largest relative half-width (CI half-width / |mean|) over every variant
// and objective, and where it is. An objective whose interval has zero width counts as precise
// whatever its mean (a metric that is 0 in every seed has nothing left to estimate).
func (s *Summary) WorstPrecision() (worst float64, where string) {
	for _, v := range s.Variants {
		for oi, o := range v.Objectives {
			half := (o.MeanCI.Hi - o.MeanCI.Lo) / 2
			if half == 0 {
				continue
			}
			r := math.Inf(1)
			if o.Mean != 0 {
				r = half / math.Abs(o.Mean)
			}
			if r > worst || where == "" {
				worst, where = r, v.Name+"/"+s.Objectives[oi].Name
			}
		}
	}
	return worst, where
}
