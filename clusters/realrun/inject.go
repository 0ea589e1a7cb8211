package realrun

import (
	"context"
	"encoding/json"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"time"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/types"

	"github.com/faultline-dev/faultline/clusters/echoapp"
	"github.com/faultline-dev/faultline/clusters/webhook"
	"github.com/faultline-dev/faultline/sim"
)

// chaosHolder is the Lease holder faultline writes to take a node's heartbeat away from KWOK.
const chaosHolder = "faultline-chaos"

// playFault waits for the fault's start, injects it, waits for its end and reverts it. A fault
// still in force when the run ends is reverted by finish.
func (r *run) playFault(ctx context.Context, f sim.Fault, end time.Time) {
	at := r.t0.Add(r.scaled(f.At))
	if !at.Before(end) {
		r.note(false, "%s at %s: after the end of the run", f.Name, f.At)
		return
	}
	if !r.sleepUntil(ctx, at) {
		return
	}
	if raw, ok := r.opts.Chaos[f.Name]; ok && r.chaosServed(ctx, f.Name) {
		r.applyChaos(ctx, f, raw)
		return
	}
	var window time.Duration // how long the fault lasts; 0: instantaneous or to the end
	var revert func(context.Context) error
	var err error
	switch f.Action {
	case sim.NodeStop, sim.NodeReset:
		window = f.Duration
		if f.Action == sim.NodeReset {
			window = r.in.Models.KernelPanic.RebootTime.Duration
		}
		if r.opts.Real != nil {
			revert, err = r.realNodesDown(ctx, f)
		} else {
			revert, err = r.nodesDown(ctx, f)
		}
	case sim.PodKill:
		err = r.podKill(ctx, f)
	case sim.PodFailure:
		window = f.Duration
		if r.net != nil {
			revert, err = r.appFault(ctx, f, echoapp.ModeFail) // netpath.go
		} else {
			revert, err = r.podFailure(ctx, f)
		}
	case sim.ControllerManagerDown:
		window = f.Duration
		revert, err = r.controllerManagerDown(ctx, f)
	case sim.PodUnreachable:
		window = f.Duration
		if r.net != nil {
			revert, err = r.appFault(ctx, f, echoapp.ModeHang) // netpath.go
		} else {
			revert, err = r.podUnreachable(ctx, f)
		}
	case sim.ControlPlaneUpgrade:
		r.controlPlaneUpgrade(ctx, f) // runs its course, step by step (upgrade.go)
		return
	case sim.CPUStress:
		if r.opts.Real != nil {
			r.note(false, "%s (cpu-stress): the substituted containers burn no CPU on demand; a StressChaos needs Chaos Mesh, which is not installed (it cannot be installed offline)", f.Name)
		} else {
			r.note(false, "%s (cpu-stress): KWOK pods use no real CPU; a StressChaos needs real nodes (or Chaos Mesh on a cluster with real kubelets)", f.Name)
		}
		return
	default:
		r.note(false, "%s: action %q has no injector for this cluster", f.Name, f.Action)
		return
	}
	if err != nil {
		if revert != nil { // injected in part: what was injected is undone at the end
			r.addRevert(revert)
		}
		r.injectFailed(f.Name, f.Action, err)
		return
	}
	if revert == nil {
		return
	}
	if window <= 0 { // lasts to the end of the run: finish reverts it
		r.addRevert(revert)
		return
	}
	if !r.sleepUntil(ctx, at.Add(r.scaled(window))) {
		r.addRevert(revert)
		return
	}
	if err := revert(context.WithoutCancel(ctx)); err != nil {
		r.revertFailed(f.Name, err)
	}
}

// nodesDown stops the heartbeat of the fault's nodes: faultline takes over each node's Lease
// (holder faultline-chaos, a long duration, the renew time frozen), so KWOK, which respects
// another holder's unexpired lease, neither renews it nor animates the node or its pods. The
// node lifecycle controller sees no renewal for node-monitor-grace-period, marks the node
// Unknown and taints it, as for a powered-off machine. The revert expires the lease; KWOK takes
// it back within its renew interval (lease duration / 4) and the node reports Ready again.
func (r *run) nodesDown(ctx context.Context, f sim.Fault) (func(context.Context) error, error) {
	var done []string
	for _, name := range f.Nodes {
		lost := r.rec.nodeDown(name)
		if err := r.ledgerLease(name); err != nil {
			return r.nodesUp(done), err
		}
		if err := r.setLease(ctx, name, true); err != nil {
			return r.nodesUp(done), fmt.Errorf("node %s: %w", name, err)
		}
		done = append(done, name)
		r.note(true, "%s (%s): node %s heartbeat stopped (%d running pods on it)", f.Name, f.Action, name, lost)
	}
	return r.nodesUp(done), nil
}

