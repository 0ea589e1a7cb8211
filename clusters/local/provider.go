package local

import (
	"context"
	_ "embed"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"time"

	"github.com/faultline-dev/faultline/clusters"
	"github.com/faultline-dev/faultline/clusters/internal/proc"
	"github.com/faultline-dev/faultline/clusters/local/internal/build"
	"github.com/faultline-dev/faultline/clusters/local/internal/pki"
)

// ProviderName is the name of this provider on the command line (--provider local).
const ProviderName = "local"

// Process names, in start order.
const (
	Etcd              = "etcd"
	APIServer         = "kube-apiserver"
	ControllerManager = "kube-controller-manager"
	Scheduler         = "kube-scheduler"
	KWOK              = "kwok"
)

// Network layout. The service range only names ClusterIPs (nothing routes them: there is no
// kube-proxy); pod IPs come from KWOK's range.
const (
	serviceCIDR = "10.96.0.0/16"
	serviceIP   = "10.96.0.1"
	podCIDR     = "10.0.0.1/16"
)

// stopGrace is how long a process has to exit after SIGTERM before SIGKILL.
const stopGrace = 10 * time.Second

//go:embed kwok-stages.yaml
var kwokStages []byte

// Provider is the local cluster provider. It implements clusters.Provider and
// clusters.Inspector.
type Provider struct {
	stateRoot string
	cache     *build.Cache
	logger    *slog.Logger
}

var (
	_ clusters.Provider  = (*Provider)(nil)
	_ clusters.Inspector = (*Provider)(nil)
)

// Option configures New.
type Option func(*Provider)

// WithStateDir keeps clusters under dir instead of DefaultStateDir().
func WithStateDir(dir string) Option { return func(p *Provider) { p.stateRoot = dir } }

// WithCacheDir keeps built binaries under dir instead of os.UserCacheDir()/faultline.
func WithCacheDir(dir string) Option { return func(p *Provider) { p.cache.Dir = dir } }

// WithLogger receives progress: what is built or taken from the cache, what is started.
func WithLogger(l *slog.Logger) Option { return func(p *Provider) { p.logger = l } }

// New returns the local provider.
func New(opts ...Option) (*Provider, error) {
	p := &Provider{cache: &build.Cache{}, logger: slog.New(slog.DiscardHandler)}
	for _, o := range opts {
		o(p)
	}
	var err error
	if p.stateRoot == "" {
		if p.stateRoot, err = DefaultStateDir(); err != nil {
			return nil, err
		}
	}
	if p.cache.Dir == "" {
		if p.cache.Dir, err = build.DefaultDir(); err != nil {
			return nil, err
		}
	}
	if p.stateRoot, err = filepath.Abs(p.stateRoot); err != nil {
		return nil, err
	}
	if p.cache.Dir, err = filepath.Abs(p.cache.Dir); err != nil {
		return nil, err
	}
	p.cache.Logger = p.logger
	return p, nil
}

// Logger is where the provider logs progress.
func (p *Provider) Logger() *slog.Logger { return p.logger }

// StateDir is where the provider keeps its clusters.
func (p *Provider) StateDir() string { return p.stateRoot }

// CacheDir is where built binaries are kept.
func (p *Provider) CacheDir() string { return filepath.Join(p.cache.Dir, "bin") }

// Versions names what the provider runs, e.g. kubernetes: v1.34.4.
func Versions() map[string]string {
	v := map[string]string{}
	for _, r := range build.Servers {
		v[r.Name] = r.Version()
	}
	return v
}

// EnsureBinaries builds every binary of the provider that is not cached: the servers (the
// control plane, etcd and kwok, concurrently), then kubectl and the Prometheus server real runs
// scrape with. Create builds only the servers; this is what `faultline cluster up` and
// `faultline cluster build` call.
func (p *Provider) EnsureBinaries(ctx context.Context) error {
	if err := p.cache.EnsureAll(ctx, build.Servers...); err != nil {
		return err
	}
	if _, err := p.cache.Ensure(ctx, build.Kubectl); err != nil {
		return err
	}
	_, err := p.EnsurePrometheus(ctx)
	return err
}

