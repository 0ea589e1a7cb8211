package sim

import (
	"fmt"
	"strconv"
	"strings"
	"time"

	admissionregistrationv1 "k8s.io/api/admissionregistration/v1"
	appsv1 "k8s.io/api/apps/v1"
	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"
	networkingv1 "k8s.io/api/networking/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/util/validation/field"

	"github.com/faultline-dev/faultline/measure"
)

// InputError is an Input the simulator cannot run, with every problem found at once, each at
// its field path in the Input (duration, models.scheduler.latency, pools[0].count,
// objects[3].spec.selector, load[1].target, faults[2].nodes[0], changes[0].at). Package scenarios
// maps the paths to the lines of the scenario file; nothing needs to read the message.
type InputError struct {
	Errs field.ErrorList
}

// Error lists the problems: "invalid simulation input: PATH: DETAIL; PATH: DETAIL".
func (e *InputError) Error() string {
	var b strings.Builder
	b.WriteString(ErrInput.Error())
	for i, fe := range e.Errs {
		if i > 0 {
			b.WriteByte(';')
		}
		b.WriteString(": ")
		b.WriteString(fe.Field)
		b.WriteString(": ")
		b.WriteString(fe.Detail)
	}
	return b.String()
}

// Unwrap makes errors.Is(err, ErrInput) true.
func (e *InputError) Unwrap() error { return ErrInput }

// invalid is a field error whose detail says the value and what was expected.
func invalid(p *field.Path, format string, args ...any) *field.Error {
	return field.Invalid(p, field.OmitValueType{}, fmt.Sprintf(format, args...))
}

// Validate checks in as the simulator reads it and returns every problem with its field path;
// New runs it before building anything, so the builders only build.
func Validate(in *Input) field.ErrorList {
	errs := in.Models.Validate(field.NewPath("models"))
	if in.Duration <= 0 {
		errs = append(errs, invalid(field.NewPath("duration"), "must be positive"))
	}
	nodes := validatePools(in, &errs)
	objs := validateObjects(in, &errs)
	validateLoads(in, objs, &errs)
	validateFaults(in, nodes, &errs)
	validateChanges(in, objs, &errs)
	return errs
}

func validatePools(in *Input, errs *field.ErrorList) map[string]bool {
	nodes := map[string]bool{}
	seen := map[string]bool{}
	for i, pool := range in.Pools {
		p := field.NewPath("pools").Index(i)
		if pool.Count <= 0 {
			*errs = append(*errs, invalid(p.Child("count"), "nodePool %q: count must be positive", pool.Name))
		}
		if seen[pool.Name] {
			*errs = append(*errs, invalid(p.Child("name"), "nodePool %q defined twice", pool.Name))
		}
		seen[pool.Name] = true
		if pool.Capacity.Cpu().MilliValue() <= 0 || pool.Capacity.Memory().Value() <= 0 {
			*errs = append(*errs, invalid(p.Child("capacity"), "nodePool %q: capacity needs cpu and memory", pool.Name))
		}
		for k := 1; k <= pool.Count; k++ {
			nodes[pool.Name+"-"+strconv.Itoa(k)] = true
		}
	}
	if len(nodes) == 0 {
		*errs = append(*errs, field.Required(field.NewPath("pools"), "the cluster has no nodes (spec.cluster.nodePools)"))
	}
	return nodes
}

// inputObjects indexes the objects the other checks refer to.
type inputObjects struct {
	deployments map[string]*appsv1.Deployment // by deployment/NS/NAME
	services    map[string]*corev1.Service    // by NS/NAME
}

