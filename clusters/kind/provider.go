package kind

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"syscall"
	"time"

	"sigs.k8s.io/kind/pkg/apis/config/defaults"
	kindcluster "sigs.k8s.io/kind/pkg/cluster"
	"sigs.k8s.io/kind/pkg/cluster/nodeutils"
	kindlog "sigs.k8s.io/kind/pkg/log"

	"github.com/faultline-dev/faultline/clusters"
	"github.com/faultline-dev/faultline/clusters/kind/internal/dockerd"
	"github.com/faultline-dev/faultline/sim"
)

// ProviderName is the name of this provider on the command line (--provider kind).
const ProviderName = "kind"

// Names of what the provider creates on the machine.
const (
	// ClusterPrefix starts the kind name of every cluster faultline creates.
	ClusterPrefix = "faultline-"
	// NetworkName is the Docker network of the nodes, BridgeName its Linux bridge.
	NetworkName = "faultline-kind"
	BridgeName  = "faultline-kind0"
)

// Provider creates kind clusters.
type Provider struct {
	logger    *slog.Logger
	stateRoot string
	cacheDir  string
	image     string
	pools     []sim.NodePool
	source    string
	daemon    *dockerd.Daemon
	external  bool // DOCKER_HOST was set: use that Docker, start and stop none
	kind      *kindcluster.Provider
}

// Option configures New.
type Option func(*Provider)

// WithLogger receives progress.
func WithLogger(l *slog.Logger) Option { return func(p *Provider) { p.logger = l } }

// WithStateDir keeps kubeconfigs and host.json under dir instead of
// $XDG_STATE_HOME/faultline/kind.
func WithStateDir(dir string) Option { return func(p *Provider) { p.stateRoot = dir } }

// WithImage uses this node image instead of choosing one.
func WithImage(image string) Option { return func(p *Provider) { p.image = image } }

// WithNodePools makes Create build the cluster from a scenario's node pools (Config); source names
// them in errors. Without it, Create makes CreateOptions.Nodes workers of one pool, "node".
func WithNodePools(pools []sim.NodePool, source string) Option {
	return func(p *Provider) { p.pools, p.source = pools, source }
}

// WithDaemon uses this faultline dockerd instead of dockerd.Default() (tests).
func WithDaemon(d *dockerd.Daemon) Option { return func(p *Provider) { p.daemon = d } }

// New returns the kind provider.
func New(opts ...Option) (*Provider, error) {
	p := &Provider{logger: slog.New(slog.DiscardHandler)}
	for _, o := range opts {
		o(p)
	}
	if p.stateRoot == "" {
		base := os.Getenv("XDG_STATE_HOME")
		if base == "" {
			home, err := os.UserHomeDir()
			if err != nil {
				return nil, err
			}
			base = filepath.Join(home, ".local", "state")
		}
		p.stateRoot = filepath.Join(base, "faultline", "kind")
	}
	cache, err := os.UserCacheDir()
	if err != nil {
		return nil, err
	}
	p.cacheDir = filepath.Join(cache, "faultline", "kind")
	if p.daemon == nil {
		p.daemon = dockerd.Default()
	}
	p.daemon.Logger = p.logger
	if h := os.Getenv("DOCKER_HOST"); h != "" && h != p.daemon.Host() {
		p.external = true
	}
	p.kind = kindcluster.NewProvider(kindcluster.ProviderWithDocker(), kindcluster.ProviderWithLogger(kindLogger{p.logger}))
	return p, nil
}

// Daemon is the faultline dockerd the provider uses (unused when DOCKER_HOST names another).
func (p *Provider) Daemon() *dockerd.Daemon { return p.daemon }

// KubeConfigPath is where Create writes the cluster's kubeconfig.
func (p *Provider) KubeConfigPath(name string) string {
	return filepath.Join(p.stateRoot, name, "kubeconfig")
}

// env points kind's docker commands at the provider's Docker and network (kind reads both from
// the environment).
func (p *Provider) env() {
	if !p.external {
		os.Setenv("DOCKER_HOST", p.daemon.Host())
	}
	os.Setenv("KIND_EXPERIMENTAL_DOCKER_NETWORK", NetworkName)
}

