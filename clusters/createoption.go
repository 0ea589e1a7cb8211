package clusters

import (
	"fmt"
	"time"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"
)

// CreateOption configures Create.
type CreateOption interface {
	apply(*CreateOptions) error
}

type createOptionFunc func(*CreateOptions) error

func (f createOptionFunc) apply(o *CreateOptions) error { return f(o) }

// CreateOptions is what Create was asked for; providers read it with BuildCreateOptions.
type CreateOptions struct {
	// Nodes is the number of fake nodes to create with the cluster (default 0: the caller adds
	// nodes itself, as the scenario runner does from node pools).
	Nodes int
	// NodeCapacity is the capacity of each of those nodes (default 4 CPU, 16Gi, 110 pods).
	NodeCapacity corev1.ResourceList
	// Wait bounds how long Create waits for the cluster to become ready, not counting the
	// one-time build of its binaries (default 2 minutes).
	Wait time.Duration
	// ExtraArgs are flags added to a component's command line, by process name
	// (kube-apiserver, kube-controller-manager, kube-scheduler, etcd, kwok); they come after the
	// provider's own flags, so a flag given here wins.
	ExtraArgs map[string][]string
	// Throwaway: the cluster belongs to the process that creates it, for as long as it runs. If
	// that process dies without deleting it (SIGKILL, a crash), the cluster is a leftover: status
	// reports it as such and garbage collection removes it. Without it, only creation is owned (a
	// creation cut short is a leftover) and the cluster outlives its creator.
	Throwaway bool
}

// DefaultNodeCapacity is the capacity of nodes created by WithNodes.
func DefaultNodeCapacity() corev1.ResourceList {
	return corev1.ResourceList{
		corev1.ResourceCPU:    resource.MustParse("4"),
		corev1.ResourceMemory: resource.MustParse("16Gi"),
		corev1.ResourcePods:   resource.MustParse("110"),
	}
}

// BuildCreateOptions applies opts over the defaults.
func BuildCreateOptions(opts ...CreateOption) (CreateOptions, error) {
	o := CreateOptions{NodeCapacity: DefaultNodeCapacity(), Wait: 2 * time.Minute}
	for _, opt := range opts {
		if err := opt.apply(&o); err != nil {
			return o, err
		}
	}
	return o, nil
}

// WithNodes asks for n fake nodes (node-1 ... node-n) with NodeCapacity.
func WithNodes(n int) CreateOption {
	return createOptionFunc(func(o *CreateOptions) error {
		if n < 0 {
			return fmt.Errorf("nodes: %d; expected 0 or more", n)
		}
		o.Nodes = n
		return nil
	})
}

// WithNodeCapacity sets the capacity of the nodes WithNodes creates; resources not named keep
// their default.
func WithNodeCapacity(capacity corev1.ResourceList) CreateOption {
	return createOptionFunc(func(o *CreateOptions) error {
		for k, v := range capacity {
			o.NodeCapacity[k] = v
		}
		return nil
	})
}

// WithWaitForReady bounds how long Create waits for readiness (the build is not counted).
func WithWaitForReady(d time.Duration) CreateOption {
	return createOptionFunc(func(o *CreateOptions) error {
		if d <= 0 {
			return fmt.Errorf("wait: %v; expected a positive duration", d)
		}
		o.Wait = d
		return nil
	})
}

// WithExtraArgs adds flags to one component's command line, e.g.
// WithExtraArgs("kube-controller-manager", "--node-monitor-grace-period=20s"). The real-world
// runner uses it to start a cluster with a scenario's model parameters.
func WithExtraArgs(process string, args ...string) CreateOption {
	return createOptionFunc(func(o *CreateOptions) error {
		if process == "" {
			return fmt.Errorf("extra args: expected a process name")
		}
		if o.ExtraArgs == nil {
			o.ExtraArgs = map[string][]string{}
		}
		o.ExtraArgs[process] = append(o.ExtraArgs[process], args...)
		return nil
	})
}

// WithThrowaway makes the cluster belong to the calling process (CreateOptions.Throwaway).
func WithThrowaway() CreateOption {
	return createOptionFunc(func(o *CreateOptions) error {
		o.Throwaway = true
		return nil
	})
}
