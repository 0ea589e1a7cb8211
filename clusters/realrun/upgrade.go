package realrun

import (
	"context"
	"fmt"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/faultline-dev/faultline/clusters/webhook"
	"github.com/faultline-dev/faultline/measure"
	"github.com/faultline-dev/faultline/sim"
)

// The control-plane faults of the webhook scenarios, on a control plane faultline runs.
//
// ControlPlaneUpgrade (faultline.dev/v1alpha1) restarts kube-apiserver as each step of a managed
// upgrade would. What is real: the API server process is stopped, stays down for the model's
// upgradeInstanceTime, is started again with its recorded command line and must pass its own
// post-start hooks (the client-CA hook writes kube-system/extension-apiserver-authentication
// through the admission chain, webhooks included) before it answers /readyz; if it exits it is
// started again after a kubelet-like back-off (10 s doubling to 5 min). What is set: one real
// process plays each of the model's apiServers instances in turn (no load balancer: the API is
// unavailable while it restarts, where a regional cluster keeps the other instances serving);
// the version is a label, the same binary comes back; the upgrade's time-out is a deadline at
// which the report says the upgrade would be reported failed.
//
// NetworkChaos loss of 100 % on the pods behind a webhook's Service makes faultline's webhook
// backend hang for the window: the API server's calls to it get no answer and wait for the
// webhook's timeoutSeconds, as calls into a black hole do. What is real: the API server's calls,
// their time-outs and the failure policy applied to them. What is set: the backend is faultline's
// own server on 127.0.0.1, told to hang, not a pod behind a lossy network; KWOK pods carry no
// traffic, so a loss on any other pod is reported as not injected.

// crashBackOff is the kubelet's restart back-off of a crashing static pod: 10 s doubling to 5 min
// (variables for the tests).
var (
	crashBackOff    = 10 * time.Second
	crashBackOffMax = 5 * time.Minute
)

// upgradeObs is what a run saw of its control-plane upgrade, for the control-plane record.
type upgradeObs struct {
	mu      sync.Mutex
	played  bool
	began   time.Time
	done    time.Time // zero while not complete
	timeout time.Duration
	steps   []upgradeStep
}

// upgradeStep is one instance's step: kube-apiserver stopped at out, ready again at ready (zero
// while not).
type upgradeStep struct{ out, ready time.Time }

// observe is the run's control-plane record for a run that played an upgrade (nil otherwise):
// the upgrade's steps as offsets from t0, its completion and whether its time-out passed first.
// measure.ControlPlaneIndicators derives upgrade-completed and upgrade-minutes from it as it does
// for the simulator (the window's Scale turns the wall clock into the scenario's minutes).
func (u *upgradeObs) observe(t0, end time.Time) *measure.ControlPlaneObservations {
	u.mu.Lock()
	defer u.mu.Unlock()
	if !u.played {
		return nil
	}
	up := &measure.UpgradeObservation{Began: u.began.Sub(t0)}
	for i, st := range u.steps {
		s := measure.UpgradeStep{Instance: fmt.Sprintf("kube-apiserver-%d", i+1), Out: st.out.Sub(t0)}
		if !st.ready.IsZero() {
			s.Ready, s.IsReady = st.ready.Sub(t0), true
		}
		up.Steps = append(up.Steps, s)
	}
	deadline := u.began.Add(u.timeout)
	if u.done.IsZero() {
		up.TimedOut = !end.Before(deadline)
	} else {
		up.Done, up.DoneAt = true, u.done.Sub(t0)
		up.TimedOut = u.done.After(deadline)
	}
	return &measure.ControlPlaneObservations{Upgrade: up}
}

// podUnreachable hangs the webhook backend of the selected pods for the fault's window.
func (r *run) podUnreachable(_ context.Context, f sim.Fault) (func(context.Context) error, error) {
	backends := r.hookBackends(f.Pods)
	if len(backends) == 0 || r.hook == nil {
		return nil, fmt.Errorf("KWOK pods carry no traffic; only the pods behind a webhook's Service (faultline's webhook backend) can be cut off: %w", ErrUnsupported)
	}
	prev := r.hook.Mode()
	r.hook.SetMode(webhook.Hang)
	r.note(true, "%s (NetworkChaos loss): the webhook backend of %s gets no packets: faultline's backend hangs, the API server's calls wait for the webhook's timeoutSeconds",
		f.Name, strings.Join(backends, ", "))
	return func(context.Context) error { r.hook.SetMode(prev); return nil }, nil
}

