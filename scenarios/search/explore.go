package search

import (
	"context"
	"encoding/json"
	"fmt"
	"math"
	"math/rand/v2"
	"os"
	"path/filepath"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/faultline-dev/faultline/scenarios"
	"github.com/faultline-dev/faultline/sim"
)

// ExploreConfig says where to look for faults no one wrote.
type ExploreConfig struct {
	Scenario   *scenarios.Scenario
	Variant    string
	Objectives []scenarios.ResolvedObjective // with targets
	// Budget is the simulation runs to spend exploring (shrinking finds is counted apart).
	Budget int
	// Seed seeds the explorer's own choices; the simulation seeds are 1..Seeds.
	Seed uint64
	// Seeds is how many simulation seeds each schedule plays (default 2); MaxFaults the most
	// generated faults in one schedule (default 3); MaxFinds stops after that many (default 5).
	Seeds, MaxFaults, MaxFinds int
	// ShrinkBudget caps the runs spent shrinking each find (default 500).
	ShrinkBudget int
	Workers      int
	// Against, when set, names a variant (the baseline, say) that must meet the objective on
	// the same schedule and seed for a miss to count: the finds are then weaknesses of Variant
	// alone, not faults every variant fails under.
	Against string
	// Out, when set, receives each find as it is shrunk: Out/find-N/ as written by WriteShrink.
	Out      string
	Progress func(line string)
}

// Find is one schedule on which the variant misses an objective it met without it.
type Find struct {
	Objective string              `json:"objective"`
	Seed      uint64              `json:"seed"`
	Value     float64             `json:"value"`
	Faults    []json.RawMessage   `json:"faults"`        // the generated schedule, before shrinking
	Shrunk    []json.RawMessage   `json:"shrunk"`        // spec.faults of the shrunk scenario
	Dir       string              `json:"dir,omitempty"` // its folder; in explore.json relative to explore.json
	Runs      int                 `json:"shrinkRuns"`
	Scenario  *scenarios.Scenario `json:"-"`
	shrunk    *ShrinkResult
}

// ExploreResult is what Explore saw.
type ExploreResult struct {
	Scenario    string   `json:"scenario"`
	Variant     string   `json:"variant"`
	Against     string   `json:"against,omitempty"`
	Seed        uint64   `json:"seed"`
	Runs        int      `json:"runs"`
	Schedules   int      `json:"schedules"`
	Refused     int      `json:"refused"`    // generated schedules the scenario format refused
	Signatures  int      `json:"signatures"` // distinct coverage signatures reached
	Corpus      int      `json:"corpus"`     // schedules kept for mutation
	ShrinkRuns  int      `json:"shrinkRuns"`
	Seconds     float64  `json:"seconds"`
	Finds       []Find   `json:"finds"`
	Vocabulary  []string `json:"vocabulary"`
	Interrupted bool     `json:"interrupted,omitempty"`
}

// target is something a generated fault can hit.
type vocab struct {
	nodes     []string
	workloads []workload
	duration  time.Duration
}

type workload struct {
	name, namespace string
	labels          map[string]string
}

// fault kinds the explorer draws from: what the simulator models (scenarios/faults.go)
var faultKinds = []string{"pod-kill", "pod-failure", "network-loss", "cpu-stress", "node-stop", "node-reset", "controller-manager-down", "control-plane-upgrade"}

// vocabulary reads the nodes and workloads of a scenario.
func vocabulary(sc *scenarios.Scenario) vocab {
	v := vocab{duration: sc.Spec.Spec.Duration.Duration}
	for _, p := range sc.Spec.Spec.Cluster.NodePools {
		for i := 1; i <= p.Count; i++ {
			v.nodes = append(v.nodes, p.Name+"-"+strconv.Itoa(i))
		}
	}
	for _, o := range sc.Objects {
		switch o.GVK.Kind {
		case "Deployment", "StatefulSet", "DaemonSet":
		default:
			continue
		}
		var m struct {
			Spec struct {
				Selector struct {
					MatchLabels map[string]string `json:"matchLabels"`
				} `json:"selector"`
			} `json:"spec"`
		}
		if json.Unmarshal(o.JSON, &m) == nil && len(m.Spec.Selector.MatchLabels) > 0 {
			v.workloads = append(v.workloads, workload{name: o.Name, namespace: o.Namespace, labels: m.Spec.Selector.MatchLabels})
		}
	}
	return v
}

// schedule is a list of generated faults, each a spec.faults entry.
type schedule []map[string]any

