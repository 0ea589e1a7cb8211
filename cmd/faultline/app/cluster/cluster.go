// Package cluster is `faultline cluster up|down|status|build`: real clusters to replay scenarios
// against, made by a clusters.Provider.
package cluster

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"strings"
	"sync"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"

	"github.com/faultline-dev/faultline/clusters"
	"github.com/faultline-dev/faultline/clusters/kind"
	"github.com/faultline-dev/faultline/clusters/local"
	"github.com/faultline-dev/faultline/clusters/realrun"
	"github.com/faultline-dev/faultline/cmd/faultline/app/cli"
	"github.com/faultline-dev/faultline/scenarios"
)

// DefaultName is the cluster name when --name is not given.
const DefaultName = "faultline"

// flags shared by the sub-commands.
type flags struct {
	provider string
	name     string
	nodes    int
	nodeCPU  string
	nodeMem  string
	wait     time.Duration
	verbose  bool
	all      bool
	scenario string // kind: the node pools of this scenario
	image    string // kind: node image
}

// NewCommand returns the cluster verb.
func NewCommand(s cli.Streams) *cobra.Command {
	f := &flags{}
	cmd := &cobra.Command{
		Use:   "cluster",
		Short: "Start, stop and inspect a real Kubernetes control plane to replay scenarios against",
		Long: `cluster manages real clusters for the real-world runs of a scenario (the other world
besides the simulator).

The local provider runs a real control plane on this machine, without containers or root:
etcd ` + local.Versions()["etcd"] + `, kube-apiserver, kube-controller-manager and kube-scheduler ` + local.Versions()["kubernetes"] + `,
and KWOK ` + local.Versions()["kwok"] + ` playing the kubelet of every node (nodes are Node objects; pods become
Running without containers). Every process listens on 127.0.0.1 only, on free ports.

The binaries are built from Go modules with your go command the first time (about 10 minutes
on 2 cores, 2 GB of memory, 5 GB of Go caches), then cached by version under the user cache
directory (~/.cache/faultline/bin); every later 'up' starts in seconds. 'build' does only that
step, for a CI cache.

A cluster's state (certificates, kubeconfig, etcd data, logs, and the PID of each process) is
kept in ~/.local/state/faultline/clusters/NAME ($XDG_STATE_HOME). 'down' stops exactly the
recorded processes, and also cleans up after an 'up' that crashed; it never touches a cluster
that faultline did not create.

A run's throwaway cluster belongs to the run's process. If that process dies (SIGKILL, a crash),
the cluster is a leftover: 'status' says so, and the next 'faultline run' on a real cluster, 'up',
'down' or 'gc' removes it, and undoes what dead runs left in existing clusters (objects, nodes,
cordons and faults, recorded in ~/.local/state/faultline/runs before they were made).

The kind provider (--provider kind) runs real nodes (kubelet, containerd, kube-proxy) in Docker
containers named faultline-NAME-*: kind's official node image where it can be pulled, else
faultline's offline image (make kind-image, built from Debian packages and Go modules). Unless
DOCKER_HOST is set it installs docker.io with apt-get and runs a dockerd of its own, stopped
with the last cluster; 'down' leaves no container, network, iptables rule or process.`,
		Example: `  faultline cluster up                      # 3 nodes of 4 CPU / 16Gi, named "faultline"
  export KUBECONFIG=~/.local/state/faultline/clusters/faultline/kubeconfig
  kubectl get nodes
  faultline cluster status
  faultline cluster down

  faultline cluster up --name big --nodes 200 --node-cpu 8 --node-memory 32Gi
  faultline cluster build                   # only build and cache the binaries

  faultline cluster build --provider kind   # the offline kind node image (root)
  faultline cluster up --provider kind --scenario kernel-panic-stacking   # its node pools
  faultline cluster down --provider kind`,
		Args: cobra.NoArgs,
	}
	pf := cmd.PersistentFlags()
	pf.StringVar(&f.provider, "provider", local.ProviderName, "cluster provider: local or kind")
	pf.BoolVarP(&f.verbose, "verbose", "v", false, "also show each process as it starts")
	cmd.AddCommand(upCommand(s, f), downCommand(s, f), statusCommand(s, f), buildCommand(s, f), gcCommand(s, f))
	return cmd
}

