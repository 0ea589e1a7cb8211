// Package dockerd runs the Docker daemon that the kind provider uses when no other daemon is
// given: faultline's own dockerd, with its own data root, exec root, socket, pidfile and address
// pool, started in its own process group and stopped by its recorded PID (package proc), so that
// it never touches a Docker that the machine already runs.
//
// The daemon manages no iptables rules (iptables and ip6tables off, published ports through
// docker-proxy) and creates no default bridge; the kind network is a bridge that faultline creates
// with a name of its own (BridgeName). Its default runtime is faultline-runc (see
// clusters/kind/internal/runcwrap), which makes privileged containers work on machines whose
// capability bounding set is short of what Docker grants them.
//
// Packages: Deps lists what must be installed; InstallDeps installs the missing ones with apt-get
// (Debian and Ubuntu), which is idempotent and needs root.
package dockerd

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"time"

	"github.com/faultline-dev/faultline/clusters/internal/proc"
)

// Daemon is where faultline's dockerd keeps everything.
type Daemon struct {
	// DataRoot holds images and containers (default /var/lib/faultline-docker).
	DataRoot string
	// ExecRoot holds the socket, the pidfile and the runtime state (default /run/faultline-docker;
	// kept short: unix socket paths are limited to 108 bytes).
	ExecRoot string
	// AddressPool is the pool the daemon's networks are cut from (default 10.250.0.0/16, /24 each).
	AddressPool string
	// Dockerd, Runc and Wrapper are the binaries (defaults: dockerd and runc from PATH, Wrapper
	// must be set: the built faultline-runc).
	Dockerd, Runc, Wrapper string
	Logger                 *slog.Logger
}

// Default returns the daemon at its default places.
func Default() *Daemon {
	return &Daemon{DataRoot: "/var/lib/faultline-docker", ExecRoot: "/run/faultline-docker", AddressPool: "10.250.0.0/16"}
}

// Socket is the daemon's unix socket.
func (d *Daemon) Socket() string { return filepath.Join(d.ExecRoot, "docker.sock") }

// Host is the DOCKER_HOST value that reaches the daemon.
func (d *Daemon) Host() string { return "unix://" + d.Socket() }

func (d *Daemon) recordPath() string { return filepath.Join(d.DataRoot, "faultline-dockerd.json") }
func (d *Daemon) configPath() string { return filepath.Join(d.DataRoot, "faultline-daemon.json") }
func (d *Daemon) logPath() string    { return filepath.Join(d.DataRoot, "faultline-dockerd.log") }

func (d *Daemon) log() *slog.Logger {
	if d.Logger == nil {
		return slog.New(slog.DiscardHandler)
	}
	return d.Logger
}

// Config is the daemon.json the daemon runs with.
func (d *Daemon) Config() map[string]any {
	runtimeArgs := []string{}
	if d.Runc != "" {
		runtimeArgs = append(runtimeArgs, "--faultline-runc="+d.Runc)
	}
	return map[string]any{
		"data-root":       d.DataRoot,
		"exec-root":       d.ExecRoot,
		"pidfile":         filepath.Join(d.ExecRoot, "dockerd.pid"),
		"hosts":           []string{d.Host()},
		"bridge":          "none",
		"iptables":        false,
		"ip6tables":       false,
		"ip-forward":      true,
		"userland-proxy":  true,
		"storage-driver":  "overlay2",
		"default-runtime": "faultline-runc",
		"runtimes": map[string]any{
			"faultline-runc": map[string]any{"path": d.Wrapper, "runtimeArgs": runtimeArgs},
		},
		"default-address-pools":        []map[string]any{{"base": d.AddressPool, "size": 24}},
		"containerd-namespace":         "faultline-docker",
		"containerd-plugins-namespace": "faultline-docker-plugins",
		"features":                     map[string]bool{"containerd-snapshotter": false},
	}
}

// Deps are the Debian packages the daemon and the node image build need, with a binary that
// shows each is installed.
var Deps = []struct{ Package, Binary string }{
	{"docker.io", "dockerd"},
	{"runc", "runc"},
	{"containerd", "containerd"},
	{"iptables", "iptables"},
	{"debootstrap", "debootstrap"},
}

// MissingDeps lists the packages whose binary is not on PATH (or in /usr/sbin, /sbin).
func MissingDeps() []string {
	var missing []string
	for _, d := range Deps {
		if lookPath(d.Binary) == "" {
			missing = append(missing, d.Package)
		}
	}
	return missing
}

func lookPath(bin string) string {
	if p, err := exec.LookPath(bin); err == nil {
		return p
	}
	for _, dir := range []string{"/usr/sbin", "/sbin", "/usr/bin"} {
		p := filepath.Join(dir, bin)
		if fi, err := os.Stat(p); err == nil && fi.Mode()&0o111 != 0 {
			return p
		}
	}
	return ""
}

