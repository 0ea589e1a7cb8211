package local

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"

	"github.com/faultline-dev/faultline/clusters"
	"github.com/faultline-dev/faultline/clusters/internal/proc"
)

// Scratch directories: a cluster's directory is assembled under a scratch name and renamed into
// place whole, and renamed to a scratch name before it is removed. The name carries the process
// doing it (PID and start time), so that a scratch directory left by a killed process is known
// to be faultline's and abandoned.
const (
	scratchCreating = ".creating-"
	scratchDeleting = ".deleting-"
)

func scratchName(kind string, o proc.Owner, name string) string {
	return kind + strconv.Itoa(o.PID) + "-" + strconv.FormatUint(o.Start, 10) + "-" + name
}

// parseScratch reads a scratch directory's name: its owner and the cluster name.
func parseScratch(base string) (proc.Owner, string, bool) {
	var rest string
	switch {
	case strings.HasPrefix(base, scratchCreating):
		rest = strings.TrimPrefix(base, scratchCreating)
	case strings.HasPrefix(base, scratchDeleting):
		rest = strings.TrimPrefix(base, scratchDeleting)
	default:
		return proc.Owner{}, "", false
	}
	f := strings.SplitN(rest, "-", 3)
	if len(f) != 3 {
		return proc.Owner{}, "", false
	}
	pid, err1 := strconv.Atoi(f[0])
	start, err2 := strconv.ParseUint(f[1], 10, 64)
	if err1 != nil || err2 != nil || checkName(f[2]) != nil {
		return proc.Owner{}, "", false
	}
	return proc.Owner{PID: pid, Start: start}, f[2], true
}

// GC removes what dead faultline processes left under the state directory: every cluster whose
// owner is gone (a throwaway cluster of a run that was killed, a creation cut short), stopped and
// removed as Delete does; scratch directories of creations and deletions cut short; and the lock
// files of clusters that no longer exist. A cluster without an owner (from `faultline cluster
// up`, or kept) or whose owner runs is never touched, nor is anything not named as faultline
// names it. It returns what it removed, one line each.
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
	for _, e := range ents {
		name := e.Name()
		switch {
		case e.IsDir() && !strings.HasPrefix(name, "."):
			st, err := p.load(name)
			if err != nil || st.Owner == nil || st.Owner.Alive() {
				continue
			}
			l, err := p.lockClusterFile(ctx, name, false)
			if errors.Is(err, errLocked) {
				continue // another process is deleting it now
			}
			if err != nil {
				errs = append(errs, err)
				continue
			}
			if st, err = p.load(name); err != nil || st.Owner == nil || st.Owner.Alive() {
				l.unlock()
				continue
			}
			if err := p.deleteLocked(ctx, name, l); err != nil && !errors.Is(err, clusters.ErrNotFound) {
				errs = append(errs, err)
				continue
			}
			removed = append(removed, fmt.Sprintf("cluster %q (%s; its owner, pid %d, is gone)", name, st.Status, st.Owner.PID))
		case e.IsDir():
			owner, cluster, ok := parseScratch(name)
			if !ok || owner.Alive() {
				continue
			}
			if err := os.RemoveAll(filepath.Join(p.stateRoot, name)); err != nil {
				errs = append(errs, err)
				continue
			}
			removed = append(removed, fmt.Sprintf("scratch directory of cluster %q (%s, pid %d is gone)", cluster, name, owner.PID))
		case strings.HasPrefix(name, ".") && strings.HasSuffix(name, ".lock"):
			cluster := strings.TrimSuffix(strings.TrimPrefix(name, "."), ".lock")
			if checkName(cluster) != nil {
				continue
			}
			if _, err := os.Stat(p.dir(cluster)); !errors.Is(err, os.ErrNotExist) {
				continue
			}
			l, err := p.lockClusterFile(ctx, cluster, false)
			if err != nil {
				continue // in use
			}
			if _, err := os.Stat(p.dir(cluster)); errors.Is(err, os.ErrNotExist) {
				l.remove()
			} else {
				l.unlock()
			}
		}
	}
	for _, r := range removed {
		p.logger.Info("removed a leftover of a dead faultline process: " + r)
	}
	return removed, errors.Join(errs...)
}

// NotRunning lists the cluster's recorded processes that are not running ("kube-apiserver
// (pid 123)"), from /proc only: cheap enough to ask every second while a run watches the world
// under it.
func (p *Provider) NotRunning(name string) ([]string, error) {
	st, err := p.load(name)
	if err != nil {
		return nil, err
	}
	var out []string
	for _, r := range st.Processes {
		running, err := r.Running()
		if err != nil {
			return nil, err
		}
		if !running {
			out = append(out, fmt.Sprintf("%s (pid %d)", r.Name, r.PID))
		}
	}
	return out, nil
}
