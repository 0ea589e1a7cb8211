package sim

// The image registry the CronJobs' pods pull from (models.registry): deletions over a window,
// replacement, rollback and resolution of an app's image at run time.

import (
	"hash/fnv"
	"path"
	"time"
)

// Model: an image registry where every image exists unless a Registry.Deletions rollout removed it
// (docs/upstream.md "Image pull"; scenarios/cron-deleted-images/README.md). Left out: pull rate limits of the registry itself, image
// sizes, partial layer sharing.

// Offset is when, from the deletion's start, d deletes image: at a fraction of d.Over fixed by a
// hash of the image name (FNV-1a, 53 bits), the same in every seed and in both worlds (the real
// registry of clusters/registry deletes at these offsets), at once for an image d.First names;
// ok is false when d does not delete it.
func (d ImageDeletion) Offset(image string) (off time.Duration, ok bool) {
	if ok, _ := path.Match(d.Images, image); !ok {
		return 0, false
	}
	for _, f := range d.First {
		if ok, _ := path.Match(f, image); ok {
			return 0, true
		}
	}
	h := fnv.New64a()
	_, _ = h.Write([]byte(image))
	frac := float64(h.Sum64()>>11) / (1 << 53)
	return time.Duration(frac * float64(d.Over.Duration)), true
}

// imageRegistry is the registry: its deletions, and from when the platform resolves an app's
// image at run time (per deletion; -1 never), which the first alert may bring forward.
type imageRegistry struct {
	deletions   []ImageDeletion
	resolveFrom []time.Duration
}

func newImageRegistry(m Registry) *imageRegistry {
	g := &imageRegistry{deletions: m.Deletions}
	for _, d := range m.Deletions {
		rf := time.Duration(-1)
		if d.ResolveAtRunTime {
			rf = d.ResolveFrom.Duration
		}
		g.resolveFrom = append(g.resolveFrom, rf)
	}
	return g
}

// missing reports whether img is deleted at t.
func (g *imageRegistry) missing(img string, t time.Duration) bool {
	for _, d := range g.deletions {
		off, ok := d.Offset(img)
		if !ok || t < d.Start.Duration+off {
			continue
		}
		if d.RollbackAt.Duration > 0 && t >= d.RollbackAt.Duration+off {
			continue
		}
		return true
	}
	return false
}

// resolve is the image a Job created at t runs, for a CronJob whose image is img: img, unless
// the platform resolves the app's current image at run time and img was consolidated away.
func (g *imageRegistry) resolve(img string, t time.Duration) string {
	for i, d := range g.deletions {
		rf := g.resolveFrom[i]
		if rf < 0 || t < rf || d.ReplacedBy == "" {
			continue
		}
		if ok, _ := path.Match(d.Images, img); ok && g.missing(img, t) {
			return d.ReplacedBy
		}
	}
	return img
}

// detected is the first alert at t: the team fixes forward FixAfterDetection later, if that is
// earlier than the planned resolution.
func (g *imageRegistry) detected(t time.Duration) {
	for i, d := range g.deletions {
		if d.ResolveAtRunTime && d.FixAfterDetection.Duration > 0 {
			if fix := t + d.FixAfterDetection.Duration; fix < g.resolveFrom[i] {
				g.resolveFrom[i] = fix
			}
		}
	}
}
