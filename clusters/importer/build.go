package importer

import (
	"encoding/json"
	"fmt"
	"slices"
	"sort"
	"strings"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/runtime"

	"github.com/faultline-dev/faultline/scenarios"
	"github.com/faultline-dev/faultline/sim"
)

// Options shape the scenario Build writes.
type Options struct {
	// Name is the scenario's name (a DNS label); default "imported".
	Name string
	// Duration is the run's length; default 1h.
	Duration time.Duration
	// Seeds is the default seed count; default 20.
	Seeds int
}

// Omission is an object left out of the scenario, and why.
type Omission struct {
	Kind, Namespace, Name, Why string
}

// Result is an imported scenario, ready to write.
type Result struct {
	Scenario  scenarios.File
	Manifests []*unstructured.Unstructured
	Pools     []Pool
	// SimNode maps a cluster node's name to the scenario's node (<pool>-<i>).
	SimNode map[string]string
	LeftOut []Omission
	// Played says how objects the simulator has no model of are played instead.
	Played []string
	Notes  []string
	// Live is where the cluster placed the imported workloads' pods, per scenario node.
	Live map[string]int
	// WhatIfs are variants for capacity planning (AddWhatIfs), written to what-ifs.yaml.
	WhatIfs  []scenarios.VariantSpec
	Source   string
	Imported map[string]int // kind → count of manifests written

	wls    []workloadPods
	byName map[string]int
	bare   map[string]bool // namespace/name of the bare pods played
}

// PlacedOn counts the pods of the imported workloads (and bare pods) per scenario node: where the
// cluster put them. Pods on nodes the scenario does not have, finished and terminating pods are
// left out.
func (r *Result) PlacedOn(pods []*corev1.Pod) map[string]int {
	out := map[string]int{}
	for _, p := range pods {
		if p.Spec.NodeName == "" || p.DeletionTimestamp != nil || p.Status.Phase == corev1.PodSucceeded || p.Status.Phase == corev1.PodFailed {
			continue
		}
		if ownerWorkload(p, r.wls, r.byName) < 0 && (metav1.GetControllerOf(p) != nil || !r.bare[p.Namespace+"/"+p.Name]) {
			continue
		}
		if sn, ok := r.SimNode[p.Spec.NodeName]; ok {
			out[sn]++
		}
	}
	return out
}

// workloadPods selects the pods an imported workload owns.
type workloadPods struct {
	key string // deployment/NS/NAME
	ns  string
	sel labels.Selector
	cpu resource.Quantity // the template's CPU requests
}

