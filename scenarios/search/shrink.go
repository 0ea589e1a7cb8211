package search

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"testing/fstest"
	"time"

	"github.com/pmezard/go-difflib/difflib"
	"sigs.k8s.io/yaml"

	"github.com/faultline-dev/faultline/scenarios"
	"github.com/faultline-dev/faultline/scenarios/runner"
)

// ShrinkConfig says what to shrink: a scenario whose variant misses an objective on one seed.
type ShrinkConfig struct {
	Scenario  *scenarios.Scenario
	Seed      uint64
	Variant   string
	Objective scenarios.ResolvedObjective
	// Budget caps the simulation runs (default 2000); the smallest scenario found so far is kept.
	Budget int
	// Name, when set, becomes the shrunk scenario's metadata.name.
	Name string
	// Faulty, when set, also requires a candidate to meet the objective on the seed once its
	// faults are removed: the faults must stay the cause (explore's finds), not a cluster
	// halved until the workload no longer fits.
	Faulty bool
	// Against, when set, also requires that variant to meet the objective on the seed: the
	// miss stays the shrunk variant's own (a weakness of the mitigation, not of everything).
	Against  string
	Progress func(line string)
}

// ShrinkResult is the smallest scenario found that still misses the objective on the seed.
type ShrinkResult struct {
	Scenario *scenarios.Scenario // the shrunk scenario, loaded
	Original []byte              // the original as one self-contained YAML file (objects inlined)
	Shrunk   []byte              // the shrunk scenario file
	Runs     int                 // simulation runs spent
	Steps    []string            // what each accepted reduction removed or halved
	Before   map[string]int      // size of each reducible list before
	After    map[string]int      // and after
	Value    float64             // the objective's indicator on the seed, shrunk
}

// doc is a scenario file as generic JSON.
type doc = map[string]any

// reducible lists, as paths below spec; objects come after what refers to them
var shrinkLists = [][]string{{"faults"}, {"changes"}, {"variants"}, {"load"}, {"objects"}, {"templates"}, {"cluster", "nodePools"}}

// Shrink reduces the scenario by delta debugging (Zeller's ddmin) over its faults, changes,
// variants (the one shrunk and the baseline always stay), load entries, objects, templates and
// node pools, then halves numeric parameters (duration, node-pool and template counts,
// Deployment replicas) while the variant still misses the objective on the seed, and repeats
// until nothing more goes. Every candidate is written as a file and loaded by the scenario
// loader, so the result is a valid scenario; a candidate that does not load counts as not
// missing, and so does one that no longer reports the objective's indicator. The original must
// miss the objective on the seed.
func Shrink(ctx context.Context, cfg ShrinkConfig) (*ShrinkResult, error) {
	if cfg.Budget <= 0 {
		cfg.Budget = 2000
	}
	d, err := inlineDoc(cfg.Scenario)
	if err != nil {
		return nil, err
	}
	orig, err := yaml.Marshal(d)
	if err != nil {
		return nil, err
	}
	md, _ := d["metadata"].(map[string]any)
	if md == nil {
		md = map[string]any{}
		d["metadata"] = md
	}
	ann, _ := md["annotations"].(map[string]any)
	if ann == nil {
		ann = map[string]any{}
		md["annotations"] = ann
	}
	if cfg.Name != "" {
		md["name"] = cfg.Name
	}
	ann["faultline.dev/shrunk-from"] = fmt.Sprintf("%s: variant %s misses %s (%s %s) on seed %d",
		cfg.Scenario.File, cfg.Variant, cfg.Objective.Name, cfg.Objective.Indicator, cfg.Objective.Target, cfg.Seed)
	s := &shrinker{cfg: cfg, res: &ShrinkResult{Original: orig, Before: sizes(d)}}
	sc, ok, err := s.test(ctx, d)
	if err != nil {
		return nil, err
	}
	if !ok {
		return nil, fmt.Errorf("%s: variant %s meets objective %s on seed %d (or the scenario does not survive a YAML round trip): nothing to shrink",
			cfg.Scenario.File, cfg.Variant, cfg.Objective.Name, cfg.Seed)
	}
	s.best, s.bestSc, s.res.Value = d, sc, s.last
	for round := 0; round < 4; round++ {
		changed := false
		for _, path := range shrinkLists {
			c, err := s.reduceList(ctx, path)
			if err != nil {
				return s.finish()
			}
			changed = changed || c
		}
		c, err := s.halve(ctx)
		if err != nil {
			return s.finish()
		}
		if !changed && !c {
			break
		}
	}
	return s.finish()
}

