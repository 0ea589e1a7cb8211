package sim

import (
	"fmt"
	"hash/fnv"
	"strconv"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	"k8s.io/apimachinery/pkg/api/equality"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/util/intstr"

	"github.com/faultline-dev/faultline/measure"
	"github.com/faultline-dev/faultline/sim/cluster"
	"github.com/faultline-dev/faultline/sim/trace"
)

// Change is an object update during the run, as `kubectl apply` or `kubectl set image` would
// make it: Object is the object's new version (package scenarios builds it by patching the
// variant's object). A Deployment whose pod template changed rolls out; one whose replicas
// changed scales.
type Change struct {
	Name   string // "deployment/NAMESPACE/NAME", for traces and errors
	At     time.Duration
	Object runtime.Object
	// Problem, when set, says why package scenarios could not build Object; New reports it.
	Problem string
}

// rollout is a Deployment's rolling update (or recreate) in progress.
//
// Model: the Deployment controller (pkg/controller/deployment, rolling.go and recreate.go). A
// template change makes a new ReplicaSet; RollingUpdate scales it up while the total stays within
// replicas + maxSurge, and scales old pods down while the available pods stay at least
// replicas - maxUnavailable (not-ready old pods first); maxSurge rounds up and maxUnavailable
// down from percentages (defaults 25 %), and both 0 resolve to maxUnavailable 1. Terminating pods
// count in neither. Recreate deletes every old pod, waits until they are gone, then creates the
// new ones. A pod is available when Ready (minReadySeconds 0). The rollout completes when every
// active pod is new and ready.
// Left out: minReadySeconds, progressDeadlineSeconds, revision history and rollbacks, pausing,
// proportional scaling of a rollout that is scaled at the same time.
type rollout struct {
	wl       *workload
	start    time.Duration
	surge    int
	unavail  int
	recreate bool
	sig      [4]int        // counts at the last reconcile, to wake up only on a change
	took     time.Duration // set when it completes
}

// rollouts is the Deployment controller's side of spec.changes: it applies each change when it
// is due (netEvChange, on the network handler) and runs the rolling updates in progress.
type rollouts struct {
	env      *netEnv
	changes  []Change
	wls      []*workload
	duration time.Duration // the scenario's: unfinished rollouts are censored there
	list     []*rollout    // every rollout started, in start order
}

func (r *rollouts) workloadOf(d *appsv1.Deployment) *workload {
	key := "deployment/" + namespaceOr(d.Namespace) + "/" + d.Name
	for _, wl := range r.wls {
		if wl.key == key {
			return wl
		}
	}
	return nil
}

// strategyOf resolves maxSurge and maxUnavailable as upstream's ResolveFenceposts does.
func strategyOf(d *appsv1.Deployment) (surge, unavail int, recreate bool, err error) {
	replicas := 1
	if d.Spec.Replicas != nil {
		replicas = int(*d.Spec.Replicas)
	}
	if d.Spec.Strategy.Type == appsv1.RecreateDeploymentStrategyType {
		return 0, 0, true, nil
	}
	quarter := intstr.FromString("25%")
	ms, mu := &quarter, &quarter
	if ru := d.Spec.Strategy.RollingUpdate; ru != nil {
		if ru.MaxSurge != nil {
			ms = ru.MaxSurge
		}
		if ru.MaxUnavailable != nil {
			mu = ru.MaxUnavailable
		}
	}
	if surge, err = intstr.GetScaledValueFromIntOrPercent(ms, replicas, true); err != nil {
		return 0, 0, false, fmt.Errorf("rollingUpdate.maxSurge: %v", err)
	}
	if unavail, err = intstr.GetScaledValueFromIntOrPercent(mu, replicas, false); err != nil {
		return 0, 0, false, fmt.Errorf("rollingUpdate.maxUnavailable: %v", err)
	}
	if surge < 0 || unavail < 0 {
		return 0, 0, false, fmt.Errorf("negative maxSurge or maxUnavailable")
	}
	if surge == 0 && unavail == 0 {
		unavail = 1
	}
	return surge, unavail, false, nil
}

// applyChange is a Deployment update reaching the controller.
func (r *rollouts) applyChange(i int) {
	c := &r.changes[i]
	d := c.Object.(*appsv1.Deployment)
	wl := r.workloadOf(d)
	if d.Spec.Replicas != nil {
		wl.replicas = int(*d.Spec.Replicas)
	}
	same := equality.Semantic.DeepEqual(wl.spec, &d.Spec.Template.Spec) && equality.Semantic.DeepEqual(wl.labels, d.Spec.Template.Labels)
	emitNet(r.env, trace.DeploymentChanged{Deployment: wl.key, Replicas: wl.replicas, NewTemplate: !same})
	if !same {
		surge, unavail, recreate, _ := strategyOf(d)
		wl.rev++
		wl.spec = &d.Spec.Template.Spec
		wl.labels = d.Spec.Template.Labels
		wl.readyWait = readinessDelay(wl.spec)
		h := fnv.New32a()
		_, _ = h.Write([]byte(wl.key + "/" + strconv.Itoa(wl.rev)))
		wl.hash = fmt.Sprintf("%08x", h.Sum32())
		if wl.ro != nil {
			// a new template during a rollout: upstream rolls to the newest, counting the
			// previous new pods as old; the clock keeps the first start
			wl.ro.surge, wl.ro.unavail, wl.ro.recreate = surge, unavail, recreate
		} else {
			wl.ro = &rollout{wl: wl, start: r.env.q.Now(), surge: surge, unavail: unavail, recreate: recreate}
			r.list = append(r.list, wl.ro)
		}
	}
	r.env.cl.reconcileSoon(wl)
}

