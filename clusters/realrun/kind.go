package realrun

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"time"

	"k8s.io/client-go/tools/clientcmd"

	"github.com/faultline-dev/faultline/clusters/kind"
	"github.com/faultline-dev/faultline/sim"
)

// Kind creates a fresh kind cluster per run, one worker per pool node (kind.Config: labelled
// with the pool, the pool node's name and its zone, the pool's taints), started with the input's
// model parameters (ComponentArgs), with faultline-echo loaded for the scenario's images; it is
// deleted afterwards unless Keep.
type Kind struct {
	// Options make each run's kind.Provider (WithLogger, WithStateDir, WithImage, ...);
	// WithNodePools is added from the input.
	Options []kind.Option
	Keep    bool
	// Prefix starts every cluster name (default "run"); kind names it faultline-NAME.
	Prefix string
	Logger *slog.Logger
}

// Acquire creates the cluster.
func (k *Kind) Acquire(ctx context.Context, in *sim.Input, rep int) (*Cluster, error) {
	p, err := kind.New(append(k.Options, kind.WithNodePools(in.Pools, in.Name))...)
	if err != nil {
		return nil, err
	}
	// a shorter random part than the local provider's: kind prefixes faultline- and names its
	// node containers after the cluster
	name, err := createRunCluster(ctx, p, k.Prefix, 1<<30, rep, 4*time.Minute, in.Models)
	if err != nil {
		return nil, err
	}
	c := &Cluster{Name: kind.ClusterPrefix + name, Throwaway: true}
	c.release = func(ctx context.Context) error {
		if k.Keep {
			if err := p.Keep(name); err != nil {
				return err
			}
			if k.Logger != nil {
				k.Logger.Info("keeping cluster", "name", name, "kubeconfig", p.KubeConfigPath(name), "stop", "faultline cluster down --provider kind --name "+name)
			}
			return nil
		}
		return p.Delete(ctx, name)
	}
	fail := func(err error) (*Cluster, error) {
		return nil, errors.Join(err, c.Release(context.WithoutCancel(ctx)))
	}
	if c.Config, err = clientcmd.BuildConfigFromFlags("", p.KubeConfigPath(name)); err != nil {
		return fail(err)
	}
	if c.Real, err = KindNodes(p, name)(ctx); err != nil {
		return fail(err)
	}
	return c, nil
}

// KindNodes prepares the faultline kind cluster name for runs: faultline-echo loaded on its
// nodes, node faults by freezing the node containers.
func KindNodes(p *kind.Provider, name string) func(context.Context) (*RealNodes, error) {
	return func(ctx context.Context) (*RealNodes, error) {
		if err := p.LoadEcho(ctx, name); err != nil {
			return nil, fmt.Errorf("load %s: %w", kind.EchoImage, err)
		}
		return &RealNodes{
			Provider:     kind.ProviderName,
			Faults:       kindNodeFaults{p: p, name: name},
			Image:        kind.EchoImage,
			Describe:     "freezing its node container (docker pause; thawed by docker unpause)",
			IngressImage: kind.IngressImage,
			LoadIngress:  func(ctx context.Context) error { return p.LoadIngress(ctx, name) },
			Registry: func(ctx context.Context) (ImageRegistry, error) {
				reg, err := p.StartRegistry(ctx, name)
				if err != nil {
					return nil, err
				}
				return reg, nil
			},
		}, nil
	}
}

// kindNodeFaults are node faults on a kind cluster: Down pauses the node container (the cgroup
// freezer stops every process of the node at once), Up unpauses it. A kind node's Kubernetes
// name is its container's name.
type kindNodeFaults struct {
	p    *kind.Provider
	name string
}

func (f kindNodeFaults) Down(ctx context.Context, node string) error {
	return f.p.NodeFaultAction(ctx, f.name, node, kind.Pause)
}

func (f kindNodeFaults) Up(ctx context.Context, node string) error {
	return f.p.NodeFaultAction(ctx, f.name, node, kind.Resume)
}

// OwnedByKind lists the kind clusters faultline created (names without kind.ClusterPrefix, as
// `faultline cluster up --provider kind --name` takes them).
func OwnedByKind(p *kind.Provider) ([]Owned, error) {
	names, err := p.List()
	if err != nil {
		return nil, err
	}
	var out []Owned
	for _, n := range names {
		kc, err := p.KubeConfig(n)
		if err != nil {
			continue
		}
		cfg, err := clientcmd.Load([]byte(kc))
		if err != nil {
			continue
		}
		for _, c := range cfg.Clusters {
			out = append(out, Owned{Name: n, Server: c.Server, CA: c.CertificateAuthorityData, Provider: kind.ProviderName})
		}
	}
	return out, nil
}