// Build turns a snapshot into a scenario.
func Build(s *Snapshot, o Options) (*Result, error) {
	if o.Name == "" {
		o.Name = "imported"
	}
	if o.Duration <= 0 {
		o.Duration = time.Hour
	}
	if o.Seeds <= 0 {
		o.Seeds = 20
	}
	if len(s.Nodes) == 0 {
		return nil, fmt.Errorf("%s: no Node objects; a scenario needs the nodes to infer its pools", s.Source)
	}
	r := &Result{Source: s.Source, Notes: append([]string(nil), s.Notes...), Imported: map[string]int{}}
	objs := append([]*unstructured.Unstructured(nil), s.Objects...)
	sort.SliceStable(objs, func(i, j int) bool { return objectLess(objs[i], objs[j]) })

	services := map[string]bool{}
	for _, u := range objs {
		if u.GetKind() == "Service" {
			services[u.GetNamespace()+"/"+u.GetName()] = true
		}
	}
	var wls []workloadPods
	byName := map[string]int{} // namespace/name → index in wls
	cronJobs, ownedJobs, ownedRS := 0, 0, 0
	for _, u := range objs {
		kind, ns, name := u.GetKind(), u.GetNamespace(), u.GetName()
		leave := func(why string) { r.LeftOut = append(r.LeftOut, Omission{kind, ns, name, why}) }
		switch kind {
		case "Namespace", "Service", "Ingress", "CronJob":
			if kind == "CronJob" {
				cronJobs++
			}
			r.add(clean(u))
		case "Deployment", "StatefulSet":
			m := clean(u)
			if kind == "StatefulSet" {
				m = statefulSetAsDeployment(m)
				r.Played = append(r.Played, fmt.Sprintf("StatefulSet %s/%s as a Deployment of the same pod template and replicas: "+
					"the simulator has no StatefulSet model (ordered start, stable names and volumes are left out; "+
					"placement is the scheduler's, as for any pod)", ns, name))
			}
			var d appsv1.Deployment
			if err := runtime.DefaultUnstructuredConverter.FromUnstructured(m.Object, &d); err != nil {
				return nil, fmt.Errorf("%s %s/%s: %w", kind, ns, name, err)
			}
			sel, err := metav1.LabelSelectorAsSelector(d.Spec.Selector)
			if err != nil || d.Spec.Selector == nil {
				leave(fmt.Sprintf("spec.selector: %v", err))
				continue
			}
			byName[namespaceOr(ns)+"/"+name] = len(wls)
			wls = append(wls, workloadPods{key: "deployment/" + namespaceOr(ns) + "/" + name, ns: namespaceOr(ns), sel: sel,
				cpu: podCPURequests(&d.Spec.Template.Spec)})
			r.add(m)
		case "DaemonSet":
			leave("the simulator has no DaemonSet model; its pods' requests are taken off each pool's capacity instead")
		case "Job":
			if owner(u) == "CronJob" {
				ownedJobs++
				continue
			}
			leave("the simulator runs Jobs only as CronJob runs")
		case "ReplicaSet":
			if owner(u) == "Deployment" {
				ownedRS++
				continue
			}
			leave("a bare ReplicaSet is not modelled; write it as a Deployment to play it")
		case "PodDisruptionBudget":
			leave("not modelled: the simulator has no eviction API (drains and autoscalers are not played)")
		case "PriorityClass":
			leave("not modelled: the simulator's scheduler has no preemption")
		case "MutatingWebhookConfiguration":
			leave("not modelled: the simulator plays validating webhooks only")
		case "ValidatingWebhookConfiguration":
			if missing := webhookBackendsMissing(u, services); missing != "" {
				leave("its backend Service " + missing + " is not imported (a namespace left out?); the simulator needs it to play the webhook")
				continue
			}
			r.add(clean(u))
		default:
			leave("not a kind faultline imports")
		}
	}
	if ownedJobs > 0 {
		r.Notes = append(r.Notes, fmt.Sprintf("%d Jobs created by the %d CronJobs are not imported: the CronJobs create their runs in the simulation", ownedJobs, cronJobs))
	}
	if ownedRS > 0 {
		r.Notes = append(r.Notes, fmt.Sprintf("%d ReplicaSets of Deployments are not imported: the Deployments make their own", ownedRS))
	}

	// pods: which imported workload owns each, which are bare, which only hold capacity
	podOwner := map[string]int{} // namespace/name → index in wls, -1 for a bare pod played as is
	reserved := map[string]corev1.ResourceList{}
	barePods := 0
	pods := sortedPods(s.Pods)
	for _, p := range pods {
		if p.DeletionTimestamp != nil || p.Status.Phase == corev1.PodSucceeded || p.Status.Phase == corev1.PodFailed {
			continue
		}
		key := p.Namespace + "/" + p.Name
		if w := ownerWorkload(p, wls, byName); w >= 0 {
			podOwner[key] = w
			continue
		}
		ref := metav1.GetControllerOf(p)
		if ref != nil && ref.Kind == "Job" {
			continue // a run: it finishes; its CronJob plays it
		}
		if ref == nil && s.Filter.Keep(p.Namespace) && p.Annotations[corev1.MirrorPodAnnotationKey] == "" {
			podOwner[key] = -1
			barePods++
			u, err := runtime.DefaultUnstructuredConverter.ToUnstructured(p)
			if err != nil {
				return nil, err
			}
			m := clean(&unstructured.Unstructured{Object: u})
			m.SetAPIVersion("v1")
			m.SetKind("Pod")
			unstructured.RemoveNestedField(m.Object, "spec", "nodeName")
			r.add(m)
			continue
		}
		if p.Spec.NodeName == "" {
			continue
		}
		rl := reserved[p.Spec.NodeName]
		if rl == nil {
			rl = corev1.ResourceList{}
			reserved[p.Spec.NodeName] = rl
		}
		for res, q := range podRequests(&p.Spec) {
			v := rl[res]
			v.Add(q)
			rl[res] = v
		}
	}
	if barePods > 0 {
		r.Played = append(r.Played, fmt.Sprintf("%d pods with no controller as bare Pods, scheduled afresh (spec.nodeName dropped)", barePods))
	}
	if len(reserved) > 0 {
		r.Notes = append(r.Notes, fmt.Sprintf("pods the scenario does not play (DaemonSets, namespaces left out, static pods) hold CPU and memory on %d nodes: "+
			"each pool's capacity is its allocatable less the most such pods hold on one of its nodes", len(reserved)))
	}

	r.Pools = InferPools(s.Nodes, reserved)
	r.SimNode = map[string]string{}
	for _, p := range r.Pools {
		for i, n := range p.Nodes {
			r.SimNode[n] = fmt.Sprintf("%s-%d", p.Name, i+1)
		}
	}
	r.wls, r.byName, r.bare = wls, byName, map[string]bool{}
	for k, w := range podOwner {
		if w < 0 {
			r.bare[k] = true
		}
	}
	r.Live = r.PlacedOn(pods)
	load, how := loads(wls, pods, podOwner, s.CPUUse)
	r.Notes = append(r.Notes, how)

	pools := make([]sim.NodePool, len(r.Pools))
	for i, p := range r.Pools {
		pools[i] = p.NodePool
	}
	r.Scenario = scenarios.File{
		APIVersion: scenarios.APIVersion,
		Kind:       scenarios.Kind,
		Metadata: metav1.ObjectMeta{Name: o.Name, Annotations: map[string]string{
			"faultline.dev/summary": "imported from " + s.Source + " by faultline import",
		}},
		Spec: scenarios.Spec{
			Duration: metav1.Duration{Duration: o.Duration},
			Seeds:    o.Seeds,
			Cluster:  scenarios.Cluster{NodePools: pools},
			Objects:  []json.RawMessage{json.RawMessage(`{"include":"manifests.yaml"}`)},
			Load:     load,
			Variants: []scenarios.VariantSpec{{Name: "baseline", Description: "the cluster as imported"}},
			Objectives: []scenarios.Objective{
				{Name: "pods-lost", Indicator: "pods-lost"},
				{Name: "evictions", Indicator: "evictions"},
				{Name: "max-replicas-per-node", Indicator: "max-replicas-per-node"},
			},
		},
	}
	if len(r.Manifests) == 0 {
		r.Scenario.Spec.Objects = nil
	}
	if err := r.AddWhatIfs(); err != nil {
		return nil, err
	}
	return r, nil
}

