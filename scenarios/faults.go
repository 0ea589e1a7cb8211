package scenarios

import (
	"encoding/json"
	"fmt"
	"sort"
	"strings"
	"time"

	chaosv1alpha1 "github.com/chaos-mesh/chaos-mesh/api/v1alpha1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/selection"

	"github.com/faultline-dev/faultline/scenarios/internal/locate"
	"github.com/faultline-dev/faultline/sim"
)

// ChaosAPIVersion is the apiVersion of Chaos Mesh objects.
const ChaosAPIVersion = "chaos-mesh.org/v1alpha1"

// Fault is one scenario fault: the Chaos Mesh object as written (what a real cluster receives)
// and its meaning for the simulator.
type Fault struct {
	At     time.Duration
	Object any // *chaosv1alpha1.PodChaos, *StressChaos, *GCPChaos or *AWSChaos
	JSON   []byte
	Sim    sim.Fault
}

// chaosKinds lists the Chaos Mesh kinds faultline understands, with their Go types.
var chaosKinds = map[string]func() any{
	"PodChaos":     func() any { return &chaosv1alpha1.PodChaos{} },
	"StressChaos":  func() any { return &chaosv1alpha1.StressChaos{} },
	"GCPChaos":     func() any { return &chaosv1alpha1.GCPChaos{} },
	"AWSChaos":     func() any { return &chaosv1alpha1.AWSChaos{} },
	"NetworkChaos": func() any { return &chaosv1alpha1.NetworkChaos{} },
}

func knownChaosKinds() string {
	ks := make([]string, 0, len(chaosKinds))
	for k := range chaosKinds {
		ks = append(ks, k)
	}
	sort.Strings(ks)
	return strings.Join(ks, ", ")
}

// decodeFaults decodes and translates spec.faults. root locates errors in the main file; when nil
// (a variant's patched spec), errors are reported through s.at at base+index.
func (s *Scenario) decodeFaults(specs []FaultSpec, root *locate.Node, base string) ([]Fault, error) {
	var out []Fault
	for i, fsp := range specs {
		fp := fmt.Sprintf("%s[%d]", base, i)
		var tm metav1.TypeMeta
		if err := json.Unmarshal(fsp.Object, &tm); err != nil || len(fsp.Object) == 0 {
			return nil, s.at(fp+".object", "missing; expected a Chaos Mesh object (apiVersion %s)", ChaosAPIVersion)
		}
		kinds := chaosKinds
		switch tm.APIVersion {
		case ChaosAPIVersion:
		case APIVersion:
			kinds = actionKinds // faultline's own actions (ControlPlaneUpgrade)
		default:
			return nil, s.at(fp+".object.apiVersion", "%q; expected %s (or %s for ControlPlaneUpgrade)", tm.APIVersion, ChaosAPIVersion, APIVersion)
		}
		mk, ok := kinds[tm.Kind]
		if !ok && tm.APIVersion == APIVersion {
			return nil, s.at(fp+".object.kind", "unknown %s kind %q; expected ControlPlaneUpgrade", APIVersion, tm.Kind)
		}
		if !ok {
			return nil, s.at(fp+".object.kind", "unknown fault kind %q; expected one of %s", tm.Kind, knownChaosKinds())
		}
		obj := mk()
		if root != nil {
			if err := root.Decode(fp+".object", obj); err != nil {
				return nil, err
			}
		} else if err := strictJSON(fsp.Object, obj); err != nil {
			return nil, s.at(fp+".object", "%v", err)
		}
		sf, field, err := translate(obj)
		if err != nil {
			return nil, s.at(fp+".object."+field, "%v", err)
		}
		sf.At = fsp.At.Duration
		if sf.At < 0 {
			return nil, s.at(fp+".at", "negative; expected a time from the start such as 6h")
		}
		out = append(out, Fault{At: sf.At, Object: obj, JSON: fsp.Object, Sim: sf})
	}
	return out, nil
}

