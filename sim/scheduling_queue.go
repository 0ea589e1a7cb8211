package sim

import (
	"math/rand/v2"
	"time"

	"github.com/faultline-dev/faultline/sim/cluster"
	"github.com/faultline-dev/faultline/sim/engine"
	"github.com/faultline-dev/faultline/sim/scheduler"
	"github.com/faultline-dev/faultline/sim/trace"
)

// schedulingQueue is kube-scheduler's scheduling queue (pkg/scheduler/backend/queue) and its
// scheduling cycle, a model type owning its state and its own event kinds; it reaches the rest
// of the world through the narrow schedCluster interface.
//
// Model: one pod per scheduling cycle, each taking SchedulerQ.Latency; a pod that fails is
// parked among the unschedulable pods and moved back on a cluster event that may help it (a node
// becoming ready or untainted, a pod releasing resources) once its back-off (initialBackoff
// doubling per attempt, capped at maxBackoff) has passed, or at the latest after
// maxInUnschedulable.
// Left out: queueing hints per plugin (every move event moves every parked pod), pod priority
// and preemption, the separate backoffQ flush period (1 s).
type schedulingQueue struct {
	*env
	hid   engine.HandlerID
	st    *cluster.State
	pods  *[]*podState // the world's pod states by pod index (World.pods, which grows)
	sched *scheduler.Scheduler
	rng   *rand.Rand
	cl    schedCluster

	active        []int // pods waiting for a scheduling cycle, FIFO (activeQ)
	busy          bool  // a scheduling cycle is queued
	unschedulable []int // pods parked after a failed attempt, in park order
}

// schedCluster is what the scheduling queue needs of the rest of the world: handing a bound pod
// over (to the kubelet's container start or the Job pod start pipeline) and cancelling a pod's
// counted event. World implements it.
type schedCluster interface {
	// bound takes over pod pi, just bound to n at now.
	bound(pi int, n *cluster.Node, now time.Duration)
	podCancel(ps *podState, t *engine.Timer)
}

// The queue's event kinds, packed with a pod index (0 for sqEvScheduleNext).
const (
	sqEvScheduleNext uint32 = iota + 1 // the next scheduling cycle
	sqEvFlush                          // a parked pod's back-off or maxInUnschedulable ran out
)

var schedulingQueueEvents = [...]cpEvent[*schedulingQueue]{
	sqEvScheduleNext: {"schedule-next", (*schedulingQueue).scheduleNext},
	sqEvFlush:        {"flush-unschedulable", (*schedulingQueue).flush},
}

// Fire runs the queue's events.
func (s *schedulingQueue) Fire(_ time.Duration, arg uint32) {
	fireEvent(s, schedulingQueueEvents[:], arg)
}

func (s *schedulingQueue) pod(pi int) *podState { return (*s.pods)[pi] }

// flushAt queues the parked pod's flush at at, counted in its pending events as the world's are.
func (s *schedulingQueue) flushAt(at time.Duration, pi int) engine.Timer {
	s.pod(pi).pending++
	return s.q.AtID(at, s.hid, pack(sqEvFlush, pi))
}

// enqueue adds pod pi to the active queue and wakes the scheduler if it is idle.
func (s *schedulingQueue) enqueue(pi int) {
	s.pod(pi).queued++
	s.active = append(s.active, pi)
	if !s.busy {
		s.busy = true
		s.q.AfterID(s.m.Scheduler.Latency.Duration, s.hid, pack(sqEvScheduleNext, 0))
	}
}

func (s *schedulingQueue) scheduleNext(int) {
	if len(s.active) == 0 {
		s.busy = false
		return
	}
	pi := s.active[0]
	copy(s.active, s.active[1:])
	s.active = s.active[:len(s.active)-1]
	s.pod(pi).queued--
	s.attempt(pi, s.q.Now())
	if len(s.active) > 0 {
		s.q.AfterID(s.m.Scheduler.Latency.Duration, s.hid, pack(sqEvScheduleNext, 0))
	} else {
		s.busy = false
	}
}

// drain runs a scheduling cycle at now for every queued pod at once (settling before time 0).
func (s *schedulingQueue) drain(now time.Duration) {
	buf := s.active
	for len(s.active) > 0 {
		pi := s.active[0]
		s.active = s.active[1:]
		s.pod(pi).queued--
		s.attempt(pi, now)
	}
	s.active = buf[:0] // empty, in the backing array it had (a Scratch's, from the last world)
}

