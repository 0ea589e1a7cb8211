package scheduler

import (
	"fmt"
	"maps"
	"math/rand/v2"
	"slices"
	"testing"

	"github.com/stretchr/testify/require"
	corev1 "k8s.io/api/core/v1"

	"github.com/faultline-dev/faultline/sim/cluster"
)

// TestResetDecidesAsNew plays worlds one after another through one scheduler, Reset between
// them, and each world through a new scheduler too, on two identical copies of the world's State:
// every decision (the node, the numbers of nodes feasible and evaluated, and the feasible nodes'
// total scores) and every FitError message must be the same. The worlds differ in node count and
// labels, pod specs, binds, releases, Terminating pods, cordons and added nodes. As sim.Scratch
// does, most worlds reuse the State at the last one's address, so that anything Reset forgot to
// clear would pass for the new world's; the others take a new State while the last one keeps
// changing. The node copy, the node order and the podIndex are rebuilt on their own when the
// number of nodes changes: to show that Reset drops them, some worlds at the last one's address
// start with as many nodes as it ended with (other labels, zones, resources and pods), either
// because neither adds nodes or because the next one starts where the last one grew to. Run again
// with the keep limits lowered, Reset drops most of its memory instead of keeping it.
func TestResetDecidesAsNew(t *testing.T) {
	// a world is played from its seed; the same world twice in a row is the replay of one seed
	// (its last cycle finds the scratch of the last one's last cycle). nodes 0: as many as the
	// last world ended with; grow: nodes are added mid-run; moved: the world takes a new State.
	type world struct {
		seed         uint64
		nodes, steps int
		grow, moved  bool
	}
	worlds := []world{
		{1, 12, 300, true, false}, {1, 12, 300, true, false}, {2, 12, 300, true, true},
		{3, 3, 200, true, false}, {4, 160, 800, true, false}, {5, 160, 400, true, true},
		{6, 40, 400, true, false}, {7, 2, 300, true, false}, {8, 12, 300, true, true},
		{9, 70, 600, true, false}, {9, 70, 600, true, false}, {10, 12, 300, true, true},
		{11, 3, 200, true, false}, {12, 160, 600, true, false}, {13, 40, 400, true, true},
		{14, 2, 300, true, false}, {15, 12, 300, true, false}, {16, 25, 500, true, true},
		// as many nodes as the last world ended with, at its address
		{17, 0, 300, false, false}, {18, 0, 300, true, false}, {19, 0, 300, false, false},
		{20, 12, 300, false, false}, {21, 12, 300, false, false}, {21, 12, 300, false, false},
		{22, 160, 400, false, false}, {23, 160, 400, false, false}, {24, 0, 400, true, false},
		{25, 0, 300, false, false}, {26, 3, 200, false, false}, {27, 3, 200, false, false},
	}
	configs := []struct {
		name string
		cfg  Config
	}{
		{"default", DefaultConfig()},
		{"fixed percentage", Config{PercentageOfNodesToScore: 30}},
		{"no default spread", Config{DisableDefaultSpread: true}},
	}
	for _, limits := range []string{"default limits", "low limits"} {
		for _, c := range configs {
			t.Run(limits+"/"+c.name, func(t *testing.T) {
				if limits == "low limits" {
					lowerKeepLimits(t)
				}
				s := New(c.cfg)
				st := &cluster.State{}
				shared := make([]*corev1.PodSpec, 4) // specs every world has
				g := &gen{r: rand.New(rand.NewPCG(0, 3))}
				for i := range shared {
					shared[i] = g.spec()
				}
				placed, failed, peak, sameCount, ended := 0, 0, 0, 0, 0
				for i, w := range worlds {
					var old *cluster.State
					if i > 0 {
						s.Reset()
						if w.moved {
							old, st = st, &cluster.State{}
						} else {
							*st = cluster.State{}
						}
					}
					nodes := w.nodes
					if nodes == 0 {
						nodes = ended
					}
					if i > 0 && !w.moved && nodes == ended {
						sameCount++
					}
					p, f, b, n := playWorld(t, s, st, old, c.cfg, w.seed, nodes, w.steps, w.grow, shared)
					placed, failed, peak, ended = placed+p, failed+f, max(peak, b), n
				}
				// decisions of both kinds, tables built both ways (by a scan of the bound pods and
				// from the pods by label), and worlds that the node count does not tell apart
				require.Positive(t, placed)
				require.Positive(t, failed)
				require.Greater(t, peak, labelIndexMin)
				require.GreaterOrEqual(t, sameCount, 8)
			})
		}
	}
}