func (r *run) nodesUp(names []string) func(context.Context) error {
	return func(ctx context.Context) error {
		var errs []string
		for _, n := range names {
			if err := r.setLease(ctx, n, false); err != nil {
				errs = append(errs, n+": "+err.Error())
			} else {
				r.log.Info("node heartbeat restored", "node", n)
			}
		}
		if len(errs) > 0 {
			return fmt.Errorf("restore node leases: %s", strings.Join(errs, "; "))
		}
		return nil
	}
}

// realNodesDown stops the fault's real nodes (RealNodes.Faults.Down: kind freezes the node
// container, as a kernel panic stops a machine) until the revert lets them run again. The node
// lifecycle controller sees the kubelet's heartbeats stop, as for KWOK's lease above, but
// everything else is real too: the node's containers stop answering, and on thaw the kubelet
// finds its pods evicted meanwhile and kills them.
func (r *run) realNodesDown(ctx context.Context, f sim.Fault) (func(context.Context) error, error) {
	nf := r.opts.Real.Faults
	if nf == nil {
		return nil, fmt.Errorf("this %s cluster offers no node faults: %w", r.opts.Real.Provider, ErrUnsupported)
	}
	var done []string
	up := func(ctx context.Context) error {
		var errs []string
		for _, k := range done {
			if err := nf.Up(ctx, k); err != nil {
				errs = append(errs, k+": "+err.Error())
			} else {
				r.log.Info("node running again", "node", r.poolName(k), "k8s", k)
			}
		}
		if len(errs) > 0 {
			return fmt.Errorf("restart nodes: %s", strings.Join(errs, "; "))
		}
		return nil
	}
	for _, name := range f.Nodes {
		k, ok := r.nodeOf[name]
		if !ok {
			return up, fmt.Errorf("node %s is not a node of the scenario's pools", name)
		}
		lost := r.rec.nodeDown(k)
		if err := nf.Down(ctx, k); err != nil {
			return up, fmt.Errorf("node %s (%s): %w", name, k, err)
		}
		done = append(done, k)
		r.note(true, "%s (%s): node %s (%s) stopped by %s (%d running pods on it)", f.Name, f.Action, name, k, r.opts.Real.Describe, lost)
	}
	return up, nil
}

// setLease takes the node's Lease (down) or expires faultline's hold on it (up).
func (r *run) setLease(ctx context.Context, node string, down bool) error {
	leases := r.cs.CoordinationV1().Leases(corev1.NamespaceNodeLease)
	for attempt := 0; ; attempt++ {
		l, err := leases.Get(ctx, node, metav1.GetOptions{})
		if err != nil {
			return err
		}
		if down {
			holder, dur := chaosHolder, int32(365*24*3600)
			l.Spec.HolderIdentity, l.Spec.LeaseDurationSeconds = &holder, &dur
			// the renew time stays what KWOK last wrote: the node went silent then
		} else {
			if l.Spec.HolderIdentity == nil || *l.Spec.HolderIdentity != chaosHolder {
				return nil
			}
			dur := int32(1)
			l.Spec.LeaseDurationSeconds = &dur
			past := metav1.NewMicroTime(r.clock.Now().Add(-time.Hour))
			l.Spec.RenewTime = &past
		}
		_, err = leases.Update(ctx, l, metav1.UpdateOptions{FieldManager: FieldManager})
		if apierrors.IsConflict(err) && attempt < 10 {
			continue // KWOK renewed it in between
		}
		return err
	}
}