func upCommand(s cli.Streams, f *flags) *cobra.Command {
	c := &cobra.Command{
		Use:   "up",
		Short: "Create a cluster (building its binaries on first use) and print its kubeconfig",
		Long: `up creates a cluster and returns when it is ready: the API server answers /readyz, the
default ServiceAccount exists and the --nodes nodes are Ready. The processes keep running after
up returns; stop them with 'faultline cluster down'.

Nodes carry no taint (scenario manifests need no KWOK toleration), and are labelled
type=kwok and kubernetes.io/hostname=node-N.`,
		Example: `  faultline cluster up
  faultline cluster up --name cron --nodes 50`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			p, err := provider(s, f)
			if err != nil {
				return err
			}
			collect(cmd.Context(), p)
			capacity := corev1.ResourceList{}
			for res, q := range map[corev1.ResourceName]string{corev1.ResourceCPU: f.nodeCPU, corev1.ResourceMemory: f.nodeMem} {
				v, err := resource.ParseQuantity(q)
				if err != nil {
					return cli.BadInput(fmt.Errorf("--node-%s %q: %v", strings.TrimPrefix(string(res), "node-"), q, err))
				}
				capacity[res] = v
			}
			if f.scenario != "" && f.provider != kind.ProviderName {
				return cli.BadInput(fmt.Errorf("--scenario: only the kind provider makes nodes from node pools; the local provider takes --nodes"))
			}
			if lp, ok := p.(*local.Provider); ok {
				// kubectl too, so that the hint below works
				if err := lp.EnsureBinaries(cmd.Context()); err != nil {
					return err
				}
			}
			err = p.Create(cmd.Context(), f.name, clusters.WithNodes(f.nodes), clusters.WithNodeCapacity(capacity), clusters.WithWaitForReady(f.wait))
			if errors.Is(err, clusters.ErrExists) {
				return cli.BadInput(fmt.Errorf("%w; use it, or remove it with: faultline cluster down --name %s", err, f.name))
			}
			if err != nil {
				return err
			}
			out := s.Out
			if kp, ok := p.(*kind.Provider); ok {
				fmt.Fprintf(out, "Cluster %q is up (kind cluster %s%s).\n", f.name, kind.ClusterPrefix, f.name)
				fmt.Fprintf(out, "Use it with:\n  export KUBECONFIG=%s\n", kp.KubeConfigPath(f.name))
				fmt.Fprintf(out, "Stop it with:\n  faultline cluster down --provider kind --name %s\n", f.name)
				return nil
			}
			fmt.Fprintf(out, "Cluster %q is up (%d nodes).\n", f.name, f.nodes)
			if in, ok := p.(clusters.Inspector); ok {
				if st, err := in.Status(cmd.Context(), f.name); err == nil {
					fmt.Fprintf(out, "  API server:  %s\n  kubeconfig:  %s\n\n", st.Server, st.KubeConfigPath)
					fmt.Fprintf(out, "Use it with:\n  export KUBECONFIG=%s\n", st.KubeConfigPath)
				}
			}
			if lp, ok := p.(*local.Provider); ok {
				fmt.Fprintf(out, "  %s get nodes   # kubectl %s, built with the cluster\n", lp.Kubectl(), local.Versions()["kubernetes"])
			}
			fmt.Fprintf(out, "Stop it with:\n  faultline cluster down --name %s\n", f.name)
			return nil
		},
	}
	nameFlag(c, f)
	c.Flags().IntVar(&f.nodes, "nodes", 3, "number of nodes (KWOK; kind: workers, besides the control-plane node)")
	c.Flags().StringVar(&f.scenario, "scenario", "", "kind: one worker per node of this scenario's node pools (name or file), labelled with the pool")
	c.Flags().StringVar(&f.image, "image", "", "kind: node image (default: kind's official one if it can be pulled, else the offline one)")
	c.Flags().StringVar(&f.nodeCPU, "node-cpu", "4", "CPU capacity of each node")
	c.Flags().StringVar(&f.nodeMem, "node-memory", "16Gi", "memory capacity of each node")
	c.Flags().DurationVar(&f.wait, "wait", 2*time.Minute, "how long to wait for readiness, not counting the one-time build")
	return c
}

