// Package importer turns a cluster, live or written to files, into a scenario folder: node pools
// inferred by grouping the nodes, the workloads as plain manifests stripped of what the server
// set, their CPU use as load, and a README that says what was imported, what was left out and
// why. Check compares the simulator's placement of the imported workloads with the cluster's.
//
// It only reads: a live cluster is listed through client-go and never written to.
package importer