// selectPods lists the pods a Chaos Mesh selector picks: namespaces (default "default"), labels,
// nodes, not terminating, then the mode's share chosen with the run's random stream.
func (r *run) selectPods(ctx context.Context, ps sim.PodSelector) ([]corev1.Pod, error) {
	nss := ps.Namespaces
	if len(nss) == 0 {
		nss = []string{"default"}
	}
	sel := ps.Labels
	if sel == nil {
		sel = labels.Everything()
	}
	var cand []corev1.Pod
	for _, ns := range nss {
		list, err := r.cs.CoreV1().Pods(ns).List(ctx, metav1.ListOptions{LabelSelector: sel.String()})
		if err != nil {
			return nil, err
		}
		for _, p := range list.Items {
			if p.DeletionTimestamp != nil || p.Status.Phase == corev1.PodSucceeded || p.Status.Phase == corev1.PodFailed {
				continue
			}
			if len(ps.Nodes) > 0 && !slices.Contains(ps.Nodes, r.poolName(p.Spec.NodeName)) {
				continue
			}
			cand = append(cand, p)
		}
	}
	slices.SortFunc(cand, func(a, b corev1.Pod) int { return strings.Compare(a.Namespace+"/"+a.Name, b.Namespace+"/"+b.Name) })
	n := len(cand)
	switch ps.Mode {
	case sim.ModeOne:
		n = min(1, n)
	case sim.ModeFixed:
		v, _ := strconv.Atoi(ps.Value)
		n = min(v, n)
	case sim.ModeFixedPercent:
		v, _ := strconv.Atoi(ps.Value)
		n = len(cand) * v / 100
	case sim.ModeRandomMaxPercent:
		v, _ := strconv.Atoi(ps.Value)
		if m := len(cand) * v / 100; m > 0 {
			n = r.rng.IntN(m + 1)
		} else {
			n = 0
		}
	}
	r.rng.Shuffle(len(cand), func(i, j int) { cand[i], cand[j] = cand[j], cand[i] })
	return cand[:n], nil
}

// hookBackends returns the webhook Services whose pods the selector picks.
func (r *run) hookBackends(ps sim.PodSelector) []string {
	var out []string
	for key, svc := range r.hookSvc {
		ns, _, _ := strings.Cut(key, "/")
		if len(ps.Namespaces) > 0 && !slices.Contains(ps.Namespaces, ns) {
			continue
		}
		if ps.Labels == nil || len(svc.Spec.Selector) > 0 && ps.Labels.Matches(labels.Set(svc.Spec.Selector)) {
			out = append(out, key)
		}
	}
	slices.Sort(out)
	return out
}

func (r *run) podKill(ctx context.Context, f sim.Fault) error {
	pods, err := r.selectPods(ctx, f.Pods)
	if err != nil {
		return err
	}
	if len(pods) == 0 {
		return errNoPods
	}
	zero := int64(0)
	for _, p := range pods {
		if err := r.cs.CoreV1().Pods(p.Namespace).Delete(ctx, p.Name, metav1.DeleteOptions{GracePeriodSeconds: &zero}); err != nil && !apierrors.IsNotFound(err) {
			return err
		}
	}
	r.note(true, "%s (pod-kill): deleted %d pods", f.Name, len(pods))
	return nil
}

// podFailure makes the selected pods fail for the window: their Ready condition goes False (a
// failing container, as Chaos Mesh's pod-failure does with a pause image). When the selector
// picks the pods behind a webhook's Service, faultline's webhook backend hangs for the window.
func (r *run) podFailure(ctx context.Context, f sim.Fault) (func(context.Context) error, error) {
	var reverts []func(context.Context) error
	if backends := r.hookBackends(f.Pods); len(backends) > 0 && r.hook != nil {
		prev := r.hook.Mode()
		r.hook.SetMode(webhook.Hang)
		reverts = append(reverts, func(context.Context) error { r.hook.SetMode(prev); return nil })
		r.note(true, "%s (pod-failure): webhook backend of %s hangs", f.Name, strings.Join(backends, ", "))
	}
	if r.opts.Real != nil {
		// a real kubelet owns the Ready condition and writes it back within a status sync
		r.note(false, "%s (pod-failure): on real kubelets only Chaos Mesh's PodChaos can fail pods (faultline cannot hold their Ready condition; Chaos Mesh is not installed)", f.Name)
		if len(reverts) == 0 {
			return nil, nil
		}
		return joinReverts(reverts), nil
	}
	pods, err := r.selectPods(ctx, f.Pods)
	if err != nil {
		return joinReverts(reverts), err
	}
	var failed []types.NamespacedName
	for _, p := range pods {
		if err := r.setPodReady(ctx, p.Namespace, p.Name, false); err != nil {
			return joinReverts(reverts), err
		}
		failed = append(failed, types.NamespacedName{Namespace: p.Namespace, Name: p.Name})
	}
	if len(failed) > 0 {
		r.note(true, "%s (pod-failure): %d pods not ready", f.Name, len(failed))
		reverts = append(reverts, func(ctx context.Context) error {
			for _, p := range failed {
				if err := r.setPodReady(ctx, p.Namespace, p.Name, true); err != nil && !apierrors.IsNotFound(err) {
					return err
				}
			}
			return nil
		})
	}
	if len(reverts) == 0 {
		return nil, errNoPods
	}
	return joinReverts(reverts), nil
}

