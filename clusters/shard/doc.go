// Package shard spreads one run's seeds over many machines and puts the pieces back together.
//
// A shard is an ordinary run directory of `faultline run NAME --seed S --seeds K`, made anywhere:
// a laptop, a CI job, or a pod of a Kubernetes Indexed Job. Merge turns shards into the run
// directory a single run over all their seeds would have written, byte for byte: the simulator
// is deterministic, every figure of summary.json is a function of the per-seed values in
// seeds.csv, and the representative seed's time series is replayed. Plan slices seeds over
// indexes, Job builds the Indexed Job that plays them in faultline's own image, and Collect reads
// each index's shard back through the Kubernetes API (the pod's log) and checks it.
package shard