func validateObjects(in *Input, errs *field.ErrorList) inputObjects {
	objs := inputObjects{deployments: map[string]*appsv1.Deployment{}, services: map[string]*corev1.Service{}}
	for _, obj := range in.Objects {
		if svc, ok := obj.(*corev1.Service); ok {
			objs.services[namespaceOr(svc.Namespace)+"/"+svc.Name] = svc
		}
	}
	for i, obj := range in.Objects {
		p := field.NewPath("objects").Index(i)
		switch o := obj.(type) {
		case *appsv1.Deployment:
			key := "deployment/" + namespaceOr(o.Namespace) + "/" + o.Name
			*errs = append(*errs, validateDeployment(p, key, o)...)
			if objs.deployments[key] != nil {
				*errs = append(*errs, invalid(p.Child("metadata", "name"), "%s defined twice", key))
			}
			objs.deployments[key] = o
		case *batchv1.CronJob:
			*errs = append(*errs, validateCronJob(p, o)...)
		case *admissionregistrationv1.ValidatingWebhookConfiguration:
			*errs = append(*errs, validateWebhooks(p, o, objs.services)...)
		case *networkingv1.Ingress:
			ns := namespaceOr(o.Namespace)
			for _, svc := range ingressServices(o) {
				if s := objs.services[ns+"/"+svc]; s == nil || len(s.Spec.Selector) == 0 {
					*errs = append(*errs, invalid(p.Child("spec"), "ingress/%s/%s routes to Service %q, which is not among the objects (or has no selector)", ns, o.Name, svc))
				}
			}
		case *corev1.Pod, *corev1.Service, *corev1.ConfigMap, *corev1.Namespace:
		default:
			*errs = append(*errs, invalid(p.Child("kind"), "%s is not modelled by the simulator; expected Deployment, Pod, CronJob, Service, ConfigMap, Namespace, Ingress or ValidatingWebhookConfiguration",
				obj.GetObjectKind().GroupVersionKind().Kind))
		}
	}
	return objs
}

func validateDeployment(p *field.Path, key string, d *appsv1.Deployment) field.ErrorList {
	sp := p.Child("spec", "selector")
	if d.Spec.Selector == nil {
		return field.ErrorList{field.Required(sp, key+": spec.selector is required")}
	}
	sel, err := metav1.LabelSelectorAsSelector(d.Spec.Selector)
	if err != nil {
		return field.ErrorList{invalid(sp, "%s: %v", key, err)}
	}
	if !sel.Matches(labels.Set(d.Spec.Template.Labels)) {
		return field.ErrorList{invalid(sp, "%s: spec.selector does not match spec.template.metadata.labels", key)}
	}
	return nil
}

func validateCronJob(p *field.Path, o *batchv1.CronJob) field.ErrorList {
	var errs field.ErrorList
	key := "cronjob/" + namespaceOr(o.Namespace) + "/" + o.Name
	if _, err := measure.ParseSchedule(o.Spec.Schedule, o.Spec.TimeZone); err != nil {
		errs = append(errs, invalid(p.Child("spec", "schedule"), "%s: %v", key, err))
	}
	if len(o.Spec.JobTemplate.Spec.Template.Spec.Containers) == 0 {
		errs = append(errs, field.Required(p.Child("spec", "jobTemplate", "spec", "template", "spec", "containers"), key+": expected at least one container"))
	}
	ann := p.Child("metadata", "annotations")
	if v, ok := o.Annotations[AnnRunTime]; ok {
		if d, err := time.ParseDuration(v); err != nil || d <= 0 {
			errs = append(errs, invalid(ann.Key(AnnRunTime), "%s: %q; expected a positive duration", key, v))
		}
	}
	if v, ok := o.Annotations[AnnFailureRatio]; ok {
		if f, err := strconv.ParseFloat(v, 64); err != nil || f < 0 || f > 1 {
			errs = append(errs, invalid(ann.Key(AnnFailureRatio), "%s: %q; expected a probability 0..1", key, v))
		}
	}
	return errs
}

func validateWebhooks(p *field.Path, c *admissionregistrationv1.ValidatingWebhookConfiguration, services map[string]*corev1.Service) field.ErrorList {
	var errs field.ErrorList
	for i := range c.Webhooks {
		h := &c.Webhooks[i]
		hp := p.Child("webhooks").Index(i)
		if fp := h.FailurePolicy; fp != nil && *fp != admissionregistrationv1.Fail && *fp != admissionregistrationv1.Ignore {
			errs = append(errs, invalid(hp.Child("failurePolicy"), "%q; expected Fail or Ignore", *fp))
		}
		if t := h.TimeoutSeconds; t != nil && (*t < 1 || *t > 30) {
			errs = append(errs, invalid(hp.Child("timeoutSeconds"), "%d; expected 1..30", *t))
		}
		if _, err := selectorOrEverything(h.NamespaceSelector); err != nil {
			errs = append(errs, invalid(hp.Child("namespaceSelector"), "%v", err))
		}
		if _, err := selectorOrEverything(h.ObjectSelector); err != nil {
			errs = append(errs, invalid(hp.Child("objectSelector"), "%v", err))
		}
		switch ref := h.ClientConfig.Service; {
		case ref != nil:
			key := ref.Namespace + "/" + ref.Name
			if svc := services[key]; svc == nil {
				errs = append(errs, invalid(hp.Child("clientConfig", "service"), "service %s is not among the objects", key))
			} else if len(svc.Spec.Selector) == 0 {
				errs = append(errs, invalid(hp.Child("clientConfig", "service"), "service %s has no spec.selector; expected one that selects the backend's pods", key))
			}
		case h.ClientConfig.URL == nil:
			errs = append(errs, field.Required(hp.Child("clientConfig"), "expected service or url"))
		}
	}
	return errs
}

