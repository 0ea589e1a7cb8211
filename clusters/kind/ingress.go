package kind

import (
	"archive/tar"
	"bytes"
	"context"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
)

// IngressImage is the tag of the ingress proxy's image: Debian's nginx package, unchanged, with
// faultline-ingress (IngressPackage) feeding it the Ingress's endpoints after the cloud load
// balancer's lag (package ingressfeed).
const IngressImage = "faultline/ingress:kind"

// IngressPackage is faultline-ingress's Go main package.
const IngressPackage = "github.com/faultline-dev/faultline/clusters/kind/internal/cmd/faultline-ingress"

// BuildIngressImage builds IngressImage offline from Debian's nginx package (apt-get download on
// this Debian host, unpacked; the shared libraries it loads are copied from the host, the same
// release's) and faultline-ingress built static. Seconds; needs apt-get, dpkg and ldd.
func (p *Provider) BuildIngressImage(ctx context.Context) error {
	dir, err := os.MkdirTemp("", "faultline-ingress-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(dir)
	run := func(name string, args ...string) ([]byte, error) {
		cmd := exec.CommandContext(ctx, name, args...)
		cmd.Dir = dir
		out, err := cmd.CombinedOutput()
		if err != nil {
			return out, fmt.Errorf("%s %s: %w\n%s", name, strings.Join(args, " "), err, out)
		}
		return out, nil
	}
	if _, err := run("apt-get", "download", "nginx"); err != nil {
		if _, uerr := run("apt-get", "update", "-qq"); uerr != nil {
			return fmt.Errorf("%w (and apt-get update: %v)", err, uerr)
		}
		if _, err := run("apt-get", "download", "nginx"); err != nil {
			return err
		}
	}
	debs, _ := filepath.Glob(filepath.Join(dir, "nginx_*.deb"))
	if len(debs) != 1 {
		return fmt.Errorf("apt-get download nginx: expected one nginx_*.deb in %s, found %d", dir, len(debs))
	}
	if _, err := run("dpkg", "-x", debs[0], "pkg"); err != nil {
		return err
	}
	nginx := filepath.Join(dir, "pkg", "usr", "sbin", "nginx")
	ldd, err := run("ldd", nginx)
	if err != nil {
		return err
	}
	prog := filepath.Join(dir, "faultline-ingress")
	build := exec.CommandContext(ctx, "go", "build", "-trimpath", "-ldflags", "-s -w", "-o", prog, IngressPackage)
	build.Env = append(os.Environ(), "CGO_ENABLED=0", "GOOS=linux")
	if b, err := build.CombinedOutput(); err != nil {
		return fmt.Errorf("go build %s: %w\n%s", IngressPackage, err, b)
	}
	files := map[string]string{"/usr/sbin/nginx": nginx, "/faultline-ingress": prog} // image path → host path
	for _, lib := range LibrariesOf(string(ldd)) {
		files[lib] = lib
	}
	layer, err := ingressLayer(files)
	if err != nil {
		return err
	}
	p.env()
	cmd := exec.CommandContext(ctx, "docker", "import", "--change", `ENTRYPOINT ["/faultline-ingress"]`, "-", IngressImage)
	cmd.Stdin = bytes.NewReader(layer)
	if b, err := cmd.CombinedOutput(); err != nil {
		return fmt.Errorf("docker import %s: %w: %s", IngressImage, err, strings.TrimSpace(string(b)))
	}
	return nil
}

var lddPath = regexp.MustCompile(`(/[^ \t()]+)`)

// LibrariesOf lists the absolute library paths in ldd's output, sorted.
func LibrariesOf(ldd string) []string {
	var out []string
	for _, line := range strings.Split(ldd, "\n") {
		for _, m := range lddPath.FindAllString(line, -1) {
			if strings.Contains(m, ".so") && !slices.Contains(out, m) {
				out = append(out, m)
			}
		}
	}
	slices.Sort(out)
	return out
}

// ingressLayer is the image's one layer: the files (symlinks followed), the directories nginx
// writes to, and root in /etc/passwd and /etc/group.
func ingressLayer(files map[string]string) ([]byte, error) {
	var buf bytes.Buffer
	tw := tar.NewWriter(&buf)
	dirs := []string{"etc/", "tmp/", "var/", "var/log/", "var/log/nginx/", "var/lib/", "var/lib/nginx/", "run/"}
	paths := make([]string, 0, len(files))
	for p := range files {
		paths = append(paths, p)
	}
	slices.Sort(paths)
	for _, p := range paths {
		for d := filepath.Dir(strings.TrimPrefix(p, "/")); d != "."; d = filepath.Dir(d) {
			if !slices.Contains(dirs, d+"/") {
				dirs = append(dirs, d+"/")
			}
		}
	}
	slices.SortFunc(dirs, func(a, b string) int { return strings.Count(a, "/") - strings.Count(b, "/") })
	for _, d := range dirs {
		mode := int64(0o755)
		if d == "tmp/" {
			mode = 0o1777
		}
		if err := tw.WriteHeader(&tar.Header{Name: d, Typeflag: tar.TypeDir, Mode: mode}); err != nil {
			return nil, err
		}
	}
	write := func(name string, mode int64, data []byte) error {
		if err := tw.WriteHeader(&tar.Header{Name: name, Typeflag: tar.TypeReg, Mode: mode, Size: int64(len(data))}); err != nil {
			return err
		}
		_, err := tw.Write(data)
		return err
	}
	if err := write("etc/passwd", 0o644, []byte("root:x:0:0:root:/:/sbin/nologin\nnobody:x:65534:65534:nobody:/:/sbin/nologin\n")); err != nil {
		return nil, err
	}
	if err := write("etc/group", 0o644, []byte("root:x:0:\nnogroup:x:65534:\n")); err != nil {
		return nil, err
	}
	for _, p := range paths {
		f, err := os.Open(files[p]) // follows symlinks: the library itself
		if err != nil {
			return nil, err
		}
		data, err := io.ReadAll(f)
		f.Close()
		if err != nil {
			return nil, err
		}
		if err := write(strings.TrimPrefix(p, "/"), 0o755, data); err != nil {
			return nil, err
		}
	}
	return buf.Bytes(), tw.Close()
}

// LoadIngress builds IngressImage and loads it on the cluster's nodes.
func (p *Provider) LoadIngress(ctx context.Context, name string) error {
	if err := p.BuildIngressImage(ctx); err != nil {
		return err
	}
	return p.LoadImage(ctx, name, IngressImage)
}