// EnsurePrometheus builds the Prometheus server (package clusters/prometheus) unless cached, and
// returns its path.
func (p *Provider) EnsurePrometheus(ctx context.Context) (string, error) {
	if _, err := p.cache.Ensure(ctx, build.Prometheus); err != nil {
		return "", err
	}
	return p.cache.Path(build.Prometheus, "prometheus"), nil
}

// EnsurePromtool builds promtool with the Prometheus server (same recipe) unless cached, and
// returns its path: tests check the metrics files faultline writes with it.
func (p *Provider) EnsurePromtool(ctx context.Context) (string, error) {
	if _, err := p.cache.Ensure(ctx, build.Prometheus); err != nil {
		return "", err
	}
	return p.cache.Path(build.Prometheus, "promtool"), nil
}

// EnsureServers builds what Create needs (the control plane, etcd and kwok) unless cached.
func (p *Provider) EnsureServers(ctx context.Context) error {
	return p.cache.EnsureAll(ctx, build.Servers...)
}

// BinariesCached reports whether every binary is built.
func (p *Provider) BinariesCached() bool {
	for _, r := range build.All {
		if !p.cache.Cached(r) {
			return false
		}
	}
	return true
}

// Kubectl is the path of the cached kubectl (see EnsureBinaries).
func (p *Provider) Kubectl() string { return p.cache.Path(build.Kubectl, "kubectl") }

func (p *Provider) binary(name string) string {
	switch name {
	case Etcd:
		return p.cache.Path(build.Etcd, "etcd")
	case KWOK:
		return p.cache.Path(build.KWOK, "kwok")
	default:
		return p.cache.Path(build.Kubernetes, name)
	}
}

// Create builds the binaries if needed, then starts the cluster and waits until it is ready.
// If it fails after the state directory exists, it stops what it started and leaves the
// directory, with the logs, for Delete.
func (p *Provider) Create(ctx context.Context, name string, opts ...clusters.CreateOption) (err error) {
	o, err := clusters.BuildCreateOptions(opts...)
	if err != nil {
		return err
	}
	if err := checkName(name); err != nil {
		return err
	}
	if _, err := p.load(name); err == nil || !errors.Is(err, clusters.ErrNotFound) {
		if err == nil {
			err = fmt.Errorf("cluster %q: %w (%s)", name, clusters.ErrExists, p.dir(name))
		}
		return err
	}
	if err := p.EnsureServers(ctx); err != nil {
		return err
	}
	unlock, err := p.lockCluster(ctx, name)
	if err != nil {
		return err
	}
	defer unlock()
	dir := p.dir(name)
	if _, err := os.Stat(dir); err == nil {
		return fmt.Errorf("cluster %q: %w (%s)", name, clusters.ErrExists, dir)
	}
	owner := proc.Self()
	st := &state{
		CreatedBy: createdBy, Provider: ProviderName, Name: name, Status: "creating",
		Created: time.Now().UTC(), Versions: Versions(), BinRoot: p.CacheDir(),
		KubeConfig: filepath.Join(dir, "kubeconfig"), Owner: &owner,
	}
	// the directory appears whole, with its owner recorded, or not at all: a creation killed
	// before the rename leaves a scratch directory that names its owner (gc.go)
	scratch := filepath.Join(p.stateRoot, scratchName(scratchCreating, owner, name))
	if err := os.MkdirAll(filepath.Join(scratch, "logs"), 0o755); err != nil {
		return err
	}
	if err := saveIn(scratch, st); err != nil {
		_ = os.RemoveAll(scratch)
		return err
	}
	if err := os.Rename(scratch, dir); err != nil {
		_ = os.RemoveAll(scratch)
		return err
	}
	defer func() {
		if err == nil {
			return
		}
		p.stopAll(context.WithoutCancel(ctx), st)
		st.Status = "failed"
		if !o.Throwaway {
			st.Owner = nil // reported to the caller, kept with its logs until `cluster down`
		}
		_ = p.save(st)
		err = fmt.Errorf("create cluster %q: %w\n(logs in %s; `faultline cluster down --name %s` removes it)", name, err, filepath.Join(dir, "logs"), name)
	}()

	start := time.Now()
	p.logger.Info(fmt.Sprintf("creating cluster %q", name), "provider", ProviderName, "nodes", o.Nodes, "state", dir)
	wctx, cancel := context.WithTimeout(ctx, o.Wait)
	defer cancel()
	if err := p.start(wctx, st, o); err != nil {
		return err
	}
	st.Status = "running"
	if !o.Throwaway {
		st.Owner = nil // `cluster up`: the cluster outlives the command
	}
	if err := p.save(st); err != nil {
		return err
	}
	p.logger.Info(fmt.Sprintf("cluster %q is ready", name), "took", time.Since(start).Round(10*time.Millisecond).String())
	return nil
}