func validateLoads(in *Input, objs inputObjects, errs *field.ErrorList) {
	idx := map[string]int{} // target key -> load index
	for i := range in.Load {
		l := &in.Load[i]
		p := field.NewPath("load").Index(i)
		key, err := targetKey(l.Target)
		switch {
		case err != nil:
			*errs = append(*errs, invalid(p.Child("target"), "%v", err))
		case objs.deployments[key] == nil:
			*errs = append(*errs, invalid(p.Child("target"), "%q names no Deployment in objects", l.Target))
		default:
			if _, dup := idx[key]; dup {
				*errs = append(*errs, invalid(p.Child("target"), "%q has a load already", l.Target))
			} else {
				idx[key] = i
			}
		}
		if l.Profile != nil && len(l.Profile.Hourly) != 0 && len(l.Profile.Hourly) != 24 {
			*errs = append(*errs, invalid(p.Child("profile", "hourly"), "expected 24 values, got %d", len(l.Profile.Hourly)))
		}
		switch l.Readiness {
		case "", ReadinessShallow:
		case ReadinessDeep:
			if d := objs.deployments[key]; d != nil && firstProbe(&d.Spec.Template.Spec, func(c *corev1.Container) *corev1.Probe { return c.ReadinessProbe }) == nil {
				*errs = append(*errs, invalid(p.Child("readiness"), "deep, but %s has no readinessProbe to run the check; add one to its containers", key))
			}
		default:
			*errs = append(*errs, invalid(p.Child("readiness"), "%q; expected shallow or deep", l.Readiness))
		}
		switch l.OnSIGTERM {
		case "", SIGTERMExit, SIGTERMKeepServing, SIGTERMConnectionClose:
		default:
			*errs = append(*errs, invalid(p.Child("onSIGTERM"), "%q; expected exit, keep-serving or connection-close", l.OnSIGTERM))
		}
		if r := l.Retry; r != nil && (r.Attempts < 1 || r.Backoff.Duration < 0 || (r.MaxBackoff.Duration != 0 && r.MaxBackoff.Duration < r.Backoff.Duration)) {
			*errs = append(*errs, invalid(p.Child("retry"), "attempts %d, backoff %v, maxBackoff %v; expected attempts >= 1 and 0 <= backoff <= maxBackoff", r.Attempts, r.Backoff.Duration, r.MaxBackoff.Duration))
		}
	}
	// dependencies, then readiness checks, as edges between loads; an edge that closes a cycle is
	// refused where it is written
	g := loadGraph{edges: make([][]int, len(in.Load))}
	resolve := func(p *field.Path, t string, self int, what string, report bool) int {
		key, err := targetKey(t)
		if err != nil {
			if report {
				*errs = append(*errs, invalid(p, "%v", err))
			}
			return -1
		}
		j, ok := idx[key]
		if !ok || j == self {
			if report {
				*errs = append(*errs, invalid(p, "%q has no load entry%s", t, what))
			}
			return -1
		}
		return j
	}
	for i := range in.Load {
		for k, d := range in.Load[i].DependsOn {
			p := field.NewPath("load").Index(i).Child("dependsOn").Index(k)
			if j := resolve(p, d, -1, "", true); j >= 0 {
				if g.reaches(j, i) {
					*errs = append(*errs, invalid(p, "dependency cycle through %s", in.Load[i].Target))
					continue
				}
				g.edges[i] = append(g.edges[i], j)
			}
		}
	}
	if !netPath(in) {
		return // the readiness checks are read on the network path only
	}
	for i := range in.Load {
		l := &in.Load[i]
		checks, name := l.ReadinessChecks, "readinessChecks"
		if len(checks) == 0 {
			checks, name = l.DependsOn, "dependsOn" // already reported above when wrong
		}
		for k, c := range checks {
			p := field.NewPath("load").Index(i).Child(name).Index(k)
			j := resolve(p, c, i, " (or is the load itself)", name == "readinessChecks")
			switch {
			case j < 0:
			case g.reaches(j, i):
				*errs = append(*errs, invalid(p, "%q depends on this load: a check cycle", c))
			default:
				g.edges[i] = append(g.edges[i], j)
			}
		}
	}
}

