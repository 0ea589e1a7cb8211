package sim

import (
	"time"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/labels"

	"github.com/faultline-dev/faultline/sim/cluster"
	"github.com/faultline-dev/faultline/sim/engine"
	"github.com/faultline-dev/faultline/sim/trace"
)

// workloadController is the ReplicaSet controller behind the Deployments (the model: workload,
// workloads.go), a model type with its own event kind; it reaches the rest of the world through
// the narrow workloadCluster interface. During a rolling update the Deployment controller
// (rollout.go) syncs the workload instead.
type workloadController struct {
	*env
	hid  engine.HandlerID
	st   *cluster.State
	pods *[]*podState // the world's pod states by pod index (World.pods, which grows)
	wls  *[]*workload // the world's workloads by index (World.wls)
	cl   workloadCluster
}

// workloadCluster is what the workload controller needs of the rest of the world: pod objects
// created and deleted, the scheduling queue, and the rolling update's sync. World implements it.
type workloadCluster interface {
	newPod(name, ns string, lbl map[string]string, spec *corev1.PodSpec, owner string, sel labels.Selector, readyWait time.Duration) *cluster.Pod
	enqueue(pi int)
	deletePod(pi int, reason string)
	// rolloutReconcile syncs wl during its rolling update (rollout.go).
	rolloutReconcile(wl *workload)
}

// The controller's event kind, packed with a workload index.
const wcEvReconcile uint32 = 1 // a sync of the workload

var workloadControllerEvents = [...]cpEvent[*workloadController]{
	wcEvReconcile: {"reconcile", func(c *workloadController, i int) { c.reconcile((*c.wls)[i]) }},
}

// Fire runs the controller's events.
func (c *workloadController) Fire(_ time.Duration, arg uint32) {
	fireEvent(c, workloadControllerEvents[:], arg)
}

// reconcileSoon queues a sync of wl at the current instant, after what is already queued for it.
func (c *workloadController) reconcileSoon(wl *workload) {
	c.q.AfterID(0, c.hid, pack(wcEvReconcile, wl.idx))
}

const nameRunes = "bcdfghjklmnpqrstvwxz2456789" // upstream's utilrand alphabet

// reconcile is one sync of the ReplicaSet controller for wl.
func (c *workloadController) reconcile(wl *workload) {
	if wl.ro != nil {
		c.cl.rolloutReconcile(wl)
		return
	}
	var active []int
	kept := wl.pods[:0]
	for _, pi := range wl.pods {
		p := c.st.Pods[pi]
		if p.Phase == cluster.PodGone {
			continue
		}
		kept = append(kept, pi)
		if p.Phase != cluster.PodTerminating {
			active = append(active, pi)
		}
	}
	wl.pods = kept
	switch diff := wl.replicas - len(active); {
	case diff > 0:
		for range diff {
			c.createPod(wl)
		}
	case diff < 0:
		// delete the least valuable: unscheduled first, then not ready, then the newest
		for range -diff {
			if best := leastValuable(c.st, active); best >= 0 {
				c.cl.deletePod(best, "scale down")
			}
		}
	}
}

// createPod creates one pod from wl's current template and queues it for scheduling.
func (c *workloadController) createPod(wl *workload) *cluster.Pod {
	var sfx [5]byte
	for j := range sfx {
		sfx[j] = nameRunes[wl.rng.IntN(len(nameRunes))]
	}
	name := wl.name + "-" + wl.hash[:8] + "-" + string(sfx[:])
	p := c.cl.newPod(name, wl.ns, wl.labels, wl.spec, wl.key, wl.selector, wl.readyWait)
	ps := (*c.pods)[p.Index]
	ps.wl = wl
	ps.rev = wl.rev
	wl.pods = append(wl.pods, p.Index)
	envEmit(c.env, trace.PodCreated{Pod: name, Owner: wl.key})
	c.cl.enqueue(p.Index)
	return p
}

// leastValuable is the pod among pis to delete first (lessValuable), skipping those already
// terminating; -1 when there is none.
func leastValuable(st *cluster.State, pis []int) int {
	best := -1
	for _, pi := range pis {
		if st.Pods[pi].Phase == cluster.PodTerminating {
			continue
		}
		if best < 0 || lessValuable(st.Pods[pi], st.Pods[best]) {
			best = pi
		}
	}
	return best
}

// lessValuable orders pods for scale-down: unscheduled first, then not ready, then the newest.
func lessValuable(a, b *cluster.Pod) bool {
	if a.Bound() != b.Bound() {
		return !a.Bound()
	}
	if a.Ready != b.Ready {
		return !a.Ready
	}
	return a.Created > b.Created
}

// The World's side of workloadCluster beyond the methods it has anyway, and its hooks into the
// controller for the files that call them (the network models through netCluster).

func (w *World) rolloutReconcile(wl *workload) { w.net.ro.reconcile(wl) }

// createWorkloadPod creates one pod from wl's current template (the rolling update, netCluster).
func (w *World) createWorkloadPod(wl *workload) *cluster.Pod { return w.wc.createPod(wl) }

// reconcileSoon queues a sync of wl's controller at the current instant (netCluster).
func (w *World) reconcileSoon(wl *workload) { w.wc.reconcileSoon(wl) }