// start writes the PKI and the configuration, starts every process and waits for readiness.
func (p *Provider) start(ctx context.Context, st *state, o clusters.CreateOptions) error {
	dir := p.dir(st.Name)
	extra := o.ExtraArgs
	files, err := pki.Write(filepath.Join(dir, "pki"), net.ParseIP(serviceIP), pki.Admin, pki.ControllerManager, pki.Scheduler, pki.KWOK, pki.EtcdClient)
	if err != nil {
		return fmt.Errorf("pki: %w", err)
	}
	ports, err := freePorts(5)
	if err != nil {
		return err
	}
	st.Ports = map[string]int{"etcd-client": ports[0], "etcd-peer": ports[1], APIServer: ports[2], ControllerManager: ports[3], Scheduler: ports[4]}
	st.Server = "https://127.0.0.1:" + strconv.Itoa(ports[2])
	kubeconfigs := map[string]string{}
	for _, id := range []pki.Identity{pki.Admin, pki.ControllerManager, pki.Scheduler, pki.KWOK} {
		path := filepath.Join(dir, "pki", id.File+".kubeconfig")
		if id.File == pki.Admin.File {
			path = st.KubeConfig
		}
		if err := writeKubeconfig(path, "faultline-"+st.Name, st.Server, files, id); err != nil {
			return err
		}
		kubeconfigs[id.File] = path
	}
	stages := filepath.Join(dir, "kwok.yaml")
	if err := os.WriteFile(stages, kwokStages, 0o644); err != nil {
		return err
	}
	if err := p.save(st); err != nil {
		return err
	}

	// etcd holds the whole cluster state, RBAC's included: TLS on both ports and a client
	// certificate from the cluster's CA required, as for the API server
	etcdClient := "https://127.0.0.1:" + strconv.Itoa(st.Ports["etcd-client"])
	etcdPeer := "https://127.0.0.1:" + strconv.Itoa(st.Ports["etcd-peer"])
	if err := p.runWith(st, Etcd, extra[Etcd],
		"--name=faultline",
		"--data-dir="+filepath.Join(dir, "etcd"),
		"--listen-client-urls="+etcdClient, "--advertise-client-urls="+etcdClient,
		"--listen-peer-urls="+etcdPeer, "--initial-advertise-peer-urls="+etcdPeer,
		"--initial-cluster=faultline="+etcdPeer, "--initial-cluster-state=new",
		"--cert-file="+files.EtcdCert, "--key-file="+files.EtcdKey,
		"--client-cert-auth", "--trusted-ca-file="+files.CACert,
		"--peer-cert-file="+files.EtcdCert, "--peer-key-file="+files.EtcdKey,
		"--peer-client-cert-auth", "--peer-trusted-ca-file="+files.CACert,
		// a throwaway cluster: durability on power loss is not worth fsync's latency
		"--unsafe-no-fsync",
		"--log-level=warn",
	); err != nil {
		return err
	}
	if err := p.waitHealthy(ctx, st, Etcd); err != nil {
		return err
	}

	if err := p.runWith(st, APIServer, extra[APIServer],
		"--etcd-servers="+etcdClient,
		"--etcd-cafile="+files.CACert,
		"--etcd-certfile="+files.ClientCert(pki.EtcdClient), "--etcd-keyfile="+files.ClientKey(pki.EtcdClient),
		"--bind-address=127.0.0.1", "--advertise-address=127.0.0.1",
		"--secure-port="+strconv.Itoa(st.Ports[APIServer]),
		"--tls-cert-file="+files.APIServerCert, "--tls-private-key-file="+files.APIServerKey,
		"--client-ca-file="+files.CACert,
		"--service-account-key-file="+files.SAPublic,
		"--service-account-signing-key-file="+files.SAPrivate,
		"--service-account-issuer=https://kubernetes.default.svc.cluster.local",
		"--service-cluster-ip-range="+serviceCIDR,
		"--authorization-mode=RBAC",
		// there is no kubelet or kube-proxy behind 127.0.0.1 for the kubernetes Service to reach
		"--endpoint-reconciler-type=none",
		"--allow-privileged=true",
		"--cert-dir="+filepath.Join(dir, "pki"),
	); err != nil {
		return err
	}
	if err := p.waitHealthy(ctx, st, APIServer); err != nil {
		return err
	}

	component := func(kubeconfig string, port int) []string {
		return []string{
			"--kubeconfig=" + kubeconfig,
			"--authentication-kubeconfig=" + kubeconfig,
			"--authorization-kubeconfig=" + kubeconfig,
			"--bind-address=127.0.0.1", "--secure-port=" + strconv.Itoa(port),
			"--tls-cert-file=" + files.ServingCert, "--tls-private-key-file=" + files.ServingKey,
			"--leader-elect=false",
		}
	}
	if err := p.runWith(st, ControllerManager, extra[ControllerManager], append(component(kubeconfigs[pki.ControllerManager.File], st.Ports[ControllerManager]),
		"--use-service-account-credentials=true",
		"--service-account-private-key-file="+files.SAPrivate,
		"--root-ca-file="+files.CACert,
		"--cluster-signing-cert-file="+files.CACert, "--cluster-signing-key-file="+files.CAKey,
		"--cluster-name="+st.Name,
	)...); err != nil {
		return err
	}
	if err := p.runWith(st, Scheduler, extra[Scheduler], component(kubeconfigs[pki.Scheduler.File], st.Ports[Scheduler])...); err != nil {
		return err
	}
	if err := p.runWith(st, KWOK, extra[KWOK],
		"--kubeconfig="+kubeconfigs[pki.KWOK.File],
		"--config="+stages,
		"--manage-all-nodes=false",
		"--manage-nodes-with-annotation-selector="+clusters.FakeNodeAnnotation+"=fake",
		"--node-lease-duration-seconds=40",
		"--cidr="+podCIDR,
	); err != nil {
		return err
	}
	for _, n := range []string{ControllerManager, Scheduler, KWOK} {
		if err := p.waitHealthy(ctx, st, n); err != nil {
			return err
		}
	}
	return p.waitReady(ctx, st, o)
}

