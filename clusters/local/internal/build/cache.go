package build

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"sync"
	"syscall"
	"time"
)

// Cache holds built binaries under Dir/bin/KEY/ and the tooling modules under Dir/src/KEY/.
type Cache struct {
	// Dir is the cache root, normally os.UserCacheDir()/faultline.
	Dir string
	// Go is the go command; found on PATH when empty.
	Go string
	// Logger receives progress (what is built, that it is cached); nil discards it.
	Logger *slog.Logger
	// Heartbeat is how often a running build says it is still running (default 1 minute).
	Heartbeat time.Duration
}

// DefaultDir is os.UserCacheDir()/faultline.
func DefaultDir() (string, error) {
	d, err := os.UserCacheDir()
	if err != nil {
		return "", fmt.Errorf("user cache directory: %w", err)
	}
	return filepath.Join(d, "faultline"), nil
}

// stamp is written beside the binaries when a build finishes.
type stamp struct {
	Recipe   string        `json:"recipe"`
	Version  string        `json:"version"`
	Binaries []string      `json:"binaries"`
	Built    time.Time     `json:"built"`
	Took     time.Duration `json:"took"`
	Go       string        `json:"go"`
}

const stampFile = ".faultline-build.json"

// BinDir is where the recipe's binaries live once built.
func (c *Cache) BinDir(r Recipe) string { return filepath.Join(c.Dir, "bin", r.Key()) }

// Path is the path of one of the recipe's binaries.
func (c *Cache) Path(r Recipe, binary string) string { return filepath.Join(c.BinDir(r), binary) }

// Cached reports whether every binary of r is built.
func (c *Cache) Cached(r Recipe) bool {
	dir := c.BinDir(r)
	if _, err := os.Stat(filepath.Join(dir, stampFile)); err != nil {
		return false
	}
	for _, b := range r.Binaries {
		if fi, err := os.Stat(filepath.Join(dir, b.Name)); err != nil || fi.Mode()&0o111 == 0 {
			return false
		}
	}
	return true
}

func (c *Cache) log() *slog.Logger {
	if c.Logger == nil {
		return slog.New(slog.DiscardHandler)
	}
	return c.Logger
}

// Ensure builds r unless it is cached, and returns the directory of its binaries.
func (c *Cache) Ensure(ctx context.Context, r Recipe) (string, error) {
	if r.Version() == "" {
		return "", fmt.Errorf("recipe %s: its go.mod requires no %s", r.Name, r.Module)
	}
	dir := c.BinDir(r)
	if c.Cached(r) {
		c.log().Debug("using cached "+r.Name, "version", r.Version(), "dir", dir)
		return dir, nil
	}
	if err := os.MkdirAll(filepath.Dir(dir), 0o755); err != nil {
		return "", err
	}
	unlock, err := c.lock(ctx, r, dir+".lock")
	if err != nil {
		return "", err
	}
	defer unlock()
	if c.Cached(r) { // built by whoever held the lock
		c.log().Debug("using cached "+r.Name, "version", r.Version(), "dir", dir)
		return dir, nil
	}
	if err := c.build(ctx, r, dir); err != nil {
		return "", fmt.Errorf("build %s %s: %w", r.Name, r.Version(), err)
	}
	return dir, nil
}

// lock takes an exclusive flock on path, polling so that ctx can cancel the wait.
func (c *Cache) lock(ctx context.Context, r Recipe, path string) (func(), error) {
	f, err := os.OpenFile(path, os.O_CREATE|os.O_RDWR, 0o644)
	if err != nil {
		return nil, err
	}
	told := false
	for {
		err := syscall.Flock(int(f.Fd()), syscall.LOCK_EX|syscall.LOCK_NB)
		if err == nil {
			return func() { _ = syscall.Flock(int(f.Fd()), syscall.LOCK_UN); f.Close() }, nil
		}
		if !errors.Is(err, syscall.EWOULDBLOCK) {
			f.Close()
			return nil, fmt.Errorf("lock %s: %w", path, err)
		}
		if !told {
			c.log().Info("waiting for another faultline that is building "+r.Name, "lock", path)
			told = true
		}
		select {
		case <-ctx.Done():
			f.Close()
			return nil, ctx.Err()
		case <-time.After(500 * time.Millisecond):
		}
	}
}

func (c *Cache) goCommand() (string, error) {
	if c.Go != "" {
		return c.Go, nil
	}
	if p, err := exec.LookPath("go"); err == nil {
		return p, nil
	}
	if root := runtime.GOROOT(); root != "" {
		p := filepath.Join(root, "bin", "go")
		if _, err := os.Stat(p); err == nil {
			return p, nil
		}
	}
	return "", errors.New("the local cluster is built from Go modules and needs the go command (Go 1.26 or later) on PATH")
}