func (r *Result) add(u *unstructured.Unstructured) {
	r.Manifests = append(r.Manifests, u)
	r.Imported[u.GetKind()]++
}

// kindOrder writes namespaces first, then what the workloads need, then the workloads.
var kindOrder = map[string]int{"Namespace": 0, "PriorityClass": 1, "Service": 2, "ValidatingWebhookConfiguration": 3,
	"MutatingWebhookConfiguration": 3, "Ingress": 4, "Deployment": 5, "StatefulSet": 5, "DaemonSet": 6, "CronJob": 7, "Job": 8}

func objectLess(a, b *unstructured.Unstructured) bool {
	oa, ok := kindOrder[a.GetKind()]
	if !ok {
		oa = 9
	}
	ob, ok := kindOrder[b.GetKind()]
	if !ok {
		ob = 9
	}
	if oa != ob {
		return oa < ob
	}
	if a.GetKind() != b.GetKind() {
		return a.GetKind() < b.GetKind()
	}
	if a.GetNamespace() != b.GetNamespace() {
		return a.GetNamespace() < b.GetNamespace()
	}
	return a.GetName() < b.GetName()
}

func namespaceOr(ns string) string {
	if ns == "" {
		return "default"
	}
	return ns
}

func owner(u *unstructured.Unstructured) string {
	for _, ref := range u.GetOwnerReferences() {
		if ref.Controller != nil && *ref.Controller {
			return ref.Kind
		}
	}
	return ""
}

