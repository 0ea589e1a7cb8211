package sim

import (
	"fmt"
	"hash/fnv"
	"math/rand/v2"
	"strconv"

	appsv1 "k8s.io/api/apps/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/util/validation/field"

	"github.com/faultline-dev/faultline/measure"
	"github.com/faultline-dev/faultline/sim/cluster"
	"github.com/faultline-dev/faultline/sim/engine"
	"github.com/faultline-dev/faultline/sim/internal/keep"
	"github.com/faultline-dev/faultline/sim/scheduler"
)

// Scratch builds worlds one after another on one goroutine and lends each the memory of the one
// before: the World itself and its models (worldParts), its pods, its event queues, its random
// streams (reseeded in place) and the backing arrays of its object lists, up to keepItems of
// each. It also keeps, per Input, what New derives from the Input alone and so is the same for
// every seed (the validation, the workloads' keys and selectors, the nodes' names and labels,
// the loads' order and dependencies). A Monte Carlo replay of many short seeds then allocates
// far less per seed, and the garbage collector takes less of the cores the seeds run on.
//
// A world from Scratch.New is the same as one from New for the same arguments, event for event.
// It and everything it hands out other than its Result (State, Observations) are valid only
// until the next Scratch.New, which overwrites them. A Scratch is not safe for concurrent use:
// give each goroutine its own. The zero value is ready to use; a nil *Scratch lends nothing (its
// New and Run are the package's).
type Scratch struct {
	w     World
	used  bool
	slabs slabs
	q     [2]engine.Queue // New's queue and the one settling replaces it with (World.resetQueue)
	preps []*prepared     // per Input, the most recent first
}

// New builds the world for in and seed, as the package's New does, in memory lent from the
// previous world built by s. Inputs with extensions (whose admission rewrites the objects for
// each world) are built as New builds them, without lending.
func (s *Scratch) New(in *Input, seed uint64, opts Options) (*World, error) {
	if s == nil || len(in.Extensions) > 0 {
		return New(in, seed, opts)
	}
	w := &s.w
	keep := worldBuffers{}
	if s.used {
		if last := w.prep; last != nil && last.in != in && last.sched != nil && len(w.st.Nodes)+len(w.st.Pods) > keepItems {
			// The last world's scheduler holds its index and node copy (the last world's pods,
			// tables up to the index's cell budget) until its Input runs again, which may be never:
			// after a large world, reset it now, keeping only what its bounds allow. (Not after
			// every world: a runner worker switches Inputs at every seed, and a second Reset per
			// world cost a Monte Carlo replay 15 % of its CPU time; a small world's scheduler
			// pins little more than Reset keeps anyway.)
			last.sched.Reset()
		}
		keep = w.buffers()
	}
	*w = World{}
	s.used = true
	keep.lend(w)
	s.slabs.reset()
	w.slab = &s.slabs
	w.prep = s.prepare(in)
	s.q[0].Reset()
	s.q[1].Reset()
	w.spareQ = &s.q[1]
	if err := w.init(in, seed, opts, &s.q[0]); err != nil {
		return nil, err
	}
	return w, nil
}

// Run builds the world for in and seed with s and runs it (sim.Run with lent memory).
func (s *Scratch) Run(in *Input, seed uint64, opts Options) (Result, error) {
	w, err := s.New(in, seed, opts)
	if err != nil {
		return Result{}, err
	}
	return w.Run(), w.Violation()
}

// prepare returns what New derives from in alone, computed on the first world of in.
func (s *Scratch) prepare(in *Input) *prepared {
	for i, p := range s.preps {
		if p.in == in {
			if i > 0 { // most recent first: a runner worker alternates between few inputs
				copy(s.preps[1:i+1], s.preps[:i])
				s.preps[0] = p
			}
			return p
		}
	}
	p := newPrepared(in)
	const keepInputs = 16
	if len(s.preps) >= keepInputs {
		s.preps = s.preps[:keepInputs-1]
	}
	s.preps = append([]*prepared{p}, s.preps...)
	return p
}

// worldBuffers are the backing arrays of a World's object lists, emptied, for the next world.
type worldBuffers struct {
	st        cluster.State // emptied (cluster.State.Reset)
	nodes     []*nodeState
	pods      []*podState
	wls       []*workload
	loads     []*loadState
	inLoads   []*loadState
	faults    []*faultState
	obsNodes  []measure.NodeTransition
	perTarget []measure.TargetRequests
	// the scheduling queue's lists and the colocation observer's tables (worldParts)
	sqActive, sqUnschedulable []int
	colo                      colocation
	indicators                []measure.Indicator
	panicked                  []bool
}