func downCommand(s cli.Streams, f *flags) *cobra.Command {
	c := &cobra.Command{
		Use:   "down",
		Short: "Stop a cluster's processes and remove its state",
		Long: `down stops every process the cluster recorded (SIGTERM to its process group, SIGKILL after
10 s), after checking that each PID still runs the binary that was recorded, then looks for
processes of the cluster that a crashed 'up' never recorded, and removes the state directory.
Nothing of the cluster is left running. Only clusters that faultline created are touched.`,
		Example: `  faultline cluster down
  faultline cluster down --name cron
  faultline cluster down --all`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			p, err := provider(s, f)
			if err != nil {
				return err
			}
			collect(cmd.Context(), p)
			names := []string{f.name}
			if f.all {
				if names, err = p.List(); err != nil {
					return err
				}
			}
			var errs []error
			for _, n := range names {
				err := p.Delete(cmd.Context(), n)
				switch {
				case errors.Is(err, clusters.ErrNotFound):
					fmt.Fprintf(s.Out, "No cluster %q; nothing to stop.\n", n)
				case err != nil:
					errs = append(errs, err)
				default:
					fmt.Fprintf(s.Out, "Cluster %q is down; none of its processes is running.\n", n)
				}
			}
			return errors.Join(errs...)
		},
	}
	nameFlag(c, f)
	c.Flags().BoolVar(&f.all, "all", false, "every cluster faultline created with this provider")
	return c
}

func statusCommand(s cli.Streams, f *flags) *cobra.Command {
	c := &cobra.Command{
		Use:   "status",
		Short: "List the clusters and the health of each of their processes",
		Long: `status lists every cluster faultline created with the provider (or only --name), and for
each process its PID, whether that PID still runs the recorded binary, and its health endpoint
(etcd /health, kube-apiserver /readyz, the scheduler's and controller-manager's /healthz).
The exit status is 1 if a process is down or unhealthy.`,
		Example: `  faultline cluster status
  faultline cluster status --name cron`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			p, err := provider(s, f)
			if err != nil {
				return err
			}
			names := []string{f.name}
			if !cmd.Flags().Changed("name") {
				if names, err = p.List(); err != nil {
					return err
				}
			}
			if len(names) == 0 {
				fmt.Fprintln(s.Out, "No clusters. Create one with: faultline cluster up")
				return nil
			}
			in, ok := p.(clusters.Inspector)
			if !ok {
				fmt.Fprintln(s.Out, strings.Join(names, "\n"))
				return nil
			}
			unhealthy := 0
			for i, n := range names {
				st, err := in.Status(cmd.Context(), n)
				if err != nil {
					return err
				}
				if i > 0 {
					fmt.Fprintln(s.Out)
				}
				health := "healthy"
				if !st.Healthy() {
					health = "UNHEALTHY"
					unhealthy++
				}
				fmt.Fprintf(s.Out, "Cluster %q (%s, %s, %s, created %s)\n  kubeconfig: %s\n", st.Name, st.Provider, st.State, health,
					st.Created.Local().Format(time.DateTime), st.KubeConfigPath)
				if st.Orphaned != "" {
					fmt.Fprintf(s.Out, "  LEFTOVER: %s\n", st.Orphaned)
				}
				tw := tabwriter.NewWriter(s.Out, 0, 0, 2, ' ', 0)
				fmt.Fprintln(tw, "  PROCESS\tPID\tRUNNING\tHEALTHY\tDETAIL")
				for _, ps := range st.Processes {
					fmt.Fprintf(tw, "  %s\t%d\t%s\t%s\t%s\n", ps.Name, ps.PID, yes(ps.Running), yes(ps.Healthy), ps.Detail)
				}
				tw.Flush()
			}
			if unhealthy > 0 {
				return &cli.ExitError{Code: cli.ExitFailure}
			}
			return nil
		},
	}
	nameFlag(c, f)
	return c
}