func (v vocab) fault(r *rand.Rand, n int) map[string]any {
	kinds := faultKinds
	if len(v.workloads) == 0 {
		kinds = slices.DeleteFunc(slices.Clone(kinds), func(k string) bool {
			return k == "pod-kill" || k == "pod-failure" || k == "network-loss" || k == "cpu-stress"
		})
	}
	if len(v.nodes) == 0 {
		kinds = slices.DeleteFunc(slices.Clone(kinds), func(k string) bool { return k == "node-stop" || k == "node-reset" })
	}
	kind := kinds[r.IntN(len(kinds))]
	name := fmt.Sprintf("explore-%d-%s", n, kind)
	at := time.Duration(r.Int64N(int64(max(v.duration*8/10, time.Minute)))).Truncate(time.Second)
	dur := (time.Minute + time.Duration(r.Int64N(int64(29*time.Minute)))).Truncate(time.Minute).String()
	sel := func() map[string]any {
		w := v.workloads[r.IntN(len(v.workloads))]
		s := map[string]any{"labelSelectors": w.labels}
		if w.namespace != "" {
			s["namespaces"] = []string{w.namespace}
		}
		return s
	}
	mode := []string{"one", "all"}[r.IntN(2)]
	chaos := func(k string, spec map[string]any) map[string]any {
		return map[string]any{"apiVersion": scenarios.ChaosAPIVersion, "kind": k, "metadata": map[string]any{"name": name}, "spec": spec}
	}
	var obj map[string]any
	switch kind {
	case "pod-kill":
		obj = chaos("PodChaos", map[string]any{"action": "pod-kill", "mode": mode, "selector": sel()})
	case "pod-failure":
		obj = chaos("PodChaos", map[string]any{"action": "pod-failure", "mode": mode, "selector": sel(), "duration": dur})
	case "network-loss":
		obj = chaos("NetworkChaos", map[string]any{"action": "loss", "mode": mode, "selector": sel(), "loss": map[string]any{"loss": "100"}, "duration": dur})
	case "cpu-stress":
		obj = chaos("StressChaos", map[string]any{"mode": mode, "selector": sel(), "duration": dur,
			"stressors": map[string]any{"cpu": map[string]any{"workers": 1 + r.IntN(4), "load": 100}}})
	case "node-stop":
		obj = chaos("GCPChaos", map[string]any{"action": "node-stop", "project": "explore", "zone": "explore", "instance": v.nodes[r.IntN(len(v.nodes))], "duration": dur})
	case "node-reset":
		obj = chaos("GCPChaos", map[string]any{"action": "node-reset", "project": "explore", "zone": "explore", "instance": v.nodes[r.IntN(len(v.nodes))]})
	case "controller-manager-down":
		obj = chaos("PodChaos", map[string]any{"action": "pod-failure", "mode": "one", "duration": dur,
			"selector": map[string]any{"namespaces": []string{"kube-system"}, "labelSelectors": map[string]string{"component": "kube-controller-manager"}}})
	case "control-plane-upgrade":
		obj = map[string]any{"apiVersion": scenarios.APIVersion, "kind": "ControlPlaneUpgrade", "metadata": map[string]any{"name": name},
			"spec": map[string]any{"version": "explore"}}
	}
	return map[string]any{"at": at.String(), "object": obj}
}

// mutate derives a schedule from a kept one: add, drop, move or replace one fault.
func (v vocab) mutate(r *rand.Rand, s schedule, maxFaults int, n *int) schedule {
	out := slices.Clone(s)
	switch op := r.IntN(4); {
	case op == 0 && len(out) < maxFaults || len(out) == 0:
		*n++
		out = append(out, v.fault(r, *n))
	case op == 1 && len(out) > 1:
		i := r.IntN(len(out))
		out = slices.Delete(out, i, i+1)
	case op == 2:
		i := r.IntN(len(out))
		f := maps(out[i])
		f["at"] = time.Duration(r.Int64N(int64(max(v.duration*8/10, time.Minute)))).Truncate(time.Second).String()
		out[i] = f
	default:
		*n++
		out[r.IntN(len(out))] = v.fault(r, *n)
	}
	return out
}

func maps(m map[string]any) map[string]any {
	c := make(map[string]any, len(m))
	for k, v := range m {
		c[k] = v
	}
	return c
}

// signature is the coverage signature of a run: each indicator in a logarithmic bucket (0, or
// the sign and the power of two of its size), with the objectives missed. Runs that reach other
// model states (panics, evictions, outages, 502s, skipped jobs ...) get other signatures.
func signature(r sim.Result, objs []scenarios.ResolvedObjective) string {
	var b strings.Builder
	for _, in := range r.Indicators {
		v := in.Value
		switch {
		case math.IsNaN(v):
			b.WriteString("n")
		case v == 0:
			b.WriteString("0")
		default:
			if v < 0 {
				b.WriteString("-")
			}
			fmt.Fprintf(&b, "%d", int(math.Floor(math.Log2(math.Abs(v)))))
		}
		b.WriteByte(',')
	}
	for _, o := range objs {
		if Missed(r, o) {
			b.WriteString("!" + o.Name)
		}
	}
	return b.String()
}

