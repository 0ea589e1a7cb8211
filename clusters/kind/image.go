package kind

import (
	"archive/tar"
	"bytes"
	"context"
	"debug/elf"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
)

// StaticImageTar returns a one-layer root file system holding only the static program at binary,
// as /NAME (NAME is its file name), with /tmp and /etc/passwd (root) so that Go's os/user and
// temporary files work. It refuses a dynamically linked program: it would not run in the image.
func StaticImageTar(binary string) ([]byte, error) {
	f, err := elf.Open(binary)
	if err != nil {
		return nil, fmt.Errorf("%s: expected a Linux program: %w", binary, err)
	}
	interp := f.Section(".interp")
	f.Close()
	if interp != nil {
		return nil, fmt.Errorf("%s is dynamically linked; build it with CGO_ENABLED=0", binary)
	}
	data, err := os.ReadFile(binary)
	if err != nil {
		return nil, err
	}
	var buf bytes.Buffer
	tw := tar.NewWriter(&buf)
	for _, h := range []*tar.Header{
		{Name: "etc/", Typeflag: tar.TypeDir, Mode: 0o755},
		{Name: "tmp/", Typeflag: tar.TypeDir, Mode: 0o1777},
	} {
		if err := tw.WriteHeader(h); err != nil {
			return nil, err
		}
	}
	passwd := []byte("root:x:0:0:root:/:/sbin/nologin\n")
	files := []struct {
		name string
		mode int64
		data []byte
	}{{"etc/passwd", 0o644, passwd}, {filepath.Base(binary), 0o755, data}}
	for _, fl := range files {
		if err := tw.WriteHeader(&tar.Header{Name: fl.name, Typeflag: tar.TypeReg, Mode: fl.mode, Size: int64(len(fl.data))}); err != nil {
			return nil, err
		}
		if _, err := tw.Write(fl.data); err != nil {
			return nil, err
		}
	}
	return buf.Bytes(), tw.Close()
}

// ImportStaticImage makes image tag in the provider's Docker from the static program at binary:
// its only file system is StaticImageTar's and its entrypoint is the program.
func (p *Provider) ImportStaticImage(ctx context.Context, binary, tag string) error {
	p.env()
	layer, err := StaticImageTar(binary)
	if err != nil {
		return err
	}
	ep, _ := json.Marshal([]string{"/" + filepath.Base(binary)})
	cmd := exec.CommandContext(ctx, "docker", "import", "--change", "ENTRYPOINT "+string(ep), "-", tag)
	cmd.Stdin = bytes.NewReader(layer)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	cmd.Stdout = io.Discard
	if err := cmd.Run(); err != nil {
		return fmt.Errorf("docker import %s: %w: %s", tag, err, strings.TrimSpace(stderr.String()))
	}
	return nil
}

// BuildGoImage builds the Go main package pkg as a static program (in the current module) and
// imports it as image tag; LoadImage then puts it on a cluster's nodes.
func (p *Provider) BuildGoImage(ctx context.Context, pkg, tag string) error {
	out, cleanup, err := buildStatic(ctx, pkg)
	if err != nil {
		return err
	}
	defer cleanup()
	return p.ImportStaticImage(ctx, out, tag)
}

// buildStatic builds the Go main package pkg (in the current module) as a static Linux program
// in a temporary directory, which cleanup removes. Each program built is kept in faultline's
// cache (programCache), and a build that cannot run (faultline started outside its source
// checkout, where pkg's module is not at hand) takes the cached one instead.
func buildStatic(ctx context.Context, pkg string) (binary string, cleanup func(), err error) {
	cache, _ := programCache()
	return buildStaticIn(ctx, pkg, cache)
}

// programCache is where built programs are kept: $XDG_CACHE_HOME/faultline/kind/programs.
func programCache() (string, error) {
	dir, err := os.UserCacheDir()
	if err != nil {
		return "", err
	}
	return filepath.Join(dir, "faultline", "kind", "programs"), nil
}

func buildStaticIn(ctx context.Context, pkg, cache string) (binary string, cleanup func(), err error) {
	dir, err := os.MkdirTemp("", "faultline-image-")
	if err != nil {
		return "", nil, err
	}
	cleanup = func() { os.RemoveAll(dir) }
	out := filepath.Join(dir, filepath.Base(pkg))
	cached := ""
	if cache != "" {
		cached = filepath.Join(cache, filepath.Base(pkg))
	}
	cmd := exec.CommandContext(ctx, "go", "build", "-trimpath", "-ldflags", "-s -w", "-o", out, pkg)
	cmd.Env = append(os.Environ(), "CGO_ENABLED=0", "GOOS=linux")
	b, berr := cmd.CombinedOutput()
	switch {
	case berr == nil:
		if cached != "" {
			_ = copyProgram(out, cached) // kept for runs started elsewhere; not the build's failure
		}
		return out, cleanup, nil
	case cached != "" && copyProgram(cached, out) == nil:
		return out, cleanup, nil
	}
	cleanup()
	return "", nil, fmt.Errorf("go build %s: %w (faultline builds this program from its source: start it once inside its checkout, after which the build is kept in %s)\n%s", pkg, berr, cache, b)
}

// copyProgram copies the program at from to to (written whole, then renamed into place).
func copyProgram(from, to string) error {
	data, err := os.ReadFile(from)
	if err != nil {
		return err
	}
	if err := os.MkdirAll(filepath.Dir(to), 0o755); err != nil {
		return err
	}
	tmp := to + ".tmp"
	if err := os.WriteFile(tmp, data, 0o755); err != nil {
		return err
	}
	return os.Rename(tmp, to)
}

// EchoImage is the tag of faultline-echo's image (EchoPackage): the real-world runner puts it in
// place of a scenario's images, which cannot be pulled offline.
const EchoImage = "faultline/echo:kind"

// EchoPackage is faultline-echo's Go main package: a static HTTP server (every -listen port
// answers 200) that with -run exits after a run time, as a Job's app container does.
const EchoPackage = "github.com/faultline-dev/faultline/clusters/kind/internal/cmd/faultline-echo"

// LoadEcho builds EchoImage (BuildGoImage, a few seconds) and loads it on the cluster's nodes.
func (p *Provider) LoadEcho(ctx context.Context, name string) error {
	if err := p.BuildGoImage(ctx, EchoPackage, EchoImage); err != nil {
		return err
	}
	return p.LoadImage(ctx, name, EchoImage)
}