func joinReverts(fs []func(context.Context) error) func(context.Context) error {
	if len(fs) == 0 {
		return nil
	}
	return func(ctx context.Context) error {
		for _, f := range fs {
			if err := f(ctx); err != nil {
				return err
			}
		}
		return nil
	}
}

func (r *run) setPodReady(ctx context.Context, ns, name string, ready bool) error {
	st := corev1.ConditionFalse
	if ready {
		st = corev1.ConditionTrue
	}
	now := metav1.Now()
	patch := map[string]any{"status": map[string]any{"conditions": []map[string]any{
		{"type": "Ready", "status": st, "lastTransitionTime": now, "reason": "FaultlinePodFailure"},
		{"type": "ContainersReady", "status": st, "lastTransitionTime": now, "reason": "FaultlinePodFailure"},
	}}}
	b, _ := json.Marshal(patch)
	_, err := r.cs.CoreV1().Pods(ns).Patch(ctx, name, types.StrategicMergePatchType, b, metav1.PatchOptions{}, "status")
	return err
}

func (r *run) controllerManagerDown(ctx context.Context, f sim.Fault) (func(context.Context) error, error) {
	cp := r.opts.ControlPlane
	if cp == nil {
		return nil, fmt.Errorf("faultline does not run this cluster's kube-controller-manager; use --cluster local: %w", ErrUnsupported)
	}
	if err := r.ledgerProcess(ControllerManager); err != nil {
		return nil, err
	}
	r.expectDown(ControllerManager)
	if err := cp.Stop(ctx, ControllerManager); err != nil {
		r.expectUp(ControllerManager)
		return nil, err
	}
	r.note(true, "%s: kube-controller-manager stopped", f.Name)
	start := func(ctx context.Context) error {
		if err := cp.Start(ctx, ControllerManager); err != nil {
			return err
		}
		r.expectUp(ControllerManager)
		r.log.Info("kube-controller-manager started again")
		return nil
	}
	if f.Duration == 0 { // a kill: restarted at once, losing its in-memory state
		return nil, start(ctx)
	}
	return start, nil
}

// chaosServed reports whether the cluster serves the Chaos Mesh kind of the named fault.
func (r *run) chaosServed(ctx context.Context, name string) bool {
	kind, _, _ := strings.Cut(name, "/")
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.chaosCRD == nil {
		r.chaosCRD = map[string]bool{}
		if rl, err := r.cs.Discovery().ServerResourcesForGroupVersion("chaos-mesh.org/v1alpha1"); err == nil {
			for _, res := range rl.APIResources {
				r.chaosCRD[res.Kind] = true
			}
		}
	}
	_ = ctx
	return r.chaosCRD[kind]
}

// applyChaos applies a Chaos Mesh object as written and deletes it at the end of the run.
func (r *run) applyChaos(ctx context.Context, f sim.Fault, raw []byte) {
	u := &unstructured.Unstructured{}
	if err := u.UnmarshalJSON(raw); err != nil {
		r.injectFailed(f.Name, "Chaos Mesh", err)
		return
	}
	if err := r.ledgerObjects(u); err != nil {
		r.injectFailed(f.Name, "Chaos Mesh", err)
		return
	}
	if err := r.applyOne(ctx, u); err != nil {
		r.injectFailed(f.Name, "Chaos Mesh", err)
		return
	}
	r.note(true, "%s: applied to Chaos Mesh as written", f.Name)
	r.addRevert(func(ctx context.Context) error {
		ri, err := r.resource(u)
		if err != nil {
			return err
		}
		if err := ri.Delete(ctx, u.GetName(), metav1.DeleteOptions{}); err != nil && !apierrors.IsNotFound(err) {
			return err
		}
		return nil
	})
}
