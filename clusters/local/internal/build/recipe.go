package build

import (
	"crypto/sha256"
	_ "embed"
	"encoding/hex"
	"fmt"
	"regexp"
	"runtime"
	"strings"
)

// Binary is one program a recipe builds.
type Binary struct {
	Name    string // file name in the cache, e.g. kube-apiserver
	Package string // Go package path of its main package
}

// Recipe is a pinned tooling module and the binaries built from it.
type Recipe struct {
	// Name names the recipe in messages and in the cache, e.g. "kubernetes".
	Name string
	// Module is the module whose version the recipe pins, e.g. k8s.io/kubernetes.
	Module string
	// GoMod and GoSum are the tooling module's files (tools/NAME/go.mod and go.sum).
	GoMod, GoSum []byte
	Binaries     []Binary
	// LDFlags are passed to the linker; {{version}} is replaced by Version().
	LDFlags string
	// Estimate is the cold build time measured on a 2-core machine, for progress messages.
	Estimate string
}

var (
	//go:embed recipes/k8s.go.mod
	k8sMod []byte
	//go:embed recipes/k8s.go.sum
	k8sSum []byte
	//go:embed recipes/etcd.go.mod
	etcdMod []byte
	//go:embed recipes/etcd.go.sum
	etcdSum []byte
	//go:embed recipes/kwok.go.mod
	kwokMod []byte
	//go:embed recipes/kwok.go.sum
	kwokSum []byte
	//go:embed recipes/prometheus.go.mod
	promMod []byte
	//go:embed recipes/prometheus.go.sum
	promSum []byte
)

// The recipes of the local cluster.
var (
	// Kubernetes builds the control plane from k8s.io/kubernetes. The version variables make the
	// servers report their real version (hack/lib/version.sh sets the same).
	Kubernetes = Recipe{
		Name:   "kubernetes",
		Module: "k8s.io/kubernetes",
		GoMod:  k8sMod,
		GoSum:  k8sSum,
		Binaries: []Binary{
			{"kube-apiserver", "k8s.io/kubernetes/cmd/kube-apiserver"},
			{"kube-controller-manager", "k8s.io/kubernetes/cmd/kube-controller-manager"},
			{"kube-scheduler", "k8s.io/kubernetes/cmd/kube-scheduler"},
		},
		LDFlags:  k8sVersionFlags,
		Estimate: "about 7 minutes on 2 idle cores and 2 GB of memory",
	}
	// Kubectl builds kubectl from the same module (sharing most of its build cache). It is a
	// recipe of its own because a cluster does not need it to start.
	Kubectl = Recipe{
		Name:     "kubectl",
		Module:   "k8s.io/kubernetes",
		GoMod:    k8sMod,
		GoSum:    k8sSum,
		Binaries: []Binary{{"kubectl", "k8s.io/kubernetes/cmd/kubectl"}},
		LDFlags:  k8sVersionFlags,
		Estimate: "about a minute after the control plane",
	}
	// Etcd builds the etcd server.
	Etcd = Recipe{
		Name:     "etcd",
		Module:   "go.etcd.io/etcd/server/v3",
		GoMod:    etcdMod,
		GoSum:    etcdSum,
		Binaries: []Binary{{"etcd", "go.etcd.io/etcd/server/v3"}},
		Estimate: "about a minute",
	}
	// KWOK builds kwok, which plays the kubelet for fake nodes.
	KWOK = Recipe{
		Name:     "kwok",
		Module:   "sigs.k8s.io/kwok",
		GoMod:    kwokMod,
		GoSum:    kwokSum,
		Binaries: []Binary{{"kwok", "sigs.k8s.io/kwok/cmd/kwok"}},
		Estimate: "about 2 minutes",
	}
	// Prometheus builds the Prometheus server real runs scrape the cluster with (package
	// clusters/prometheus), pinned to the version faultline's go.mod uses as its query engine:
	// the same PromQL engine in both worlds. Not a server a cluster needs to start.
	Prometheus = Recipe{
		Name:   "prometheus",
		Module: "github.com/prometheus/prometheus",
		GoMod:  promMod,
		GoSum:  promSum,
		Binaries: []Binary{
			{"prometheus", "github.com/prometheus/prometheus/cmd/prometheus"},
			// promtool checks the metrics files faultline writes (results.LabelMetrics) the way
			// users check theirs: `promtool check metrics`.
			{"promtool", "github.com/prometheus/prometheus/cmd/promtool"},
		},
		Estimate: "about 10 minutes of CPU (22 minutes on 2 busy cores); seconds with a warm Go build cache",
	}
	// Servers are the recipes a cluster needs to start, biggest first.
	Servers = []Recipe{Kubernetes, Etcd, KWOK}
	// All adds the tools for people (kubectl).
	All = []Recipe{Kubernetes, Etcd, KWOK, Kubectl}
)

var k8sVersionFlags = versionFlags("k8s.io/component-base/version") + " " + versionFlags("k8s.io/client-go/pkg/version")

func versionFlags(pkg string) string {
	// gitMajor/gitMinor and gitVersion are what `kubectl version` and /version report; the date
	// is fixed so that the build is reproducible.
	return strings.Join([]string{
		"-X " + pkg + ".gitVersion={{version}}",
		"-X " + pkg + ".gitMajor={{major}}",
		"-X " + pkg + ".gitMinor={{minor}}",
		"-X " + pkg + ".gitTreeState=clean",
		"-X " + pkg + ".buildDate=1970-01-01T00:00:00Z",
	}, " ")
}

var requireLine = regexp.MustCompile(`(?m)^(?:require\s+|\s+)(\S+)\s+(v\S+)`)

// Version is the version of Module that GoMod requires ("" if it requires none).
func (r Recipe) Version() string {
	for _, m := range requireLine.FindAllSubmatch(r.GoMod, -1) {
		if string(m[1]) == r.Module {
			return string(m[2])
		}
	}
	return ""
}

// ldflags are the linker flags with the version filled in.
func (r Recipe) ldflags() string {
	v := r.Version()
	major, minor := "", ""
	if parts := strings.SplitN(strings.TrimPrefix(v, "v"), ".", 3); len(parts) >= 2 {
		major, minor = parts[0], parts[1]
	}
	f := strings.NewReplacer("{{version}}", v, "{{major}}", major, "{{minor}}", minor).Replace(r.LDFlags)
	// -s -w: no symbol table or DWARF; the binaries are run, not debugged, and link faster.
	return strings.TrimSpace("-s -w " + f)
}

// Key names the recipe's directory in the cache: name, version, platform and a digest of
// everything that goes into the build, so that a changed recipe never reuses old binaries.
func (r Recipe) Key() string {
	h := sha256.New()
	fmt.Fprintf(h, "%s\x00%s\x00%s\x00", r.GoMod, r.GoSum, r.ldflags())
	for _, b := range r.Binaries {
		fmt.Fprintf(h, "%s=%s\x00", b.Name, b.Package)
	}
	return fmt.Sprintf("%s-%s-%s-%s-%s", r.Name, r.Version(), runtime.GOOS, runtime.GOARCH, hex.EncodeToString(h.Sum(nil))[:10])
}

// BinaryNames lists the binaries the recipe builds.
func (r Recipe) BinaryNames() []string {
	n := make([]string, len(r.Binaries))
	for i, b := range r.Binaries {
		n[i] = b.Name
	}
	return n
}
