// Package clusters owns faultline's real clusters: the small Provider interface that every kind of
// cluster implements (Create, Delete, KubeConfig, LoadImage, List), the options Create takes, and
// what is shared between providers (the fake nodes KWOK animates, a node's readiness, the marker
// that says a cluster was created by faultline).
//
// Providers live in sub-packages:
//   - local: etcd, kube-apiserver, kube-controller-manager and kube-scheduler built from Go
//     modules, KWOK for nodes, every process on 127.0.0.1;
//   - kind: real nodes (kubelet, containerd, kube-proxy) in Docker containers through
//     sigs.k8s.io/kind, with faultline's own offline node image and, unless DOCKER_HOST is set,
//     a dockerd of its own.
//
// A provider only ever touches clusters that it created and recorded; everything else is refused
// with ErrNotOurs.
//
// Beside the providers: realrun plays a scenario's sim.Input against a real cluster and measures
// it through package measure, as the simulator is measured (the real world of `faultline run
// --cluster` and `faultline fidelity`), and webhook is the TLS admission webhook backend those runs point webhook
// configurations at, with a switch to make it hang or fail.
//
// The shape follows kind's pkg/cluster (Provider with functional CreateOptions).
package clusters