// reconcileRollout is the Deployment controller's sync during a rollout: it replaces the
// ReplicaSet controller's plain replica count for this workload until the rollout completes.
func (r *rollouts) reconcile(wl *workload) {
	env := r.env
	ro := wl.ro
	var newA, oldA []int
	oldTerm := 0
	kept := wl.pods[:0]
	for _, pi := range wl.pods {
		p := env.st.Pods[pi]
		if p.Phase == cluster.PodGone {
			continue
		}
		kept = append(kept, pi)
		isNew := env.pod(pi).rev == wl.rev
		switch {
		case p.Phase == cluster.PodTerminating:
			if !isNew {
				oldTerm++
			}
		case isNew:
			newA = append(newA, pi)
		default:
			oldA = append(oldA, pi)
		}
	}
	wl.pods = kept
	ready := func(pis []int) int {
		c := 0
		for _, pi := range pis {
			if env.st.Pods[pi].Ready {
				c++
			}
		}
		return c
	}
	if ro.recreate {
		for _, pi := range oldA {
			env.cl.deletePod(pi, "recreate")
		}
		if len(oldA) > 0 || oldTerm > 0 {
			return
		}
		for range wl.replicas - len(newA) {
			newA = append(newA, env.cl.createWorkloadPod(wl).Index)
		}
	} else {
		total := len(newA) + len(oldA)
		if up := min(wl.replicas-len(newA), wl.replicas+ro.surge-total); up > 0 {
			for range up {
				newA = append(newA, env.cl.createWorkloadPod(wl).Index)
			}
		}
		minAvail := wl.replicas - ro.unavail
		newReady := ready(newA)
		maxDown := len(newA) + len(oldA) - minAvail - (len(newA) - newReady)
		// old pods that are not ready go first
		keep := oldA[:0:0]
		for _, pi := range oldA {
			if maxDown > 0 && !env.st.Pods[pi].Ready {
				env.cl.deletePod(pi, "rolling update: unhealthy old pod")
				maxDown--
				continue
			}
			keep = append(keep, pi)
		}
		oldA = keep
		down := max(0, min(maxDown, newReady+ready(oldA)-minAvail, len(oldA)))
		for range down {
			env.cl.deletePod(leastValuable(env.st, oldA), "rolling update")
		}
		oldA = oldA[:len(oldA)-down]
	}
	ro.sig = [4]int{len(newA), ready(newA), len(oldA), oldTerm}
	if len(oldA) == 0 && len(newA) == wl.replicas && ready(newA) == wl.replicas && !(ro.recreate && oldTerm > 0) {
		ro.took = env.q.Now() - ro.start
		emitNet(env, trace.RolloutComplete{Deployment: wl.key, Took: ro.took})
		wl.ro = nil
	}
}

// pokeRollouts wakes the Deployment controller when a rolling workload's pod counts or
// readiness changed (its informers see ReplicaSet status updates).
func (r *rollouts) poke() {
	for _, ro := range r.list {
		wl := ro.wl
		if wl.ro != ro {
			continue
		}
		var sig [4]int
		for _, pi := range wl.pods {
			p := r.env.st.Pods[pi]
			isNew := r.env.pod(pi).rev == wl.rev
			switch {
			case p.Phase == cluster.PodGone:
			case p.Phase == cluster.PodTerminating:
				if !isNew {
					sig[3]++
				}
			case isNew:
				sig[0]++
				if p.Ready {
					sig[1]++
				}
			default:
				sig[2]++
			}
		}
		if sig != ro.sig {
			ro.sig = sig
			r.env.cl.reconcileSoon(wl)
		}
	}
}

// observe is every rollout started, for the observation record (measure.RolloutIndicators).
func (r *rollouts) observe() []measure.RolloutObservation {
	out := make([]measure.RolloutObservation, 0, len(r.list))
	for _, ro := range r.list {
		if ro.wl.ro == ro {
			out = append(out, measure.RolloutObservation{Took: r.duration - ro.start}) // unfinished: censored at the end
		} else {
			out = append(out, measure.RolloutObservation{Took: ro.took, Done: true})
		}
	}
	return out
}