// ownerWorkload is the index of the imported workload that owns the pod, or -1: by name (a
// ReplicaSet is named <deployment>-<hash>, a StatefulSet's pods are owned by it directly), then,
// when the names do not tell, by selector.
func ownerWorkload(p *corev1.Pod, wls []workloadPods, byName map[string]int) int {
	ref := metav1.GetControllerOf(p)
	if ref == nil || ref.Kind != "ReplicaSet" && ref.Kind != "StatefulSet" {
		return -1
	}
	ns := namespaceOr(p.Namespace)
	name := ref.Name
	if ref.Kind == "ReplicaSet" {
		if i := strings.LastIndexByte(name, '-'); i > 0 {
			name = name[:i]
		}
	}
	if i, ok := byName[ns+"/"+name]; ok && wls[i].sel.Matches(labels.Set(p.Labels)) {
		return i
	}
	for i, w := range wls {
		if w.ns == ns && w.sel.Matches(labels.Set(p.Labels)) {
			return i
		}
	}
	return -1
}

// loads is one Load per workload: the mean CPU its pods use (metrics.k8s.io) where known, else
// its CPU requests. how says which, for the README.
func loads(wls []workloadPods, pods []*corev1.Pod, podOwner map[string]int, use map[string]resource.Quantity) ([]sim.Load, string) {
	sum := make([]int64, len(wls))
	n := make([]int, len(wls))
	for _, p := range pods {
		key := p.Namespace + "/" + p.Name
		w, ok := podOwner[key]
		if !ok || w < 0 {
			continue
		}
		if q, ok := use[key]; ok {
			sum[w] += q.MilliValue()
			n[w]++
		}
	}
	var out []sim.Load
	measured, requested := 0, 0
	for i, w := range wls {
		cpu := w.cpu
		if n[i] > 0 {
			cpu = *resource.NewMilliQuantity(sum[i]/int64(n[i]), resource.DecimalSI)
			measured++
		} else {
			requested++
		}
		if cpu.IsZero() {
			continue
		}
		out = append(out, sim.Load{Target: w.key, CPUPerReplica: cpu})
	}
	switch {
	case use == nil:
		return out, "load: no CPU use was read (metrics.k8s.io not served, or no PodMetrics in the files): each workload's cpuPerReplica is its pods' CPU requests"
	default:
		return out, fmt.Sprintf("load: cpuPerReplica is the mean CPU use from metrics.k8s.io for %d workloads, the CPU requests for %d (no metrics for their pods)", measured, requested)
	}
}

// podCPURequests sums the containers' CPU requests.
func podCPURequests(spec *corev1.PodSpec) resource.Quantity {
	q := podRequests(spec)[corev1.ResourceCPU]
	return q
}

// podRequests is a pod's effective CPU and memory requests: the containers' sum, at least the
// largest init container's.
func podRequests(spec *corev1.PodSpec) corev1.ResourceList {
	out := corev1.ResourceList{}
	for _, r := range []corev1.ResourceName{corev1.ResourceCPU, corev1.ResourceMemory} {
		var sum, initMax resource.Quantity
		for _, c := range spec.Containers {
			if q, ok := c.Resources.Requests[r]; ok {
				sum.Add(q)
			}
		}
		for _, c := range spec.InitContainers {
			if q, ok := c.Resources.Requests[r]; ok && q.Cmp(initMax) > 0 {
				initMax = q
			}
		}
		if initMax.Cmp(sum) > 0 {
			sum = initMax
		}
		out[r] = sum
	}
	return out
}

