package sim

import (
	"strconv"
	"strings"
	"time"

	corev1 "k8s.io/api/core/v1"

	"github.com/faultline-dev/faultline/sim/cluster"
	"github.com/faultline-dev/faultline/sim/trace"
)

// Pod termination on the network path.
//
// Model: deleting a pod (kubelet killPod, pkg/kubelet/kuberuntime) starts two things AT THE SAME
// TIME, with no ordering between them (docs/upstream.md "Probes, endpoints, shutdown"): the EndpointSlice
// controller marks the endpoint not ready, which each data plane learns after its lag; and the
// kubelet runs the preStop hook, then sends SIGTERM, all within terminationGracePeriodSeconds
// (default 30). A preStop hook still running when the grace period ends is cut short and the
// kubelet gives a one-off 2 s extension before SIGKILL. What the process does on SIGTERM is app
// behaviour (Load.OnSIGTERM): exit at once; keep serving until the grace period ends (then it is
// killed); or keep serving replying Connection: close (the same here: connections are not
// modelled). When the process is gone the pod is released; requests a data plane still sends
// to it fail (502). A preStop hook counts as a sleep: lifecycle.preStop.sleep.seconds, or an exec
// of `sleep N` (also through `sh -c "sleep N"`); other hooks take no time here.
// Left out: the Terminating pod's CPU use (none), preStop hooks of containers other than the
// longest, stop signals other than SIGTERM.

// minimumGracePeriod is the kubelet's one-off extension when preStop overruns the grace period.
const minimumGracePeriod = 2 * time.Second

// terminate starts a graceful termination; it reports false when the pod has no running
// process to stop (or the network path is off), and the caller releases the pod at once.
func (n *netWorld) terminate(pi int) bool {
	if n == nil || !n.path {
		return false
	}
	env := n.env
	p := env.st.Pods[pi]
	ps := env.pod(pi)
	if ps.wl == nil || ps.wl.load == nil || p.Phase != cluster.PodRunning || p.Node == nil {
		return false
	}
	np := n.pod(pi)
	np.terminate = true
	env.st.SetPhase(p, cluster.PodTerminating) // through State: the scheduler's spread counts follow it
	p.Ready = false                            // SetPhase marked the node changed
	for _, pr := range []*probe{&np.rd, &np.lv, &np.su} {
		env.q.Cancel(pr.flip)
	}
	preStop, grace, exit := terminationTimes(p.Spec, ps.wl.load.net.sigterm)
	emitNet(env, trace.PodTerminating{Pod: p.Name, PreStop: preStop, Grace: grace, ExitAfter: exit})
	env.q.AfterID(exit, n.hid, pack(netEvExit, pi))
	return true
}

// terminationTimes gives the preStop length, the grace period and when the process is gone,
// from the deletion, for a SIGTERM policy.
func terminationTimes(spec *corev1.PodSpec, policy string) (preStop, grace, exit time.Duration) {
	grace = 30 * time.Second
	if spec.TerminationGracePeriodSeconds != nil {
		grace = time.Duration(*spec.TerminationGracePeriodSeconds) * time.Second
	}
	for i := range spec.Containers {
		preStop = max(preStop, preStopSleep(spec.Containers[i].Lifecycle))
	}
	sigterm := min(preStop, grace)
	switch policy {
	case SIGTERMKeepServing, SIGTERMConnectionClose:
		if preStop < grace {
			exit = grace // SIGKILL when the grace period ends
		} else {
			exit = grace + minimumGracePeriod
		}
	default:
		exit = sigterm
	}
	return preStop, grace, exit
}

// preStopSleep is how long a preStop hook sleeps.
func preStopSleep(lc *corev1.Lifecycle) time.Duration {
	if lc == nil || lc.PreStop == nil {
		return 0
	}
	h := lc.PreStop
	if h.Sleep != nil {
		return time.Duration(max(h.Sleep.Seconds, 0)) * time.Second
	}
	if h.Exec != nil {
		cmd := h.Exec.Command
		if len(cmd) == 3 && (strings.HasSuffix(cmd[0], "sh")) && cmd[1] == "-c" {
			cmd = strings.Fields(cmd[2])
		}
		if len(cmd) == 2 && (cmd[0] == "sleep" || strings.HasSuffix(cmd[0], "/sleep")) {
			if s, err := strconv.ParseFloat(cmd[1], 64); err == nil && s > 0 {
				return time.Duration(s * float64(time.Second))
			}
		}
	}
	return 0
}

// processExit is the container's process gone after SIGTERM or SIGKILL: the pod is released.
func (n *netWorld) processExit(pi int) {
	env := n.env
	p := env.st.Pods[pi]
	np := n.pod(pi)
	if p.Phase != cluster.PodTerminating {
		return
	}
	np.exited = true
	emitNet(env, trace.ProcessExited{Pod: p.Name})
	if p.Node != nil && p.Node.Up {
		env.st.Release(p)
		env.cl.moveUnschedulable()
	}
	if wl := env.pod(pi).wl; wl != nil {
		env.cl.reconcileSoon(wl)
	}
	env.cl.touch()
}
