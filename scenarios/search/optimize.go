package search

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"math"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/faultline-dev/faultline/scenarios"
)

// Search methods, as reported in OptimizeResult.Method.
const (
	MethodBisection  = "bisection"  // a monotone knob: halve the interval between a miss and a pass
	MethodGrid       = "grid"       // not monotone: every value in cost order until one passes
	MethodCoordinate = "coordinate" // several knobs, no cost: each knob in turn, later ones at their dear end
	MethodCostOrder  = "cost-order" // several knobs with costs: the grid in cost order, dominated settings pruned
)

// OptimizeConfig says what to optimize.
type OptimizeConfig struct {
	Scenario   *scenarios.Scenario
	Variant    string
	Knobs      []Knob
	Objectives []scenarios.ResolvedObjective // with targets; see Objectives
	// Level is the confidence of the bounds (default 0.95); Allowed the share of seeds that may
	// miss an objective (default 0.05).
	Level, Allowed float64
	// FirstSeed is the first seed; every setting plays the same seeds (common random numbers).
	FirstSeed uint64
	// MinSeeds is the first batch at a setting (default 4), MaxSeeds the most one setting gets
	// (default 256): a setting still undecided then does not count as meeting the objectives.
	MinSeeds, MaxSeeds int
	Workers            int
	// Progress receives a line after every batch, with an estimate of the time left.
	Progress func(line string)
}

// Point is one evaluated setting.
type Point struct {
	Index   []int     `json:"-"`
	Values  []string  `json:"values"`
	Tally   Tally     `json:"tally"`
	Upper   []float64 `json:"upper"` // per objective, the Clopper-Pearson upper bound of the missed share
	Verdict string    `json:"verdict"`
	sc      *scenarios.Scenario
}

// ObjectiveBound is an objective's standing at the chosen setting.
type ObjectiveBound struct {
	Name   string  `json:"name"`
	Target string  `json:"target"`
	Missed int     `json:"missed"`
	Seeds  int     `json:"seeds"`
	Upper  float64 `json:"upper"`
}

// OptimizeResult is what Optimize found.
type OptimizeResult struct {
	Scenario string `json:"scenario"`
	Variant  string `json:"variant"`
	// Setting maps each knob's path to the value chosen (a number where the value is one);
	// empty when no setting in range meets every objective.
	Setting map[string]any `json:"setting"`
	Found   bool           `json:"found"`
	// Confidence is the largest level at which every objective's Clopper-Pearson upper bound
	// of the missed share is at or under Allowed, at the chosen setting.
	Confidence  float64          `json:"confidence"`
	Level       float64          `json:"level"`
	Allowed     float64          `json:"allowed"`
	Bound       string           `json:"bound"`
	Method      string           `json:"method"`
	Monotone    []bool           `json:"monotone"`    // per knob, as judged from a coarse scan
	Evaluations int              `json:"evaluations"` // simulation runs (one variant, one seed each)
	Settings    int              `json:"settings"`    // distinct settings played
	Seconds     float64          `json:"seconds"`
	Objectives  []ObjectiveBound `json:"objectives"`
	Knobs       []string         `json:"knobs"`
	Points      []*Point         `json:"points"`
	Interrupted bool             `json:"interrupted,omitempty"`
	chosen      []int
	cfg         *OptimizeConfig
}

type optimizer struct {
	cfg     OptimizeConfig
	points  map[string]*Point
	order   []*Point
	runs    int
	started time.Time
	// remaining estimates the settings left to decide, for the ETA
	remaining func() int
	decided   int
}