// translate gives a Chaos Mesh object its meaning in the simulator. The second result is the field
// path (inside the object) an error refers to.
func translate(obj any) (sim.Fault, string, error) {
	var f sim.Fault
	dur := func(d *string) (time.Duration, error) {
		if d == nil || *d == "" {
			return 0, nil
		}
		v, err := time.ParseDuration(*d)
		if err != nil || v < 0 {
			return 0, fmt.Errorf("%q is not a duration; expected e.g. 30m", *d)
		}
		return v, nil
	}
	var err error
	switch o := obj.(type) {
	case *chaosv1alpha1.PodChaos:
		f.Name = "PodChaos/" + o.Name
		switch o.Spec.Action {
		case chaosv1alpha1.PodKillAction:
			f.Action = sim.PodKill
		case chaosv1alpha1.PodFailureAction:
			f.Action = sim.PodFailure
		default:
			return f, "spec.action", fmt.Errorf("action %q is not modelled; expected pod-kill or pod-failure", o.Spec.Action)
		}
		if f.Duration, err = dur(o.Spec.Duration); err != nil {
			return f, "spec.duration", err
		}
		if f.Pods, err = podSelector(&o.Spec.PodSelector); err != nil {
			return f, "spec.selector", err
		}
		if controllerManager(&o.Spec.PodSelector) {
			// the simulated control plane has no pods: failing or killing kube-controller-manager
			// stops its controllers (CronJob, Job) for the duration, or for a restart
			f.Action = sim.ControllerManagerDown
		}
	case *chaosv1alpha1.StressChaos:
		f.Name = "StressChaos/" + o.Name
		f.Action = sim.CPUStress
		if o.Spec.Stressors == nil || o.Spec.Stressors.CPUStressor == nil {
			return f, "spec.stressors", fmt.Errorf("missing cpu stressor; only stressors.cpu is modelled")
		}
		if o.Spec.StressngStressors != "" {
			return f, "spec.stressngStressors", fmt.Errorf("not modelled; use stressors.cpu")
		}
		c := o.Spec.Stressors.CPUStressor
		load := 100
		if c.Load != nil {
			load = *c.Load
		}
		if c.Workers <= 0 || load < 0 || load > 100 {
			return f, "spec.stressors.cpu", fmt.Errorf("workers %d, load %d; expected workers > 0 and load 0..100", c.Workers, load)
		}
		f.CPU = float64(c.Workers) * float64(load) / 100
		if f.Duration, err = dur(o.Spec.Duration); err != nil {
			return f, "spec.duration", err
		}
		if f.Pods, err = podSelector(&o.Spec.PodSelector); err != nil {
			return f, "spec.selector", err
		}
	case *chaosv1alpha1.NetworkChaos:
		return networkFault(o, dur)
	case *ControlPlaneUpgrade:
		return translateUpgrade(o)
	case *chaosv1alpha1.GCPChaos:
		return nodeFault("GCPChaos/"+o.Name, string(o.Spec.Action), string(chaosv1alpha1.NodeStop), string(chaosv1alpha1.NodeReset),
			"spec.instance", o.Spec.Instance, o.Spec.Duration, dur)
	case *chaosv1alpha1.AWSChaos:
		return nodeFault("AWSChaos/"+o.Name, string(o.Spec.Action), string(chaosv1alpha1.Ec2Stop), string(chaosv1alpha1.Ec2Restart),
			"spec.ec2Instance", o.Spec.Ec2Instance, o.Spec.Duration, dur)
	default:
		return f, "kind", fmt.Errorf("unsupported fault type %T", obj)
	}
	return f, "", nil
}

// nodeFault translates a cloud provider's stop/restart of an instance (the node's name).
func nodeFault(name, action, stop, reset, instanceField, instance string, d *string, dur func(*string) (time.Duration, error)) (sim.Fault, string, error) {
	f := sim.Fault{Name: name}
	switch action {
	case stop:
		f.Action = sim.NodeStop
	case reset:
		f.Action = sim.NodeReset
	default:
		return f, "spec.action", fmt.Errorf("action %q is not modelled; expected %s or %s", action, stop, reset)
	}
	if instance == "" {
		return f, instanceField, fmt.Errorf("missing; expected the node name")
	}
	f.Nodes = []string{instance}
	var err error
	if f.Duration, err = dur(d); err != nil {
		return f, "spec.duration", err
	}
	return f, "", nil
}

