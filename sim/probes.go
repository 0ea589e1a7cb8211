package sim

import (
	"time"

	corev1 "k8s.io/api/core/v1"

	"github.com/faultline-dev/faultline/sim/cluster"
	"github.com/faultline-dev/faultline/sim/engine"
	"github.com/faultline-dev/faultline/sim/trace"
)

// Probes, scheduled as state changes.
//
// Model: the kubelet's prober (pkg/kubelet/prober): each probe of a container runs every
// periodSeconds from initialDelaySeconds after the container started; the result changes after
// failureThreshold consecutive failures or successThreshold consecutive successes (defaults:
// period 10 s, failureThreshold 3, successThreshold 1, initialDelay 0). Readiness sets the pod's
// Ready condition (and so its endpoint); liveness and startup failures restart the container;
// readiness and liveness wait until the startup probe has passed. A probe's condition (does the
// check pass?) only changes at events, so instead of ticking, each change arms one timer at the
// probe time where the threshold is crossed, and a change back before then cancels it.
//
// What a check sees: readiness passes while the process answers and, for a deep check
// (Load.Readiness), every checked dependency answers at least Network.DeepCheckBelow of calls
// through kube-proxy; without a readinessProbe the pod is ready while its container runs, whether
// or not the process answers. Liveness and startup pass while the process answers.
// Restarts follow CrashLoopBackOff: the first at once, then 10 s doubling to 5 min.
// Left out: timeoutSeconds (no request latency), the random first-probe offset after a kubelet
// restart, probes of containers other than the first that has each probe, the back-off reset
// after 10 minutes running, terminationGracePeriodSeconds of a liveness restart.
type probe struct {
	spec   *corev1.Probe
	ok     bool // the kubelet's current result
	cond   bool // whether a check would pass now
	flip   engine.Timer
	origin time.Duration // probes run at origin + k·period
}

func (pr *probe) period() time.Duration {
	if pr.spec.PeriodSeconds > 0 {
		return time.Duration(pr.spec.PeriodSeconds) * time.Second
	}
	return 10 * time.Second
}

func (pr *probe) threshold(toOK bool) int {
	if toOK {
		if pr.spec.SuccessThreshold > 0 {
			return int(pr.spec.SuccessThreshold)
		}
		return 1
	}
	if pr.spec.FailureThreshold > 0 {
		return int(pr.spec.FailureThreshold)
	}
	return 3
}

// crossing is when a condition that became cond at now changes the result: at the threshold-th
// probe from the first one at or after now.
func (pr *probe) crossing(now time.Duration, cond bool) time.Duration {
	period := pr.period()
	first := pr.origin
	if now > first {
		k := (now - first + period - 1) / period
		first += k * period
	}
	return first + time.Duration(pr.threshold(cond)-1)*period
}

func firstProbe(spec *corev1.PodSpec, get func(*corev1.Container) *corev1.Probe) *corev1.Probe {
	for i := range spec.Containers {
		if pr := get(&spec.Containers[i]); pr != nil {
			return pr
		}
	}
	return nil
}

// probesInit sets a pod's probes up when its container (re)starts. settled: the pod has been
// running since before the start, with every probe passed, on a phase drawn per pod.
func (n *netWorld) probesInit(p *cluster.Pod, np *netPod, settled bool) {
	np.tracked = true
	for _, g := range p.Spec.ReadinessGates {
		if g.ConditionType == negReadinessGate {
			np.negGate = true
		}
	}
	np.rd = probe{spec: firstProbe(p.Spec, func(c *corev1.Container) *corev1.Probe { return c.ReadinessProbe })}
	np.lv = probe{spec: firstProbe(p.Spec, func(c *corev1.Container) *corev1.Probe { return c.LivenessProbe }), ok: true, cond: true}
	np.su = probe{spec: firstProbe(p.Spec, func(c *corev1.Container) *corev1.Probe { return c.StartupProbe })}
	now := n.env.q.Now()
	for _, pr := range []*probe{&np.rd, &np.lv, &np.su} {
		if pr.spec == nil {
			continue
		}
		pr.origin = now + time.Duration(pr.spec.InitialDelaySeconds)*time.Second
		if settled {
			pr.origin = now - time.Duration(n.rng.Int64N(int64(pr.period())))
		}
	}
	np.started = np.su.spec == nil || settled
	np.su.ok, np.su.cond = np.started, np.started
	np.rd.ok, np.rd.cond = settled, settled
}

