// Package cluster holds the simulator's view of cluster state: nodes, pods and their resource
// bookkeeping, in a compact form derived from the k8s.io/api objects of a scenario. It owns no
// behaviour over time; the models in package sim change this state from events, and the scheduler
// reads it. Pod specs are the scenario's own corev1.PodSpec values (shared, never copied per pod),
// so affinity, tolerations and topology spread constraints are read exactly as a real cluster would
// receive them. Bind, Release and SetPhase tell the State's observers (the scheduler's incremental
// pod counts) what changed, so bound pods change node or enter Terminating only through them, and a
// node's labels do not change once it is added.
package cluster
