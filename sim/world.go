package sim

import (
	"errors"
	"fmt"
	"io"
	"math"
	"time"

	"github.com/faultline-dev/faultline/measure"
	"github.com/faultline-dev/faultline/sim/cluster"
	"github.com/faultline-dev/faultline/sim/engine"
	"github.com/faultline-dev/faultline/sim/scheduler"
	"github.com/faultline-dev/faultline/sim/trace"
)

// event kinds, packed into the engine's arg with an index: kind<<24 | index.
const (
	evRecompute uint32 = iota + 1
	evContainersStarted
	evPodReady
	evNodeBoot // a node reset fault's reboot (faults.go); the nodes' other events are their models' own
	evProfileStep
	evFaultStart
	evFaultEnd
	evSample
	evCMUp // kube-controller-manager is back (the batch side's and the control plane's events are their models' own)
)

func pack(kind uint32, idx int) uint32 {
	if idx >= 1<<24 {
		panic("sim: more than 2^24 objects of one kind")
	}
	return kind<<24 | uint32(idx)
}

func unpack(arg uint32) (uint32, int) { return arg >> 24, int(arg & (1<<24 - 1)) }

// Options tune one run without changing what is simulated.
type Options struct {
	// Trace, when set, receives the event log with virtual timestamps, as text
	// (trace.TextSink: "+DDdHH:MM:SS.mmm  message key=value ...").
	Trace io.Writer
	// Events, when set, receives every trace event as its typed value (package sim/trace), with
	// Trace or alone. With neither, no event is built.
	Events trace.Sink
	// Series keeps the sampled time series in the Result.
	Series bool
	// OnRun, when set, is called once per cron run when its app container first runs (T2),
	// with the run's start-delay decomposition.
	OnRun func(RunRecord)
	// CheckInvariants runs the invariant checker (invariant.go) after every event; the run stops
	// at the first violation, which Violation (and sim.Run) return. Off, it costs nothing.
	CheckInvariants bool
	// Until, when positive and before the end of the scenario, stops the run at this virtual
	// time with the scenario unchanged (its faults and changes stay where they are); the Result
	// covers the window only. For excerpts such as golden traces.
	Until time.Duration
	// PromSeries, when set, records the run's state as Prometheus series on the virtual clock
	// in Result.Prom (promseries.go).
	PromSeries *PromScrape
	// KeepRuns keeps every finished cron run and Job pod instead of folding finished runs into
	// the indicators' summary and reusing their slots: Observations then holds each run's record
	// (for tests that replay them elsewhere). The indicators are the same either way; memory
	// then grows with simulated time.
	KeepRuns bool
}

// World is one simulated cluster for one seed. Create it with New (or Scratch.New) and call Run
// once.
type World struct {
	env  // queue, clock, streams, sink, scenario, options: shared with the models (env.go)
	seed uint64
	hid  engine.HandlerID // the world's own handler in q

	st      cluster.State
	nodes   []*nodeState // parallel to st.Nodes
	pods    []*podState  // parallel to st.Pods
	wls     []*workload
	loads   []*loadState // every dependency first (buildLoads)
	inLoads []*loadState // the same in the scenario's order
	faults  []*faultState

	sq      *schedulingQueue    // kube-scheduler's queue and scheduling cycle (scheduling_queue.go)
	wc      *workloadController // the ReplicaSet controller (workload_controller.go)
	jobPods jobPods

	dirty bool

	acct   accounting
	series *Series

	cron    *cronWorld    // nil without CronJobs
	nenv    netEnv        // what the network models share (network.go)
	net     *netWorld     // nil without the network path and without changes (endpoints.go)
	nm      *nodeModels   // the nodes: CPU, machines, node lifecycle controller (node_models.go)
	cp      *controlPlane // nil without webhooks, control-plane upgrades or auto-repair (controlplane.go)
	unreach unreachable   // pods under a PodUnreachable fault (unreachable.go)
	ext     *extWorld     // nil without extensions (extension.go)
	inv     *invChecker   // nil unless Options.CheckInvariants (invariant.go)
	prom    *promRec      // nil unless Options.PromSeries (promseries.go)

	// the observation record's node transitions (measure.Observations)
	obsNodes []measure.NodeTransition

	prep   *prepared // what New derives from the Input alone (reuse.go)
	slab   *slabs    // where the world's pods, nodes, workloads, loads and faults come from (reuse.go)
	obs    measure.Observations
	spareQ *engine.Queue // an empty queue for resetQueue, lent by a Scratch; nil: a new one

	parts worldParts
}