// webhookBackendsMissing names the first webhook backend Service that is not among services.
func webhookBackendsMissing(u *unstructured.Unstructured, services map[string]bool) string {
	hooks, _, _ := unstructured.NestedSlice(u.Object, "webhooks")
	for _, h := range hooks {
		m, _ := h.(map[string]any)
		ns, _, _ := unstructured.NestedString(m, "clientConfig", "service", "namespace")
		name, _, _ := unstructured.NestedString(m, "clientConfig", "service", "name")
		if name == "" {
			return "(none: a URL backend)"
		}
		if !services[ns+"/"+name] {
			return ns + "/" + name
		}
	}
	return ""
}

// serverSetAnnotations are written by the server or by kubectl, not by the object's author.
var serverSetAnnotations = []string{
	"kubectl.kubernetes.io/last-applied-configuration",
	"deployment.kubernetes.io/revision",
	"deprecated.daemonset.template.generation",
}

// clean copies an object without its status and what the server set: managed fields, uid,
// resource version, generation, timestamps, owner references, a Service's cluster IPs.
func clean(u *unstructured.Unstructured) *unstructured.Unstructured {
	out := &unstructured.Unstructured{Object: runtime.DeepCopyJSON(u.Object)}
	delete(out.Object, "status")
	md, _ := out.Object["metadata"].(map[string]any)
	keep := map[string]any{}
	for _, k := range []string{"name", "namespace", "labels", "annotations"} {
		if v, ok := md[k]; ok {
			keep[k] = v
		}
	}
	out.Object["metadata"] = keep
	if ann := out.GetAnnotations(); ann != nil {
		for _, k := range serverSetAnnotations {
			delete(ann, k)
		}
		if len(ann) == 0 {
			ann = nil
		}
		out.SetAnnotations(ann)
	}
	for _, path := range [][]string{
		{"spec", "template", "metadata", "creationTimestamp"},
		{"spec", "jobTemplate", "metadata", "creationTimestamp"},
		{"spec", "jobTemplate", "spec", "template", "metadata", "creationTimestamp"},
	} {
		unstructured.RemoveNestedField(out.Object, path...)
	}
	if out.GetKind() == "Service" {
		for _, f := range []string{"clusterIP", "clusterIPs", "ipFamilies", "ipFamilyPolicy", "healthCheckNodePort"} {
			unstructured.RemoveNestedField(out.Object, "spec", f)
		}
	}
	if out.GetKind() == "Namespace" {
		delete(out.Object, "spec") // finalizers only
	}
	return out
}

// statefulSetAsDeployment keeps what a Deployment can hold: replicas, selector, pod template.
func statefulSetAsDeployment(u *unstructured.Unstructured) *unstructured.Unstructured {
	spec, _, _ := unstructured.NestedMap(u.Object, "spec")
	d := map[string]any{}
	for _, k := range []string{"replicas", "selector", "template", "minReadySeconds"} {
		if v, ok := spec[k]; ok {
			d[k] = v
		}
	}
	out := &unstructured.Unstructured{Object: map[string]any{"metadata": u.Object["metadata"], "spec": d}}
	out.SetAPIVersion("apps/v1")
	out.SetKind("Deployment")
	ann := out.GetAnnotations()
	if ann == nil {
		ann = map[string]string{}
	}
	ann["faultline.dev/imported-as"] = "StatefulSet"
	out.SetAnnotations(ann)
	return out
}

// trimList keeps the first n items of a list for the README.
func trimList(xs []string, n int) string {
	if len(xs) <= n {
		return strings.Join(xs, ", ")
	}
	return strings.Join(xs[:n], ", ") + fmt.Sprintf(" and %d more", len(xs)-n)
}

// sortedPods is a copy of pods in namespace/name order. The keys are made once (sorting in
// place built two keys per comparison).
func sortedPods(pods []*corev1.Pod) []*corev1.Pod {
	keys := make([]string, len(pods))
	idx := make([]int, len(pods))
	for i := range pods {
		keys[i], idx[i] = pods[i].Namespace+"/"+pods[i].Name, i
	}
	slices.SortStableFunc(idx, func(a, b int) int { return strings.Compare(keys[a], keys[b]) })
	out := make([]*corev1.Pod, len(pods))
	for i, j := range idx {
		out[i] = pods[j]
	}
	return out
}
