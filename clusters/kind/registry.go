package kind

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"time"

	"sigs.k8s.io/kind/pkg/cluster/nodes"
	"sigs.k8s.io/kind/pkg/cluster/nodeutils"

	"github.com/faultline-dev/faultline/clusters/registry"
)

// RegistryImage is the tag of faultline-registry's image (RegistryPackage).
const RegistryImage = "faultline/registry:kind"

// RegistryPackage is faultline-registry's Go main package: package clusters/registry's OCI
// registry (distribution v3, in-memory storage, manifest deletion enabled) on port RegistryPort.
const RegistryPackage = "github.com/faultline-dev/faultline/clusters/registry/internal/cmd/faultline-registry"

// RegistryPort is the port the registry listens on inside its container. Nothing is published on
// the host: the nodes and the host reach it at its address on the kind network.
const RegistryPort = 5000

// registryLabel marks a registry container with its cluster's name (without ClusterPrefix), so
// that Delete removes it with the cluster.
const registryLabel = "io.faultline.kind.registry"

// certsDir is where the nodes' containerd looks up a registry host's configuration (hosts.toml).
const certsDir = "/etc/containerd/certs.d"

// Registry is an OCI registry running as a container on the kind network beside a cluster's
// nodes, whose containerd pulls the images of mapped hosts (MapHosts) from it.
type Registry struct {
	p         *Provider
	cluster   string
	Container string
	// URL is the registry's API (http://ADDRESS:5000), for the host (through the kind bridge)
	// and the nodes alike.
	URL    string
	client *registry.Client

	mu     sync.Mutex
	layer  []byte                     // faultline-echo's root file system
	pushed map[string]*registry.Image // image name → what was pushed under it
	first  string                     // a repository holding the shared layer (blob mounts)
}

// StartRegistry builds faultline-registry's image, runs it on the kind network as the container
// faultline-NAME-registry, waits until it answers, and enables per-host registry configuration
// in every node's containerd (config_path; containerd restarts once where it was not set).
func (p *Provider) StartRegistry(ctx context.Context, name string) (*Registry, error) {
	p.env()
	if err := p.BuildGoImage(ctx, RegistryPackage, RegistryImage); err != nil {
		return nil, err
	}
	r := &Registry{p: p, cluster: name, Container: ClusterPrefix + name + "-registry", pushed: map[string]*registry.Image{}}
	_ = docker(ctx, "rm", "-f", r.Container) // a leftover of an interrupted run of this cluster
	if err := docker(ctx, "run", "-d", "--name", r.Container, "--network", NetworkName,
		"--label", registryLabel+"="+name, "--restart", "no", RegistryImage,
		"-listen", fmt.Sprintf(":%d", RegistryPort)); err != nil {
		return nil, fmt.Errorf("start the registry container: %w", err)
	}
	fail := func(err error) (*Registry, error) { return nil, errors.Join(err, r.Close(context.WithoutCancel(ctx))) }
	out, err := exec.CommandContext(ctx, "docker", "inspect", "-f",
		"{{(index .NetworkSettings.Networks \""+NetworkName+"\").IPAddress}}", r.Container).Output()
	if err != nil {
		return fail(fmt.Errorf("address of %s: %w", r.Container, err))
	}
	ip := strings.TrimSpace(string(out))
	if ip == "" {
		return fail(fmt.Errorf("%s has no address on %s", r.Container, NetworkName))
	}
	r.URL = fmt.Sprintf("http://%s:%d", ip, RegistryPort)
	r.client = &registry.Client{Base: r.URL}
	deadline := time.Now().Add(30 * time.Second)
	for {
		err := r.client.Ping(ctx)
		if err == nil {
			break
		}
		if time.Now().After(deadline) {
			return fail(fmt.Errorf("registry %s does not answer after 30 s: %w", r.URL, err))
		}
		select {
		case <-ctx.Done():
			return fail(ctx.Err())
		case <-time.After(200 * time.Millisecond):
		}
	}
	if err := p.enableHostsDir(ctx, name); err != nil {
		return fail(err)
	}
	p.logger.Info("registry is up", "container", r.Container, "url", r.URL)
	return r, nil
}

// ContainerdConfigPath is the containerd setting (CRI plugin, config version 2) that makes it
// read per-host registry configuration from certsDir.
const ContainerdConfigPath = `
# faultline: per-host registry configuration (a run's registry, clusters/kind/registry.go)
[plugins."io.containerd.grpc.v1.cri".registry]
  config_path = "` + certsDir + `"
`

// enableHostsDir sets ContainerdConfigPath in every node whose containerd lacks a registry
// config_path, and restarts that containerd (its running containers keep running; the kubelet
// reconnects).
func (p *Provider) enableHostsDir(ctx context.Context, name string) error {
	ns, err := p.kind.ListInternalNodes(ClusterPrefix + name)
	if err != nil {
		return err
	}
	for _, n := range ns {
		var cfg bytes.Buffer
		if err := n.CommandContext(ctx, "cat", "/etc/containerd/config.toml").SetStdout(&cfg).Run(); err != nil {
			return fmt.Errorf("%s: read containerd's configuration: %w", n, err)
		}
		if strings.Contains(cfg.String(), "config_path") {
			continue // kind's own images set it
		}
		if strings.Contains(cfg.String(), `"io.containerd.grpc.v1.cri".registry]`) {
			return fmt.Errorf("%s: containerd has registry settings of its own and no config_path; expected either config_path or no registry section", n)
		}
		if err := nodeutils.WriteFile(n, "/etc/containerd/config.toml", cfg.String()+ContainerdConfigPath); err != nil {
			return fmt.Errorf("%s: %w", n, err)
		}
		if err := n.CommandContext(ctx, "systemctl", "restart", "containerd").Run(); err != nil {
			return fmt.Errorf("%s: restart containerd: %w", n, err)
		}
	}
	return nil
}