func lowerKeepLimits(t *testing.T) {
	l, e, c, o := keepLen, keepEntries, keepCells, keepObjects
	keepLen, keepEntries, keepCells, keepObjects = 8, 2, 64, 3
	t.Cleanup(func() { keepLen, keepEntries, keepCells, keepObjects = l, e, c, o })
}

// playWorld plays a random world of seed (nodes nodes, then steps steps, which add nodes when
// grow) on st through s and on a copy through a new scheduler, and fails at the first decision
// that differs. When old is not nil, it is a State s followed before and that keeps changing
// during the world. It returns the numbers of pods placed and not placed, the most pods bound at
// once and the number of nodes at the end.
func playWorld(t *testing.T, s *Scheduler, st, old *cluster.State, cfg Config, seed uint64, nodes, steps int, grow bool, shared []*corev1.PodSpec) (placed, failed, peak, ended int) {
	r := rand.New(rand.NewPCG(seed, 7))
	g := &gen{r: r}
	ref, fresh := &cluster.State{}, New(cfg)
	addNode := func() {
		n := g.node(len(st.Nodes), nodes)
		c := *n
		c.Labels, c.Taints = maps.Clone(n.Labels), slices.Clone(n.Taints)
		st.AddNode(n)
		ref.AddNode(&c)
	}
	for range nodes {
		addNode()
	}
	specs := append(slices.Clone(shared), g.spec(), g.spec(), g.spec(), g.spec())
	rng, rngRef := rand.New(rand.NewPCG(seed, 1)), rand.New(rand.NewPCG(seed, 1))
	var oldPods []*cluster.Pod
	if old != nil {
		oldPods = slices.DeleteFunc(slices.Clone(old.Pods), func(p *cluster.Pod) bool { return p.Node == nil })
	}
	var bound []int // indexes of the bound pods, the same in st and ref
	for step := range steps {
		if len(oldPods) > 0 && r.IntN(4) == 0 { // the last world's State goes on changing
			i := r.IntN(len(oldPods))
			if p := oldPods[i]; p.Phase != cluster.PodTerminating {
				old.SetPhase(p, cluster.PodTerminating)
			} else {
				old.Release(p)
				oldPods = slices.Delete(oldPods, i, i+1)
			}
		}
		switch x := r.IntN(100); {
		case x < 65:
			p := g.pod(step, specs[r.IntN(len(specs))])
			q := *p
			st.AddPod(p)
			ref.AddPod(&q)
			d, err := s.Schedule(st, p, rng)
			dr, errRef := fresh.Schedule(ref, &q, rngRef)
			where := fmt.Sprintf("world %d step %d pod %s", seed, step, p.Name)
			if errRef != nil {
				require.Error(t, err, where)
				require.Equal(t, errRef.Error(), err.Error(), where)
				failed++
				continue
			}
			require.NoError(t, err, where)
			require.Equal(t, dr.Node.Index, d.Node.Index, where)
			require.Equal(t, dr.Feasible, d.Feasible, where)
			require.Equal(t, dr.Evaluated, d.Evaluated, where)
			if d.Feasible > 1 { // and the scores behind the choice
				require.Equal(t, fresh.total, s.total, where)
			}
			st.Bind(p, d.Node)
			ref.Bind(&q, ref.Nodes[d.Node.Index])
			if r.IntN(2) == 0 {
				st.SetPhase(p, cluster.PodRunning)
				ref.SetPhase(&q, cluster.PodRunning)
			}
			bound = append(bound, p.Index)
			placed++
			peak = max(peak, len(bound))
		case x < 80 && len(bound) > 0:
			i := r.IntN(len(bound))
			st.Release(st.Pods[bound[i]])
			ref.Release(ref.Pods[bound[i]])
			bound = slices.Delete(bound, i, i+1)
		case x < 89 && len(bound) > 0:
			i := bound[r.IntN(len(bound))]
			st.SetPhase(st.Pods[i], cluster.PodTerminating)
			ref.SetPhase(ref.Pods[i], cluster.PodTerminating)
		case x < 93 && len(bound) > 0:
			if i := bound[r.IntN(len(bound))]; st.Pods[i].Phase == cluster.PodTerminating {
				st.SetPhase(st.Pods[i], cluster.PodRunning)
				ref.SetPhase(ref.Pods[i], cluster.PodRunning)
			}
		case x < 96:
			i := r.IntN(len(st.Nodes))
			st.SetUnschedulable(st.Nodes[i], !st.Nodes[i].Unschedulable)
			ref.SetUnschedulable(ref.Nodes[i], !ref.Nodes[i].Unschedulable)
		default:
			if grow {
				addNode()
			}
		}
	}
	return placed, failed, peak, len(st.Nodes)
}