// InstallDeps installs the missing packages with apt-get; nothing when all are there.
func InstallDeps(ctx context.Context, logger *slog.Logger) error {
	missing := MissingDeps()
	if len(missing) == 0 {
		return nil
	}
	if os.Geteuid() != 0 {
		return fmt.Errorf("packages %s are missing and installing them needs root: apt-get install %s", strings.Join(missing, ", "), strings.Join(missing, " "))
	}
	logger.Info("installing packages with apt-get", "packages", missing)
	run := func(args ...string) error {
		cmd := exec.CommandContext(ctx, "apt-get", args...)
		cmd.Env = append(os.Environ(), "DEBIAN_FRONTEND=noninteractive")
		out, err := cmd.CombinedOutput()
		if err != nil {
			return fmt.Errorf("apt-get %s: %w\n%s", strings.Join(args, " "), err, tailOf(out, 2000))
		}
		return nil
	}
	if err := run("update", "-q"); err != nil {
		return err
	}
	return run(append([]string{"install", "-y", "-q", "--no-install-recommends"}, missing...)...)
}

func tailOf(b []byte, n int) string {
	if len(b) > n {
		b = b[len(b)-n:]
	}
	return string(b)
}

// Running reports whether the recorded daemon runs and answers on its socket.
func (d *Daemon) Running(ctx context.Context) bool {
	rec, err := d.record()
	if err != nil {
		return false
	}
	if ok, _ := rec.Running(); !ok {
		return false
	}
	return d.answers(ctx)
}

func (d *Daemon) answers(ctx context.Context) bool {
	c, err := (&net.Dialer{Timeout: time.Second}).DialContext(ctx, "unix", d.Socket())
	if err != nil {
		return false
	}
	c.Close()
	cmd := exec.CommandContext(ctx, "docker", "--host", d.Host(), "version", "--format", "{{.Server.Version}}")
	return cmd.Run() == nil
}

func (d *Daemon) record() (proc.Record, error) {
	var rec proc.Record
	b, err := os.ReadFile(d.recordPath())
	if err != nil {
		return rec, err
	}
	if err := json.Unmarshal(b, &rec); err != nil {
		return rec, fmt.Errorf("%s: %w", d.recordPath(), err)
	}
	return rec, nil
}

// Start starts the daemon unless it runs already, and waits until it answers.
func (d *Daemon) Start(ctx context.Context) error {
	if d.Running(ctx) {
		d.log().Debug("faultline's dockerd is running", "host", d.Host())
		return nil
	}
	if rec, err := d.record(); err == nil {
		// recorded but not answering: stop what is left of it before starting again
		if err := proc.Stop(ctx, rec, 20*time.Second); err != nil {
			return fmt.Errorf("stop the previous dockerd: %w", err)
		}
	}
	if d.Wrapper == "" {
		return errors.New("dockerd: no runtime wrapper (faultline-runc) given")
	}
	dockerd := d.Dockerd
	if dockerd == "" {
		if dockerd = lookPath("dockerd"); dockerd == "" {
			return errors.New("dockerd is not installed (apt-get install docker.io)")
		}
	}
	if d.Runc == "" {
		d.Runc = lookPath("runc")
	}
	for _, dir := range []string{d.DataRoot, d.ExecRoot} {
		if err := os.MkdirAll(dir, 0o711); err != nil {
			return err
		}
	}
	b, _ := json.MarshalIndent(d.Config(), "", "  ")
	if err := os.WriteFile(d.configPath(), b, 0o644); err != nil {
		return err
	}
	rec, err := proc.Start("dockerd", dockerd, []string{"--config-file", d.configPath()}, d.logPath())
	if err != nil {
		return err
	}
	rb, _ := json.MarshalIndent(rec, "", "  ")
	if err := os.WriteFile(d.recordPath(), rb, 0o644); err != nil {
		_ = proc.Stop(ctx, rec, 10*time.Second)
		return err
	}
	d.log().Info("started faultline's dockerd", "pid", rec.PID, "host", d.Host(), "log", d.logPath())
	deadline := time.Now().Add(60 * time.Second)
	for !d.answers(ctx) {
		if ok, _ := rec.Running(); !ok {
			return fmt.Errorf("dockerd exited; see %s", d.logPath())
		}
		if time.Now().After(deadline) || ctx.Err() != nil {
			_ = proc.Stop(context.Background(), rec, 10*time.Second)
			return fmt.Errorf("dockerd did not answer on %s within a minute; see %s", d.Socket(), d.logPath())
		}
		time.Sleep(200 * time.Millisecond)
	}
	return nil
}

// Stop stops the recorded daemon (SIGTERM, SIGKILL after 30 s); nothing when none is recorded.
// The daemon's data root stays (the images in it are what makes the next start fast); Purge
// removes it.
func (d *Daemon) Stop(ctx context.Context) error {
	rec, err := d.record()
	if errors.Is(err, os.ErrNotExist) {
		return nil
	}
	if err != nil {
		return err
	}
	if err := proc.Stop(ctx, rec, 30*time.Second); err != nil {
		return err
	}
	d.log().Info("stopped faultline's dockerd", "pid", rec.PID)
	_ = os.Remove(d.recordPath())
	return os.RemoveAll(d.ExecRoot)
}

// PID is the recorded daemon's PID (0 when none is recorded).
func (d *Daemon) PID() int {
	rec, err := d.record()
	if err != nil {
		return 0
	}
	return rec.PID
}