// netPath reports whether the network path is modelled: an Ingress, or a load that sets
// network-path behaviour (buildNet).
func netPath(in *Input) bool {
	for _, o := range in.Objects {
		if _, ok := o.(*networkingv1.Ingress); ok {
			return true
		}
	}
	for i := range in.Load {
		if in.Load[i].netBehaviour() {
			return true
		}
	}
	return false
}

// loadGraph is the loads' dependency and check edges, by load index.
type loadGraph struct{ edges [][]int }

// reaches reports whether a needs b, directly or through other loads.
func (g loadGraph) reaches(a, b int) bool {
	seen := make([]bool, len(g.edges))
	var visit func(n int) bool
	visit = func(n int) bool {
		if n == b {
			return true
		}
		if seen[n] {
			return false
		}
		seen[n] = true
		for _, m := range g.edges[n] {
			if visit(m) {
				return true
			}
		}
		return false
	}
	return visit(a)
}

func validateFaults(in *Input, nodes map[string]bool, errs *field.ErrorList) {
	example := ""
	if len(in.Pools) > 0 {
		example = in.Pools[0].Name + "-1"
	}
	upgrades := 0
	for i := range in.Faults {
		f := &in.Faults[i]
		p := field.NewPath("faults").Index(i)
		switch f.Action {
		case NodeStop, NodeReset:
			if len(f.Nodes) == 0 {
				*errs = append(*errs, field.Required(p.Child("nodes"), f.Name+" names no node"))
			}
			for k, name := range f.Nodes {
				if !nodes[name] {
					*errs = append(*errs, invalid(p.Child("nodes").Index(k), "%s: node %q does not exist; nodes are named <pool>-<n>, e.g. %s", f.Name, name, example))
				}
			}
		case ControlPlaneUpgrade:
			upgrades++
		case ControllerManagerDown:
		case PodKill, PodFailure, CPUStress, PodUnreachable:
			if _, err := selectCount(f.Pods.Mode, f.Pods.Value, 1, nil); err != nil {
				*errs = append(*errs, invalid(p.Child("pods"), "%s: %v", f.Name, err))
			}
		default:
			*errs = append(*errs, invalid(p.Child("action"), "%s: action %q is not modelled", f.Name, f.Action))
		}
		if f.At < 0 || f.At > in.Duration {
			*errs = append(*errs, invalid(p.Child("at"), "%s starts at %v, outside the run (0..%v)", f.Name, f.At, in.Duration))
		}
	}
	if upgrades > 1 {
		*errs = append(*errs, invalid(field.NewPath("faults"), "%d control-plane upgrades; expected at most one", upgrades))
	}
}

func validateChanges(in *Input, objs inputObjects, errs *field.ErrorList) {
	for i, c := range in.Changes {
		p := field.NewPath("changes").Index(i)
		if c.Problem != "" {
			*errs = append(*errs, invalid(p, "%s: %s", c.Name, c.Problem))
			continue
		}
		d, ok := c.Object.(*appsv1.Deployment)
		if !ok {
			*errs = append(*errs, invalid(p.Child("object"), "%s: only Deployment changes are modelled", c.Name))
			continue
		}
		if c.At < 0 || c.At > in.Duration {
			*errs = append(*errs, invalid(p.Child("at"), "%s at %v, outside the run (0..%v)", c.Name, c.At, in.Duration))
		}
		if objs.deployments["deployment/"+namespaceOr(d.Namespace)+"/"+d.Name] == nil {
			*errs = append(*errs, invalid(p.Child("object"), "%s is not among the objects", c.Name))
		}
		if _, _, _, err := strategyOf(d); err != nil {
			*errs = append(*errs, invalid(p.Child("object", "spec", "strategy"), "%s: %v", c.Name, err))
		}
	}
}