// run starts one process and records it at once, so that a crash a moment later still leaves
// its PID for Delete.
func (p *Provider) run(st *state, name string, args ...string) error {
	return p.runWith(st, name, nil, args...)
}

// runWith is run with extra flags appended (CreateOptions.ExtraArgs).
func (p *Provider) runWith(st *state, name string, extra []string, args ...string) error {
	args = append(args, extra...)
	bin := p.binary(name)
	r, err := proc.Start(name, bin, args, filepath.Join(p.dir(st.Name), "logs", name+".log"))
	if err != nil {
		return err
	}
	st.Processes = append(st.Processes, r)
	p.logger.Debug("started "+name, "pid", r.PID)
	return p.save(st)
}

// StopProcess stops one process of a running cluster (SIGTERM, SIGKILL after a grace period),
// keeping its record so that StartProcess can start it again with the same command line. The
// real-world runner uses it to take kube-controller-manager down for a fault's window.
func (p *Provider) StopProcess(ctx context.Context, name, process string) error {
	_, r, unlock, err := p.lockedProcess(ctx, name, process)
	if err != nil {
		return err
	}
	defer unlock()
	if err := proc.Stop(ctx, *r, stopGrace); err != nil {
		return fmt.Errorf("cluster %q: %w", name, err)
	}
	p.logger.Info("stopped "+process, "cluster", name, "pid", r.PID)
	return nil
}