func buildCommand(s cli.Streams, f *flags) *cobra.Command {
	return &cobra.Command{
		Use:   "build",
		Short: "Build and cache the local provider's binaries without starting anything",
		Long: `build compiles etcd, kube-apiserver, kube-controller-manager, kube-scheduler, kubectl and
kwok from their Go modules (pinned in the repository's tools/ folder and embedded in faultline)
unless they are already cached, and prints where they are. 'up' does the same on first use;
run this as a CI step of its own, with ~/.cache/faultline/bin (and the Go caches) cached.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			p, err := provider(s, f)
			if err != nil {
				return err
			}
			if kp, ok := p.(*kind.Provider); ok {
				repo, err := os.Getwd()
				if err != nil {
					return err
				}
				tag, err := kp.BuildNodeImage(cmd.Context(), repo, s.Err)
				if err != nil {
					return err
				}
				fmt.Fprintf(s.Out, "Node image %s (cached under ~/.cache/faultline/kind)\n", tag)
				return nil
			}
			lp, ok := p.(*local.Provider)
			if !ok {
				return cli.BadInput(fmt.Errorf("provider %s builds nothing", f.provider))
			}
			if err := lp.EnsureBinaries(cmd.Context()); err != nil {
				return err
			}
			fmt.Fprintf(s.Out, "Binaries cached under %s\n", lp.CacheDir())
			return nil
		},
	}
}

func gcCommand(s cli.Streams, f *flags) *cobra.Command {
	return &cobra.Command{
		Use:   "gc",
		Short: "Remove what killed faultline runs left behind",
		Long: `gc cleans up after faultline processes that died without cleaning up (SIGKILL, a crash,
a power cut):

  - throwaway clusters of runs whose process is gone (and clusters whose creation was cut
    short): their processes stopped, their state directory removed; throwaway kind clusters
    (run --cluster kind) of dead runs deleted;
  - what runs on existing clusters recorded in their ledger (~/.local/state/faultline/runs)
    before doing it: webhook configurations and the other objects they applied deleted, node
    leases given back, stopped control-plane processes started again, cordoned nodes
    uncordoned, the KWOK nodes they created deleted;
  - lock files of clusters that no longer exist.

A process counts as gone when its PID no longer runs the process that was recorded (its start
time and the boot are compared, so a reused PID is not mistaken for it). Clusters from
'faultline cluster up', and anything of a process still running, are never touched. Real runs,
'up' and 'down' do the same first.`,
		Example: `  faultline cluster gc`,
		Args:    cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			lp, err := local.New(local.WithLogger(slog.New(slog.DiscardHandler)))
			if err != nil {
				return err
			}
			kp, err := kind.New(kind.WithLogger(slog.New(slog.DiscardHandler)))
			if err != nil {
				return err
			}
			done, err := realrun.CollectGarbage(cmd.Context(), lp, nil, kp)
			for _, d := range done {
				fmt.Fprintln(s.Out, "removed:", d)
			}
			if len(done) == 0 && err == nil {
				fmt.Fprintln(s.Out, "Nothing left behind by dead faultline processes.")
			}
			return err
		},
	}
}

// collect cleans up after dead faultline processes before a local cluster command; what it does
// is logged, and a failure does not stop the command (it concerns other clusters).
func collect(ctx context.Context, p clusters.Provider) {
	lp, ok := p.(*local.Provider)
	if !ok {
		return
	}
	if _, err := realrun.CollectGarbage(ctx, lp, lp.Logger()); err != nil {
		lp.Logger().Warn("cleaning up after dead faultline processes: " + err.Error())
	}
}

func nameFlag(c *cobra.Command, f *flags) {
	c.Flags().StringVar(&f.name, "name", DefaultName, "cluster name")
}

func yes(b bool) string {
	if b {
		return "yes"
	}
	return "no"
}

// provider returns the provider --provider names, logging progress lines to the error stream.
func provider(s cli.Streams, f *flags) (clusters.Provider, error) {
	level := slog.LevelInfo
	if f.verbose {
		level = slog.LevelDebug
	}
	logger := slog.New(&lineHandler{w: s.Err, level: level})
	switch f.provider {
	case local.ProviderName:
		return local.New(local.WithLogger(logger))
	case kind.ProviderName:
		opts := []kind.Option{kind.WithLogger(logger), kind.WithImage(f.image)}
		if f.scenario != "" {
			sc, err := scenarios.Open(f.scenario)
			if err != nil {
				return nil, cli.BadInput(err)
			}
			opts = append(opts, kind.WithNodePools(sc.Spec.Spec.Cluster.NodePools, sc.File))
		}
		return kind.New(opts...)
	default:
		return nil, cli.BadInput(fmt.Errorf("--provider %q: expected local or kind", f.provider))
	}
}

// lineHandler prints records as "• message (key=value, ...)" lines, for people watching.
type lineHandler struct {
	mu    sync.Mutex
	w     io.Writer
	level slog.Level
	attrs []slog.Attr
}

func (h *lineHandler) Enabled(_ context.Context, l slog.Level) bool { return l >= h.level }

func (h *lineHandler) Handle(_ context.Context, r slog.Record) error {
	var kv []string
	add := func(a slog.Attr) bool {
		kv = append(kv, a.Key+"="+a.Value.String())
		return true
	}
	for _, a := range h.attrs {
		add(a)
	}
	r.Attrs(add)
	line := "• " + r.Message
	if len(kv) > 0 {
		line += " (" + strings.Join(kv, ", ") + ")"
	}
	h.mu.Lock()
	defer h.mu.Unlock()
	_, err := fmt.Fprintln(h.w, line)
	return err
}

func (h *lineHandler) WithAttrs(as []slog.Attr) slog.Handler {
	return &lineHandler{w: h.w, level: h.level, attrs: append(append([]slog.Attr{}, h.attrs...), as...)}
}

func (h *lineHandler) WithGroup(string) slog.Handler { return h }