// HostsToml is a node's containerd configuration for an image host served by the registry at
// url: every pull of HOST/NAME:TAG asks url for NAME:TAG, over plain HTTP.
func HostsToml(url string) string {
	return fmt.Sprintf("# faultline: images of this host come from the run's registry\nserver = %q\n\n[host.%q]\n  capabilities = [\"pull\", \"resolve\"]\n", url, url)
}

// MapHosts makes every node pull the images of hosts (registry.example, ...) from the registry.
// containerd reads the host configuration at each pull: no restart.
func (r *Registry) MapHosts(ctx context.Context, hosts []string) error {
	ns, err := r.p.kind.ListInternalNodes(ClusterPrefix + r.cluster)
	if err != nil {
		return err
	}
	for _, n := range ns {
		for _, h := range hosts {
			if err := writeNodeFile(ctx, n, filepath.Join(certsDir, h, "hosts.toml"), HostsToml(r.URL)); err != nil {
				return err
			}
		}
	}
	return nil
}

func writeNodeFile(ctx context.Context, n nodes.Node, path, content string) error {
	if err := n.CommandContext(ctx, "mkdir", "-p", filepath.Dir(path)).Run(); err != nil {
		return fmt.Errorf("%s: mkdir %s: %w", n, filepath.Dir(path), err)
	}
	if err := nodeutils.WriteFile(n, path, content); err != nil {
		return fmt.Errorf("%s: %w", n, err)
	}
	return nil
}

// Seed maps hosts on the nodes and pushes images: each a one-layer image holding faultline-echo
// (built once; its layer is stored once and mounted into every repository), its name as a config
// label so that each image has a digest of its own.
func (r *Registry) Seed(ctx context.Context, hosts, images []string) error {
	if err := r.MapHosts(ctx, hosts); err != nil {
		return err
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.layer == nil {
		bin, cleanup, err := buildStatic(ctx, EchoPackage)
		if err != nil {
			return err
		}
		r.layer, err = StaticImageTar(bin)
		cleanup()
		if err != nil {
			return err
		}
	}
	for _, name := range images {
		ref, err := registry.ParseRef(name)
		if err != nil {
			return err
		}
		img, err := registry.NewImage(r.layer, []string{"/" + filepath.Base(EchoPackage)}, map[string]string{"dev.faultline.image": name})
		if err != nil {
			return err
		}
		if err := r.client.Push(ctx, ref, img, r.first); err != nil {
			return err
		}
		if r.first == "" {
			r.first = ref.Repository
		}
		r.pushed[name] = img
	}
	return nil
}

// Delete deletes image's manifest through the registry API (DELETE
// /v2/<name>/manifests/<digest>): pulls of it fail from then on.
func (r *Registry) Delete(ctx context.Context, image string) error {
	ref, err := registry.ParseRef(image)
	if err != nil {
		return err
	}
	return r.client.Delete(ctx, ref)
}

// Restore pushes image back as Seed pushed it (a roll-back).
func (r *Registry) Restore(ctx context.Context, image string) error {
	ref, err := registry.ParseRef(image)
	if err != nil {
		return err
	}
	r.mu.Lock()
	img := r.pushed[image]
	r.mu.Unlock()
	if img == nil {
		return fmt.Errorf("restore %s: it was never pushed", image)
	}
	return r.client.Restore(ctx, ref, img)
}

// Describe says what the registry is, for a run's report.
func (r *Registry) Describe() string {
	return fmt.Sprintf("an OCI registry (distribution v3, in-memory, deletion enabled) in container %s at %s on the kind network", r.Container, r.URL)
}

// Close removes the registry container and the nodes' host mappings (a cluster that outlives
// the run pulls as before).
func (r *Registry) Close(ctx context.Context) error {
	var errs []error
	if ns, err := r.p.kind.ListInternalNodes(ClusterPrefix + r.cluster); err == nil {
		for _, n := range ns {
			var out bytes.Buffer
			// only the hosts this registry mapped: files naming its URL
			if n.CommandContext(ctx, "grep", "-rl", r.URL, certsDir).SetStdout(&out).Run() == nil {
				for _, f := range strings.Fields(out.String()) {
					if err := n.CommandContext(ctx, "rm", "-f", f).Run(); err != nil {
						errs = append(errs, fmt.Errorf("%s: rm %s: %w", n, f, err))
					}
				}
			}
		}
	}
	if err := docker(ctx, "rm", "-f", r.Container); err != nil && !strings.Contains(err.Error(), "No such container") {
		errs = append(errs, err)
	}
	return errors.Join(errs...)
}

// removeRegistries removes the registry containers of cluster name (Delete; a run killed before
// its clean-up leaves one).
func (p *Provider) removeRegistries(ctx context.Context, name string) error {
	out, err := exec.CommandContext(ctx, "docker", "ps", "-aq", "--filter", "label="+registryLabel+"="+name).Output()
	if err != nil {
		return fmt.Errorf("list registry containers of %s: %w", ClusterPrefix+name, err)
	}
	ids := strings.Fields(string(out))
	if len(ids) == 0 {
		return nil
	}
	return docker(ctx, slices.Concat([]string{"rm", "-f"}, ids)...)
}
