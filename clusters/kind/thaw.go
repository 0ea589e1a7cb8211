package kind

import (
	"context"
	"errors"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
)

// freezerRoot is where cgroup v1 keeps the freezer hierarchy Docker's containers live in.
const freezerRoot = "/sys/fs/cgroup/freezer/docker"

// thawNodes thaws every frozen cgroup v1 freezer below the node containers of cluster name. A
// pod container killed while runc was still starting it can be left in a FROZEN cgroup (runc
// freezes a cgroup to kill it); its "runc init" then never exits, and Docker cannot remove the
// node ("did not receive an exit event"). Seen on this cgroup v1 host when a run's cluster was
// deleted while a CronJob's pod was starting. It returns how many cgroups it thawed.
func (p *Provider) thawNodes(ctx context.Context, name string) (int, error) {
	if _, err := os.Stat(freezerRoot); err != nil {
		return 0, nil // cgroup v2, or no Docker cgroups: nothing of the kind
	}
	out, err := exec.CommandContext(ctx, "docker", "ps", "-aq", "--no-trunc", "--filter", "label=io.x-k8s.kind.cluster="+ClusterPrefix+name).Output()
	if err != nil {
		return 0, err
	}
	thawed := 0
	var errs []error
	for _, id := range strings.Fields(string(out)) {
		_ = filepath.WalkDir(filepath.Join(freezerRoot, id), func(path string, d fs.DirEntry, err error) error {
			if err != nil || d.IsDir() || d.Name() != "freezer.state" {
				return nil
			}
			if b, err := os.ReadFile(path); err == nil && strings.TrimSpace(string(b)) == "FROZEN" {
				if err := os.WriteFile(path, []byte("THAWED"), 0o644); err != nil {
					errs = append(errs, err)
				} else {
					thawed++
				}
			}
			return nil
		})
	}
	return thawed, errors.Join(errs...)
}