// Explore plays generated fault schedules (added to the scenario's own faults) against the
// variant, looking for seeds where it misses an objective it met on the same seed without them.
// Schedules are drawn from the simulator's fault vocabulary (pod kill and failure, network loss,
// CPU stress as a load spike, node stop and reset, kube-controller-manager down, a control-plane
// upgrade; a webhook's backend hangs when a pod fault hits its pods) at random times and targets.
// It is steered the way coverage-guided fuzzers are: a schedule whose runs reach a coverage
// signature not seen before joins the corpus, and most new schedules are mutations of corpus
// entries. Schedules are drawn in batches of eight from one stream seeded with Seed and judged
// in batch order, so the search does not depend on the worker count. Every find is shrunk and,
// with Out set, written at once; a cancelled context keeps the finds so far.
func Explore(ctx context.Context, cfg ExploreConfig) (*ExploreResult, error) {
	if cfg.Seeds <= 0 {
		cfg.Seeds = 2
	}
	if cfg.MaxFaults <= 0 {
		cfg.MaxFaults = 3
	}
	if cfg.MaxFinds <= 0 {
		cfg.MaxFinds = 5
	}
	if cfg.ShrinkBudget <= 0 {
		cfg.ShrinkBudget = 500
	}
	if cfg.Budget <= 0 {
		return nil, fmt.Errorf("explore: budget %d; expected a positive number of runs", cfg.Budget)
	}
	for _, v := range []string{cfg.Variant, cfg.Against} {
		if _, err := cfg.Scenario.Variant(v); v != "" && err != nil {
			return nil, err
		}
	}
	started := time.Now()
	res := &ExploreResult{Scenario: cfg.Scenario.Name(), Variant: cfg.Variant, Against: cfg.Against, Seed: cfg.Seed, Vocabulary: faultKinds}
	seeds := seedRange(1, cfg.Seeds)
	// what the variant misses without generated faults does not count as a find
	plain, err := play(ctx, cfg.Scenario, cfg.Variant, seeds, cfg.Workers)
	res.Runs += len(plain)
	if err != nil {
		res.Interrupted = true
		return res, nil
	}
	known := map[string]bool{}
	seen := map[string]bool{}
	for i, r := range plain {
		seen[signature(r, cfg.Objectives)] = true
		for _, o := range cfg.Objectives {
			if Missed(r, o) {
				known[fmt.Sprint(o.Name, seeds[i])] = true
			}
		}
	}
	v := vocabulary(cfg.Scenario)
	rng := rand.New(rand.NewPCG(cfg.Seed, 0x6578706c6f7265)) // "explore"
	var corpus []schedule
	found := map[string]bool{}
	n := 0
	workers := cfg.Workers
	if workers <= 0 {
		workers = max(1, runtimeProcs())
	}
	const batch = 8
	for res.Runs+cfg.Seeds <= cfg.Budget && len(res.Finds) < cfg.MaxFinds && ctx.Err() == nil {
		var scheds []schedule
		for range min(batch, (cfg.Budget-res.Runs)/cfg.Seeds) {
			if len(corpus) > 0 && rng.Float64() < 0.7 {
				scheds = append(scheds, v.mutate(rng, corpus[rng.IntN(len(corpus))], cfg.MaxFaults, &n))
				continue
			}
			var s schedule
			for range 1 + rng.IntN(cfg.MaxFaults) {
				n++
				s = append(s, v.fault(rng, n))
			}
			scheds = append(scheds, s)
		}
		scs := make([]*scenarios.Scenario, len(scheds))
		outs := make([][]sim.Result, len(scheds))
		errs := make([]error, len(scheds))
		var wg sync.WaitGroup
		sem := make(chan struct{}, workers)
		for i, s := range scheds {
			if scs[i], errs[i] = withFaults(cfg.Scenario, s); errs[i] != nil {
				continue // a schedule the format refuses (two control-plane upgrades, say)
			}
			wg.Add(1)
			go func() {
				defer wg.Done()
				sem <- struct{}{}
				defer func() { <-sem }()
				outs[i], errs[i] = play(ctx, scs[i], cfg.Variant, seeds, 1)
			}()
		}
		wg.Wait()
		for i, s := range scheds {
			if scs[i] == nil {
				res.Refused++
				continue
			}
			if errs[i] != nil {
				if ctx.Err() != nil {
					break
				}
				return nil, fmt.Errorf("explore: generated schedule %d: %w", res.Schedules+1, errs[i])
			}
			res.Schedules++
			res.Runs += len(outs[i])
			fresh := false
			for si, r := range outs[i] {
				sig := signature(r, cfg.Objectives)
				if !seen[sig] {
					seen[sig], fresh = true, true
				}
				for _, o := range cfg.Objectives {
					k := fmt.Sprint(o.Name, seeds[si])
					if !Missed(r, o) || known[k] || found[o.Name+"|"+sig] || len(res.Finds) >= cfg.MaxFinds {
						continue
					}
					found[o.Name+"|"+sig] = true
					if cfg.Against != "" {
						if res.Runs >= cfg.Budget {
							continue
						}
						other, err := play(ctx, scs[i], cfg.Against, seeds[si:si+1], 1)
						res.Runs += len(other)
						if err != nil || len(other) == 0 || Missed(other[0], o) {
							continue
						}
					}
					f, err := shrinkFind(ctx, cfg, scs[i], s, o, seeds[si], len(res.Finds)+1)
					if err != nil {
						if ctx.Err() != nil {
							break
						}
						return nil, err
					}
					f.Value, _ = r.Get(o.Indicator)
					res.ShrinkRuns += f.Runs
					if dup(res.Finds, f) {
						continue
					}
					if cfg.Out != "" {
						f.Dir = filepath.Join(cfg.Out, fmt.Sprintf("find-%d", len(res.Finds)+1))
						if err := WriteShrink(f.Dir, f.shrunk, cfg.Variant, f.Seed); err != nil {
							return nil, err
						}
					}
					res.Finds = append(res.Finds, f)
				}
			}
			if fresh {
				corpus = append(corpus, s)
			}
		}
		res.Signatures, res.Corpus = len(seen), len(corpus)
		if cfg.Progress != nil {
			el := time.Since(started)
			eta := time.Duration(float64(el) / float64(res.Runs) * float64(cfg.Budget-res.Runs)).Round(100 * time.Millisecond)
			cfg.Progress(fmt.Sprintf("explore: %d/%d runs, %d schedules, %d signatures, corpus %d, %d finds; %s elapsed, ETA %s",
				res.Runs, cfg.Budget, res.Schedules, res.Signatures, res.Corpus, len(res.Finds), el.Round(time.Millisecond), eta))
		}
	}
	res.Signatures, res.Corpus = len(seen), len(corpus)
	res.Interrupted = ctx.Err() != nil
	res.Seconds = time.Since(started).Seconds()
	return res, nil
}

