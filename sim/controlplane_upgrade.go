package sim

import (
	"time"

	"github.com/faultline-dev/faultline/measure"
	"github.com/faultline-dev/faultline/sim/engine"
	"github.com/faultline-dev/faultline/sim/trace"
)

// upgrader is a managed control-plane upgrade (controlplane.go's model): it replaces the
// apiserver instances one at a time, the next once the previous is ready on the new version, and
// the client reports it failed when it is not complete after its time-out (the provider's
// operation goes on).
type upgrader struct {
	*cpEnv
	hid engine.HandlerID
	srv *apiServers
	run *upgradeRun // nil before the fault
}

type upgradeRun struct {
	f        *Fault
	start    time.Duration
	next     int
	done     bool
	doneAt   time.Duration
	timedOut bool
	steps    []measure.UpgradeStep // by instance, in upgrade order
}

// upgrader's only event kind: the client's time-out
const upEvTimeout uint32 = 1

var upgradeEvents = [...]cpEvent[*upgrader]{upEvTimeout: {"upgrade-timeout", func(u *upgrader, _ int) { u.timeout() }}}

// Fire runs the upgrade's events.
func (u *upgrader) Fire(_ time.Duration, arg uint32) { fireEvent(u, upgradeEvents[:], arg) }

// start begins the upgrade of fault f (a second upgrade while one runs is ignored).
func (u *upgrader) start(f *Fault) {
	if u.run != nil {
		return
	}
	u.run = &upgradeRun{f: f, start: u.q.Now()}
	timeout := f.Timeout
	if timeout <= 0 {
		timeout = u.m.ControlPlane.UpgradeTimeout.Duration
	}
	u.q.AfterID(timeout, u.hid, pack(upEvTimeout, 0))
	envEmit(u.env, trace.UpgradeStarted{Version: f.Version, Timeout: timeout})
	u.step()
}

// step replaces the next instance, or completes the upgrade.
func (u *upgrader) step() {
	up := u.run
	if up.next >= len(u.srv.insts) {
		up.done, up.doneAt = true, u.q.Now()
		envEmit(u.env, trace.UpgradeCompleted{Version: up.f.Version, Took: up.doneAt - up.start})
		return
	}
	up.steps = append(up.steps, measure.UpgradeStep{Instance: u.srv.insts[up.next].name, Out: u.q.Now()})
	u.srv.replace(up.next, up.f.Version)
}

// instanceReady moves the upgrade on when the instance it waits for is ready.
func (u *upgrader) instanceReady(i int) {
	up := u.run
	if up == nil || up.done || up.next != i {
		return
	}
	st := &up.steps[len(up.steps)-1]
	st.Ready, st.IsReady = u.q.Now(), true
	up.next++
	u.step()
}

func (u *upgrader) timeout() {
	up := u.run
	if up == nil || up.done {
		return
	}
	up.timedOut = true
	envEmit(u.env, trace.UpgradeTimedOut{Upgraded: up.next, Of: len(u.srv.insts)})
}

// observe is the upgrade's record; nil without one.
func (u *upgrader) observe() *measure.UpgradeObservation {
	up := u.run
	if up == nil {
		return nil
	}
	return &measure.UpgradeObservation{Began: up.start, Steps: up.steps, Done: up.done, DoneAt: up.doneAt, TimedOut: up.timedOut}
}
