package sim

import (
	"fmt"
	"slices"
	"time"

	corev1 "k8s.io/api/core/v1"

	"github.com/faultline-dev/faultline/sim/cluster"
	"github.com/faultline-dev/faultline/sim/engine"
	"github.com/faultline-dev/faultline/sim/trace"
)

// Unreachable pods: the PodUnreachable fault (Chaos Mesh NetworkChaos loss of 100 %) drops every
// packet to and from the selected pods. The pods keep running and, with no readiness probe,
// stay Ready and in their Services' endpoints, so callers reach them and wait for their own
// time-out (a webhook call waits timeoutSeconds); they serve nothing.
//
// The kubelet's probes are dropped too:
//   - a readiness probe fails failureThreshold times (the first failure within one period of the
//     fault's start, then one per period, each after timeoutSeconds) and the pod leaves the
//     endpoints: callers are refused at once instead of waiting;
//   - a liveness probe fails the same way and the kubelet restarts the container. In the model
//     the restart clears the fault for that pod: it stands for the incident's hung process (OPA
//     not answering), which a restart cures. On a real cluster Chaos Mesh's netem rule lives in
//     the pod's network namespace and survives container restarts; there the equivalent fault is
//     a process hang, which Chaos Mesh cannot inject.
//
// Left out: startup probes, successThreshold on recovery, probe periods' phase relative to the
// container start (the phase is drawn from the fault's stream), the kill's grace period.
type unreachable struct {
	env  *netEnv
	net  *netWorld // nil without the network path; where it tracks a pod, it owns its readiness
	hid  engine.HandlerID
	live bool // hid is registered on env.q (at the first fault: the run's queue is final then)
	pods map[int]*unreachablePod
}

// unreachable's only event kind: a probe of an unreachable pod reached its failure threshold
const unreachEvProbeFail uint32 = 1

// Fire handles unreachable's events.
func (u *unreachable) Fire(_ time.Duration, arg uint32) {
	kind, pi := unpack(arg)
	if kind != unreachEvProbeFail {
		panic(fmt.Sprintf("sim: unknown unreachable event kind %d", kind))
	}
	u.probeFails(pi)
}

// holds reports whether pod pi is under a PodUnreachable fault.
func (u *unreachable) holds(pi int) bool {
	_, ok := u.pods[pi]
	return ok
}

// unreachablePod is one pod under the fault: when its probes reach their failure thresholds.
type unreachablePod struct {
	fault       int
	readyFail   time.Duration // -1: no readiness probe, or already failed
	readyFailed bool
	liveFail    time.Duration // -1: no liveness probe
	timer       engine.Timer
}

// probeFailAfter is when the probe's failureThreshold-th failure is seen, counted from a fault
// that starts phase into the probe's period.
func probeFailAfter(pr *corev1.Probe, phase float64) time.Duration {
	period := time.Duration(max(pr.PeriodSeconds, 1)) * time.Second
	if pr.PeriodSeconds == 0 {
		period = 10 * time.Second
	}
	threshold := pr.FailureThreshold
	if threshold == 0 {
		threshold = 3
	}
	timeout := time.Duration(max(pr.TimeoutSeconds, 1)) * time.Second
	return time.Duration(phase*float64(period)) + time.Duration(threshold-1)*period + timeout
}

// start puts the pods of fault fi (fs, its pods selected) under the fault.
func (u *unreachable) start(fi int, fs *faultState) {
	env := u.env
	if !u.live {
		u.hid, u.live = env.q.Register(u), true
	}
	if u.pods == nil {
		u.pods = map[int]*unreachablePod{}
	}
	now := env.q.Now()
	for _, pi := range fs.pods {
		p := env.st.Pods[pi]
		ps := env.pod(pi)
		ps.failed = true
		podChanged(p)
		up := &unreachablePod{fault: fi, readyFail: -1, liveFail: -1}
		for c := range p.Spec.Containers {
			ct := &p.Spec.Containers[c]
			if ct.ReadinessProbe != nil && up.readyFail < 0 {
				up.readyFail = now + probeFailAfter(ct.ReadinessProbe, fs.rng.Float64())
			}
			if ct.LivenessProbe != nil && up.liveFail < 0 {
				up.liveFail = now + probeFailAfter(ct.LivenessProbe, fs.rng.Float64())
			}
		}
		if old := u.pods[pi]; old != nil {
			env.q.Cancel(old.timer)
		}
		u.pods[pi] = up
		u.arm(pi, up)
		emitNet(env, trace.PodUnreachable{Pod: p.Name})
	}
}