type shrinker struct {
	cfg    ShrinkConfig
	res    *ShrinkResult
	best   doc
	bestSc *scenarios.Scenario
	last   float64 // the indicator on the last candidate played
}

var errBudget = fmt.Errorf("shrink budget spent")

func (s *shrinker) finish() (*ShrinkResult, error) {
	out, err := yaml.Marshal(s.best)
	if err != nil {
		return nil, err
	}
	s.res.Shrunk, s.res.Scenario, s.res.After = out, s.bestSc, sizes(s.best)
	return s.res, nil
}

// test loads the candidate and plays the seed: true when it still misses the objective.
func (s *shrinker) test(ctx context.Context, d doc) (*scenarios.Scenario, bool, error) {
	if err := ctx.Err(); err != nil {
		return nil, false, err
	}
	if s.res.Runs >= s.cfg.Budget {
		return nil, false, errBudget
	}
	sc, err := loadDoc(d, s.cfg.Scenario.File)
	if err != nil {
		return nil, false, nil
	}
	for _, v := range []string{s.cfg.Variant, s.cfg.Against} {
		if _, err := sc.Variant(v); v != "" && err != nil {
			return nil, false, nil
		}
	}
	s.res.Runs++
	rs, err := play(ctx, sc, s.cfg.Variant, []uint64{s.cfg.Seed}, 1)
	if err != nil || len(rs) == 0 {
		return nil, false, ctx.Err()
	}
	// a candidate that no longer measures the indicator (its load removed, say) shows nothing
	v, ok := rs[0].Get(s.cfg.Objective.Indicator)
	if !ok || math.IsNaN(v) {
		return sc, false, nil
	}
	s.last = v
	if s.cfg.Objective.Target.Met(v) {
		return sc, false, nil
	}
	if s.cfg.Faulty {
		if len(sc.Faults) == 0 {
			return sc, false, nil
		}
		calm, err := sc.Set("spec.faults", "[]")
		if err != nil {
			return sc, false, nil
		}
		s.res.Runs++
		rs, err := play(ctx, calm, s.cfg.Variant, []uint64{s.cfg.Seed}, 1)
		if err != nil || len(rs) == 0 {
			return nil, false, ctx.Err()
		}
		if Missed(rs[0], s.cfg.Objective) {
			return sc, false, nil
		}
	}
	if s.cfg.Against != "" {
		s.res.Runs++
		rs, err := play(ctx, sc, s.cfg.Against, []uint64{s.cfg.Seed}, 1)
		if err != nil || len(rs) == 0 {
			return nil, false, ctx.Err()
		}
		if Missed(rs[0], s.cfg.Objective) {
			return sc, false, nil
		}
	}
	return sc, true, nil
}

func (s *shrinker) accept(d doc, sc *scenarios.Scenario, step string) {
	s.best, s.bestSc, s.res.Value = d, sc, s.last
	s.res.Steps = append(s.res.Steps, step)
	if s.cfg.Progress != nil {
		s.cfg.Progress(fmt.Sprintf("shrink: %s (%d runs)", step, s.res.Runs))
	}
}

// reduceList runs ddmin over the list at spec.path of the best document.
func (s *shrinker) reduceList(ctx context.Context, path []string) (bool, error) {
	items, _ := get(s.best, path).([]any)
	if len(items) == 0 {
		return false, nil
	}
	name := joinPath(path)
	try := func(cand []int) (bool, error) {
		if protected(s, path, items, cand) {
			return false, nil
		}
		d := clone(s.best)
		sub := make([]any, 0, len(cand))
		for _, i := range cand {
			sub = append(sub, items[i])
		}
		set(d, path, sub)
		sc, ok, err := s.test(ctx, d)
		if err != nil || !ok {
			return false, err
		}
		s.accept(d, sc, fmt.Sprintf("spec.%s: %d of %d left", name, len(cand), len(items)))
		return true, nil
	}
	keep, err := ddmin(len(items), try)
	return len(keep) < len(items), err
}