// StartProcess starts a process that StopProcess stopped, with its recorded command line, and
// waits until it answers its health check. It does nothing if the process is running.
func (p *Provider) StartProcess(ctx context.Context, name, process string) error {
	st, r, unlock, err := p.lockedProcess(ctx, name, process)
	if err != nil {
		return err
	}
	defer unlock()
	if running, err := r.Running(); err != nil || running {
		return err
	}
	nr, err := proc.Start(r.Name, r.Binary, r.Args, r.Log)
	if err != nil {
		return err
	}
	*r = nr
	if err := p.save(st); err != nil {
		return err
	}
	p.logger.Info("started "+process+" again", "cluster", name, "pid", nr.PID)
	return p.waitHealthy(ctx, st, process)
}

// lockedProcess locks cluster name and returns its state and the record of one of its processes;
// the caller unlocks.
func (p *Provider) lockedProcess(ctx context.Context, name, process string) (*state, *proc.Record, func(), error) {
	unlock, err := p.lockCluster(ctx, name)
	if err != nil {
		return nil, nil, nil, err
	}
	st, err := p.load(name)
	if err != nil {
		unlock()
		return nil, nil, nil, err
	}
	r := st.process(process)
	if r == nil {
		unlock()
		return nil, nil, nil, fmt.Errorf("cluster %q has no process %q", name, process)
	}
	return st, r, unlock, nil
}

// Delete stops the cluster's processes and removes its directory and its lock file.
func (p *Provider) Delete(ctx context.Context, name string) error {
	if _, err := p.load(name); err != nil {
		return err
	}
	l, err := p.lockClusterFile(ctx, name, true)
	if err != nil {
		return err
	}
	return p.deleteLocked(ctx, name, l)
}

// deleteLocked is Delete under the cluster's lock, which it releases (removing the lock file
// once the directory is gone). The directory is renamed to a scratch name before it is removed,
// so that a removal cut short never leaves half a cluster under its name without its
// cluster.json.
func (p *Provider) deleteLocked(ctx context.Context, name string, l *clusterLock) error {
	st, err := p.load(name)
	if err != nil {
		l.unlock()
		return err
	}
	if err := p.stopAll(ctx, st); err != nil {
		l.unlock()
		return fmt.Errorf("delete cluster %q: %w", name, err)
	}
	trash := filepath.Join(p.stateRoot, scratchName(scratchDeleting, proc.Self(), name))
	if err := os.Rename(p.dir(name), trash); err != nil {
		l.unlock()
		return fmt.Errorf("delete cluster %q: %w", name, err)
	}
	l.remove()
	if err := os.RemoveAll(trash); err != nil {
		return fmt.Errorf("delete cluster %q: %w", name, err)
	}
	p.logger.Info(fmt.Sprintf("deleted cluster %q", name))
	return nil
}

// Keep makes a throwaway cluster outlive its owner (a run with --keep): it is no longer a
// leftover when the run ends.
func (p *Provider) Keep(ctx context.Context, name string) error {
	unlock, err := p.lockCluster(ctx, name)
	if err != nil {
		return err
	}
	defer unlock()
	st, err := p.load(name)
	if err != nil {
		return err
	}
	st.Owner = nil
	return p.save(st)
}

// stopAll stops the cluster's processes, the recorded ones and any that a crashed run never
// recorded, clients before servers (kwok, the scheduler and controller-manager, the API server,
// etcd), and checks that none is left.
func (p *Provider) stopAll(ctx context.Context, st *state) error {
	var errs []error
	all := append([]proc.Record(nil), st.Processes...)
	binRoot := st.BinRoot
	if binRoot == "" {
		binRoot = p.CacheDir()
	}
	strays, err := proc.Find(p.dir(st.Name)+string(filepath.Separator), binRoot)
	if err != nil && !errors.Is(err, proc.ErrNoProc) {
		errs = append(errs, err)
	}
	for _, r := range strays {
		known := false
		for _, k := range st.Processes {
			known = known || (k.PID == r.PID && k.Binary == r.Binary)
		}
		if !known {
			p.logger.Info("found an unrecorded process of the cluster", "name", r.Name, "pid", r.PID)
			all = append(all, r)
		}
	}
	sort.SliceStable(all, func(i, j int) bool { return stopRank(all[i].Name) < stopRank(all[j].Name) })
	for _, r := range all {
		if err := proc.Stop(ctx, r, stopGrace); err != nil {
			errs = append(errs, err)
		}
	}
	for _, r := range all {
		if running, _ := r.Running(); running {
			errs = append(errs, fmt.Errorf("%s (pid %d) is still running", r.Name, r.PID))
		}
	}
	return errors.Join(errs...)
}

