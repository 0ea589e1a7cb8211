// Package build builds the local cluster's binaries from Go modules, once per version, into a
// cache shared by every faultline run on the machine.
//
// A Recipe is a pinned tooling module (go.mod and go.sum, copied from the repository's tools/
// folder by `go generate` and embedded here, so an installed faultline needs only the go command)
// and the packages to build from it. Cache.Ensure writes the recipe into a source directory,
// runs `go build -mod=mod -trimpath` with CGO_ENABLED=0 and GOWORK=off, and renames the finished
// binaries into place: a half-finished build never looks cached. A lock file per recipe makes a
// second faultline wait for the first instead of building the same thing again.
package build

//go:generate sh -c "for m in k8s etcd kwok prometheus; do cp ../../../../tools/$m/go.mod recipes/$m.go.mod && cp ../../../../tools/$m/go.sum recipes/$m.go.sum; done"