// controllerManager reports whether a selector picks the kube-controller-manager static pod
// (namespace kube-system, label component=kube-controller-manager, as kubeadm labels it).
func controllerManager(ps *chaosv1alpha1.PodSelector) bool {
	spec := &ps.Selector
	return len(spec.Namespaces) == 1 && spec.Namespaces[0] == "kube-system" &&
		spec.LabelSelectors["component"] == "kube-controller-manager"
}

// podSelector translates Chaos Mesh's PodSelector (selector spec plus mode and value).
func podSelector(ps *chaosv1alpha1.PodSelector) (sim.PodSelector, error) {
	spec := &ps.Selector
	out := sim.PodSelector{
		Namespaces: spec.Namespaces,
		Nodes:      spec.Nodes,
		Mode:       sim.SelectMode(ps.Mode),
		Value:      ps.Value,
	}
	switch {
	case len(spec.FieldSelectors) > 0:
		return out, fmt.Errorf("fieldSelectors are not modelled; use labelSelectors")
	case len(spec.AnnotationSelectors) > 0:
		return out, fmt.Errorf("annotationSelectors are not modelled; use labelSelectors")
	case len(spec.Pods) > 0:
		return out, fmt.Errorf("pods (by name) are not modelled: simulated pod names are generated; use labelSelectors")
	case len(spec.NodeSelectors) > 0:
		return out, fmt.Errorf("nodeSelectors are not modelled; use nodes")
	case len(spec.PodPhaseSelectors) > 0:
		return out, fmt.Errorf("podPhaseSelectors are not modelled")
	}
	sel := labels.SelectorFromSet(spec.LabelSelectors)
	for _, r := range spec.ExpressionSelectors {
		req, err := labels.NewRequirement(r.Key, selection.Operator(strings.ToLower(string(r.Operator))), r.Values)
		if err != nil {
			return out, fmt.Errorf("expressionSelectors: %v", err)
		}
		sel = sel.Add(*req)
	}
	out.Labels = sel
	switch out.Mode {
	case sim.ModeOne, sim.ModeAll, sim.ModeFixed, sim.ModeFixedPercent, sim.ModeRandomMaxPercent:
	default:
		return out, fmt.Errorf("mode %q; expected one, all, fixed, fixed-percent or random-max-percent", ps.Mode)
	}
	return out, nil
}

// networkFault translates a NetworkChaos that cuts the selected pods off: action loss with
// loss "100" (every packet dropped, in the direction given). Partial loss, delay and partitions
// towards a target are not modelled.
func networkFault(o *chaosv1alpha1.NetworkChaos, dur func(*string) (time.Duration, error)) (sim.Fault, string, error) {
	f := sim.Fault{Name: "NetworkChaos/" + o.Name, Action: sim.PodUnreachable}
	if o.Spec.Action != chaosv1alpha1.LossAction {
		return f, "spec.action", fmt.Errorf("action %q is not modelled; expected loss (with loss.loss \"100\")", o.Spec.Action)
	}
	if o.Spec.Loss == nil || strings.TrimSpace(o.Spec.Loss.Loss) != "100" {
		return f, "spec.loss.loss", fmt.Errorf("only a loss of \"100\" (every packet) is modelled")
	}
	if o.Spec.Target != nil || len(o.Spec.ExternalTargets) > 0 {
		return f, "spec.target", fmt.Errorf("targets are not modelled: the loss applies to all of the pods' traffic")
	}
	var err error
	if f.Duration, err = dur(o.Spec.Duration); err != nil {
		return f, "spec.duration", err
	}
	if f.Pods, err = podSelector(&o.Spec.PodSelector); err != nil {
		return f, "spec.selector", err
	}
	return f, "", nil
}