// Optimize finds the cheapest setting of the knobs at which every objective is met: the
// Clopper-Pearson upper bound (at Level) of the share of seeds missing it is at or under Allowed.
// Seeds are added to a setting in doubling batches only while its verdict is open (sequential
// testing; the repeated looks are not corrected for, so the stated level is nominal). One knob
// is bisected when a coarse scan shows the missed share never rising toward the dear end, and
// walked as a grid otherwise. Several knobs without costs are optimized one at a time in their
// order (the first is the one to keep cheapest), the later ones held at their dear end; with
// costs the grid is walked in order of total cost, skipping settings dominated by one that
// missed. A cancelled context returns what was decided so far with Interrupted set.
func Optimize(ctx context.Context, cfg OptimizeConfig) (*OptimizeResult, error) {
	if cfg.Level == 0 {
		cfg.Level = 0.95
	}
	if cfg.Allowed == 0 {
		cfg.Allowed = 0.05
	}
	if cfg.MinSeeds <= 0 {
		cfg.MinSeeds = 4
	}
	if cfg.MaxSeeds <= 0 {
		cfg.MaxSeeds = 256
	}
	if cfg.FirstSeed == 0 {
		cfg.FirstSeed = 1
	}
	switch {
	case len(cfg.Knobs) == 0:
		return nil, errors.New("optimize: no knob to change; give --knob PATH=FROM:TO:STEP")
	case len(cfg.Objectives) == 0:
		return nil, errors.New("optimize: no objective with a target")
	case cfg.Level <= 0 || cfg.Level >= 1 || cfg.Allowed <= 0 || cfg.Allowed >= 1:
		return nil, fmt.Errorf("optimize: level %g and allowed share %g must be in (0, 1)", cfg.Level, cfg.Allowed)
	case cfg.MaxSeeds < cfg.MinSeeds:
		return nil, fmt.Errorf("optimize: max seeds %d under min seeds %d", cfg.MaxSeeds, cfg.MinSeeds)
	}
	if _, err := cfg.Scenario.Variant(cfg.Variant); err != nil {
		return nil, err
	}
	o := &optimizer{cfg: cfg, points: map[string]*Point{}, started: time.Now(), remaining: func() int { return 0 }}
	res := &OptimizeResult{Scenario: cfg.Scenario.Name(), Variant: cfg.Variant, Level: cfg.Level, Allowed: cfg.Allowed,
		Bound: "Clopper-Pearson, one-sided", Setting: map[string]any{}, Monotone: make([]bool, len(cfg.Knobs)), cfg: &o.cfg}
	for _, k := range cfg.Knobs {
		res.Knobs = append(res.Knobs, k.Path)
	}
	// every setting must be valid before any is played
	for _, k := range cfg.Knobs {
		for _, v := range []string{k.Values[0], k.Values[len(k.Values)-1]} {
			if _, err := cfg.Scenario.Set(k.Path, v); err != nil {
				return nil, err
			}
		}
	}
	costs := slices.ContainsFunc(cfg.Knobs, func(k Knob) bool { return k.Cost > 0 })
	var chosen []int
	var err error
	switch {
	case len(cfg.Knobs) == 1:
		var best int
		best, res.Monotone[0], err = o.line(ctx, []int{0}, 0)
		res.Method = MethodGrid
		if res.Monotone[0] {
			res.Method = MethodBisection
		}
		if best >= 0 {
			chosen = []int{best}
		}
	case !costs:
		res.Method = MethodCoordinate
		chosen = make([]int, len(cfg.Knobs))
		for k := range cfg.Knobs {
			chosen[k] = len(cfg.Knobs[k].Values) - 1
		}
		for k := range cfg.Knobs {
			var best int
			best, res.Monotone[k], err = o.line(ctx, chosen, k)
			if err != nil || best < 0 {
				chosen = nil
				break
			}
			chosen[k] = best
		}
	default:
		res.Method = MethodCostOrder
		for k := range res.Monotone {
			res.Monotone[k] = true // assumed: the pruning relies on it
		}
		chosen, err = o.costOrder(ctx)
	}
	res.Interrupted = errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded)
	if err != nil && !res.Interrupted {
		return nil, err
	}
	res.Evaluations, res.Settings, res.Points = o.runs, len(o.order), o.order
	res.Seconds = time.Since(o.started).Seconds()
	if chosen != nil {
		p := o.points[key(chosen)]
		if p != nil && p.Verdict == Meets.String() {
			res.Found, res.chosen = true, chosen
			for k, kn := range cfg.Knobs {
				res.Setting[kn.Path] = jsonValue(kn.Values[chosen[k]])
			}
			res.Confidence = p.Tally.confidence(cfg.Allowed)
			for i, ob := range cfg.Objectives {
				res.Objectives = append(res.Objectives, ObjectiveBound{Name: ob.Name, Target: ob.Target.String(),
					Missed: p.Tally.Missed[i], Seeds: p.Tally.Seeds, Upper: p.Upper[i]})
			}
		}
	}
	return res, nil
}