// started is the container (re)starting on the network path: the probes begin.
func (n *netWorld) started(pi int) {
	if n == nil || !n.path {
		return
	}
	ps := n.env.pod(pi)
	if ps.wl == nil || ps.wl.load == nil {
		return
	}
	np := n.pod(pi)
	np.restarting, np.exited = false, false
	n.probesInit(n.env.st.Pods[pi], np, false)
	n.env.cl.touch()
}

// probesUpdate re-evaluates a pod's probe conditions after a state change.
func (n *netWorld) probesUpdate(p *cluster.Pod, np *netPod, now time.Duration) {
	if np.terminate || np.restarting || p.Phase != cluster.PodRunning {
		return
	}
	live := n.serving(p.Index)
	n.setCond(&np.su, netEvStartup, p.Index, live, now)
	if !np.started {
		return
	}
	ready := true // no readiness probe: ready while the container runs
	if np.rd.spec != nil {
		ready = live
		if l := n.env.pod(p.Index).wl.load; ready && l.net.deep {
			ready = l.net.checksOK
		}
	}
	n.setCond(&np.rd, netEvReadiness, p.Index, ready, now)
	n.setCond(&np.lv, netEvLiveness, p.Index, live, now)
}

// setCond records a probe's condition and arms or cancels the timer of the result change.
func (n *netWorld) setCond(pr *probe, kind uint32, pi int, cond bool, now time.Duration) {
	if pr.spec == nil {
		pr.cond, pr.ok = cond, cond
		if kind == netEvLiveness || kind == netEvStartup {
			pr.ok = true // no probe: never fails
		}
		return
	}
	q := n.env.q
	if cond == pr.cond && (cond == pr.ok || q.IsPending(pr.flip)) {
		return
	}
	pr.cond = cond
	q.Cancel(pr.flip)
	if cond != pr.ok {
		pr.flip = q.AtID(pr.crossing(now, cond), n.hid, pack(kind, pi))
	}
}

// probeFlip is a probe result changing after its threshold.
func (n *netWorld) probeFlip(kind uint32, pi int) {
	p := n.env.st.Pods[pi]
	np := n.pod(pi)
	if p.Node == nil || !p.Node.Up || np.terminate || np.restarting {
		return // no kubelet to probe, or the probes stopped
	}
	var pr *probe
	name := ""
	switch kind {
	case netEvReadiness:
		pr, name = &np.rd, "readiness"
	case netEvLiveness:
		pr, name = &np.lv, "liveness"
	default:
		pr, name = &np.su, "startup"
	}
	pr.ok = pr.cond
	emitNet(n.env, trace.ProbeResult{Pod: p.Name, Probe: name, OK: pr.ok})
	switch {
	case kind == netEvStartup && pr.ok:
		np.started = true
	case (kind == netEvLiveness || kind == netEvStartup) && !pr.ok:
		n.restartContainer(pi, name)
	}
	n.env.cl.touch()
}

// restartContainer kills and restarts the container after a failed liveness or startup probe.
func (n *netWorld) restartContainer(pi int, why string) {
	q := n.env.q
	np := n.pod(pi)
	np.restarting = true
	np.restarts++
	n.restarts++
	for _, pr := range []*probe{&np.rd, &np.lv, &np.su} {
		q.Cancel(pr.flip)
	}
	delay := time.Duration(0)
	if np.restarts > 1 {
		delay = 10 * time.Second << min(np.restarts-2, 5)
		delay = min(delay, 5*time.Minute)
	}
	emitNet(n.env, trace.ContainerRestarted{Pod: n.env.st.Pods[pi].Name, Probe: why, Restarts: np.restarts, Backoff: delay})
	q.AfterID(delay+n.env.m.Pods.ContainerStart.Duration, n.hid, pack(netEvRestarted, pi))
}

func (n *netWorld) containerRestarted(pi int) {
	p := n.env.st.Pods[pi]
	np := n.pod(pi)
	if !np.restarting || p.Phase != cluster.PodRunning || p.Node == nil || !p.Node.Up {
		return
	}
	p.Started = n.env.q.Now()
	n.started(pi)
}