// PrepareHost installs what is missing, builds the runtime wrapper and starts faultline's dockerd
// (unless DOCKER_HOST names another Docker), and creates the kind network.
func (p *Provider) PrepareHost(ctx context.Context) error {
	if !p.external {
		if err := dockerd.InstallDeps(ctx, p.logger); err != nil {
			return err
		}
		if p.daemon.Wrapper == "" && !p.daemon.Running(ctx) {
			w, err := p.buildWrapper(ctx)
			if err != nil {
				return err
			}
			p.daemon.Wrapper = w
		}
		if err := p.daemon.Start(ctx); err != nil {
			return err
		}
	}
	p.env()
	if err := docker(ctx, "network", "inspect", NetworkName); err != nil {
		if err := docker(ctx, "network", "create", "--driver", "bridge",
			"--opt", "com.docker.network.bridge.name="+BridgeName,
			"--opt", "com.docker.network.bridge.enable_ip_masquerade=false",
			"--label", "io.faultline.kind=true", NetworkName); err != nil {
			return fmt.Errorf("create the kind network: %w", err)
		}
	}
	return p.changeHost(ctx)
}

// buildWrapper builds faultline-runc from this module's source into the cache (the go command
// must run inside the faultline repository).
func (p *Provider) buildWrapper(ctx context.Context) (string, error) {
	out := filepath.Join(p.cacheDir, "faultline-runc")
	const pkg = "github.com/faultline-dev/faultline/clusters/kind/internal/cmd/faultline-runc"
	if err := os.MkdirAll(p.cacheDir, 0o755); err != nil {
		return "", err
	}
	cmd := exec.CommandContext(ctx, "go", "build", "-o", out+".tmp", pkg)
	cmd.Env = append(os.Environ(), "CGO_ENABLED=0")
	if b, err := cmd.CombinedOutput(); err != nil {
		if _, serr := os.Stat(out); serr == nil {
			p.logger.Info("cannot rebuild the runtime wrapper here (not in the faultline repository); using the cached one", "path", out)
			return out, nil
		}
		return "", fmt.Errorf("build the runtime wrapper (%s; run faultline from the faultline repository, or set DOCKER_HOST to a Docker that runs privileged containers): %w\n%s", pkg, err, b)
	}
	return out, os.Rename(out+".tmp", out)
}

// hostState is what the provider changed on the machine, to be undone by RestoreHost.
type hostState struct {
	CreatedLibModules string   `json:"createdLibModules,omitempty"`
	ForwardRules      []string `json:"forwardRules,omitempty"` // iptables rule specs added to FORWARD
}

func (p *Provider) hostPath() string { return filepath.Join(p.stateRoot, "host.json") }

func (p *Provider) readHost() (hostState, error) {
	var h hostState
	b, err := os.ReadFile(p.hostPath())
	if errors.Is(err, os.ErrNotExist) {
		return h, nil
	}
	if err != nil {
		return h, err
	}
	return h, json.Unmarshal(b, &h)
}

func (p *Provider) writeHost(h hostState) error {
	if err := os.MkdirAll(p.stateRoot, 0o755); err != nil {
		return err
	}
	b, _ := json.MarshalIndent(h, "", "  ")
	return os.WriteFile(p.hostPath(), b, 0o644)
}

// ForwardRules are the FORWARD rules that let the nodes talk when the chain's policy is DROP.
var ForwardRules = [][]string{
	{"-i", BridgeName, "-o", BridgeName, "-j", "ACCEPT", "-m", "comment", "--comment", "faultline-kind"},
}

func (p *Provider) changeHost(ctx context.Context) error {
	h, err := p.readHost()
	if err != nil {
		return err
	}
	// kind binds /lib/modules into every node; docker would create a missing source as an
	// empty directory that nobody removes
	if _, err := os.Stat("/lib/modules"); errors.Is(err, os.ErrNotExist) {
		if err := os.MkdirAll("/lib/modules", 0o755); err != nil {
			return fmt.Errorf("/lib/modules stand-in: %w", err)
		}
		h.CreatedLibModules = "/lib/modules"
		p.logger.Info("created an empty /lib/modules for kind's bind mount; removed again with the last cluster")
	}
	if out, err := exec.CommandContext(ctx, "iptables", "-S", "FORWARD").Output(); err == nil &&
		strings.Contains(string(out), "-P FORWARD DROP") {
		for _, r := range ForwardRules {
			spec := strings.Join(r, " ")
			if slices.Contains(h.ForwardRules, spec) {
				continue
			}
			if exec.CommandContext(ctx, "iptables", append([]string{"-C", "FORWARD"}, r...)...).Run() == nil {
				continue // someone else's identical rule
			}
			if b, err := exec.CommandContext(ctx, "iptables", append([]string{"-I", "FORWARD"}, r...)...).CombinedOutput(); err != nil {
				return fmt.Errorf("iptables -I FORWARD %s: %w: %s", spec, err, b)
			}
			h.ForwardRules = append(h.ForwardRules, spec)
			p.logger.Info("FORWARD policy is DROP: added an ACCEPT rule for the kind bridge", "rule", spec)
		}
	}
	return p.writeHost(h)
}

