// Package scenarios owns faultline's scenario format and its incident library.
//
// A scenario is ONE data model for both worlds: real Kubernetes manifests (decoded into k8s.io/api
// types), faults as Chaos Mesh objects (github.com/chaos-mesh/chaos-mesh/api types), the cluster's
// shape, the load that manifests cannot express, variants as patches (strategic merge, JSON merge
// or JSON patch, applied with k8s.io/apimachinery and evanphx/json-patch), and objectives. Load
// parses and validates a file with errors located to file:line:column and field path; Variant
// applies one variant's patches; Compile turns a variant into the simulator's Input. A real-cluster
// runner applies the same objects and the same Chaos Mesh objects.
//
// The incident library lives beside this file, one folder per incident, and is embedded in the
// binary so that `faultline run NAME` works from anywhere.
package scenarios
