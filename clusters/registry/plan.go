package registry

import (
	"cmp"
	"fmt"
	"maps"
	"slices"
	"strings"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"

	"github.com/faultline-dev/faultline/sim"
)

// Plan is what a real run does with the registry, at offsets of virtual time from the run's
// start (the run scales them as it scales fault times).
type Plan struct {
	// Hosts are the image hosts the registry stands in for: those the deletions' globs and
	// replacement images name. Every image of the scenario on these hosts is pulled from the
	// registry, with its own name and pull policy.
	Hosts []string
	// Seed are the images pushed before the run: the objects' images on Hosts and the
	// replacement images, sorted.
	Seed []string
	// Events delete and restore images, in time order.
	Events []Event
	// Resolutions are the run-time image resolution of the registry model: from At on, the
	// CronJob's Jobs run Image (its own image is gone and the platform resolves the app's current
	// one when it creates a Job).
	Resolutions []Resolution
	// NotPlayed says what of the model a real run does not play, for the report.
	NotPlayed []string
}

// Event is one image deleted (Restore false) or pushed back (true) at At.
type Event struct {
	At      time.Duration
	Image   string
	Restore bool
}

// Resolution replaces a CronJob's first container image (where the simulator's CronJob model
// and the platform's resolution both read the app's image) with Image from At on.
type Resolution struct {
	At      time.Duration
	CronJob string // namespace/name
	Image   string
}

// Served reports whether image is pulled from the registry.
func (p *Plan) Served(image string) bool {
	if p == nil {
		return false
	}
	ref, err := ParseRef(image)
	return err == nil && slices.Contains(p.Hosts, ref.Host)
}

// PlanFor turns the input's registry model (models.registry.deletions) into a Plan; nil when the
// model deletes nothing. Each image matching a deletion's glob goes at the instant the
// simulator's model deletes it (sim.ImageDeletion.Offset) and comes back at the roll-back's matching
// instant.
func PlanFor(in *sim.Input) (*Plan, error) {
	dels := in.Models.Registry.Deletions
	if len(dels) == 0 {
		return nil, nil
	}
	p := &Plan{}
	host := func(what, image string) error {
		h, _, ok := strings.Cut(image, "/")
		if !ok || strings.ContainsAny(h, "*?[\\") || !strings.ContainsAny(h, ".:") && h != "localhost" {
			return fmt.Errorf("%s: %s %q: expected an image name starting with a registry host without wildcards (registry.example/app-*)", in.Name, what, image)
		}
		if !slices.Contains(p.Hosts, h) {
			p.Hosts = append(p.Hosts, h)
		}
		return nil
	}
	for i, d := range dels {
		if err := host(fmt.Sprintf("models.registry.deletions[%d].images", i), d.Images); err != nil {
			return nil, err
		}
		if d.ReplacedBy != "" {
			if err := host(fmt.Sprintf("models.registry.deletions[%d].replacedBy", i), d.ReplacedBy); err != nil {
				return nil, err
			}
			p.Seed = append(p.Seed, d.ReplacedBy)
		}
		if d.FixAfterDetection.Duration > 0 {
			p.NotPlayed = append(p.NotPlayed, fmt.Sprintf("models.registry.deletions[%d].fixAfterDetection: fixing forward after the first alert is not played (the fix comes at resolveFrom)", i))
		}
	}
	slices.Sort(p.Hosts)
	cronImage := map[string]string{} // namespace/name → first container's image
	for _, o := range in.Objects {
		spec, key := podSpec(o)
		if spec == nil {
			continue
		}
		for _, c := range slices.Concat(spec.InitContainers, spec.Containers) {
			if p.Served(c.Image) {
				if _, err := ParseRef(c.Image); err != nil {
					return nil, fmt.Errorf("%s: %s: %w", in.Name, key, err)
				}
				p.Seed = append(p.Seed, c.Image)
			}
		}
		if _, ok := o.(*batchv1.CronJob); ok && len(spec.Containers) > 0 {
			cronImage[key] = spec.Containers[0].Image
		}
	}
	slices.Sort(p.Seed)
	p.Seed = slices.Compact(p.Seed)
	for _, img := range p.Seed {
		for _, d := range dels {
			off, ok := d.Offset(img)
			if !ok {
				continue
			}
			p.Events = append(p.Events, Event{At: d.Start.Duration + off, Image: img})
			if d.RollbackAt.Duration > 0 {
				p.Events = append(p.Events, Event{At: d.RollbackAt.Duration + off, Image: img, Restore: true})
			}
			break // the first deletion that matches decides, as in the simulator
		}
	}
	slices.SortStableFunc(p.Events, func(a, b Event) int {
		return cmp.Or(cmp.Compare(a.At, b.At), cmp.Compare(a.Image, b.Image))
	})
	for _, key := range slices.Sorted(maps.Keys(cronImage)) {
		img := cronImage[key]
		for _, d := range dels {
			off, ok := d.Offset(img)
			if !ok || !d.ResolveAtRunTime || d.ReplacedBy == "" {
				continue
			}
			at := max(d.ResolveFrom.Duration, d.Start.Duration+off)
			if d.RollbackAt.Duration > 0 && d.RollbackAt.Duration+off <= at {
				continue // back before the fix: nothing to resolve
			}
			p.Resolutions = append(p.Resolutions, Resolution{At: at, CronJob: key, Image: d.ReplacedBy})
			break
		}
	}
	slices.SortStableFunc(p.Resolutions, func(a, b Resolution) int {
		return cmp.Or(cmp.Compare(a.At, b.At), cmp.Compare(a.CronJob, b.CronJob))
	})
	return p, nil
}

// podSpec is the pod template of a workload object and its key (namespace/name).
func podSpec(o any) (*corev1.PodSpec, string) {
	key := func(ns, name string) string {
		if ns == "" {
			ns = "default"
		}
		return ns + "/" + name
	}
	switch o := o.(type) {
	case *batchv1.CronJob:
		return &o.Spec.JobTemplate.Spec.Template.Spec, key(o.Namespace, o.Name)
	case *batchv1.Job:
		return &o.Spec.Template.Spec, key(o.Namespace, o.Name)
	case *appsv1.Deployment:
		return &o.Spec.Template.Spec, key(o.Namespace, o.Name)
	case *appsv1.StatefulSet:
		return &o.Spec.Template.Spec, key(o.Namespace, o.Name)
	case *appsv1.DaemonSet:
		return &o.Spec.Template.Spec, key(o.Namespace, o.Name)
	case *appsv1.ReplicaSet:
		return &o.Spec.Template.Spec, key(o.Namespace, o.Name)
	case *corev1.Pod:
		return &o.Spec, key(o.Namespace, o.Name)
	}
	return nil, ""
}
