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

func (w *World) imageMissing(img string, t time.Duration) bool {
	for _, d := range w.m.Registry.Deletions {
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

// resolveImage is the image a Job created at t runs: the CronJob's, unless the platform resolves
// the app's current image at run time and the CronJob's image was consolidated away.
func (w *World) resolveImage(cj *cronJob, t time.Duration) string {
	for i, d := range w.m.Registry.Deletions {
		rf := w.cron.resolveFrom[i]
		if rf < 0 || t < rf || d.ReplacedBy == "" {
			continue
		}
		if ok, _ := path.Match(d.Images, cj.image); ok && w.imageMissing(cj.image, t) {
			return d.ReplacedBy
		}
	}
	return cj.image
}
