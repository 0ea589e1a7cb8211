package kind

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"

	"github.com/faultline-dev/faultline/clusters"
	"github.com/faultline-dev/faultline/clusters/internal/proc"
)

// A throwaway kind cluster (clusters.WithThrowaway, as a run's --cluster kind makes) belongs to the
// process that creates it. Its owner is recorded in the cluster's state directory before kind is
// asked to create anything, so that when that process is killed (SIGKILL leaves it no chance to
// delete what it made) the next faultline command can tell the cluster is abandoned and delete it
// (GC), and status calls it a leftover. Clusters from `faultline cluster up`, or kept with --keep,
// have no owner record and are never collected.

const ownerFile = "owner.json"

func (p *Provider) ownerPath(name string) string { return filepath.Join(p.stateRoot, name, ownerFile) }

// recordOwner writes the calling process as the owner of cluster name, whole or not at all.
func (p *Provider) recordOwner(name string) error {
	dir := filepath.Join(p.stateRoot, name)
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return err
	}
	b, err := json.Marshal(proc.Self())
	if err != nil {
		return err
	}
	tmp := p.ownerPath(name) + ".tmp"
	if err := os.WriteFile(tmp, b, 0o600); err != nil {
		return err
	}
	return os.Rename(tmp, p.ownerPath(name))
}

// owner reads cluster name's owner record; nil when it has none.
func (p *Provider) owner(name string) (*proc.Owner, error) {
	b, err := os.ReadFile(p.ownerPath(name))
	if errors.Is(err, os.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	var o proc.Owner
	if err := json.Unmarshal(b, &o); err != nil {
		return nil, fmt.Errorf("%s: %w", p.ownerPath(name), err)
	}
	return &o, nil
}

// orphaned says why cluster name is a leftover, or "" when its owner runs or it has none.
func (p *Provider) orphaned(name string) string {
	o, err := p.owner(name)
	if err != nil || o == nil || o.Alive() {
		return ""
	}
	return fmt.Sprintf("a leftover: the faultline process that owns it (pid %d) is gone; `faultline cluster gc` removes it", o.PID)
}

// Keep makes a throwaway cluster outlive its owner (a run with --keep): its owner record goes,
// and GC never touches it.
func (p *Provider) Keep(name string) error {
	if err := os.Remove(p.ownerPath(name)); err != nil && !errors.Is(err, os.ErrNotExist) {
		return err
	}
	return nil
}

// GC deletes every faultline kind cluster whose recorded owner is dead, and the state it left. A
// cluster without an owner record, or whose owner runs, is never touched. It returns what it
// removed, one line each.
func (p *Provider) GC(ctx context.Context) ([]string, error) {
	ents, err := os.ReadDir(p.stateRoot)
	if errors.Is(err, os.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	var removed []string
	var errs []error
	var running []string
	listed := false
	for _, e := range ents {
		name := e.Name()
		if !e.IsDir() || strings.HasPrefix(name, ".") {
			continue
		}
		o, err := p.owner(name)
		if err != nil {
			errs = append(errs, err)
			continue
		}
		if o == nil || o.Alive() {
			continue
		}
		if !listed {
			if running, err = p.List(); err != nil {
				return nil, err
			}
			listed = true
		}
		if !slices.Contains(running, name) {
			// kind never made it, or it went with its Docker: only the state is left
			if err := os.RemoveAll(filepath.Join(p.stateRoot, name)); err != nil {
				errs = append(errs, err)
				continue
			}
			removed = append(removed, fmt.Sprintf("state of kind cluster %q (its owner, pid %d, is gone; the cluster was not running)", ClusterPrefix+name, o.PID))
			continue
		}
		if err := p.Delete(ctx, name); err != nil && !errors.Is(err, clusters.ErrNotFound) {
			errs = append(errs, fmt.Errorf("kind cluster %s: %w", ClusterPrefix+name, err))
			continue
		}
		removed = append(removed, fmt.Sprintf("kind cluster %q (its owner, pid %d, is gone)", ClusterPrefix+name, o.PID))
	}
	for _, r := range removed {
		p.logger.Info("removed a leftover of a dead faultline process: " + r)
	}
	return removed, errors.Join(errs...)
}
