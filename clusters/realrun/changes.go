package realrun

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"sync"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/equality"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/types"

	"github.com/faultline-dev/faultline/measure"
	"github.com/faultline-dev/faultline/sim"
)

// Changes (spec.changes) on a real cluster: each change's object is applied at its time (as
// `kubectl apply` would), adapted for real nodes like the scenario's objects, and a change to a
// Deployment's pod template is a rollout whose progress is read from the Deployment's status:
// complete when the controller has seen the change (observedGeneration) and every one of
// spec.replicas pods is updated and available with no other pod left (status.replicas, which
// leaves terminating pods out), as `kubectl rollout status` judges it and as the simulator's
// rollout completes ("every active pod is new and ready"). rollout-minutes is the mean time from
// each change to its completion, censored at the end of the run; rollouts-incomplete counts those
// not complete then. Times are real: a rollout runs at the controllers' and kubelets' pace, so
// --time-scale shortens the run around it, not the rollout.

// imagesAnnotation keeps a pod template's original images on real nodes, where every image is
// replaced by one: a change of image still changes the template, and so still rolls out.
const imagesAnnotation = "faultline.dev/images"

// rolloutWatch is one rollout in progress.
type rolloutWatch struct {
	key   string // namespace/name
	start time.Time
	gen   int64
	mu    sync.Mutex
	done  time.Time
}

// keepImages writes the template's images into imagesAnnotation.
func keepImages(o runtime.Object, spec *corev1.PodSpec) {
	var tm *metav1.ObjectMeta
	switch o := o.(type) {
	case *appsv1.Deployment:
		tm = &o.Spec.Template.ObjectMeta
	case *appsv1.StatefulSet:
		tm = &o.Spec.Template.ObjectMeta
	case *appsv1.DaemonSet:
		tm = &o.Spec.Template.ObjectMeta
	case *appsv1.ReplicaSet:
		tm = &o.Spec.Template.ObjectMeta
	default:
		return
	}
	var imgs []string
	for _, cs := range [][]corev1.Container{spec.InitContainers, spec.Containers} {
		for _, c := range cs {
			imgs = append(imgs, c.Name+"="+c.Image)
		}
	}
	if tm.Annotations == nil {
		tm.Annotations = map[string]string{}
	}
	tm.Annotations[imagesAnnotation] = strings.Join(imgs, ",")
}

// playChanges applies the changes at their times and watches the rollouts they start.
func (r *run) playChanges(ctx context.Context, end time.Time) {
	changes := slices.Clone(r.in.Changes)
	slices.SortStableFunc(changes, func(a, b sim.Change) int { return int(a.At - b.At) })
	prev := map[string]*appsv1.Deployment{}
	for _, o := range r.in.Objects {
		if d, ok := o.(*appsv1.Deployment); ok {
			prev[namespaceOr(d.Namespace)+"/"+d.Name] = d
		}
	}
	var wg sync.WaitGroup
	defer wg.Wait()
	for _, c := range changes {
		at := r.t0.Add(r.scaled(c.At))
		if !at.Before(end) {
			r.rep.Notes = append(r.rep.Notes, fmt.Sprintf("change %s at %s: after the end of the run, not applied", c.Name, c.At))
			continue
		}
		if !r.sleepUntil(ctx, at) {
			return
		}
		d, ok := c.Object.(*appsv1.Deployment)
		if c.Problem != "" {
			r.note(false, "change %s: %s", c.Name, c.Problem)
			continue
		}
		if !ok {
			r.note(false, "change %s: only Deployment changes are played", c.Name)
			continue
		}
		key := namespaceOr(d.Namespace) + "/" + d.Name
		rollout := prev[key] == nil || !equality.Semantic.DeepEqual(prev[key].Spec.Template, d.Spec.Template)
		prev[key] = d
		obj := d.DeepCopy()
		if r.opts.Real != nil {
			r.adaptForRealNodes(obj)
		}
		started := r.clock.Now()
		gen, err := r.applyChange(ctx, obj)
		if err != nil {
			r.note(false, "change %s: %v", c.Name, err)
			continue
		}
		r.mu.Lock() // a change is not a fault: the report's notes say it happened
		r.rep.Notes = append(r.rep.Notes, fmt.Sprintf("change %s applied at %s (generation %d)%s", c.Name, c.At, gen, map[bool]string{true: ": a rollout", false: ""}[rollout]))
		r.mu.Unlock()
		if !rollout {
			continue
		}
		w := &rolloutWatch{key: key, start: started, gen: gen}
		r.mu.Lock()
		r.ros = append(r.ros, w)
		r.mu.Unlock()
		wg.Add(1)
		go func() {
			defer wg.Done()
			r.watchRollout(ctx, w, end)
		}()
	}
}

// applyChange server-side-applies the changed object and returns its new generation.
func (r *run) applyChange(ctx context.Context, obj runtime.Object) (int64, error) {
	u, err := toUnstructured(obj)
	if err != nil {
		return 0, err
	}
	ri, err := r.resource(u)
	if err != nil {
		return 0, err
	}
	data, err := u.MarshalJSON()
	if err != nil {
		return 0, err
	}
	force := true
	out, err := ri.Patch(ctx, u.GetName(), types.ApplyPatchType, data, metav1.PatchOptions{FieldManager: FieldManager, Force: &force})
	if err != nil {
		return 0, fmt.Errorf("apply %s %s/%s: %w", u.GetKind(), u.GetNamespace(), u.GetName(), err)
	}
	return out.GetGeneration(), nil
}

// watchRollout polls the Deployment until its rollout is complete (or the run ends).
func (r *run) watchRollout(ctx context.Context, w *rolloutWatch, end time.Time) {
	ns, name, _ := strings.Cut(w.key, "/")
	for r.clock.Now().Before(end) {
		d, err := r.cs.AppsV1().Deployments(ns).Get(ctx, name, metav1.GetOptions{})
		if err == nil && RolloutComplete(d, w.gen) {
			w.mu.Lock()
			w.done = r.clock.Now()
			w.mu.Unlock()
			r.log.Info("rollout complete", "deployment", w.key, "after", w.done.Sub(w.start).Round(time.Second))
			return
		}
		select {
		case <-ctx.Done():
			return
		case <-r.clock.After(time.Second):
		}
	}
}

// RolloutComplete reports whether a Deployment's rollout to generation gen is complete.
func RolloutComplete(d *appsv1.Deployment, gen int64) bool {
	want := int32(1)
	if d.Spec.Replicas != nil {
		want = *d.Spec.Replicas
	}
	st := d.Status
	return st.ObservedGeneration >= gen && st.UpdatedReplicas == want && st.Replicas == want && st.AvailableReplicas == want
}

// rolloutObservations are the rollouts watched, in start order, unfinished ones censored at end;
// measure.RolloutIndicators turns them into rollout-minutes and rollouts-incomplete.
func (r *run) rolloutObservations(end time.Time) []measure.RolloutObservation {
	r.mu.Lock()
	ros := slices.Clone(r.ros)
	r.mu.Unlock()
	out := make([]measure.RolloutObservation, 0, len(ros))
	for _, w := range ros {
		w.mu.Lock()
		done := w.done
		w.mu.Unlock()
		o := measure.RolloutObservation{Done: !done.IsZero()}
		if !o.Done {
			done = end
		}
		o.Took = done.Sub(w.start)
		out = append(out, o)
	}
	return out
}