// stopRank orders shutdown: clients of the API server first, etcd last.
func stopRank(name string) int {
	switch name {
	case KWOK:
		return 0
	case Scheduler, ControllerManager:
		return 1
	case APIServer:
		return 2
	case Etcd:
		return 3
	}
	return 0
}

// KubeConfig returns the admin kubeconfig's contents.
func (p *Provider) KubeConfig(name string) (string, error) {
	path, err := p.KubeConfigPath(name)
	if err != nil {
		return "", err
	}
	b, err := os.ReadFile(path)
	return string(b), err
}

// KubeConfigPath is the admin kubeconfig's path.
func (p *Provider) KubeConfigPath(name string) (string, error) {
	st, err := p.load(name)
	if err != nil {
		return "", err
	}
	return st.KubeConfig, nil
}

// LoadImage does nothing: KWOK nodes run no containers, so pods reach Running whatever their
// image, and there is nothing to load. It only checks that the cluster exists.
func (p *Provider) LoadImage(_ context.Context, name, image string) error {
	if _, err := p.load(name); err != nil {
		return err
	}
	p.logger.Info("nothing to load: KWOK nodes run no containers, pods start without pulling", "image", image)
	return nil
}

// List returns the clusters faultline created under the state directory.
func (p *Provider) List() ([]string, error) {
	ents, err := os.ReadDir(p.stateRoot)
	if errors.Is(err, os.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	var names []string
	for _, e := range ents {
		if !e.IsDir() {
			continue
		}
		if _, err := p.load(e.Name()); err == nil {
			names = append(names, e.Name())
		}
	}
	sort.Strings(names)
	return names, nil
}

// Status reports each process: alive under its recorded PID and binary, and healthy.
func (p *Provider) Status(ctx context.Context, name string) (*clusters.Status, error) {
	st, err := p.load(name)
	if err != nil {
		return nil, err
	}
	s := &clusters.Status{
		Name: name, Provider: ProviderName, State: st.Status, Created: st.Created,
		StateDir: p.dir(name), KubeConfigPath: st.KubeConfig, Server: st.Server,
	}
	if st.Owner != nil && !st.Owner.Alive() {
		s.Orphaned = fmt.Sprintf("a leftover: the faultline process that owns it (pid %d) is gone; `faultline cluster gc` removes it", st.Owner.PID)
	}
	for _, r := range st.Processes {
		ps := clusters.ProcessStatus{Name: r.Name, PID: r.PID}
		ps.Running, err = r.Running()
		switch {
		case err != nil:
			ps.Detail = err.Error()
		case !ps.Running:
			ps.Detail = "not running; log: " + r.Log
		default:
			hctx, cancel := context.WithTimeout(ctx, 3*time.Second)
			herr := p.healthy(hctx, st, r.Name)
			cancel()
			ps.Healthy = herr == nil
			if herr != nil {
				ps.Detail = herr.Error()
			}
		}
		s.Processes = append(s.Processes, ps)
	}
	return s, nil
}

// freePorts asks the kernel for n distinct free ports on 127.0.0.1.
func freePorts(n int) ([]int, error) {
	ls := make([]net.Listener, 0, n)
	defer func() {
		for _, l := range ls {
			l.Close()
		}
	}()
	ports := make([]int, 0, n)
	for range n {
		l, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			return nil, fmt.Errorf("free port: %w", err)
		}
		ls = append(ls, l)
		ports = append(ports, l.Addr().(*net.TCPAddr).Port)
	}
	return ports, nil
}
