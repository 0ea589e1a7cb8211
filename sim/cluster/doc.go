// Package cluster holds the simulator's view of cluster state: nodes, pods and their resource
// bookkeeping, in a compact form derived from the k8s.io/api objects of a scenario. It owns no
// behaviour over time; the models in package sim change this state from events, and the scheduler
// reads it. Pod specs are the scenario's own corev1.PodSpec values (shared, never copied per pod),
// so affinity, tolerations and topology spread constraints are read exactly as a real cluster would
// receive them.
package cluster
