package realrun

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/faultline-dev/faultline/platform"
	"github.com/faultline-dev/faultline/platform/kube"
)

// startPlatform runs the scenario's platform (Options.Platform: the cron scheduler, the
// consolidation's image resolution) against the cluster for the run, as `faultline platform run`
// would: the same code the simulator runs as an extension, here with client-go against the real
// API server, in this process. Its webhook is not served (a webhook configuration the scenario
// holds is applied as the scenario's own object). It is stopped when the run finishes.
func (r *run) startPlatform(ctx context.Context) error {
	cfg := r.opts.Platform
	if !cfg.Enabled() {
		return nil
	}
	pctx, cancel := context.WithCancel(context.WithoutCancel(ctx))
	ready := make(chan struct{})
	done := make(chan error, 1)
	go func() {
		done <- kube.Run(pctx, *cfg, r.rc, kube.Options{
			MetricsAddr: "127.0.0.1:0", // loopback, any free port: nothing scrapes it here
			Logger:      r.log.With("component", "platform"),
			Ready:       func(string, string) { close(ready) },
		})
	}()
	stop := func(context.Context) error {
		cancel()
		if err := <-done; err != nil && !errors.Is(err, context.Canceled) {
			return fmt.Errorf("platform: %w", err)
		}
		return nil
	}
	select {
	case <-ready:
	case err := <-done:
		cancel()
		return fmt.Errorf("platform: %w", err)
	case <-time.After(time.Minute):
		return errors.Join(errors.New("platform: not ready after a minute"), stop(ctx))
	case <-ctx.Done():
		return errors.Join(ctx.Err(), stop(ctx))
	}
	r.addRevert(stop)
	r.rep.Notes = append(r.rep.Notes, "the scenario's platform (spec.platform: "+platformParts(cfg)+") runs against the cluster in faultline's process, as `faultline platform run` would")
	return nil
}

func platformParts(cfg *platform.Config) string {
	s := ""
	if cfg.Cron != nil {
		s = "cron scheduler"
	}
	if cfg.Placement != nil && cfg.Placement.Consolidation != nil {
		if s != "" {
			s += ", "
		}
		s += "consolidation image resolution"
	}
	return s
}
