package local

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"syscall"
	"time"

	"github.com/faultline-dev/faultline/clusters"
	"github.com/faultline-dev/faultline/clusters/internal/proc"
)

// createdBy is the marker in cluster.json; a directory without it is not faultline's.
const createdBy = "faultline"

const stateFile = "cluster.json"

// state is cluster.json.
type state struct {
	CreatedBy string            `json:"createdBy"`
	Provider  string            `json:"provider"`
	Name      string            `json:"name"`
	Status    string            `json:"status"` // creating, running, failed
	Created   time.Time         `json:"created"`
	Versions  map[string]string `json:"versions"`
	// BinRoot is the binary cache the processes run from.
	BinRoot    string         `json:"binRoot"`
	KubeConfig string         `json:"kubeconfig"`
	Server     string         `json:"server"`
	Ports      map[string]int `json:"ports"`
	// Processes in start order; stopped in reverse.
	Processes []proc.Record `json:"processes"`
	// Owner is the process the cluster belongs to while it is being created and, for a
	// throwaway cluster (a run's), until it is deleted; nil for a cluster that outlives its
	// creator (`faultline cluster up`). A cluster whose owner is dead is a leftover (gc.go).
	Owner *proc.Owner `json:"owner,omitempty"`
}

func (s *state) process(name string) *proc.Record {
	for i := range s.Processes {
		if s.Processes[i].Name == name {
			return &s.Processes[i]
		}
	}
	return nil
}

var validName = regexp.MustCompile(`^[a-z0-9]([-a-z0-9]{0,38}[a-z0-9])?$`)

func checkName(name string) error {
	if !validName.MatchString(name) {
		return fmt.Errorf("cluster name %q: expected lower-case letters, digits and '-', at most 40, starting and ending with a letter or digit", name)
	}
	return nil
}

// DefaultStateDir is $XDG_STATE_HOME/faultline/clusters, or ~/.local/state/faultline/clusters.
func DefaultStateDir() (string, error) {
	if d := os.Getenv("XDG_STATE_HOME"); d != "" && filepath.IsAbs(d) {
		return filepath.Join(d, "faultline", "clusters"), nil
	}
	home, err := os.UserHomeDir()
	if err != nil {
		return "", fmt.Errorf("state directory: %w", err)
	}
	return filepath.Join(home, ".local", "state", "faultline", "clusters"), nil
}

func (p *Provider) dir(name string) string { return filepath.Join(p.stateRoot, name) }

// load reads a cluster's state: ErrNotFound without a directory, ErrNotOurs without the marker.
func (p *Provider) load(name string) (*state, error) {
	if err := checkName(name); err != nil {
		return nil, err
	}
	dir := p.dir(name)
	if _, err := os.Stat(dir); errors.Is(err, os.ErrNotExist) {
		return nil, fmt.Errorf("cluster %q: %w", name, clusters.ErrNotFound)
	}
	b, err := os.ReadFile(filepath.Join(dir, stateFile))
	if err != nil {
		return nil, fmt.Errorf("cluster %q: %s has no readable %s: %w", name, dir, stateFile, clusters.ErrNotOurs)
	}
	var s state
	if err := json.Unmarshal(b, &s); err != nil || s.CreatedBy != createdBy || s.Name != name {
		return nil, fmt.Errorf("cluster %q: %s: %w", name, filepath.Join(dir, stateFile), clusters.ErrNotOurs)
	}
	return &s, nil
}

// save writes cluster.json atomically.
func (p *Provider) save(s *state) error { return saveIn(p.dir(s.Name), s) }

// saveIn writes s as dir's cluster.json atomically.
func saveIn(dir string, s *state) error {
	b, err := json.MarshalIndent(s, "", "  ")
	if err != nil {
		return err
	}
	path := filepath.Join(dir, stateFile)
	tmp := path + ".tmp"
	if err := os.WriteFile(tmp, append(b, '\n'), 0o644); err != nil {
		return err
	}
	return os.Rename(tmp, path)
}

// lockPath is the lock file of cluster name, beside its directory.
func (p *Provider) lockPath(name string) string { return filepath.Join(p.stateRoot, "."+name+".lock") }

// clusterLock is a held lock on one cluster name.
type clusterLock struct {
	f    *os.File
	path string
}

// unlock releases the lock, keeping the file for the cluster's next user.
func (l *clusterLock) unlock() { _ = syscall.Flock(int(l.f.Fd()), syscall.LOCK_UN); l.f.Close() }

// remove deletes the lock file, then releases the lock: for Delete, so that lock files do not
// pile up. A process waiting on the removed file finds, once it holds it, that the path names
// another file or none (lockCluster checks) and locks again.
func (l *clusterLock) remove() { _ = os.Remove(l.path); l.unlock() }

// lockCluster serialises Create, Delete and process changes of one name across processes. The
// lock file sits beside the cluster's directory; Delete removes it with the cluster.
func (p *Provider) lockCluster(ctx context.Context, name string) (func(), error) {
	l, err := p.lockClusterFile(ctx, name, true)
	if err != nil {
		return nil, err
	}
	return l.unlock, nil
}

// lockClusterFile takes the lock of cluster name: waiting while wait, else failing at once with
// errLocked when another process holds it.
func (p *Provider) lockClusterFile(ctx context.Context, name string, wait bool) (*clusterLock, error) {
	if err := os.MkdirAll(p.stateRoot, 0o755); err != nil {
		return nil, err
	}
	path := p.lockPath(name)
	for {
		f, err := os.OpenFile(path, os.O_CREATE|os.O_RDWR, 0o644)
		if err != nil {
			return nil, err
		}
		err = syscall.Flock(int(f.Fd()), syscall.LOCK_EX|syscall.LOCK_NB)
		if err == nil {
			if samePath(f, path) {
				return &clusterLock{f: f, path: path}, nil
			}
			f.Close() // removed by a Delete while we waited: lock the current file
			continue
		}
		f.Close()
		if !errors.Is(err, syscall.EWOULDBLOCK) {
			return nil, fmt.Errorf("lock %s: %w", path, err)
		}
		if !wait {
			return nil, errLocked
		}
		select {
		case <-ctx.Done():
			return nil, fmt.Errorf("cluster %q is being created or deleted by another faultline: %w", name, ctx.Err())
		case <-time.After(200 * time.Millisecond):
		}
	}
}

var errLocked = errors.New("locked by another process")

// samePath reports whether the open file f is still the file at path.
func samePath(f *os.File, path string) bool {
	a, err := f.Stat()
	if err != nil {
		return false
	}
	b, err := os.Stat(path)
	return err == nil && os.SameFile(a, b)
}