// syncUnreachable is the kubelet's view of an unreachable pod: its container runs and, unless a
// readiness probe has failed, the kubelet reports it Ready whenever the node is Ready (after a
// node went NotReady and came back, say), so it returns to the endpoints and callers wait on it
// again.
func (u *unreachable) sync() {
	if len(u.pods) == 0 {
		return
	}
	env := u.env
	keys := make([]int, 0, len(u.pods))
	for pi := range u.pods {
		keys = append(keys, pi)
	}
	slices.Sort(keys)
	for _, pi := range keys {
		if u.net.tracks(pi) {
			// the network path owns this pod's readiness (its probes see the pod not serving);
			// setting it here too made the two models undo each other forever at one instant
			continue
		}
		up := u.pods[pi]
		p := env.st.Pods[pi]
		ps := env.pod(pi)
		if up.readyFailed || p.Ready || p.Phase != cluster.PodRunning || ps.dead || p.Node == nil || !p.Node.Ready ||
			p.Started+ps.readyWait > env.q.Now() {
			continue
		}
		p.Ready = true
		podChanged(p)
		emitNet(env, trace.PodReadyUnreachable{Pod: p.Name})
		env.cl.touch()
	}
}

// arm schedules the pod's next probe failure, if it has a probe left to fail.
func (u *unreachable) arm(pi int, up *unreachablePod) {
	next := time.Duration(-1)
	for _, t := range []time.Duration{up.readyFail, up.liveFail} {
		if t >= 0 && (next < 0 || t < next) {
			next = t
		}
	}
	if next >= 0 {
		up.timer = u.env.q.AtID(next, u.hid, pack(unreachEvProbeFail, pi))
	}
}

// probeFails handles the probe whose failure threshold is reached now.
func (u *unreachable) probeFails(pi int) {
	env := u.env
	up := u.pods[pi]
	p := env.st.Pods[pi]
	ps := env.pod(pi)
	if up == nil || p.Phase == cluster.PodGone || p.Phase == cluster.PodTerminating {
		return
	}
	now := env.q.Now()
	if up.liveFail >= 0 && up.liveFail <= now {
		// liveness: the kubelet restarts the container, which (in the model) clears the hang
		delete(u.pods, pi)
		ps.failed = false
		p.Ready = false
		podChanged(p)
		if p.Phase == cluster.PodRunning && !ps.dead {
			p.Phase = cluster.PodPending
			env.cl.podCancel(ps, &ps.ready)
			ps.start = env.cl.podAfter(env.m.Pods.ContainerStart.Duration, evContainersStarted, pi)
		}
		emitNet(env, trace.LivenessRestart{Pod: p.Name})
		env.cl.touch()
		return
	}
	if up.readyFail >= 0 && up.readyFail <= now {
		up.readyFail = -1
		up.readyFailed = true
		if p.Ready {
			p.Ready = false
			podChanged(p)
			emitNet(env, trace.ReadinessFailed{Pod: p.Name})
			env.cl.touch()
		}
	}
	u.arm(pi, up)
}

// end lifts fault fi from its pods (those it still holds).
func (u *unreachable) end(fi int, pods []int) {
	env := u.env
	for _, pi := range pods {
		up := u.pods[pi]
		if up == nil || up.fault != fi {
			continue
		}
		env.q.Cancel(up.timer)
		delete(u.pods, pi)
		ps := env.pod(pi)
		ps.failed = false
		p := ps.p
		podChanged(p)
		if p.Phase == cluster.PodRunning && !ps.dead && !p.Ready {
			env.cl.podCancel(ps, &ps.ready)
			ps.ready = env.cl.podAfter(ps.readyWait, evPodReady, pi)
		}
	}
	env.cl.touch()
}