// withFaults adds the schedule to the scenario's own faults.
func withFaults(sc *scenarios.Scenario, s schedule) (*scenarios.Scenario, error) {
	var all []any
	for _, f := range sc.Spec.Spec.Faults {
		all = append(all, f)
	}
	for _, f := range s {
		all = append(all, f)
	}
	b, err := json.Marshal(all)
	if err != nil {
		return nil, err
	}
	return sc.Set("spec.faults", string(b))
}

func shrinkFind(ctx context.Context, cfg ExploreConfig, sc *scenarios.Scenario, s schedule, o scenarios.ResolvedObjective, seed uint64, n int) (Find, error) {
	f := Find{Objective: o.Name, Seed: seed}
	for _, x := range s {
		b, _ := json.Marshal(x)
		f.Faults = append(f.Faults, b)
	}
	sr, err := Shrink(ctx, ShrinkConfig{Scenario: sc, Seed: seed, Variant: cfg.Variant, Objective: o, Budget: cfg.ShrinkBudget, Faulty: true, Against: cfg.Against,
		Name: fmt.Sprintf("%s-explore-%d", cfg.Scenario.Name(), n)})
	if err != nil {
		return f, err
	}
	f.Runs, f.Scenario = sr.Runs, sr.Scenario
	for _, fs := range sr.Scenario.Spec.Spec.Faults {
		b, _ := json.Marshal(fs)
		f.Shrunk = append(f.Shrunk, b)
	}
	f.shrunk = sr
	return f, nil
}

// dup reports whether a find with the same objective and the same kinds of shrunk faults is
// already kept: times and which node aside (a node stop on any node is one weakness), pod
// faults told apart by their selector and mode.
func dup(finds []Find, f Find) bool {
	key := func(x Find) string {
		var ks []string
		for _, fl := range x.Scenario.Faults {
			ks = append(ks, fmt.Sprint(fl.Sim.Action, fl.Sim.Pods.Labels, fl.Sim.Pods.Mode))
		}
		slices.Sort(ks)
		return x.Objective + "|" + strings.Join(ks, ";")
	}
	k := key(f)
	return slices.ContainsFunc(finds, func(g Find) bool { return key(g) == k })
}

// WriteExplore writes explore.json into dir.
func WriteExplore(dir string, r *ExploreResult) error {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return err
	}
	b, err := json.MarshalIndent(r, "", "  ")
	if err != nil {
		return err
	}
	return os.WriteFile(filepath.Join(dir, "explore.json"), append(b, '\n'), 0o644)
}

func runtimeProcs() int { return runtime.GOMAXPROCS(0) }
