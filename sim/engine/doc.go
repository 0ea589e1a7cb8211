// Package engine is faultline's deterministic discrete-event core: a typed event queue ordered by
// (virtual time, sequence number) with cancellation, a virtual clock that implements
// k8s.io/utils/clock, and named random streams derived from the run seed.
//
// Everything inside a run is single-threaded and driven by the queue. Nothing here reads the wall
// clock, starts a goroutine or iterates a map, so a run is a pure function of its inputs and seed:
// the same seed gives the same bytes. This follows the etcd raft design ("its behavior should be
// deterministic") and the container/heap priority-queue example, specialised to a typed 4-ary heap
// so that scheduling and firing an event allocate nothing.
package engine