// jsonValue is v as a JSON number when it is one, else the string.
func jsonValue(v string) any {
	if x, err := strconv.ParseFloat(v, 64); err == nil {
		return x
	}
	return v
}

func key(idx []int) string { return fmt.Sprint(idx) }

// point returns the setting at idx, building its scenario on first use.
func (o *optimizer) point(idx []int) (*Point, error) {
	if p, ok := o.points[key(idx)]; ok {
		return p, nil
	}
	sc := o.cfg.Scenario
	p := &Point{Index: slices.Clone(idx), Tally: Tally{Missed: make([]int, len(o.cfg.Objectives))}, Verdict: Undecided.String()}
	for k, kn := range o.cfg.Knobs {
		v := kn.Values[idx[k]]
		var err error
		if sc, err = sc.Set(kn.Path, v); err != nil {
			return nil, err
		}
		p.Values = append(p.Values, v)
	}
	p.sc = sc
	p.Upper = make([]float64, len(o.cfg.Objectives))
	for i := range p.Upper {
		p.Upper[i] = 1
	}
	o.points[key(idx)] = p
	o.order = append(o.order, p)
	return p, nil
}

// extend plays the setting up to n seeds.
func (o *optimizer) extend(ctx context.Context, p *Point, n int) error {
	if n <= p.Tally.Seeds {
		return nil
	}
	first := o.cfg.FirstSeed + uint64(p.Tally.Seeds)
	rs, err := play(ctx, p.sc, o.cfg.Variant, seedRange(first, n-p.Tally.Seeds), o.cfg.Workers)
	for _, r := range rs {
		for i, ob := range o.cfg.Objectives {
			if Missed(r, ob) {
				p.Tally.Missed[i]++
			}
		}
	}
	p.Tally.Seeds += len(rs)
	o.runs += len(rs)
	for i, k := range p.Tally.Missed {
		p.Upper[i] = UpperBound(k, p.Tally.Seeds, o.cfg.Level)
	}
	p.Verdict = p.Tally.verdict(o.cfg.Level, o.cfg.Allowed).String()
	if o.cfg.Progress != nil {
		el := time.Since(o.started)
		eta := "?"
		if o.decided > 0 {
			eta = (el / time.Duration(o.decided) * time.Duration(o.remaining())).Round(100 * time.Millisecond).String()
		}
		o.cfg.Progress(fmt.Sprintf("[%s] %d seeds, missed %v: %s; %d runs, %s elapsed, ETA %s",
			strings.Join(p.Values, ", "), p.Tally.Seeds, p.Tally.Missed, p.Verdict, o.runs, el.Round(time.Millisecond), eta))
	}
	return err
}

func seedRange(first uint64, n int) []uint64 {
	s := make([]uint64, n)
	for i := range s {
		s[i] = first + uint64(i)
	}
	return s
}

// passSeeds is the fewest clean seeds that certify a setting.
func (o *optimizer) passSeeds() int {
	return int(math.Ceil(math.Log(1-o.cfg.Level) / math.Log(1-o.cfg.Allowed)))
}

// decide adds seeds to the setting until its verdict is settled or MaxSeeds is reached; an
// undecided setting then counts as not meeting the objectives.
func (o *optimizer) decide(ctx context.Context, idx []int) (bool, error) {
	p, err := o.point(idx)
	if err != nil {
		return false, err
	}
	for {
		v := p.Tally.verdict(o.cfg.Level, o.cfg.Allowed)
		if v != Undecided || p.Tally.Seeds >= o.cfg.MaxSeeds {
			o.decided++
			return v == Meets, nil
		}
		n := max(o.cfg.MinSeeds, 2*p.Tally.Seeds)
		if ps := o.passSeeds(); p.Tally.Seeds < ps && n > ps {
			n = ps // enough to pass when nothing missed so far
		}
		if err := o.extend(ctx, p, min(n, o.cfg.MaxSeeds)); err != nil {
			return false, err
		}
	}
}