// controlPlaneUpgrade plays a managed upgrade: kube-apiserver restarted once per modelled
// instance, one after the other, each step starting once the previous instance is ready. It
// runs its course on its own (playFault returns at once) until the run ends.
func (r *run) controlPlaneUpgrade(ctx context.Context, f sim.Fault) {
	cp := r.opts.ControlPlane
	if cp == nil {
		r.injectFailed(f.Name, f.Action, fmt.Errorf("faultline does not run this cluster's kube-apiserver; use --cluster local: %w", ErrUnsupported))
		return
	}
	cpm := r.in.Models.ControlPlane
	steps := max(cpm.APIServers, 1)
	replace := r.scaled(cpm.UpgradeInstanceTime.Duration)
	timeout := f.Timeout
	if timeout <= 0 {
		timeout = cpm.UpgradeTimeout.Duration
	}
	began := r.clock.Now()
	r.up.mu.Lock()
	r.up.played, r.up.began, r.up.timeout = true, began, r.scaled(timeout)
	r.up.mu.Unlock()
	var upgraded atomic.Int32
	reported := time.AfterFunc(r.scaled(timeout), func() {
		if n := int(upgraded.Load()); n < steps {
			r.note(true, "%s: the upgrade's time-out (%s) passed with %d of %d instances upgraded: the client would report it failed", f.Name, timeout, n, steps)
		}
	})
	defer reported.Stop()
	if err := r.ledgerProcess(APIServer); err != nil {
		r.injectFailed(f.Name, f.Action, err)
		return
	}
	r.note(true, "%s: kube-apiserver restarted as each of %d instances of a managed upgrade to %s would be (down %s each; one real process plays every instance)",
		f.Name, steps, f.Version, replace)
	var ready time.Time
	for i := 1; i <= steps; i++ {
		if ctx.Err() != nil {
			return // the run ended mid-upgrade: no new step (the time-out note says how far it got)
		}
		r.expectDown(APIServer)
		out := r.clock.Now() // the instance is out from here: its stop is part of its replacement
		if err := cp.Stop(ctx, APIServer); err != nil {
			r.expectUp(APIServer)
			r.injectFailed(f.Name, f.Action, fmt.Errorf("step %d of %d: stop kube-apiserver: %w", i, steps, err))
			return
		}
		r.up.mu.Lock()
		r.up.steps = append(r.up.steps, upgradeStep{out: out})
		r.up.mu.Unlock()
		r.log.Info("upgrade: kube-apiserver stopped", "step", i, "of", steps)
		r.addRevert(r.apiServerBack) // undone at the end if the run ends mid-step
		r.sleepUntil(ctx, out.Add(replace))
		if err := r.startCrashLooping(ctx, cp); err != nil {
			r.log.Warn("upgrade: kube-apiserver did not come back before the end of the run", "step", i, "err", err)
			return // the revert above starts it for the clean-up
		}
		r.expectUp(APIServer)
		ready = r.clock.Now()
		r.up.mu.Lock()
		r.up.steps[len(r.up.steps)-1].ready = ready
		r.up.mu.Unlock()
		upgraded.Add(1)
		r.log.Info("upgrade: kube-apiserver ready", "step", i, "of", steps, "after", r.clock.Since(began).Round(time.Second).String())
	}
	r.up.mu.Lock()
	r.up.done = ready // complete when the last instance is ready
	r.up.mu.Unlock()
	r.note(true, "%s: upgrade complete: %d of %d instances in %s", f.Name, steps, steps, r.clock.Since(began).Round(time.Second))
}

// startCrashLooping starts kube-apiserver and waits until it is ready; if it exits, it is
// started again after the kubelet's back-off, until ctx ends.
func (r *run) startCrashLooping(ctx context.Context, cp ControlPlane) error {
	backoff := crashBackOff
	for {
		err := cp.Start(ctx, APIServer) // returns once healthy, at once if it exits
		if err == nil {
			return nil
		}
		if ctx.Err() != nil {
			return err
		}
		r.rec.apiServerExit(r.clock.Now(), "exited before it was ready: "+firstLine(err))
		r.log.Warn("upgrade: kube-apiserver exited before it was ready; restarting after the back-off", "backoff", backoff, "err", firstLine(err))
		if !r.sleepUntil(ctx, r.clock.Now().Add(backoff)) {
			return ctx.Err()
		}
		backoff = min(2*backoff, crashBackOffMax)
	}
}

// apiServerBack starts kube-apiserver again if it is down (a run that ended mid-upgrade): the
// clean-up and the next run need it.
func (r *run) apiServerBack(ctx context.Context) error {
	if err := r.opts.ControlPlane.Start(ctx, APIServer); err != nil {
		return fmt.Errorf("start kube-apiserver again after the upgrade: %w", err)
	}
	r.expectUp(APIServer)
	return nil
}

func firstLine(err error) string {
	s, _, _ := strings.Cut(err.Error(), "\n")
	return s
}