func (c *Cache) build(ctx context.Context, r Recipe, dir string) error {
	goCmd, err := c.goCommand()
	if err != nil {
		return err
	}
	src := filepath.Join(c.Dir, "src", r.Key())
	if err := os.MkdirAll(src, 0o755); err != nil {
		return err
	}
	if err := os.WriteFile(filepath.Join(src, "go.mod"), r.GoMod, 0o644); err != nil {
		return err
	}
	if err := os.WriteFile(filepath.Join(src, "go.sum"), r.GoSum, 0o644); err != nil {
		return err
	}
	// leftovers of builds that were killed; the lock says none of them is running
	if stale, _ := filepath.Glob(dir + ".tmp-*"); len(stale) > 0 {
		for _, d := range stale {
			_ = os.RemoveAll(d)
		}
	}
	tmp := fmt.Sprintf("%s.tmp-%d", dir, os.Getpid())
	if err := os.MkdirAll(tmp, 0o755); err != nil {
		return err
	}
	defer os.RemoveAll(tmp)

	args := []string{"build", "-trimpath", "-ldflags", r.ldflags()}
	if len(r.Binaries) == 1 {
		args = append(args, "-o", filepath.Join(tmp, r.Binaries[0].Name), r.Binaries[0].Package)
	} else {
		args = append(args, "-o", tmp+string(filepath.Separator))
		for _, b := range r.Binaries {
			if filepath.Base(b.Package) != b.Name {
				return fmt.Errorf("binary %s: package %s would be named %s", b.Name, b.Package, filepath.Base(b.Package))
			}
			args = append(args, b.Package)
		}
	}
	logPath := dir + ".log"
	logf, err := os.Create(logPath)
	if err != nil {
		return err
	}
	defer logf.Close()
	fmt.Fprintf(logf, "cd %s\n%s %s\n", src, goCmd, strings.Join(args, " "))

	cmd := exec.CommandContext(ctx, goCmd, args...)
	cmd.Dir = src
	cmd.Env = buildEnv(os.Environ())
	cmd.Stdout = logf
	cmd.Stderr = logf
	cmd.SysProcAttr = buildSysProcAttr()
	cmd.Cancel = func() error { return syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL) }
	cmd.WaitDelay = 10 * time.Second

	c.log().Info(fmt.Sprintf("building %s %s (%s) from Go modules; the first build takes %s, then it is cached",
		r.Name, r.Version(), strings.Join(r.BinaryNames(), ", "), r.Estimate), "cache", dir, "log", logPath)
	start := time.Now()
	if err := cmd.Start(); err != nil {
		return err
	}
	done := make(chan error, 1)
	go func() { done <- cmd.Wait() }()
	beat := c.Heartbeat
	if beat <= 0 {
		beat = time.Minute
	}
	tick := time.NewTicker(beat)
	defer tick.Stop()
	for waiting := true; waiting; {
		select {
		case err = <-done:
			waiting = false
		case <-tick.C:
			c.log().Info("still building "+r.Name, "elapsed", time.Since(start).Round(time.Second).String())
		}
	}
	if err != nil {
		if ctx.Err() != nil {
			return ctx.Err()
		}
		return fmt.Errorf("%w; last output:\n%s\n(full log: %s)", err, tail(logPath, 4096), logPath)
	}
	took := time.Since(start)
	st := stamp{Recipe: r.Name, Version: r.Version(), Binaries: r.BinaryNames(), Built: time.Now().UTC(), Took: took, Go: goVersion(goCmd)}
	b, _ := json.MarshalIndent(st, "", "  ")
	if err := os.WriteFile(filepath.Join(tmp, stampFile), append(b, '\n'), 0o644); err != nil {
		return err
	}
	_ = os.RemoveAll(dir) // an incomplete leftover; the lock says nobody else is using it
	if err := os.Rename(tmp, dir); err != nil {
		return err
	}
	c.log().Info(fmt.Sprintf("built %s %s in %s; cached", r.Name, r.Version(), took.Round(time.Second)), "dir", dir)
	return nil
}

// buildEnv is the environment of go build: static binaries for this machine, module mode with
// the recipe's go.mod (even inside a user's go.work), and go.sum entries added as needed.
func buildEnv(env []string) []string {
	out := make([]string, 0, len(env)+6)
	goflags := ""
	for _, kv := range env {
		k, v, _ := strings.Cut(kv, "=")
		switch k {
		case "GOFLAGS":
			goflags = v
			continue
		case "CGO_ENABLED", "GOWORK", "GOOS", "GOARCH", "GO111MODULE":
			continue
		}
		out = append(out, kv)
	}
	return append(out,
		"CGO_ENABLED=0", "GOWORK=off", "GO111MODULE=on",
		"GOOS="+runtime.GOOS, "GOARCH="+runtime.GOARCH,
		"GOFLAGS="+strings.TrimSpace(goflags+" -mod=mod"))
}

func goVersion(goCmd string) string {
	out, err := exec.Command(goCmd, "env", "GOVERSION").Output()
	if err != nil {
		return ""
	}
	return strings.TrimSpace(string(out))
}

// tail returns the last n bytes of the file at path.
func tail(path string, n int64) string {
	f, err := os.Open(path)
	if err != nil {
		return ""
	}
	defer f.Close()
	if fi, err := f.Stat(); err == nil && fi.Size() > n {
		_, _ = f.Seek(-n, io.SeekEnd)
	}
	b, _ := io.ReadAll(f)
	return strings.TrimSpace(string(b))
}

// EnsureAll ensures every recipe, building them concurrently: on two cores the small builds fill
// the gaps that the big one leaves (linking is single-threaded), which saves about a minute.
func (c *Cache) EnsureAll(ctx context.Context, recipes ...Recipe) error {
	errs := make([]error, len(recipes))
	var wg sync.WaitGroup
	for i, r := range recipes {
		wg.Go(func() { _, errs[i] = c.Ensure(ctx, r) })
	}
	wg.Wait()
	return errors.Join(errs...)
}
