package realrun

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"strconv"
	"time"

	"k8s.io/client-go/rest"
	"k8s.io/client-go/tools/clientcmd"

	"github.com/faultline-dev/faultline/clusters"
	"github.com/faultline-dev/faultline/clusters/local"
	"github.com/faultline-dev/faultline/sim"
)

// Cluster is where one run happens.
type Cluster struct {
	Name         string
	Config       *rest.Config
	ControlPlane ControlPlane
	// Throwaway clusters are deleted after the run (unless kept); existing ones are cleaned.
	Throwaway bool
	// Real is set when the cluster's nodes are real kubelets (kind): Options.Real of its runs.
	Real    *RealNodes
	release func(context.Context) error
}

// Release deletes a throwaway cluster (or does nothing for an existing one).
func (c *Cluster) Release(ctx context.Context) error {
	if c.release == nil {
		return nil
	}
	return c.release(ctx)
}

// Source hands out a cluster for each run.
type Source interface {
	Acquire(ctx context.Context, in *sim.Input, rep int) (*Cluster, error)
}

// Local creates a fresh local cluster per run, started with the input's model parameters (see
// createRunCluster creates a throwaway cluster named <prefix>-<random below space, base 36>-<rep>
// (prefix "run" by default), started with the model's component flags (ComponentArgs), and
// returns its name. On failure it deletes what it created, never a cluster it did not create.
func createRunCluster(ctx context.Context, p clusters.Provider, prefix string, space uint64, rep int, wait time.Duration, m sim.Models) (string, error) {
	if prefix == "" {
		prefix = "run"
	}
	// random, so that runs started in the same instant (parallel tests) never share a name
	name := fmt.Sprintf("%s-%s-%d", prefix, strconv.FormatUint(rand.Uint64()%space, 36), rep)
	// throwaway: if this process dies without deleting it, the next faultline command does
	opts := []clusters.CreateOption{clusters.WithWaitForReady(wait), clusters.WithThrowaway()}
	for proc, args := range ComponentArgs(m) {
		opts = append(opts, clusters.WithExtraArgs(proc, args...))
	}
	if err := p.Create(ctx, name, opts...); err != nil {
		if !errors.Is(err, clusters.ErrExists) {
			_ = p.Delete(context.WithoutCancel(ctx), name)
		}
		return "", err
	}
	return name, nil
}

// ComponentArgs), and deletes it afterwards unless Keep.
type Local struct {
	Provider *local.Provider
	Keep     bool
	// Prefix starts every cluster name (default "run").
	Prefix string
	Logger *slog.Logger
}

// Acquire creates the cluster.
func (l *Local) Acquire(ctx context.Context, in *sim.Input, rep int) (*Cluster, error) {
	name, err := createRunCluster(ctx, l.Provider, l.Prefix, 1<<40, rep, 3*time.Minute, in.Models)
	if err != nil {
		return nil, err
	}
	kc, err := l.Provider.KubeConfigPath(name)
	if err != nil {
		return nil, err
	}
	cfg, err := clientcmd.BuildConfigFromFlags("", kc)
	if err != nil {
		return nil, err
	}
	c := &Cluster{Name: name, Config: cfg, Throwaway: true, ControlPlane: &localControlPlane{p: l.Provider, name: name}}
	c.release = func(ctx context.Context) error {
		if l.Keep {
			if err := l.Provider.Keep(ctx, name); err != nil {
				return err
			}
			if l.Logger != nil {
				l.Logger.Info("keeping cluster", "name", name, "kubeconfig", kc, "stop", "faultline cluster down --name "+name)
			}
			return nil
		}
		return l.Provider.Delete(ctx, name)
	}
	return c, nil
}

type localControlPlane struct {
	p    *local.Provider
	name string
}

func (c *localControlPlane) Stop(ctx context.Context, component string) error {
	return c.p.StopProcess(ctx, c.name, component)
}

func (c *localControlPlane) Start(ctx context.Context, component string) error {
	return c.p.StartProcess(ctx, c.name, component)
}

// Existing is a cluster that passed Resolve; every run cleans up after itself in it.
type Existing struct {
	Resolved *Resolved
	// RealNodes, when set, prepares a cluster of real kubelets for a run (KindNodes for a
	// faultline kind cluster); nil: KWOK nodes are created.
	RealNodes func(ctx context.Context) (*RealNodes, error)
}

// Acquire returns the cluster as it is.
func (e *Existing) Acquire(ctx context.Context, _ *sim.Input, _ int) (*Cluster, error) {
	name := e.Resolved.Owned
	if name == "" {
		name = e.Resolved.Context
	}
	c := &Cluster{Name: name, Config: e.Resolved.Config}
	if e.RealNodes != nil {
		real, err := e.RealNodes(ctx)
		if err != nil {
			return nil, fmt.Errorf("cluster %s: %w", name, err)
		}
		c.Real = real
	}
	return c, nil
}

// ComponentArgs are the control-plane flags that carry the model parameters both worlds share,
// so that a throwaway cluster runs with the scenario's parameters:
//
//	nodeLifecycle.gracePeriod, monitorPeriod   kube-controller-manager --node-monitor-grace-period, --node-monitor-period
//	nodeLifecycle.defaultTolerationSeconds     kube-apiserver --default-{not-ready,unreachable}-toleration-seconds
//	apiServer.controllerManagerQPS, Burst      kube-controller-manager --kube-api-qps, --kube-api-burst
//	cronJob.workers                            kube-controller-manager --concurrent-cron-job-syncs
//
// The rest of the models (pod start pipeline, scheduler latency, request latency) describe
// machinery a KWOK cluster either lacks or does not let one set; fidelity compares them instead.
func ComponentArgs(m sim.Models) map[string][]string {
	nl := m.NodeLifecycle
	out := map[string][]string{
		local.APIServer: {
			"--default-not-ready-toleration-seconds=" + strconv.FormatInt(nl.DefaultTolerationSeconds, 10),
			"--default-unreachable-toleration-seconds=" + strconv.FormatInt(nl.DefaultTolerationSeconds, 10),
		},
		local.ControllerManager: {
			"--node-monitor-grace-period=" + nl.GracePeriod.Duration.String(),
			"--node-monitor-period=" + nl.MonitorPeriod.Duration.String(),
		},
	}
	if q := m.APIServer.ControllerManagerQPS; q > 0 {
		out[local.ControllerManager] = append(out[local.ControllerManager], "--kube-api-qps="+strconv.FormatFloat(q, 'g', -1, 64))
	}
	if b := m.APIServer.ControllerManagerBurst; b > 0 {
		out[local.ControllerManager] = append(out[local.ControllerManager], "--kube-api-burst="+strconv.Itoa(b))
	}
	if w := m.CronJob.Workers; w > 0 {
		out[local.ControllerManager] = append(out[local.ControllerManager], "--concurrent-cron-job-syncs="+strconv.Itoa(w))
	}
	return out
}