// worldParts are the models the World builds for every run, held in it rather than allocated
// one by one: a Scratch reuses its World from seed to seed, and they with it. The World's
// pointers (clock, sq, wc, nm, acct.colo) point into them.
type worldParts struct {
	clocks [2]engine.Clock // New's and the one settling replaces it with (resetQueue)
	sq     schedulingQueue
	wc     workloadController
	nenv   nodeEnv
	nm     nodeModels
	ctl    nodeLifecycleController
	mach   machines
	cpu    cpuModel
	colo   colocation
	// the indicators computed in World.result, before they are copied into the Result
	indicators []measure.Indicator
}

// ErrInput marks an Input the simulator cannot run.
var ErrInput = errors.New("invalid simulation input")

// New builds the world for in and seed. It returns an *InputError (wrapping ErrInput) with
// every problem of the input (Validate) when the input has objects or references the simulator
// does not understand; the builders below only build.
func New(in *Input, seed uint64, opts Options) (*World, error) {
	w := &World{slab: new(slabs)}
	if err := w.init(in, seed, opts, engine.NewQueue()); err != nil {
		return nil, err
	}
	return w, nil
}

// init builds the world for in and seed on q, an empty queue (New, Scratch.New). w is zero but
// for slab, and for what a Scratch lends: prep, spareQ and the object lists' backing arrays.
func (w *World) init(in *Input, seed uint64, opts Options, q *engine.Queue) error {
	w.env = env{
		in:      in,
		m:       in.Models,
		q:       q,
		streams: engine.NewStreams(seed),
		rngs:    &w.slab.rngs,
		opts:    opts,
		retain:  opts.KeepRuns,
	}
	w.seed = seed
	w.clock = w.setClock(0, w.q)
	w.hid = w.q.Register(w)
	w.sink = newSink(opts)
	// extensions first: their admission may change the objects that are then checked and built
	if err := w.newExtensions(); err != nil {
		return err
	}
	if w.prep == nil {
		w.prep = newPrepared(w.in)
	}
	if errs := w.prep.errs; len(errs) > 0 {
		return &InputError{Errs: errs}
	}
	sched := w.prep.sched
	if sched == nil {
		cfg := scheduler.DefaultConfig()
		cfg.PercentageOfNodesToScore = w.m.Scheduler.PercentageOfNodesToScore
		sched = scheduler.New(cfg)
		w.prep.sched = sched
	} else {
		sched.Reset() // the last world's of this Input on this Scratch
	}
	w.sq = &w.parts.sq // its lists' backing arrays lent by a Scratch
	w.sq.env, w.sq.st, w.sq.pods, w.sq.sched, w.sq.rng, w.sq.cl = &w.env, &w.st, &w.pods, sched, w.stream("scheduler"), w
	w.sq.hid = w.q.Register(w.sq)
	w.wc = &w.parts.wc
	*w.wc = workloadController{env: &w.env, st: &w.st, pods: &w.pods, wls: &w.wls, cl: w}
	w.wc.hid = w.q.Register(w.wc)
	if opts.Series {
		w.series = &Series{}
	}
	w.buildNodes()
	w.buildWorkloads()
	w.buildLoads()
	w.buildFaults()
	w.buildCron()
	w.nenv = netEnv{env: &w.env, st: &w.st, pods: &w.pods, cl: w}
	w.net, w.loads = buildNet(&w.nenv, w.in, w.loads, w.wls, w.streams)
	w.unreach = unreachable{env: &w.nenv, net: w.net}
	w.parts.nenv = nodeEnv{env: &w.env, st: &w.st, pods: &w.pods, nodes: &w.nodes, acct: &w.acct, cl: w}
	w.nm = w.parts.nodeModels()
	w.buildControlPlane()
	return nil
}

// setClock makes the world's clock i (0 before settling, 1 after) run on q.
func (w *World) setClock(i int, q *engine.Queue) *engine.Clock {
	w.parts.clocks[i] = *engine.NewClock(q, w.in.Start)
	return &w.parts.clocks[i]
}

// Clock is the world's virtual clock (k8s.io/utils/clock).
func (w *World) Clock() *engine.Clock { return w.clock }

// State exposes the cluster state, for tests and inspection after Run.
func (w *World) State() *cluster.State { return &w.st }