// ddmin is Zeller and Hildebrandt's delta debugging minimization over the indexes 0..n-1: it
// removes chunks (halves, then quarters, ...) while test still holds of what is left, and returns
// a 1-minimal subset (removing any single index makes test fail), or the best so far on error.
func ddmin(n int, test func(cand []int) (bool, error)) ([]int, error) {
	keep := make([]int, n)
	for i := range keep {
		keep[i] = i
	}
	gran := 2
	for len(keep) > 0 {
		parts := min(gran, len(keep))
		reduced := false
		for c := range parts {
			lo, hi := c*len(keep)/parts, (c+1)*len(keep)/parts
			cand := slices.Concat(keep[:lo], keep[hi:])
			ok, err := test(cand)
			if err != nil {
				return keep, err
			}
			if ok {
				keep, reduced = cand, true
				gran = max(gran-1, 2)
				break
			}
		}
		if !reduced {
			if parts >= len(keep) {
				break
			}
			gran = min(2*gran, len(keep))
		}
	}
	return keep, nil
}

// protected keeps the shrunk variant and the baseline in spec.variants.
func protected(s *shrinker, path []string, items []any, cand []int) bool {
	if joinPath(path) != "variants" {
		return false
	}
	base := s.bestSc.Baseline()
	for i := range items {
		if slices.Contains(cand, i) {
			continue
		}
		if m, ok := items[i].(map[string]any); ok && (m["name"] == s.cfg.Variant || m["name"] == base || m["name"] == s.cfg.Against) {
			return true
		}
	}
	return false
}

// halve halves each numeric parameter while the objective is still missed.
func (s *shrinker) halve(ctx context.Context) (bool, error) {
	changed := false
	for _, p := range numericParams(s.best) {
		for {
			cur, ok := get(s.best, p.path).(any)
			if !ok {
				break
			}
			next, ok := p.half(cur)
			if !ok {
				break
			}
			d := clone(s.best)
			set(d, p.path, next)
			sc, missed, err := s.test(ctx, d)
			if err != nil {
				return changed, err
			}
			if !missed {
				break
			}
			s.accept(d, sc, fmt.Sprintf("spec.%s: %v to %v", joinPath(p.path), cur, next))
			changed = true
		}
	}
	return changed, nil
}

type numeric struct {
	path []string
	half func(any) (any, bool)
}

func halfCount(v any) (any, bool) {
	n, ok := v.(float64)
	if !ok || n <= 1 {
		return nil, false
	}
	return float64(int(n) / 2), true
}

func halfDuration(v any) (any, bool) {
	str, ok := v.(string)
	if !ok {
		return nil, false
	}
	d, err := time.ParseDuration(str)
	if err != nil || d < 2*time.Minute {
		return nil, false
	}
	return (d / 2).Round(time.Second).String(), true
}

// numericParams lists the halvable parameters of d: the duration, node-pool and template
// counts, and the replicas of every object that has spec.replicas.
func numericParams(d doc) []numeric {
	ps := []numeric{{[]string{"duration"}, halfDuration}}
	for _, list := range []string{"cluster.nodePools", "templates"} {
		path := splitPath(list)
		items, _ := get(d, path).([]any)
		for i := range items {
			ps = append(ps, numeric{append(slices.Clone(path), strconv.Itoa(i), "count"), halfCount})
		}
	}
	objs, _ := get(d, []string{"objects"}).([]any)
	for i, o := range objs {
		if m, ok := o.(map[string]any); ok {
			if sp, ok := m["spec"].(map[string]any); ok {
				if _, ok := sp["replicas"].(float64); ok {
					ps = append(ps, numeric{[]string{"objects", strconv.Itoa(i), "spec", "replicas"}, halfCount})
				}
			}
		}
	}
	return ps
}

// inlineDoc is the scenario as one self-contained file: objects inlined from their includes.
func inlineDoc(sc *scenarios.Scenario) (doc, error) {
	f := sc.Spec
	f.Spec.Objects = nil
	for _, o := range sc.Objects {
		f.Spec.Objects = append(f.Spec.Objects, json.RawMessage(o.JSON))
	}
	b, err := json.Marshal(f)
	if err != nil {
		return nil, err
	}
	var d doc
	if err := json.Unmarshal(b, &d); err != nil {
		return nil, err
	}
	dropNulls(d)
	return d, nil
}