// RestoreHost undoes PrepareHost once no faultline cluster is left: the kind network, the FORWARD
// rules and /lib/modules stand-in it recorded, and faultline's dockerd. Its images stay in the
// daemon's data root (/var/lib/faultline-docker) for the next start; nothing of it runs.
func (p *Provider) RestoreHost(ctx context.Context) error {
	p.env()
	if names, err := p.List(); err == nil && len(names) > 0 {
		return nil
	}
	release, err := p.useDaemon(syscall.LOCK_EX | syscall.LOCK_NB)
	if err != nil {
		p.logger.Info("faultline's dockerd is in use by a node image build; leaving the host as it is")
		return nil
	}
	defer release()
	var errs []error
	if p.external || p.daemon.Running(ctx) {
		if docker(ctx, "network", "inspect", NetworkName) == nil {
			if err := docker(ctx, "network", "rm", NetworkName); err != nil {
				errs = append(errs, fmt.Errorf("remove network %s: %w", NetworkName, err))
			}
		}
	}
	if !p.external {
		if err := p.daemon.Stop(ctx); err != nil {
			errs = append(errs, err)
		}
		// the bridge goes with the network; a daemon killed before removing it leaves it behind
		if exec.CommandContext(ctx, "ip", "link", "show", BridgeName).Run() == nil {
			if b, err := exec.CommandContext(ctx, "ip", "link", "delete", BridgeName).CombinedOutput(); err != nil {
				errs = append(errs, fmt.Errorf("ip link delete %s: %w: %s", BridgeName, err, b))
			}
		}
	}
	h, err := p.readHost()
	if err != nil {
		return errors.Join(append(errs, err)...)
	}
	for _, spec := range h.ForwardRules {
		args := append([]string{"-D", "FORWARD"}, strings.Fields(strings.ReplaceAll(spec, `"`, ""))...)
		if b, err := exec.CommandContext(ctx, "iptables", args...).CombinedOutput(); err != nil && !strings.Contains(string(b), "does a matching rule exist") {
			errs = append(errs, fmt.Errorf("iptables %s: %w: %s", strings.Join(args, " "), err, b))
		}
	}
	h.ForwardRules = nil
	if h.CreatedLibModules != "" {
		if ents, err := os.ReadDir(h.CreatedLibModules); err == nil && len(ents) == 0 {
			if err := os.Remove(h.CreatedLibModules); err != nil {
				errs = append(errs, err)
			}
		}
		h.CreatedLibModules = ""
	}
	if len(errs) == 0 {
		_ = os.Remove(p.hostPath())
	} else {
		_ = p.writeHost(h)
	}
	return errors.Join(errs...)
}

// useDaemon takes a flock on faultline-daemon.lock in the daemon's data root (how: LOCK_SH or
// LOCK_EX|LOCK_NB), shared by every faultline that uses the daemon.
func (p *Provider) useDaemon(how int) (func(), error) {
	if err := os.MkdirAll(p.daemon.DataRoot, 0o711); err != nil {
		return nil, err
	}
	f, err := os.OpenFile(filepath.Join(p.daemon.DataRoot, "faultline-daemon.lock"), os.O_CREATE|os.O_RDWR, 0o644)
	if err != nil {
		return nil, err
	}
	if err := syscall.Flock(int(f.Fd()), how); err != nil {
		f.Close()
		return nil, err
	}
	return func() { _ = syscall.Flock(int(f.Fd()), syscall.LOCK_UN); f.Close() }, nil
}

