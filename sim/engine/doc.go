// Package engine is faultline's deterministic discrete-event core: a typed event queue ordered by
// (virtual time, sequence number) with cancellation, a virtual clock that implements
// k8s.io/utils/clock, and named random streams derived from the run seed.
//
// Everything inside a run is single-threaded and driven by the queue. Nothing here reads the wall
// clock, starts a goroutine or iterates a map, so a run is a pure function of its inputs and seed:
// the same seed gives the same bytes. This follows the etcd raft design ("its behavior should be
// deterministic"). The pending events are a radix heap (Ahuja, Mehlhorn, Orlin and Tarjan, "Faster
// algorithms for the shortest path problem", 1990): a simulation never schedules before the last
// event it took out, so the queue is a monotone priority queue, where scheduling is one append to a
// bucket chosen by the highest bit in which the event's time differs from the last one taken out,
// and taking out the minimum redistributes one bucket downwards. Its buckets hold 16-byte
// pointer-free items and are reused, so scheduling and firing an event allocate nothing once the
// buckets have grown.
package engine