// badness is the largest missed share over the objectives so far.
func (p *Point) badness() float64 {
	b := 0.0
	for _, k := range p.Tally.Missed {
		b = max(b, float64(k)/float64(max(1, p.Tally.Seeds)))
	}
	return b
}

// line finds the cheapest value of knob k with the other knobs as in base. It returns -1 when
// even the dear end misses, and whether the knob looked monotone.
func (o *optimizer) line(ctx context.Context, base []int, k int) (int, bool, error) {
	n := len(o.cfg.Knobs[k].Values)
	at := func(i int) []int { idx := slices.Clone(base); idx[k] = i; return idx }
	// coarse scan: up to 5 values spread over the range, MinSeeds each
	var scan []int
	for j := range min(5, n) {
		i := 0
		if min(5, n) > 1 {
			i = j * (n - 1) / (min(5, n) - 1)
		}
		if len(scan) == 0 || scan[len(scan)-1] != i {
			scan = append(scan, i)
		}
	}
	o.remaining = func() int { return len(scan) }
	monotone := true
	prev := math.Inf(1)
	for _, i := range scan {
		p, err := o.point(at(i))
		if err != nil {
			return -1, false, err
		}
		if err := o.extend(ctx, p, o.cfg.MinSeeds); err != nil {
			return -1, false, err
		}
		if b := p.badness(); b > prev {
			monotone = false
		} else {
			prev = b
		}
	}
	if !monotone {
		for i := range n {
			o.remaining = func() int { return n - i }
			ok, err := o.decide(ctx, at(i))
			if err != nil || ok {
				return i, false, err
			}
		}
		return -1, false, nil
	}
	lo, hi := 0, n-1
	o.remaining = func() int { return 2 + bits(hi-lo) }
	ok, err := o.decide(ctx, at(hi))
	if err != nil || !ok {
		return -1, true, err
	}
	if ok, err := o.decide(ctx, at(lo)); err != nil || ok {
		return lo, true, err
	}
	for hi-lo > 1 {
		o.remaining = func() int { return bits(hi - lo) }
		mid := (lo + hi) / 2
		ok, err := o.decide(ctx, at(mid))
		if err != nil {
			return -1, true, err
		}
		if ok {
			hi = mid
		} else {
			lo = mid
		}
	}
	return hi, true, nil
}

// bits is the number of halvings that take n to 1.
func bits(n int) int {
	b := 0
	for n > 1 {
		n = (n + 1) / 2
		b++
	}
	return b
}

// costOrder walks the grid of all knobs in order of total cost (ties: earlier knobs cheaper
// first) and returns the first setting that meets every objective. A setting no dearer in any
// knob than one that missed is skipped: it is assumed to miss too.
func (o *optimizer) costOrder(ctx context.Context) ([]int, error) {
	grid := [][]int{{}}
	for _, kn := range o.cfg.Knobs {
		var next [][]int
		for _, g := range grid {
			for i := range kn.Values {
				next = append(next, append(slices.Clone(g), i))
			}
		}
		grid = next
		if len(grid) > 100*maxKnobValues {
			return nil, fmt.Errorf("optimize: the knobs' grid has over %d settings; use fewer values", 100*maxKnobValues)
		}
	}
	cost := func(idx []int) float64 {
		c := 0.0
		for k, i := range idx {
			c += o.cfg.Knobs[k].Cost * o.cfg.Knobs[k].X[i]
		}
		return c
	}
	slices.SortStableFunc(grid, func(a, b []int) int {
		if c := cmp.Compare(cost(a), cost(b)); c != 0 {
			return c
		}
		return slices.Compare(a, b)
	})
	var missed [][]int
	for gi, idx := range grid {
		o.remaining = func() int { return len(grid) - gi }
		if slices.ContainsFunc(missed, func(m []int) bool { return dominated(idx, m) }) {
			continue
		}
		ok, err := o.decide(ctx, idx)
		if err != nil || ok {
			return idx, err
		}
		missed = append(missed, idx)
	}
	return nil, nil
}

// dominated reports whether a is at or below m in every knob.
func dominated(a, m []int) bool {
	for k := range a {
		if a[k] > m[k] {
			return false
		}
	}
	return true
}