// emit sends e to the trace sink, stamped with the virtual time. A generic function rather than
// a method taking trace.Event: e becomes an interface value (and so allocates) only when there is
// a sink, so tracing off costs nothing.
func emit[E trace.Event](w *World, e E) { envEmit(&w.env, e) }

// Run simulates to the end of the scenario and returns the result.
func (w *World) Run() Result {
	w.holdJoiningNodes()
	w.settle()
	w.net.start()
	w.scheduleProfileStep()
	for i, f := range w.faults {
		w.q.AtID(f.f.At, w.hid, pack(evFaultStart, i))
	}
	w.q.AtID(0, w.hid, pack(evSample, 0))
	w.startCron()
	w.nm.start()
	w.startControlPlane()
	w.startExtensions()
	w.startPromScrape()
	w.touch()
	end := w.in.Duration
	if u := w.opts.Until; u > 0 && u < end {
		end = u
	}
	if w.opts.CheckInvariants {
		w.runChecked(end)
	} else {
		w.q.RunUntil(end)
	}
	w.acct.integrate(w, end)
	return w.result()
}

// settle brings the scenario's objects up before time 0: the cluster has been running, so every
// workload starts with its pods placed by the scheduler (in manifest order, as the controllers
// would create them) and Running and Ready, rather than with a start-up transient in which the
// first ready replica takes all the traffic.
func (w *World) settle() {
	for _, wl := range w.wls {
		w.wc.reconcile(wl)
	}
	w.sq.drain(0)
	w.q = w.resetQueue()
	for _, p := range w.st.Pods {
		ps := w.pods[p.Index]
		ps.pending = 0 // the new queue holds none of their events
		if p.Bound() {
			p.Phase = cluster.PodRunning
			p.Ready = true
			p.Node.Changed = true
			ps.start, ps.ready = engine.Timer{}, engine.Timer{}
		} else if ps.parked {
			// unschedulable from the start: retried as the queue would be
			w.sq.settled(p)
		}
	}
}

// resetQueue drops the events that settling scheduled (container starts, readiness, scheduler
// wake-ups): settling happens before time 0 and is complete.
func (w *World) resetQueue() *engine.Queue {
	q := w.spareQ
	if q == nil {
		q = engine.NewQueue()
	}
	w.spareQ = nil
	w.hid = q.Register(w)
	w.sq.hid = q.Register(w.sq)
	w.wc.hid = q.Register(w.wc)
	w.clock = w.setClock(1, q)
	w.sq.busy = false
	w.dirty = false
	return q
}

// Fire dispatches the world's events.
func (w *World) Fire(now time.Duration, arg uint32) {
	kind, i := unpack(arg)
	if podEvent(kind) {
		w.pods[i].pending--
	}
	switch kind {
	case evRecompute:
		w.recompute(now)
	case evContainersStarted:
		w.containersStarted(i)
	case evPodReady:
		w.podReady(i)
	case evNodeBoot:
		w.nodeBoot(i)
	case evProfileStep:
		w.scheduleProfileStep()
		w.touch()
	case evFaultStart:
		w.faultStart(i)
	case evFaultEnd:
		w.faultEnd(i)
	case evSample:
		w.sample(now)
	case evCMUp:
		w.cron.controllerManagerUp(now)
	default:
		panic(fmt.Sprintf("sim: unknown event kind %d", kind))
	}
}

// touch asks for one recomputation of CPU, saturation and traffic at the current instant, after
// every other change already queued for this instant.
func (w *World) touch() {
	if !w.dirty {
		w.dirty = true
		w.q.AfterID(0, w.hid, pack(evRecompute, 0))
	}
}

// scheduleProfileStep schedules the next hour boundary if any load has a profile: profiles are
// piecewise constant per hour, so traffic is a rate that changes at these instants only.
func (w *World) scheduleProfileStep() {
	has := false
	for _, l := range w.loads {
		if l.l.Profile != nil {
			has = true
			break
		}
	}
	if !has {
		return
	}
	now := w.clock.Now()
	next := now.Truncate(time.Hour).Add(time.Hour)
	w.q.AtID(next.Sub(w.in.Start), w.hid, pack(evProfileStep, 0))
}

// weibullScale converts a mean into the Weibull scale for shape k: mean = scale·Γ(1+1/k).
func weibullScale(mean time.Duration, k float64) float64 {
	return float64(mean) / math.Gamma(1+1/k)
}
