package realrun

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"time"
)

// A real run is only as good as the world under it. A run is invalid, and not scored, when that
// world broke beneath it: a control-plane process died (other than one a fault stops on
// purpose), the API server stopped answering, a fault that this cluster can express could not be
// injected, or a fault could not be reverted. Run then returns an *InvalidError and the Report
// lists the reasons (Report.Invalid). Faults this cluster cannot express at all (CPU stress on
// KWOK pods, say) are reported as not injected and do not make a run invalid: they are known
// differences between the worlds, not accidents.

// InvalidError is a run whose world broke beneath it; Reasons say how.
type InvalidError struct{ Reasons []string }

func (e *InvalidError) Error() string {
	return "the run is invalid, the cluster under it broke: " + strings.Join(e.Reasons, "; ")
}

// ErrUnsupported marks a fault this cluster cannot express: reported, not a broken world.
var ErrUnsupported = errors.New("not supported by this cluster")

// ProcessWatcher is implemented by control planes faultline runs itself (the local provider's):
// the recorded processes that are not running, as "name (pid N)".
type ProcessWatcher interface {
	NotRunning(ctx context.Context) ([]string, error)
}

// apiSilenceLimit is how long the API server may fail to answer /readyz before the run is
// invalid (a control plane faultline does not run gives no other sign of death). A variable for
// the tests.
var apiSilenceLimit = 15 * time.Second

// guard watches the world under the run every second until the returned stop is called: the
// control plane's processes (when the cluster is faultline's) and the API server's /readyz. When
// it breaks, the run is marked invalid and the returned context is cancelled, so that the run
// stops at once instead of measuring a broken world.
func (r *run) guard(ctx context.Context) (context.Context, func()) {
	gctx, cancel := context.WithCancel(ctx)
	done := make(chan struct{})
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		var silentSince time.Time
		reported := map[string]bool{}
		tick := time.NewTicker(time.Second)
		defer tick.Stop()
		for {
			select {
			case <-done:
				return
			case <-gctx.Done():
				return
			case <-tick.C:
			}
			if pw, ok := r.opts.ControlPlane.(ProcessWatcher); ok {
				down, err := pw.NotRunning(gctx)
				if err != nil && gctx.Err() == nil {
					r.invalid("the cluster's control plane cannot be inspected: %v", err)
					cancel()
					return
				}
				broke := false
				for _, d := range down {
					name, _, _ := strings.Cut(d, " ")
					if r.expectedDown(name) || reported[d] {
						continue
					}
					reported[d] = true
					broke = true
					r.invalid("%s died %s into the run", d, r.since())
				}
				if broke {
					cancel()
					return
				}
			}
			if r.expectedDown(APIServer) {
				silentSince = time.Time{}
				continue
			}
			rctx, rcancel := context.WithTimeout(gctx, 3*time.Second)
			err := r.cs.Discovery().RESTClient().Get().AbsPath("/readyz").Do(rctx).Error()
			rcancel()
			switch {
			case gctx.Err() != nil:
				return
			case err == nil:
				silentSince = time.Time{}
			case silentSince.IsZero():
				silentSince = r.clock.Now()
			case r.clock.Since(silentSince) >= apiSilenceLimit:
				r.invalid("the API server did not answer /readyz for %s (%v)", apiSilenceLimit, err)
				cancel()
				return
			}
		}
	}()
	return gctx, func() {
		close(done)
		wg.Wait()
		cancel()
	}
}

// APIServer is the component name of the API server (ControlPlaneUpgrade restarts it).
const APIServer = "kube-apiserver"

// expectDown says a fault is about to stop component on purpose (until expectUp): the guard
// does not count it as dead meanwhile.
func (r *run) expectDown(component string) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.down == nil {
		r.down = map[string]int{}
	}
	r.down[component]++
}

func (r *run) expectUp(component string) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.down[component] > 0 {
		r.down[component]--
	}
}

func (r *run) expectedDown(component string) bool {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.down[component] > 0
}

// since is how far into the run (from t0, or from its start before t0 is set) it is now.
func (r *run) since() string {
	from := r.t0
	if from.IsZero() {
		from = r.began
	}
	return r.clock.Since(from).Round(time.Second).String()
}

// invalid records why the run is invalid.
func (r *run) invalid(format string, args ...any) {
	msg := fmt.Sprintf(format, args...)
	r.mu.Lock()
	defer r.mu.Unlock()
	r.rep.Invalid = append(r.rep.Invalid, msg)
	r.log.Error("the run is INVALID", "why", msg)
}

// injectFailed records a fault this cluster can express but that could not be injected: not
// injected, and the run invalid. A fault that is not supported (ErrUnsupported) or that selects
// nothing is only reported as not injected.
func (r *run) injectFailed(name string, action any, err error) {
	if errors.Is(err, ErrUnsupported) || errors.Is(err, errNoPods) {
		r.note(false, "%s (%v): %v", name, action, err)
		return
	}
	r.note(false, "%s (%v): injection failed: %v", name, action, err)
	r.invalid("fault %s could not be injected: %v", name, err)
}

// revertFailed records a fault that could not be undone: the cluster is left with it. name is
// empty for a fault in force at the end of the run, whose revert carries its own description.
func (r *run) revertFailed(name string, err error) {
	if name == "" {
		name = "in force at the end of the run"
	}
	msg := fmt.Sprintf("%s: %v", name, err)
	r.mu.Lock()
	r.rep.RevertFailed = append(r.rep.RevertFailed, msg)
	r.mu.Unlock()
	r.invalid("a fault could not be reverted (%s)", msg)
}

// verdict is Run's error once the run is over: the run's own error, else an *InvalidError when
// the world broke.
func (r *run) verdict(err error) error {
	r.mu.Lock()
	reasons := append([]string(nil), r.rep.Invalid...)
	r.mu.Unlock()
	if len(reasons) == 0 {
		return err
	}
	inv := &InvalidError{Reasons: reasons}
	if err == nil || errors.Is(err, context.Canceled) {
		return inv
	}
	return errors.Join(inv, err)
}

// NotRunning is ProcessWatcher for a local cluster.
func (c *localControlPlane) NotRunning(_ context.Context) ([]string, error) {
	return c.p.NotRunning(c.name)
}
