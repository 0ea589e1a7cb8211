package scheduler

import (
	"fmt"
	"maps"
	"math/rand/v2"
	"reflect"
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

// TestResetKeepsWithinBounds plays worlds larger than the keep limits (lowered) and walks
// everything a Scheduler holds after Reset, but for its parse of the pod specs and its last
// FitError, which Reset keeps on purpose: no slice may have room for more than keepLen elements
// (but in the podIndex's free lists), no map more than keepEntries entries, the free lists' objects
// may hold no more than keepCells cells (4 bytes each) of arrays, and nothing of the last world (its State, nodes
// or pods) may be reachable.
func TestResetKeepsWithinBounds(t *testing.T) {
	lowerKeepLimits(t)
	keepEntries = 32 // byLabel kept with a few keys, one of many tables
	for _, cfg := range []Config{DefaultConfig(), {PercentageOfNodesToScore: 30}} {
		s := New(cfg)
		shared := []*corev1.PodSpec{(&gen{r: rand.New(rand.NewPCG(0, 3))}).spec()}
		// worlds that went beyond the limits where Reset once kept more than them
		var seen, ids, byLabel, groupTerms int
		for seed := uint64(1); seed <= 8; seed++ {
			st := &cluster.State{}
			playWorld(t, s, st, nil, cfg, seed, []int{100, 30}[seed%2], 400, seed%3 == 0, shared)
			c := s.counting.(*indexedCounting)
			over := func(n int) bool { return n > keepLen }
			if slices.ContainsFunc(c.spread.seen, func(b []uint32) bool { return over(len(b)) }) {
				seen++
			}
			if len(c.index.ids) > keepEntries {
				ids++
			}
			if slices.ContainsFunc(slices.Collect(maps.Values(c.index.byLabel)), func(b []*countTable) bool { return over(cap(b)) }) {
				byLabel++
			}
			if slices.ContainsFunc(slices.Collect(maps.Values(c.index.groupTerms)), func(b []*groupTerm) bool { return over(cap(b)) }) {
				groupTerms++
			}
			s.Reset()
			w := boundsWalk{t: t, seen: map[any]bool{}}
			w.walk("Scheduler", reflect.ValueOf(s).Elem())
			pool := boundsWalk{t: t, seen: map[any]bool{}, arrays: map[uintptr]bool{}}
			pool.walk("pool", reflect.ValueOf(&c.index.pool).Elem())
			require.LessOrEqual(t, pool.bytes, 4*keepCells, "seed %d: bytes of the free-listed objects' arrays", seed)
		}
		require.Positive(t, seen)
		require.Positive(t, ids)
		require.Positive(t, byLabel)
		require.Positive(t, groupTerms)
	}
}

// boundsWalk walks what a value holds for TestResetKeepsWithinBounds. With arrays set, it walks
// the podIndex's free lists: their objects' arrays are bounded by their sum (keepCells), not each
// by keepLen, and it sums their bytes (each array once, the lists themselves apart).
type boundsWalk struct {
	t      *testing.T
	seen   map[any]bool
	arrays map[uintptr]bool
	bytes  int
}

var (
	keptOnPurpose = map[reflect.Type]bool{
		reflect.TypeFor[specCache](): true, reflect.TypeFor[*specCache](): true, reflect.TypeFor[*FitError](): true,
	}
	lastWorld = map[reflect.Type]bool{
		reflect.TypeFor[*cluster.State](): true, reflect.TypeFor[*cluster.Node](): true, reflect.TypeFor[*cluster.Pod](): true,
	}
	freeLists = map[reflect.Type]bool{
		reflect.TypeFor[[]*countTable](): true, reflect.TypeFor[[]*domainCounts](): true, reflect.TypeFor[[]*topology](): true,
		reflect.TypeFor[[]*group](): true, reflect.TypeFor[[]*groupTerm](): true,
	}
)

func (w *boundsWalk) walk(path string, v reflect.Value) {
	if keptOnPurpose[v.Type()] || path == "Scheduler.lastSig" || w.arrays == nil && v.Type() == reflect.TypeFor[indexPool]() {
		return
	}
	switch v.Kind() {
	case reflect.Pointer, reflect.Interface:
		if v.IsNil() {
			return
		}
		require.False(w.t, lastWorld[v.Type()], "%s pins the last world", path)
		if v.Kind() == reflect.Pointer {
			key := [2]any{v.Pointer(), v.Type()}
			if w.seen[key] {
				return
			}
			w.seen[key] = true
		}
		w.walk(path, v.Elem())
	case reflect.Struct:
		for i := range v.NumField() {
			w.walk(path+"."+v.Type().Field(i).Name, v.Field(i))
		}
	case reflect.Slice:
		if w.arrays == nil {
			require.LessOrEqual(w.t, v.Cap(), keepLen, "%s", path)
		}
		if v.Cap() == 0 {
			return
		}
		all := v.Slice3(0, v.Cap(), v.Cap())
		if w.arrays != nil && !freeLists[v.Type()] && !w.arrays[all.Pointer()] {
			w.arrays[all.Pointer()] = true
			w.bytes += v.Cap() * int(v.Type().Elem().Size())
		}
		for i := range all.Len() {
			w.walk(fmt.Sprintf("%s[%d]", path, i), all.Index(i))
		}
	case reflect.Array:
		for i := range v.Len() {
			w.walk(fmt.Sprintf("%s[%d]", path, i), v.Index(i))
		}
	case reflect.Map:
		require.LessOrEqual(w.t, v.Len(), keepEntries, "%s", path)
		for it := v.MapRange(); it.Next(); {
			w.walk(path+"[key]", it.Key())
			w.walk(path+"[value]", it.Value())
		}
	}
}

// TestKeepHelpersBoundEverySlice: the helpers Reset keeps memory with bound and empty the slices a
// slice or a map holds beyond its length too (a scratch slice resliced shorter keeps the ones
// after it), and clear what they keep, so that it pins nothing.
func TestKeepHelpersBoundEverySlice(t *testing.T) {
	lowerKeepLimits(t)
	small, large := []int32{1, 2}, make([]int32, keepLen+1)
	large[0] = 3
	b := [][]int32{slices.Clone(small), slices.Clone(large), slices.Clone(small), slices.Clone(large)}[:1]
	kept := boundEach(b)
	require.Len(t, kept, 1)
	require.Equal(t, [][]int32{small, nil, small, nil}, kept[:4], "boundEach keeps the small slices as they are")
	b = [][]int32{slices.Clone(small), slices.Clone(large), slices.Clone(small), slices.Clone(large)}[:1]
	kept = reuseEach(b)
	require.Len(t, kept, 1)
	require.Equal(t, [][]int32{{0, 0}, nil, {0, 0}, nil}, kept[:4], "reuseEach clears the small slices")
	require.Nil(t, boundEach(make([][]int32, 1, keepLen+1)))
	require.Nil(t, reuseEach(make([][]int32, 1, keepLen+1)))

	m := map[string][]int32{"small": slices.Clone(small)[:1], "large": slices.Clone(large)}
	m = truncated(m)
	require.Equal(t, map[string][]int32{"small": {}}, m, "truncated deletes the key of a large slice")
	require.Equal(t, []int32{0, 0}, m["small"][:2])

	ids := map[string]int32{"a": 1}
	require.Empty(t, cleared(ids))
	require.NotNil(t, cleared(ids))
	for i := range keepEntries + 1 {
		ids[fmt.Sprint(i)] = int32(i)
	}
	require.Nil(t, cleared(ids))
}
