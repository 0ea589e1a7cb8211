package clusters

import (
	"context"
	"errors"
	"time"
)

// Provider creates and deletes clusters of one kind.
type Provider interface {
	// Create starts the cluster called name and returns when it is ready: its API server answers
	// /readyz, the default ServiceAccount exists and the requested nodes are Ready and schedulable
	// (no longer tainted not-ready). It fails with ErrExists if the name is taken.
	Create(ctx context.Context, name string, opts ...CreateOption) error
	// Delete stops every process of the cluster and removes its state. It fails with ErrNotFound
	// for an unknown name and ErrNotOurs for state that faultline did not create.
	Delete(ctx context.Context, name string) error
	// KubeConfig returns the cluster's admin kubeconfig (file contents, not a path).
	KubeConfig(name string) (string, error)
	// LoadImage makes image available to the cluster's nodes (a no-op where nodes run no
	// containers, as with KWOK).
	LoadImage(ctx context.Context, name, image string) error
	// List returns the names of the clusters this provider created, sorted.
	List() ([]string, error)
}

// Inspector is implemented by providers that can report on a cluster's processes.
type Inspector interface {
	// Status reports where the cluster lives and how each of its processes is doing.
	Status(ctx context.Context, name string) (*Status, error)
}

// Status is a cluster as its provider sees it.
type Status struct {
	Name     string
	Provider string
	// State is what the provider recorded: "creating", "running" or "failed".
	State          string
	Created        time.Time
	StateDir       string
	KubeConfigPath string
	Server         string
	Processes      []ProcessStatus
	// Orphaned says why the cluster is a leftover ("its owner, pid 123, is gone"): a throwaway
	// cluster whose run died, or a creation cut short. Empty for a cluster in use or kept.
	Orphaned string
}

// Healthy reports whether every process is running and answers its health check, and the
// cluster is not a leftover of a dead run.
func (s *Status) Healthy() bool {
	if len(s.Processes) == 0 || s.Orphaned != "" {
		return false
	}
	for _, p := range s.Processes {
		if !p.Running || !p.Healthy {
			return false
		}
	}
	return true
}

// ProcessStatus is one process of a cluster.
type ProcessStatus struct {
	Name    string
	PID     int
	Running bool // the recorded PID is alive and still runs the recorded binary
	Healthy bool // it answered its health endpoint (or, with none, it is running)
	Detail  string
}

// Errors returned by providers (wrapped with the cluster's name).
var (
	ErrNotFound = errors.New("no such cluster")
	ErrExists   = errors.New("cluster already exists")
	ErrNotOurs  = errors.New("not created by faultline")
)
