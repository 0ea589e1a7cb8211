package sim

import (
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

func (w *World) unreachableStart(fi int) {
	fs := w.faults[fi]
	fs.pods = w.selectPods(fs)
	if w.unreach == nil {
		w.unreach = map[int]*unreachablePod{}
	}
	now := w.q.Now()
	for _, pi := range fs.pods {
		p := w.st.Pods[pi]
		ps := w.pods[pi]
		ps.failed = true
		podChanged(p)
		u := &unreachablePod{fault: fi, readyFail: -1, liveFail: -1}
		for c := range p.Spec.Containers {
			ct := &p.Spec.Containers[c]
			if ct.ReadinessProbe != nil && u.readyFail < 0 {
				u.readyFail = now + probeFailAfter(ct.ReadinessProbe, fs.rng.Float64())
			}
			if ct.LivenessProbe != nil && u.liveFail < 0 {
				u.liveFail = now + probeFailAfter(ct.LivenessProbe, fs.rng.Float64())
			}
		}
		w.q.Cancel(w.unreachTimer(pi))
		w.unreach[pi] = u
		w.armProbe(pi, u)
		emit(w, trace.PodUnreachable{Pod: p.Name})
	}
}

// syncUnreachable is the kubelet's view of an unreachable pod: its container runs and, unless a
// readiness probe has failed, the kubelet reports it Ready whenever the node is Ready (after a
// node went NotReady and came back, say), so it returns to the endpoints and callers wait on it
// again.
func (w *World) syncUnreachable() {
	if len(w.unreach) == 0 {
		return
	}
	keys := make([]int, 0, len(w.unreach))
	for pi := range w.unreach {
		keys = append(keys, pi)
	}
	slices.Sort(keys)
	for _, pi := range keys {
		if n := w.net; n != nil && n.path && pi < len(n.pods) && n.pods[pi].tracked {
			// the network path owns this pod's readiness (its probes see the pod not serving);
			// setting it here too made the two models undo each other forever at one instant
			continue
		}
		u := w.unreach[pi]
		p := w.st.Pods[pi]
		ps := w.pods[pi]
		if u.readyFailed || p.Ready || p.Phase != cluster.PodRunning || ps.dead || p.Node == nil || !p.Node.Ready ||
			p.Started+ps.readyWait > w.q.Now() {
			continue
		}
		p.Ready = true
		podChanged(p)
		emit(w, trace.PodReadyUnreachable{Pod: p.Name})
		w.touch()
	}
}

func (w *World) unreachTimer(pi int) engine.Timer {
	if u := w.unreach[pi]; u != nil {
		return u.timer
	}
	return engine.Timer{}
}

func (w *World) armProbe(pi int, u *unreachablePod) {
	next := time.Duration(-1)
	for _, t := range []time.Duration{u.readyFail, u.liveFail} {
		if t >= 0 && (next < 0 || t < next) {
			next = t
		}
	}
	if next >= 0 {
		u.timer = w.q.AtID(next, w.hid, pack(evProbeFail, pi))
	}
}

// probeFails handles the probe whose failure threshold is reached now.
func (w *World) probeFails(pi int) {
	u := w.unreach[pi]
	p := w.st.Pods[pi]
	ps := w.pods[pi]
	if u == nil || p.Phase == cluster.PodGone || p.Phase == cluster.PodTerminating {
		return
	}
	now := w.q.Now()
	if u.liveFail >= 0 && u.liveFail <= now {
		// liveness: the kubelet restarts the container, which (in the model) clears the hang
		delete(w.unreach, pi)
		ps.failed = false
		p.Ready = false
		podChanged(p)
		if p.Phase == cluster.PodRunning && !ps.dead {
			p.Phase = cluster.PodPending
			w.podCancel(ps, &ps.ready)
			ps.start = w.podAfter(w.m.Pods.ContainerStart.Duration, evContainersStarted, pi)
		}
		emit(w, trace.LivenessRestart{Pod: p.Name})
		w.touch()
		return
	}
	if u.readyFail >= 0 && u.readyFail <= now {
		u.readyFail = -1
		u.readyFailed = true
		if p.Ready {
			p.Ready = false
			podChanged(p)
			emit(w, trace.ReadinessFailed{Pod: p.Name})
			w.touch()
		}
	}
	w.armProbe(pi, u)
}

func (w *World) unreachableEnd(fi int) {
	fs := w.faults[fi]
	for _, pi := range fs.pods {
		u := w.unreach[pi]
		if u == nil || u.fault != fi {
			continue
		}
		w.q.Cancel(u.timer)
		delete(w.unreach, pi)
		ps := w.pods[pi]
		ps.failed = false
		p := ps.p
		podChanged(p)
		if p.Phase == cluster.PodRunning && !ps.dead && !p.Ready {
			w.podCancel(ps, &ps.ready)
			ps.ready = w.podAfter(ps.readyWait, evPodReady, pi)
		}
	}
	w.touch()
}
