package sim

import (
	"time"

	corev1 "k8s.io/api/core/v1"

	"github.com/faultline-dev/faultline/sim/cluster"
	"github.com/faultline-dev/faultline/sim/engine"
)

// The batch side's (cronWorld's) coupling to the rest of the World: two narrow interfaces that
// World implements, rather than the batch models calling World methods.

// jobPodCluster is what the Job controller and the pod start pipeline need of the cluster: Job
// pods created in a reused slot, their per-pod record (the run they belong to, their start timer
// and pending-event count), the scheduling queue and their release.
type jobPodCluster interface {
	newJobPod(name, ns string, lbl map[string]string, spec *corev1.PodSpec, owner string, req, nz cluster.Resources, lim int64) *cluster.Pod
	podState(pi int) *podState
	podCancel(ps *podState, t *engine.Timer)
	enqueue(pi int)
	unpark(pi int)
	// releasePod frees a deleted pod's resources (which may let parked pods be scheduled).
	releasePod(p *cluster.Pod)
}

// batchHooks are the World's hooks into a run's life: the invariant checker's look at a run
// about to be retired, and the extensions' Jobs (extension.go).
type batchHooks interface {
	// retireVetoed reports whether r must not be retired (the checker found a violation).
	retireVetoed(r *cronRun) bool
	extJobStarted(r *cronRun, now time.Duration)
	extJobFinished(r *cronRun, now time.Duration, ok bool, reason string)
}

func (w *World) podState(pi int) *podState { return w.pods[pi] }

func (w *World) releasePod(p *cluster.Pod) {
	w.st.Release(p)
	w.moveUnschedulable()
}

func (w *World) retireVetoed(r *cronRun) bool { return w.inv != nil && w.checkRetired(r) }
