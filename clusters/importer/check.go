package importer

import (
	"fmt"
	"io"
	"slices"
	"sort"
	"strings"
	"time"

	"gonum.org/v1/gonum/stat"

	"github.com/faultline-dev/faultline/measure"
	"github.com/faultline-dev/faultline/scenarios"
	"github.com/faultline-dev/faultline/sim"
	"github.com/faultline-dev/faultline/sim/cluster"
)

// PoolZone is one pool and zone with the pods placed there by the cluster and by the simulator.
type PoolZone struct {
	Pool, Zone string
	Live, Sim  int
}

// Placement compares where the cluster and the simulator placed the same pods.
type Placement struct {
	Groups []PoolZone
	// Live and Sim are the pods per scenario node (every node, in name order).
	Nodes     []string
	Live, Sim []int
	// KS is the Kolmogorov-Smirnov distance between the two per-node distributions (0: the same
	// counts of nodes hold the same counts of pods; 1: disjoint).
	KS float64
	// Startup is the start-up of the Deployments' pods created after the start (scaling,
	// rollouts) in the simulation, summarised by package measure as for any world.
	Startup measure.PodStartup
	// Indicators are the simulated run's indicators (measure.Compute).
	Indicators []measure.Indicator
	Seed       uint64
	At         time.Duration
}

// Equal reports whether every pool and zone holds the same number of pods in both.
func (p *Placement) Equal() bool {
	for _, g := range p.Groups {
		if g.Live != g.Sim {
			return false
		}
	}
	return true
}

// ComparePlacement runs the baseline of the scenario in dir for one seed up to at and compares
// the pods of its Deployments and bare pods per node with live (pods per scenario node).
func ComparePlacement(dir string, live map[string]int, seed uint64, at time.Duration) (*Placement, error) {
	sc, err := scenarios.Open(dir)
	if err != nil {
		return nil, err
	}
	v, err := sc.Variant(sc.Baseline())
	if err != nil {
		return nil, err
	}
	in := sc.Compile(v)
	if at > 0 && at < in.Duration {
		in.Duration = at
	}
	w, err := sim.New(in, seed, sim.Options{})
	if err != nil {
		return nil, fmt.Errorf("%s: %w", sc.File, err)
	}
	res := w.Run()
	st := w.State()
	simCount := map[string]int{}
	var starts []measure.PodStart
	for _, p := range st.Pods {
		if p.Created > 0 && p.Started >= p.Created && p.Phase != cluster.PodPending && strings.HasPrefix(p.Owner, "deployment/") {
			// the simulator keeps no binding time: created and running are what both worlds share
			starts = append(starts, measure.PodStart{Created: p.Created, Running: p.Started, Seen: measure.PodCreated | measure.AppRunning})
		}
		if p.Node == nil || p.Phase == cluster.PodGone || p.Phase == cluster.PodTerminating {
			continue
		}
		if p.Owner != "" && !strings.HasPrefix(p.Owner, "deployment/") {
			continue
		}
		simCount[p.Node.Name]++
	}
	out := &Placement{Seed: seed, At: in.Duration, Startup: measure.SummarisePodStarts(starts), Indicators: res.Indicators}
	groups := map[[2]string]*PoolZone{}
	nodes := append([]*cluster.Node(nil), st.Nodes...)
	sort.Slice(nodes, func(i, j int) bool { return nodes[i].Name < nodes[j].Name })
	for _, n := range nodes {
		k := [2]string{n.Labels["faultline.dev/pool"], n.Labels[cluster.LabelZone]}
		g := groups[k]
		if g == nil {
			g = &PoolZone{Pool: k[0], Zone: k[1]}
			groups[k] = g
		}
		g.Live += live[n.Name]
		g.Sim += simCount[n.Name]
		out.Nodes = append(out.Nodes, n.Name)
		out.Live = append(out.Live, live[n.Name])
		out.Sim = append(out.Sim, simCount[n.Name])
	}
	for _, g := range groups {
		out.Groups = append(out.Groups, *g)
	}
	sort.Slice(out.Groups, func(i, j int) bool {
		a, b := out.Groups[i], out.Groups[j]
		return a.Pool < b.Pool || a.Pool == b.Pool && a.Zone < b.Zone
	})
	out.KS = KSDistance(out.Live, out.Sim)
	return out, nil
}

// KSDistance is the two-sample Kolmogorov-Smirnov distance between two samples of counts.
func KSDistance(a, b []int) float64 {
	if len(a) == 0 || len(b) == 0 {
		return 0
	}
	fa, fb := make([]float64, len(a)), make([]float64, len(b))
	for i, v := range a {
		fa[i] = float64(v)
	}
	for i, v := range b {
		fb[i] = float64(v)
	}
	slices.Sort(fa)
	slices.Sort(fb)
	return stat.KolmogorovSmirnov(fa, nil, fb, nil)
}

// Write prints the comparison as a table.
func (p *Placement) Write(w io.Writer) {
	fmt.Fprintf(w, "placement of the imported workloads: the cluster against the simulator (seed %d, after %v)\n", p.Seed, p.At)
	fmt.Fprintf(w, "%-24s %-16s %8s %8s\n", "POOL", "ZONE", "CLUSTER", "SIM")
	lt, st := 0, 0
	for _, g := range p.Groups {
		mark := ""
		if g.Live != g.Sim {
			mark = "  differs"
		}
		fmt.Fprintf(w, "%-24s %-16s %8d %8d%s\n", g.Pool, g.Zone, g.Live, g.Sim, mark)
		lt += g.Live
		st += g.Sim
	}
	fmt.Fprintf(w, "%-24s %-16s %8d %8d\n", "total", "", lt, st)
	fmt.Fprintf(w, "pods per node: Kolmogorov-Smirnov distance %.3f over %d nodes (cluster %s; simulator %s)\n",
		p.KS, len(p.Nodes), spread(p.Live), spread(p.Sim))
}

// spread is min/median/max of counts.
func spread(xs []int) string {
	if len(xs) == 0 {
		return "none"
	}
	s := slices.Clone(xs)
	slices.Sort(s)
	return fmt.Sprintf("min %d, median %d, max %d", s[0], s[len(s)/2], s[len(s)-1])
}