func (w *World) buffers() worldBuffers {
	b := worldBuffers{
		st: w.st, nodes: clearSlice(w.nodes), pods: clearSlice(w.pods),
		wls: clearSlice(w.wls), loads: clearSlice(w.loads), inLoads: clearSlice(w.inLoads), faults: clearSlice(w.faults),
		obsNodes: clearSlice(w.obsNodes), perTarget: clearSlice(w.obs.Requests.PerTarget),
		sqActive: clearSlice(w.parts.sq.active), sqUnschedulable: clearSlice(w.parts.sq.unschedulable),
		colo: w.parts.colo, indicators: clearSlice(w.parts.indicators), panicked: clearSlice(w.acct.panicked),
	}
	b.st.Reset()
	b.st.Nodes, b.st.Pods = clearSlice(b.st.Nodes), clearSlice(b.st.Pods) // nil when large
	b.colo.reset()
	return b
}

func (b worldBuffers) lend(w *World) {
	w.st, w.nodes, w.pods = b.st, b.nodes, b.pods
	w.wls, w.loads, w.inLoads, w.faults, w.obsNodes = b.wls, b.loads, b.inLoads, b.faults, b.obsNodes
	w.obs.Requests.PerTarget = b.perTarget
	w.parts.sq.active, w.parts.sq.unschedulable = b.sqActive, b.sqUnschedulable
	w.parts.colo, w.parts.indicators, w.acct.panicked = b.colo, b.indicators, b.panicked
}

// keepItems bounds what a Scratch keeps of one world for the next: a list or table that grew
// longer than this is dropped rather than emptied, and the slabs keep about this many items
// each, so that a Scratch that served one huge world does not hold its memory for good.
const keepItems = 1 << 14

// clearSlice empties s for the next world (keep.Empty), dropping it when it has room for more
// than keepItems.
func clearSlice[T any](s []T) []T { return keep.Empty(s, keepItems) }

// slabs hand out a world's objects that live as long as it does: its pods (newPod's: the
// cluster.Pod and its podState), nodes, workloads, loads and faults. A Scratch keeps them from
// world to world. Job pods are not taken from them: their slots are reused during the run
// (jobPods), and a slab would keep every gone one.
type slabs struct {
	pods   slab[podPair]
	nodes  slab[nodePair]
	wls    slab[workload]
	loads  slab[loadState]
	faults slab[faultState]
	rngs   slab[rngBox] // the random streams of the world's models (env.stream)
}

func (s *slabs) reset() {
	s.pods.reset()
	s.nodes.reset()
	s.wls.reset()
	s.loads.reset()
	s.faults.reset()
	s.rngs.reset()
}

// rngBox is a random stream and its source in one slot: reseeded in place for the next world.
type rngBox struct {
	src rand.PCG
	r   rand.Rand
}

type podPair struct {
	p  cluster.Pod
	ps podState
}

type nodePair struct {
	n  cluster.Node
	ns nodeState
}

// slab hands out zeroed Ts from chunks it keeps until reset takes them all back. Chunks double
// from 4 to 256 items, so a small world takes little and a large one few allocations.
type slab[T any] struct {
	chunks [][]T
	c, i   int // the next item is chunks[c][i]
}

func (s *slab[T]) next() *T {
	t := s.take()
	var zero T
	*t = zero
	return t
}

// take is next without the zeroing: the item is as the last world left it (zero if none had it),
// for a caller that keeps some of its backing arrays and sets the rest.
func (s *slab[T]) take() *T {
	for s.c < len(s.chunks) && s.i == len(s.chunks[s.c]) {
		s.c, s.i = s.c+1, 0
	}
	if s.c == len(s.chunks) {
		n := 4
		if s.c > 0 {
			n = min(2*len(s.chunks[s.c-1]), 256)
		}
		s.chunks = append(s.chunks, make([]T, n))
	}
	t := &s.chunks[s.c][s.i]
	s.i++
	return t
}

// reset takes every item back, for the next world. It keeps the chunks that hold the first
// keepItems items or so, and drops the rest (and what their items refer to).
func (s *slab[T]) reset() {
	s.c, s.i = 0, 0
	n := 0
	for k, c := range s.chunks {
		if n >= keepItems {
			clear(s.chunks[k:])
			s.chunks = s.chunks[:k]
			break
		}
		n += len(c)
	}
}