// NodeImage chooses the node image: WithImage's, else kind's official image if the host has
// cgroup v2 and it can be pulled, else the offline image named by
// ~/.cache/faultline/kind/node-image.ref (loaded from its tarball if the daemon lacks it).
func (p *Provider) NodeImage(ctx context.Context) (string, error) {
	if p.image != "" {
		return p.image, nil
	}
	if _, err := os.Stat("/sys/fs/cgroup/cgroup.controllers"); err == nil {
		pctx, cancel := context.WithTimeout(ctx, 2*time.Minute)
		err := docker(pctx, "pull", defaults.Image)
		cancel()
		if err == nil {
			return defaults.Image, nil
		}
		p.logger.Info("kind's official node image cannot be pulled; using the offline image", "image", defaults.Image)
	} else {
		p.logger.Info("cgroup v1 host: kind's official node images need cgroup v2; using the offline image")
	}
	ref, err := os.ReadFile(filepath.Join(p.cacheDir, "node-image.ref"))
	if err != nil {
		return "", fmt.Errorf("no offline node image: build it with `make kind-image` (or `faultline cluster build --provider kind`): %w", err)
	}
	f := strings.Fields(string(ref))
	if len(f) != 2 {
		return "", fmt.Errorf("%s: expected \"TAG TARBALL\"", filepath.Join(p.cacheDir, "node-image.ref"))
	}
	if docker(ctx, "image", "inspect", f[0]) != nil {
		p.logger.Info("loading the offline node image", "tarball", f[1])
		if err := docker(ctx, "load", "-q", "-i", f[1]); err != nil {
			return "", fmt.Errorf("load %s: %w (rebuild with make kind-image)", f[1], err)
		}
	}
	return f[0], nil
}

// Create creates the kind cluster faultline-NAME and waits until its nodes are Ready.
func (p *Provider) Create(ctx context.Context, name string, opts ...clusters.CreateOption) error {
	o, err := clusters.BuildCreateOptions(opts...)
	if err != nil {
		return err
	}
	pools, source := p.pools, p.source
	if pools == nil {
		pools, source = []sim.NodePool{{Name: "node", Count: o.Nodes}}, "--nodes"
	}
	cfg, err := Config(ClusterPrefix+name, pools, source)
	if err != nil {
		return err
	}
	if cfg.KubeadmConfigPatches, cfg.KubeadmConfigPatchesJSON6902, err = ExtraArgsPatches(o.ExtraArgs); err != nil {
		return err
	}
	if err := p.PrepareHost(ctx); err != nil {
		return err
	}
	if names, err := p.List(); err != nil {
		return err
	} else if slices.Contains(names, name) {
		return fmt.Errorf("kind cluster %s: %w", ClusterPrefix+name, clusters.ErrExists)
	}
	image, err := p.NodeImage(ctx)
	if err != nil {
		return err
	}
	for i := range cfg.Nodes {
		cfg.Nodes[i].Image = image
	}
	if err := os.MkdirAll(filepath.Dir(p.KubeConfigPath(name)), 0o755); err != nil {
		return err
	}
	if o.Throwaway {
		// before kind makes anything: a kill from here on leaves a cluster GC can find (owner.go)
		if err := p.recordOwner(name); err != nil {
			return err
		}
	}
	p.logger.Info("creating kind cluster", "name", ClusterPrefix+name, "workers", Workers(cfg), "image", image)
	start := time.Now()
	err = p.kind.Create(ClusterPrefix+name,
		kindcluster.CreateWithV1Alpha4Config(cfg),
		kindcluster.CreateWithKubeconfigPath(p.KubeConfigPath(name)),
		kindcluster.CreateWithWaitForReady(o.Wait),
		kindcluster.CreateWithDisplayUsage(false),
		kindcluster.CreateWithDisplaySalutation(false))
	if err != nil {
		return fmt.Errorf("kind create cluster %s: %w", ClusterPrefix+name, err)
	}
	p.logger.Info("kind cluster is up", "name", ClusterPrefix+name, "took", time.Since(start).Round(time.Second).String())
	return nil
}

