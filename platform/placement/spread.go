package placement

import (
	"encoding/json"
	"fmt"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
)

// LabelHostname is the default topology key.
const LabelHostname = "kubernetes.io/hostname"

// AnnSpread is set on a workload the webhook changed, with what it added (for kubectl describe).
const AnnSpread = "platform.faultline.dev/spread"

// PatchOp is one RFC 6902 operation, as an AdmissionReview response carries them.
type PatchOp struct {
	Op    string `json:"op"`
	Path  string `json:"path"`
	Value any    `json:"value,omitempty"`
}

// Spread decides for one workload's pod template. It returns the JSON patch operations that
// add the spreading rule (paths relative to the workload object) and a reason; no operations
// when the workload is not CPU-heavy, has one replica or already says how to spread.
func (s SpreadConfig) Spread(meta *metav1.ObjectMeta, replicas *int32, selector *metav1.LabelSelector, tpl *corev1.PodTemplateSpec) ([]PatchOp, string) {
	if replicas == nil || *replicas < 2 { // unset is 1 (the API server defaults it before admission)
		return nil, "one replica"
	}
	if selector == nil {
		return nil, "no selector"
	}
	cpu := podCPURequest(&tpl.Spec)
	if cpu.Cmp(s.CPUThreshold) < 0 {
		return nil, fmt.Sprintf("requests %s CPU, below %s", cpu.String(), s.CPUThreshold.String())
	}
	if a := tpl.Spec.Affinity; a != nil && a.PodAntiAffinity != nil {
		return nil, "has pod anti-affinity"
	}
	if len(tpl.Spec.TopologySpreadConstraints) > 0 {
		return nil, "has topology spread constraints"
	}
	key := s.TopologyKey
	if key == "" {
		key = LabelHostname
	}
	sel := selector.DeepCopy()
	var ops []PatchOp
	what := ""
	if s.Mode == ModeTopologySpread {
		ops = append(ops, PatchOp{Op: "add", Path: "/spec/template/spec/topologySpreadConstraints", Value: []corev1.TopologySpreadConstraint{{
			MaxSkew: 1, TopologyKey: key, WhenUnsatisfiable: corev1.DoNotSchedule, LabelSelector: sel,
		}}})
		what = "topologySpread " + key
	} else {
		anti := &corev1.PodAntiAffinity{RequiredDuringSchedulingIgnoredDuringExecution: []corev1.PodAffinityTerm{{
			TopologyKey: key, LabelSelector: sel,
		}}}
		if tpl.Spec.Affinity == nil {
			ops = append(ops, PatchOp{Op: "add", Path: "/spec/template/spec/affinity", Value: &corev1.Affinity{PodAntiAffinity: anti}})
		} else {
			ops = append(ops, PatchOp{Op: "add", Path: "/spec/template/spec/affinity/podAntiAffinity", Value: anti})
		}
		what = "podAntiAffinity " + key
	}
	if meta.Annotations == nil {
		ops = append(ops, PatchOp{Op: "add", Path: "/metadata/annotations", Value: map[string]string{AnnSpread: what}})
	} else {
		ops = append(ops, PatchOp{Op: "add", Path: "/metadata/annotations/" + escape(AnnSpread), Value: what})
	}
	return ops, fmt.Sprintf("requests %s CPU: added %s", cpu.String(), what)
}

func escape(s string) string {
	out := make([]byte, 0, len(s))
	for i := 0; i < len(s); i++ {
		switch s[i] {
		case '~':
			out = append(out, '~', '0')
		case '/':
			out = append(out, '~', '1')
		default:
			out = append(out, s[i])
		}
	}
	return string(out)
}

// podCPURequest is the CPU one pod requests: the sum over its containers (init containers, which
// run before, are not counted unless restartable sidecars).
func podCPURequest(spec *corev1.PodSpec) *resourceQuantity {
	q := newQuantity()
	for i := range spec.Containers {
		q.Add(spec.Containers[i].Resources.Requests[corev1.ResourceCPU])
	}
	for i := range spec.InitContainers {
		ic := &spec.InitContainers[i]
		if ic.RestartPolicy != nil && *ic.RestartPolicy == corev1.ContainerRestartPolicyAlways {
			q.Add(ic.Resources.Requests[corev1.ResourceCPU])
		}
	}
	return q
}

// MutateObject applies Spread to a Deployment or StatefulSet in place (the simulator's admission
// plugin path; the webhook sends the same operations as a patch). It reports what it did.
func (s SpreadConfig) MutateObject(obj runtime.Object) (bool, string, error) {
	var (
		meta     *metav1.ObjectMeta
		replicas *int32
		sel      *metav1.LabelSelector
		tpl      *corev1.PodTemplateSpec
	)
	switch o := obj.(type) {
	case *appsv1.Deployment:
		meta, replicas, sel, tpl = &o.ObjectMeta, o.Spec.Replicas, o.Spec.Selector, &o.Spec.Template
	case *appsv1.StatefulSet:
		meta, replicas, sel, tpl = &o.ObjectMeta, o.Spec.Replicas, o.Spec.Selector, &o.Spec.Template
	default:
		return false, "not a Deployment or StatefulSet", nil
	}
	ops, why := s.Spread(meta, replicas, sel, tpl)
	if len(ops) == 0 {
		return false, why, nil
	}
	if err := applyOps(obj, ops); err != nil {
		return false, "", err
	}
	return true, why, nil
}

// applyOps applies the "add" operations Spread produces, through JSON, as the API server would.
func applyOps(obj runtime.Object, ops []PatchOp) error {
	raw, err := json.Marshal(obj)
	if err != nil {
		return err
	}
	patched, err := ApplyPatch(raw, ops)
	if err != nil {
		return err
	}
	return json.Unmarshal(patched, obj)
}
