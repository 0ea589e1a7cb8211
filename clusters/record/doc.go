// Package record writes a live cluster's object events to a compact trace, and turns a trace
// into a scenario that replays them.
//
// Record watches the kinds package importer reads (nodes, pods, workloads, Services, PDBs,
// webhooks, namespaces) with client-go informers, read-only, and writes one JSON line per event
// (add, update, delete, with the time it was observed) to a gzip stream, bounded in time and
// size. Import rebuilds the cluster as it was when the informers had synced (the scenario's
// objects and pools, through package importer) and turns the later workload changes into the
// scenario's changes at their recorded offsets.
package record