// prepared is what New derives from an Input alone, the same for every seed. Every field but
// sched is read-only once built, shared by the worlds of the Input.
type prepared struct {
	in   *Input
	errs field.ErrorList // Validate(in)
	// sched is the scheduler of the last world of the Input, which the next one resets (keeping
	// its parse of the Input's pod specs); nil before the first world. A Scratch keeps one per
	// Input, so one goroutine uses it.
	sched *scheduler.Scheduler
	// the Deployments of in.Objects, in order (addDeployment)
	deployments []preparedDeployment
	// the nodes of in.Pools, in order (buildNodes)
	nodes []preparedNode
	// loadWl[i] is the index in the world's workloads of in.Load[i]'s target, loadDeps[i] the
	// indexes in in.Load of its dependencies, loadOrder the loads with every dependency first
	// (buildLoads)
	loadWl    []int
	loadDeps  [][]int
	loadOrder []int
	// faultStreams[i] names in.Faults[i]'s random stream (buildFaults)
	faultStreams []string
	// wlByKey are the indexes of the workloads by key (accounting.observeColocation)
	wlByKey map[string][]int
	// loadIndicators[i] names in.Load[i]'s per-load indicator (World.Observations)
	loadIndicators []string
	// controlPlane: the control-plane models run (controlPlaneModelled; buildControlPlane)
	controlPlane bool
}

type preparedDeployment struct {
	key, ns, hash string
	selector      labels.Selector
}

type preparedNode struct {
	name, streamName string
	labels           map[string]string // shared by the worlds: nothing changes a node's labels
}

func newPrepared(in *Input) *prepared {
	p := &prepared{in: in, errs: Validate(in)}
	if len(p.errs) > 0 {
		return p // New stops at the errors
	}
	for _, obj := range in.Objects {
		if d, ok := obj.(*appsv1.Deployment); ok {
			p.deployments = append(p.deployments, prepareDeployment(d))
		}
	}
	p.wlByKey = make(map[string][]int, len(p.deployments))
	for i, d := range p.deployments {
		p.wlByKey[d.key] = append(p.wlByKey[d.key], i)
	}
	for _, pool := range in.Pools {
		for i := 1; i <= pool.Count; i++ {
			name, lbl := nodeNameLabels(pool, i)
			p.nodes = append(p.nodes, preparedNode{name: name, streamName: "node/" + name, labels: lbl})
		}
	}
	key := make([]string, len(in.Load))
	for i := range in.Load {
		key[i], _ = targetKey(in.Load[i].Target) // Validate: a Deployment's, once
		wl := -1
		for j, d := range p.deployments {
			if d.key == key[i] {
				wl = j
			}
		}
		p.loadWl = append(p.loadWl, wl)
	}
	for i := range in.Load {
		var deps []int
		for _, d := range in.Load[i].DependsOn {
			k, _ := targetKey(d)
			dep := -1
			for j := range key { // the last load of the key, as a map by key would keep
				if key[j] == k {
					dep = j
				}
			}
			deps = append(deps, dep)
		}
		p.loadDeps = append(p.loadDeps, deps)
	}
	p.loadOrder = loadOrder(p.loadDeps)
	for i := range in.Load {
		p.loadIndicators = append(p.loadIndicators, measure.PerLoadPrefix+in.Load[i].Target)
	}
	hooks, _ := compileWebhooks(in)
	p.controlPlane = controlPlaneModelled(len(hooks), in)
	for i := range in.Faults {
		p.faultStreams = append(p.faultStreams, faultStream(i, &in.Faults[i]))
	}
	return p
}

// prepareDeployment is what addDeployment derives from d alone.
func prepareDeployment(d *appsv1.Deployment) preparedDeployment {
	ns := namespaceOr(d.Namespace)
	key := "deployment/" + ns + "/" + d.Name
	sel, _ := metav1.LabelSelectorAsSelector(d.Spec.Selector) // Validate parsed it
	h := fnv.New32a()
	_, _ = h.Write([]byte(key))
	return preparedDeployment{key: key, ns: ns, hash: fmt.Sprintf("%08x", h.Sum32())[:8], selector: sel}
}

// nodeNameLabels are the name and labels of pool's i-th node (1-based).
func nodeNameLabels(pool NodePool, i int) (string, map[string]string) {
	name := fmt.Sprintf("%s-%d", pool.Name, i)
	lbl := map[string]string{cluster.LabelHostname: name, "faultline.dev/pool": pool.Name}
	for k, v := range pool.Labels {
		lbl[k] = v
	}
	if len(pool.Zones) > 0 {
		lbl[cluster.LabelZone] = pool.Zones[(i-1)%len(pool.Zones)]
	}
	return name, lbl
}

func faultStream(i int, f *Fault) string { return "fault/" + strconv.Itoa(i) + "/" + f.Name }
