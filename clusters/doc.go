// Package clusters owns faultline's real clusters: the small Provider interface that every kind of
// cluster implements (Create, Delete, KubeConfig, LoadImage, List), the options Create takes, and
// what is shared between providers (the fake nodes KWOK animates, the marker that says a cluster
// was created by faultline).
//
// Providers live in sub-packages: local (etcd, kube-apiserver, kube-controller-manager and
// kube-scheduler built from Go modules, KWOK for nodes, every process on 127.0.0.1). A provider
// only ever touches clusters that it created and recorded; everything else is refused with
// ErrNotOurs.
//
// The shape follows kind's pkg/cluster (Provider with functional CreateOptions).
package clusters