func (s *schedulingQueue) attempt(pi int, now time.Duration) {
	p := s.st.Pods[pi]
	ps := s.pod(pi)
	if p.Phase != cluster.PodPending || p.Bound() {
		return
	}
	ps.lastTry = now
	d, err := s.sched.Schedule(s.st, p, s.rng)
	if err != nil {
		p.Attempts++
		p.LastError = err.Error()
		envEmit(s.env, trace.PodUnschedulable{Pod: p.Name, Attempt: p.Attempts, Err: err})
		ps.parked = true
		s.unschedulable = append(s.unschedulable, pi)
		ps.flush = s.flushAt(s.q.Now()+s.m.Scheduler.MaxInUnschedulable.Duration, pi)
		return
	}
	s.st.Bind(p, d.Node)
	s.cl.bound(pi, d.Node, now)
}

// backoff is the back-off of a pod after attempts failed attempts.
func (s *schedulingQueue) backoff(attempts int) time.Duration {
	b := s.m.Scheduler.InitialBackoff.Duration
	for i := 1; i < attempts && b < s.m.Scheduler.MaxBackoff.Duration; i++ {
		b *= 2
	}
	if b > s.m.Scheduler.MaxBackoff.Duration {
		b = s.m.Scheduler.MaxBackoff.Duration
	}
	return b
}

// unpark takes pod pi out of the unschedulable pods (it is deleted, or flushed).
func (s *schedulingQueue) unpark(pi int) {
	ps := s.pod(pi)
	if !ps.parked {
		return
	}
	ps.parked = false
	s.cl.podCancel(ps, &ps.flush)
	for i, q := range s.unschedulable {
		if q == pi {
			s.unschedulable = append(s.unschedulable[:i], s.unschedulable[i+1:]...)
			break
		}
	}
}

// moveUnschedulable requeues every parked pod after its back-off: a cluster event happened.
func (s *schedulingQueue) moveUnschedulable() {
	if len(s.unschedulable) == 0 {
		return
	}
	now := s.q.Now()
	for _, pi := range s.unschedulable {
		ps := s.pod(pi)
		ps.parked = false
		s.cl.podCancel(ps, &ps.flush)
		at := ps.lastTry + s.backoff(s.st.Pods[pi].Attempts)
		if at <= now {
			s.enqueue(pi)
		} else {
			ps.flush = s.flushAt(at, pi)
		}
	}
	s.unschedulable = s.unschedulable[:0]
}

// flush moves pod pi back to the active queue: its back-off after a move, or its
// maxInUnschedulable, ran out.
func (s *schedulingQueue) flush(pi int) {
	s.pod(pi).pending--
	p := s.st.Pods[pi]
	if p.Phase != cluster.PodPending || p.Bound() {
		return
	}
	s.unpark(pi)
	s.enqueue(pi)
}

// settled rearms a pod left parked by settling on the run's fresh queue: retried as the queue
// would be, after its back-off from time 0.
func (s *schedulingQueue) settled(p *cluster.Pod) {
	s.pod(p.Index).flush = s.flushAt(s.backoff(p.Attempts), p.Index)
}

// The World's side of schedCluster, and its hooks into the queue for the files that call them
// (the workload controller, the Job controller and pod start pipeline through jobPodCluster, the
// node and network models through their cluster interfaces).

func (w *World) enqueue(pi int)     { w.sq.enqueue(pi) }
func (w *World) unpark(pi int)      { w.sq.unpark(pi) }
func (w *World) moveUnschedulable() { w.sq.moveUnschedulable() }

// bound is the scheduler having bound pod pi to n at now: the kubelet starts its containers (a
// Job pod goes to the pod start pipeline).
func (w *World) bound(pi int, n *cluster.Node, now time.Duration) {
	ps := w.pods[pi]
	w.acct.observeColocation(w, n)
	emit(w, trace.PodBound{Pod: w.st.Pods[pi].Name, Node: n.Name})
	if ps.run != nil {
		// a Job pod uses no CPU in the model (its run time is given), so no recomputation
		w.cron.start.bound(pi, now)
		return
	}
	if w.nodes[n.Index].n.Up {
		ps.start = w.podAfter(w.m.Pods.ContainerStart.Duration, evContainersStarted, pi)
	}
	w.touch()
}