// Delete deletes the cluster's node containers and kubeconfig, and when it was the last faultline
// cluster, restores the host (RestoreHost).
func (p *Provider) Delete(ctx context.Context, name string) error {
	if !p.external && !p.daemon.Running(ctx) {
		// no daemon: no cluster; still undo what an interrupted run may have left
		if err := p.RestoreHost(ctx); err != nil {
			return err
		}
		return fmt.Errorf("kind cluster %s: %w", ClusterPrefix+name, clusters.ErrNotFound)
	}
	p.env()
	names, err := p.List()
	if err != nil {
		return err
	}
	if !slices.Contains(names, name) {
		return errors.Join(fmt.Errorf("kind cluster %s: %w", ClusterPrefix+name, clusters.ErrNotFound), p.RestoreHost(ctx))
	}
	start := time.Now()
	if err := p.removeRegistries(ctx, name); err != nil { // registry.go: a run's registry goes with its cluster
		p.logger.Warn("registry container left behind", "cluster", ClusterPrefix+name, "err", err)
	}
	if err := p.kind.Delete(ClusterPrefix+name, p.KubeConfigPath(name)); err != nil {
		// a node Docker could not remove: thaw what runc left frozen (thaw.go), then once more
		n, terr := p.thawNodes(ctx, name)
		if n == 0 || p.kind.Delete(ClusterPrefix+name, p.KubeConfigPath(name)) != nil {
			return fmt.Errorf("kind delete cluster %s: %w", ClusterPrefix+name, errors.Join(err, terr))
		}
		p.logger.Warn("deleted the cluster after thawing cgroups runc had left frozen", "cluster", ClusterPrefix+name, "thawed", n)
	}
	_ = os.RemoveAll(filepath.Join(p.stateRoot, name))
	p.logger.Info("deleted kind cluster", "name", ClusterPrefix+name, "took", time.Since(start).Round(time.Second).String())
	return p.RestoreHost(ctx)
}

// KubeConfig returns the cluster's admin kubeconfig.
func (p *Provider) KubeConfig(name string) (string, error) {
	b, err := os.ReadFile(p.KubeConfigPath(name))
	if errors.Is(err, os.ErrNotExist) {
		return "", fmt.Errorf("kind cluster %s: %w", ClusterPrefix+name, clusters.ErrNotFound)
	}
	return string(b), err
}

// List returns the names (without ClusterPrefix) of the faultline kind clusters, sorted.
func (p *Provider) List() ([]string, error) {
	if !p.external && !p.daemon.Running(context.Background()) {
		return nil, nil
	}
	p.env()
	all, err := p.kind.List()
	if err != nil {
		return nil, err
	}
	var out []string
	for _, n := range all {
		if s, ok := strings.CutPrefix(n, ClusterPrefix); ok {
			out = append(out, s)
		}
	}
	slices.Sort(out)
	return out, nil
}

// LoadImage copies image from the provider's Docker into every node's containerd (what `kind load
// docker-image` does).
func (p *Provider) LoadImage(ctx context.Context, name, image string) error {
	p.env()
	nodes, err := p.kind.ListInternalNodes(ClusterPrefix + name)
	if err != nil {
		return err
	}
	if len(nodes) == 0 {
		return fmt.Errorf("kind cluster %s: %w", ClusterPrefix+name, clusters.ErrNotFound)
	}
	var archive bytes.Buffer
	cmd := exec.CommandContext(ctx, "docker", "save", image)
	cmd.Stdout = &archive
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	if err := cmd.Run(); err != nil {
		return fmt.Errorf("docker save %s: %w: %s", image, err, strings.TrimSpace(stderr.String()))
	}
	for _, n := range nodes {
		if err := nodeutils.LoadImageArchive(n, bytes.NewReader(archive.Bytes())); err != nil {
			return fmt.Errorf("load %s into %s: %w", image, n.String(), err)
		}
	}
	return nil
}

