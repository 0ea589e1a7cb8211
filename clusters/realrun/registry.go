package realrun

import (
	"context"
	"encoding/json"
	"fmt"
	"slices"
	"strings"
	"sync"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"

	"github.com/faultline-dev/faultline/clusters/registry"
)

// ImageRegistry is a real image registry the cluster's nodes pull a scenario's images from
// (kind: a distribution registry on the kind network, clusters/kind registry.go). A run seeds
// it, deletes and restores images at the registry model's times, and closes it at the end.
type ImageRegistry interface {
	// Seed makes the nodes pull images of hosts from the registry and pushes images.
	Seed(ctx context.Context, hosts, images []string) error
	// Delete deletes an image's manifest through the registry API; Restore pushes it back.
	Delete(ctx context.Context, image string) error
	Restore(ctx context.Context, image string) error
	// Describe says what the registry is, for the report.
	Describe() string
	Close(ctx context.Context) error
}

// registryRun is a run's registry and its plan (package registry: PlanFor).
type registryRun struct {
	plan *registry.Plan
	reg  ImageRegistry
	mu   sync.Mutex
	// what was played, for the report
	deleted, restored, resolved int
}

// startRegistry plays the input's registry model for real where the nodes are real kubelets and
// the cluster offers a registry: it starts the registry, maps the model's image hosts on the
// nodes and pushes the scenario's images. Elsewhere the model is reported as not played (every
// image is substituted, nothing is pulled).
func (r *run) startRegistry(ctx context.Context) error {
	plan, err := registry.PlanFor(r.in)
	if err != nil || plan == nil {
		return err
	}
	if r.opts.Real == nil || r.opts.Real.Registry == nil {
		where := "KWOK nodes pull nothing"
		if r.opts.Real != nil {
			where = r.opts.Real.Provider + " clusters here have no registry to pull from"
		}
		r.note(false, "models.registry.deletions: the image deletions are not played (%s)", where)
		return nil
	}
	reg, err := r.opts.Real.Registry(ctx)
	if err != nil {
		return fmt.Errorf("registry: %w", err)
	}
	r.addRevert(reg.Close)
	if err := reg.Seed(ctx, plan.Hosts, plan.Seed); err != nil {
		return fmt.Errorf("registry: seed %d images: %w", len(plan.Seed), err)
	}
	r.reg = &registryRun{plan: plan, reg: reg}
	r.rep.Notes = append(r.rep.Notes, fmt.Sprintf("images of %s are pulled by the kubelets from %s, with their own names and pull policies; %d images seeded, each faultline-echo's program under the image's name (the container's command is faultline-echo's)",
		strings.Join(plan.Hosts, ", "), reg.Describe(), len(plan.Seed)))
	r.rep.Notes = append(r.rep.Notes, plan.NotPlayed...)
	return nil
}

// keepRegistryImages puts back the images (and pull policies) that the registry serves after
// SubstituteImage replaced them; orig are the containers before (init containers, then the
// others). It returns the images kept.
func (r *run) keepRegistryImages(spec *corev1.PodSpec, orig []corev1.Container) []string {
	if r.reg == nil {
		return nil
	}
	var kept []string
	cs := slices.Concat(spec.InitContainers, spec.Containers) // copies: written back below
	for i := range cs {
		if i >= len(orig) || !r.reg.plan.Served(orig[i].Image) {
			continue
		}
		cs[i].Image, cs[i].ImagePullPolicy = orig[i].Image, orig[i].ImagePullPolicy
		kept = append(kept, orig[i].Image)
	}
	n := copy(spec.InitContainers, cs)
	copy(spec.Containers, cs[n:])
	return kept
}

// playRegistry deletes and restores images and resolves the CronJobs' images at the plan's
// times (scaled like fault times), until end.
func (r *run) playRegistry(ctx context.Context, end time.Time) {
	rr := r.reg
	type step struct {
		at  time.Duration
		do  func(context.Context) error
		cnt *int
	}
	var steps []step
	for _, e := range rr.plan.Events {
		if e.Restore {
			steps = append(steps, step{e.At, func(ctx context.Context) error { return rr.reg.Restore(ctx, e.Image) }, &rr.restored})
		} else {
			steps = append(steps, step{e.At, func(ctx context.Context) error { return rr.reg.Delete(ctx, e.Image) }, &rr.deleted})
		}
	}
	for _, res := range rr.plan.Resolutions {
		steps = append(steps, step{res.At, func(ctx context.Context) error { return r.resolveImage(ctx, res) }, &rr.resolved})
	}
	slices.SortStableFunc(steps, func(a, b step) int { return int(a.at - b.at) })
	defer r.registryReport()
	for _, s := range steps {
		at := r.t0.Add(r.scaled(s.at))
		if !at.Before(end) {
			return
		}
		if !r.sleepUntil(ctx, at) {
			return
		}
		if err := s.do(ctx); err != nil {
			r.injectFailed("models.registry.deletions", s.at, err)
			continue
		}
		rr.mu.Lock()
		*s.cnt++
		rr.mu.Unlock()
	}
}

// registryReport records what the registry model did, once the run is over.
func (r *run) registryReport() {
	rr := r.reg
	rr.mu.Lock()
	defer rr.mu.Unlock()
	restores := 0
	for _, e := range rr.plan.Events {
		if e.Restore {
			restores++
		}
	}
	r.note(true, "registry model: %d of %d images deleted through the registry API (DELETE /v2/<name>/manifests/<digest>), %d of %d restored, %d of %d CronJobs resolved to their app's current image",
		rr.deleted, len(rr.plan.Events)-restores, rr.restored, restores, rr.resolved, len(rr.plan.Resolutions))
}

// resolveImage is the platform resolving a CronJob's app to its current image when it creates a
// Job (the model's resolveAtRunTime): the CronJob's first container image is replaced, so every
// Job the controller creates from then on runs it.
func (r *run) resolveImage(ctx context.Context, res registry.Resolution) error {
	ns, name, _ := strings.Cut(res.CronJob, "/")
	patch, _ := json.Marshal([]map[string]any{{"op": "replace", "path": "/spec/jobTemplate/spec/template/spec/containers/0/image", "value": res.Image}})
	if _, err := r.cs.BatchV1().CronJobs(ns).Patch(ctx, name, types.JSONPatchType, patch, metav1.PatchOptions{FieldManager: FieldManager}); err != nil {
		return fmt.Errorf("resolve cronjob %s to %s: %w", res.CronJob, res.Image, err)
	}
	return nil
}