// dropNulls removes null members (creationTimestamp: null and the like) that the loader's
// strict decoding need not see.
func dropNulls(v any) {
	switch x := v.(type) {
	case map[string]any:
		for k, e := range x {
			if e == nil {
				delete(x, k)
				continue
			}
			dropNulls(e)
		}
		if md, ok := x["metadata"].(map[string]any); ok && len(md) == 0 {
			delete(x, "metadata")
		}
	case []any:
		for _, e := range x {
			dropNulls(e)
		}
	}
}

// loadDoc writes d as a scenario file and loads it with the scenario loader.
func loadDoc(d doc, display string) (*scenarios.Scenario, error) {
	b, err := yaml.Marshal(d)
	if err != nil {
		return nil, err
	}
	return scenarios.LoadFS(fstest.MapFS{scenarios.ScenarioFile: {Data: b}}, scenarios.ScenarioFile, display)
}

func clone(d doc) doc {
	b, _ := json.Marshal(d)
	var out doc
	_ = json.Unmarshal(b, &out)
	return out
}

// get and set address spec.PATH of a document; list indexes are decimal path elements.
func get(d doc, path []string) any {
	var cur any = d["spec"]
	for _, p := range path {
		switch x := cur.(type) {
		case map[string]any:
			cur = x[p]
		case []any:
			i, err := strconv.Atoi(p)
			if err != nil || i < 0 || i >= len(x) {
				return nil
			}
			cur = x[i]
		default:
			return nil
		}
	}
	return cur
}

func set(d doc, path []string, v any) {
	parent := get(d, path[:len(path)-1])
	last := path[len(path)-1]
	switch x := parent.(type) {
	case map[string]any:
		if l, ok := v.([]any); ok && len(l) == 0 {
			delete(x, last)
			return
		}
		x[last] = v
	case []any:
		if i, err := strconv.Atoi(last); err == nil && i >= 0 && i < len(x) {
			x[i] = v
		}
	}
}

func joinPath(p []string) string {
	var b bytes.Buffer
	for i, e := range p {
		if _, err := strconv.Atoi(e); err == nil {
			b.WriteString("[" + e + "]")
			continue
		}
		if i > 0 {
			b.WriteByte('.')
		}
		b.WriteString(e)
	}
	return b.String()
}

func splitPath(s string) []string {
	var out []string
	for _, p := range bytes.Split([]byte(s), []byte(".")) {
		out = append(out, string(p))
	}
	return out
}

func sizes(d doc) map[string]int {
	m := map[string]int{}
	for _, p := range shrinkLists {
		l, _ := get(d, p).([]any)
		m[joinPath(p)] = len(l)
	}
	return m
}

// WriteShrink writes scenario.yaml (the shrunk scenario), original.yaml (the original with its
// objects inlined), shrink.diff (unified diff between them) and trace.log (the event log of the
// shrunk scenario's variant on the seed) into dir.
func WriteShrink(dir string, r *ShrinkResult, variant string, seed uint64) error {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return err
	}
	diff, err := difflib.GetUnifiedDiffString(difflib.UnifiedDiff{
		A: difflib.SplitLines(string(r.Original)), B: difflib.SplitLines(string(r.Shrunk)),
		FromFile: "original.yaml", ToFile: "scenario.yaml", Context: 3,
	})
	if err != nil {
		return err
	}
	var trace bytes.Buffer
	if _, err := runner.Run(context.Background(), r.Scenario, runner.Config{Variants: []string{variant}, Seeds: []uint64{seed}, Trace: &trace}); err != nil {
		return fmt.Errorf("trace: %w", err)
	}
	for name, data := range map[string][]byte{
		scenarios.ScenarioFile: r.Shrunk, "original.yaml": r.Original, "shrink.diff": []byte(diff), "trace.log": trace.Bytes(),
	} {
		if err := os.WriteFile(filepath.Join(dir, name), data, 0o644); err != nil {
			return err
		}
	}
	return nil
}