// Status reports the cluster's node containers and the daemon.
func (p *Provider) Status(ctx context.Context, name string) (*clusters.Status, error) {
	p.env()
	st := &clusters.Status{Name: name, Provider: ProviderName, State: "running", StateDir: filepath.Join(p.stateRoot, name), KubeConfigPath: p.KubeConfigPath(name),
		Orphaned: p.orphaned(name)}
	if !p.external {
		ok := p.daemon.Running(ctx)
		st.Processes = append(st.Processes, clusters.ProcessStatus{Name: "dockerd", PID: p.daemon.PID(), Running: ok, Healthy: ok, Detail: p.daemon.Host()})
		if !ok {
			st.State = "failed"
			return st, nil
		}
	}
	nodes, err := p.kind.ListNodes(ClusterPrefix + name)
	if err != nil {
		return nil, err
	}
	if len(nodes) == 0 {
		return nil, fmt.Errorf("kind cluster %s: %w", ClusterPrefix+name, clusters.ErrNotFound)
	}
	for _, n := range nodes {
		var out bytes.Buffer
		c := exec.CommandContext(ctx, "docker", "inspect", "-f", "{{.State.Status}} {{.State.Pid}} {{.Created}}", n.String())
		c.Stdout = &out
		ps := clusters.ProcessStatus{Name: n.String()}
		if c.Run() == nil {
			f := strings.Fields(out.String())
			if len(f) >= 3 {
				ps.Running = f[0] == "running"
				fmt.Sscan(f[1], &ps.PID)
				ps.Detail = "container " + f[0]
				if t, err := time.Parse(time.RFC3339Nano, f[2]); err == nil && (st.Created.IsZero() || t.Before(st.Created)) {
					st.Created = t
				}
			}
		}
		// a node is healthy when its kubelet answers
		ps.Healthy = ps.Running && n.CommandContext(ctx, "systemctl", "is-active", "--quiet", "kubelet").Run() == nil
		st.Processes = append(st.Processes, ps)
	}
	if server, err := p.kind.KubeConfig(ClusterPrefix+name, false); err == nil {
		for _, line := range strings.Split(server, "\n") {
			if s, ok := strings.CutPrefix(strings.TrimSpace(line), "server: "); ok {
				st.Server = s
				break
			}
		}
	}
	return st, nil
}

func docker(ctx context.Context, args ...string) error {
	cmd := exec.CommandContext(ctx, "docker", args...)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	cmd.Stdout = io.Discard
	if err := cmd.Run(); err != nil {
		return fmt.Errorf("docker %s: %w: %s", args[0], err, strings.TrimSpace(stderr.String()))
	}
	return nil
}

// kindLogger passes kind's status lines to slog (kind's own verbose lines are dropped).
type kindLogger struct{ l *slog.Logger }

func (k kindLogger) Warn(message string)               { k.l.Warn(message) }
func (k kindLogger) Warnf(format string, args ...any)  { k.l.Warn(fmt.Sprintf(format, args...)) }
func (k kindLogger) Error(message string)              { k.l.Error(message) }
func (k kindLogger) Errorf(format string, args ...any) { k.l.Error(fmt.Sprintf(format, args...)) }
func (k kindLogger) V(level kindlog.Level) kindlog.InfoLogger {
	if level > 0 {
		return quiet{}
	}
	return kindInfo(k)
}

type kindInfo struct{ l *slog.Logger }

func (k kindInfo) Info(message string) { k.l.Info(strings.TrimSpace(message)) }
func (k kindInfo) Infof(format string, args ...any) {
	k.l.Info(strings.TrimSpace(fmt.Sprintf(format, args...)))
}
func (k kindInfo) Enabled() bool { return true }

type quiet struct{}

func (quiet) Info(string)          {}
func (quiet) Infof(string, ...any) {}
func (quiet) Enabled() bool        { return false }

var _ clusters.Provider = (*Provider)(nil)
var _ clusters.Inspector = (*Provider)(nil)

// BuildNodeImage runs the offline node image recipe (images/kind-node/build.sh under repo, the
// faultline repository) against the provider's Docker, and returns the image's tag. The recipe's
// output goes to w. faultline's dockerd is stopped again afterwards unless a cluster uses it.
func (p *Provider) BuildNodeImage(ctx context.Context, repo string, w io.Writer) (tag string, err error) {
	script := filepath.Join(repo, "images", "kind-node", "build.sh")
	if _, err := os.Stat(script); err != nil {
		return "", fmt.Errorf("the node image recipe %s: %w (run from the faultline repository)", script, err)
	}
	// a shared lock while the build uses the daemon: a RestoreHost elsewhere (the last cluster
	// deleted meanwhile) leaves the daemon running
	release, err := p.useDaemon(syscall.LOCK_SH)
	if err != nil {
		return "", err
	}
	if err := p.PrepareHost(ctx); err != nil {
		release()
		return "", err
	}
	defer func() {
		release()
		err = errors.Join(err, p.RestoreHost(context.WithoutCancel(ctx)))
	}()
	var out bytes.Buffer
	cmd := exec.CommandContext(ctx, "bash", script)
	cmd.Dir = repo
	cmd.Stdout = &out
	cmd.Stderr = w
	if err := cmd.Run(); err != nil {
		return "", fmt.Errorf("%s: %w", script, err)
	}
	lines := strings.Fields(out.String())
	if len(lines) == 0 {
		return "", fmt.Errorf("%s printed no image tag", script)
	}
	return lines[len(lines)-1], nil
}
