package realrun

import (
	"context"
	"fmt"
	"strings"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/faultline-dev/faultline/clusters/kind"
	"github.com/faultline-dev/faultline/platform"
	"github.com/faultline-dev/faultline/platform/kube"
)

// A variant that deploys faultline's platform (spec.platform; Options.Platform) runs it in the
// real world too, as `faultline platform run` runs it (package platform/kube): in this process
// beside the cluster, against the run's API server, the same decision code the simulator runs
// inside its World (platform/simadapter). Its parts: the cron scheduler, and the consolidation's
// image resolution (the cron scheduler resolves each Job's image from the app's runtime group
// when it creates the Job). Its /metrics listens on 127.0.0.1, where the run's Prometheus
// scrapes the cron_* families. The placement webhook is not served: an API server would have to
// call it over TLS with a CA the run does not register; a variant that needs it is reported.

// platRun is the run's platform process.
type platRun struct {
	metrics string // its /metrics address, once serving
	stop    context.CancelFunc
	done    chan error
}

// startPlatform starts the platform when the variant deploys it and waits until it serves; it
// fails the run when it cannot start, since the variant's CronJobs (suspended for
// kube-controller-manager) would then never run.
func (r *run) startPlatform(ctx context.Context) error {
	cfg := r.opts.Platform
	if !cfg.Enabled() || r.rc == nil {
		return nil
	}
	if cfg.Placement != nil && cfg.Placement.Spread != nil {
		r.rep.NotInjected = append(r.rep.NotInjected, "platform placement webhook: not run in real runs (the API server would need its TLS endpoint registered); the variant's placements are the scheduler's own")
	}
	// a cluster that runs the platform already (platform/deploy, as clusters/kind installs it)
	// schedules the CronJobs itself: a second scheduler would run each twice. A lookup the
	// cluster refuses (RBAC) is not a reason to fail the run.
	if cfg.Cron != nil {
		if _, err := r.cs.AppsV1().Deployments(kind.PlatformNamespace).Get(ctx, kind.PlatformDeployment, metav1.GetOptions{}); err == nil {
			r.rep.Notes = append(r.rep.Notes, "the cluster runs faultline's platform already (deployment "+kind.PlatformNamespace+"/"+kind.PlatformDeployment+"): its scheduler runs the variant's CronJobs; its /metrics is inside the cluster, not scraped")
			return nil
		}
	}
	pctx, cancel := context.WithCancel(context.WithoutCancel(ctx))
	ready := make(chan string, 1)
	r.plat = platRun{stop: cancel, done: make(chan error, 1)}
	go func() {
		r.plat.done <- kube.Run(pctx, *cfg, r.rc, kube.Options{
			MetricsAddr: "127.0.0.1:0", Logger: r.log.With("component", "platform"),
			Ready: func(metrics, _ string) { ready <- metrics },
		})
	}()
	select {
	case m := <-ready:
		r.plat.metrics = m
		r.rep.Notes = append(r.rep.Notes, "the scenario's platform (spec.platform: "+platformParts(cfg)+") runs against the cluster in faultline's process, as `faultline platform run` would; its /metrics on "+m)
		return nil
	case err := <-r.plat.done:
		cancel()
		r.plat = platRun{}
		return fmt.Errorf("platform: %w", err)
	case <-time.After(time.Minute):
		r.stopPlatform()
		return fmt.Errorf("platform: not serving after a minute")
	case <-ctx.Done():
		r.stopPlatform()
		return ctx.Err()
	}
}

// stopPlatform stops it and waits for it to return.
func (r *run) stopPlatform() {
	if r.plat.stop == nil {
		return
	}
	r.plat.stop()
	select {
	case err := <-r.plat.done:
		if err != nil && err != context.Canceled {
			r.log.Warn("platform", "err", err)
		}
	case <-time.After(30 * time.Second):
		r.log.Warn("platform did not stop within 30 s")
	}
	r.plat = platRun{}
}

// platformParts names the parts of the platform a variant runs.
func platformParts(cfg *platform.Config) string {
	var parts []string
	if cfg.Cron != nil {
		parts = append(parts, "cron scheduler")
	}
	if cfg.Placement != nil && cfg.Placement.Consolidation != nil {
		parts = append(parts, "consolidation image resolution")
	}
	if cfg.Placement != nil && cfg.Placement.Spread != nil {
		parts = append(parts, "placement spread (webhook not served)")
	}
	return strings.Join(parts, ", ")
}
