package realrun

import (
	"context"
	"encoding/json"
	"fmt"
	"maps"
	"math"
	"slices"
	"strconv"
	"strings"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/apimachinery/pkg/util/intstr"

	"github.com/faultline-dev/faultline/clusters"
	"github.com/faultline-dev/faultline/sim"
)

// Labels a run puts on the real nodes it maps the pools onto (kind's Config sets the same ones
// at node registration; an existing cluster's workers get them for the run).
const (
	PoolLabel = "faultline.dev/pool"
	NodeLabel = "faultline.dev/node"
)

// NodeFaults stops and restarts the machines behind real nodes. node is the Kubernetes node name.
type NodeFaults interface {
	// Down stops the node as a kernel panic or a power cut does: every process on it halts at
	// once, nothing on it notices, and the control plane learns of it only from missing
	// heartbeats.
	Down(ctx context.Context, node string) error
	// Up lets the node run again.
	Up(ctx context.Context, node string) error
}

// RealNodes describes a cluster whose nodes are real kubelets (kind's node containers): a run
// maps the pools onto them instead of creating KWOK nodes.
type RealNodes struct {
	// Provider names the cluster kind in notes ("kind").
	Provider string
	// Faults stops and restarts nodes; nil: node faults are reported as not injected.
	Faults NodeFaults
	// Image replaces every container image of the scenario (none can be pulled here); it is on
	// every node already and runs with pull policy Never. It is faultline-echo (package
	// clusters/kind): HTTP 200 on every port given with -listen, and with -run a Job's app that
	// exits after its run time.
	Image string
	// Describe says how Down and Up act, for the report ("docker pause ... / unpause").
	Describe string
	// IngressImage is the ingress proxy's image (ingress.go), put on the nodes by LoadIngress
	// when a scenario has an Ingress; nil: such scenarios are refused.
	IngressImage string
	LoadIngress  func(context.Context) error
	// Registry starts an image registry the nodes can pull from (registry.go), for scenarios
	// with a registry model; nil: such models are reported as not played.
	Registry func(context.Context) (ImageRegistry, error)
}

// nodeRestore is what a run changed on a real node of an existing cluster, undone at the end.
type nodeRestore struct {
	name          string
	labels        map[string]*string // key → previous value (nil: absent)
	addedTaints   []corev1.Taint
	cordoned      bool
	unschedulable bool
}

// AssignNodes maps the pools' nodes (<pool>-<i>, in pool order) onto the cluster's workers: a
// worker whose NodeLabel names a pool node takes it (kind's Config labels them so), the rest in
// name order. It returns the Kubernetes node name per pool node and the workers left over.
// Control-plane nodes are not workers. source names the pools in errors.
func AssignNodes(pools []sim.NodePool, nodes []corev1.Node, source string) (map[string]string, []string, error) {
	var workers []string
	labelled := map[string]string{}
	for _, n := range nodes {
		if _, cp := n.Labels["node-role.kubernetes.io/control-plane"]; cp {
			continue
		}
		workers = append(workers, n.Name)
		if s := n.Labels[NodeLabel]; s != "" {
			labelled[s] = n.Name
		}
	}
	slices.Sort(workers)
	want := 0
	for _, p := range pools {
		want += p.Count
	}
	if want > len(workers) {
		return nil, nil, fmt.Errorf("%s: cluster.nodePools: %d nodes; the cluster has %d worker nodes (%s); expected at least %d",
			source, want, len(workers), strings.Join(workers, ", "), want)
	}
	out := map[string]string{}
	taken := map[string]bool{}
	var unassigned []string
	for _, p := range pools {
		for i := 1; i <= p.Count; i++ {
			name := p.Name + "-" + strconv.Itoa(i)
			if k, ok := labelled[name]; ok {
				out[name] = k
				taken[k] = true
			} else {
				unassigned = append(unassigned, name)
			}
		}
	}
	// free workers: unlabelled ones first, then those labelled for a node the scenario lacks
	var free, otherLabel []string
	for _, w := range workers {
		switch {
		case taken[w]:
		case slices.Contains(slices.Collect(maps.Values(labelled)), w):
			otherLabel = append(otherLabel, w)
		default:
			free = append(free, w)
		}
	}
	free = append(free, otherLabel...)
	for i, name := range unassigned {
		out[name] = free[i]
		taken[free[i]] = true
	}
	var extra []string
	for _, w := range workers {
		if !taken[w] {
			extra = append(extra, w)
		}
	}
	return out, extra, nil
}

// ScaleFactors are, per resource (cpu, memory), what the real nodes offer over what the pools
// say a node has: the smallest ratio of a node's free allocatable (allocatable minus the requests
// of pods already on it) to its pool's capacity. Multiplying every request and limit of the
// scenario by it keeps placement by requests in proportion: what fits on a pool node fits on the
// real node, in the same shares. A resource no pool gives a capacity for is not scaled (absent).
// free is per Kubernetes node name, nodeOf maps pool nodes to them.
func ScaleFactors(pools []sim.NodePool, nodeOf map[string]string, free map[string]corev1.ResourceList) map[corev1.ResourceName]float64 {
	out := map[corev1.ResourceName]float64{}
	for _, res := range []corev1.ResourceName{corev1.ResourceCPU, corev1.ResourceMemory} {
		f := math.Inf(1)
		for _, p := range pools {
			c, ok := p.Capacity[res]
			if !ok || c.Sign() <= 0 {
				continue
			}
			for i := 1; i <= p.Count; i++ {
				avail := free[nodeOf[p.Name+"-"+strconv.Itoa(i)]][res]
				f = min(f, avail.AsApproximateFloat64()/c.AsApproximateFloat64())
			}
		}
		if !math.IsInf(f, 1) {
			out[res] = max(f, 0)
		}
	}
	return out
}

// scaleQuantity multiplies q by f, rounded down to a milli-unit for CPU and a byte for memory
// (down, so that what fitted still fits), never below the smallest unit when q was positive.
func scaleQuantity(res corev1.ResourceName, q resource.Quantity, f float64) resource.Quantity {
	if q.Sign() <= 0 {
		return q
	}
	if res == corev1.ResourceCPU {
		m := max(int64(math.Floor(float64(q.MilliValue())*f)), 1)
		return *resource.NewMilliQuantity(m, resource.DecimalSI)
	}
	b := max(int64(math.Floor(q.AsApproximateFloat64()*f)), 1)
	return *resource.NewQuantity(b, resource.BinarySI)
}

// ScaleResources multiplies the requests and limits of every container of spec by factors.
func ScaleResources(spec *corev1.PodSpec, factors map[corev1.ResourceName]float64) {
	scale := func(rl corev1.ResourceList) {
		for res, f := range factors {
			if q, ok := rl[res]; ok {
				rl[res] = scaleQuantity(res, q, f)
			}
		}
	}
	for _, cs := range [][]corev1.Container{spec.InitContainers, spec.Containers} {
		for i := range cs {
			scale(cs[i].Resources.Requests)
			scale(cs[i].Resources.Limits)
		}
	}
}

// JobApp is how a run-to-completion container behaves: the simulator's faultline.dev/run-time
// (default 30 s) and faultline.dev/failure-ratio annotations.
type JobApp struct {
	RunTime   time.Duration
	FailRatio float64
}

// SubstituteImage makes every container of spec run image (pull policy Never) as faultline-echo:
// answering HTTP on every port its probes and containerPorts name (8080 when none), and, for a
// Job's pods (job non-nil), exiting after the run time. Exec and gRPC probes, which the image
// cannot answer, become TCP probes on the container's first port. It returns the images replaced
// and what else changed.
func SubstituteImage(spec *corev1.PodSpec, image string, job *JobApp) (replaced []string, changed []string) {
	do := func(c *corev1.Container) {
		replaced = append(replaced, c.Image)
		ports := containerPorts(c)
		c.Image = image
		c.ImagePullPolicy = corev1.PullNever
		c.Command = []string{"/faultline-echo"}
		var listen []string
		for _, p := range ports {
			listen = append(listen, ":"+strconv.Itoa(int(p)))
		}
		c.Args = []string{"-listen", strings.Join(listen, ",")}
		if job != nil {
			c.Args = append(c.Args, "-run", max(job.RunTime, time.Millisecond).String(),
				"-fail-ratio", strconv.FormatFloat(job.FailRatio, 'g', -1, 64))
		}
		for _, p := range []*corev1.Probe{c.ReadinessProbe, c.LivenessProbe, c.StartupProbe} {
			if p == nil || p.Exec == nil && p.GRPC == nil {
				continue
			}
			p.Exec, p.GRPC = nil, nil
			p.TCPSocket = &corev1.TCPSocketAction{Port: intstr.FromInt32(ports[0])}
			changed = append(changed, fmt.Sprintf("container %s: exec/gRPC probe turned into a TCP probe on port %d", c.Name, ports[0]))
		}
	}
	for i := range spec.InitContainers {
		do(&spec.InitContainers[i])
		// an init container must finish for the pod to start
		spec.InitContainers[i].Args = []string{"-listen", ":0", "-run", "1ms"}
	}
	for i := range spec.Containers {
		do(&spec.Containers[i])
	}
	return replaced, changed
}

// containerPorts are the ports c's probes and containerPorts name, numeric, sorted; 8080 if none.
func containerPorts(c *corev1.Container) []int32 {
	named := map[string]int32{}
	set := map[int32]bool{}
	for _, p := range c.Ports {
		set[p.ContainerPort] = true
		if p.Name != "" {
			named[p.Name] = p.ContainerPort
		}
	}
	port := func(v intstr.IntOrString) {
		if v.Type == intstr.Int && v.IntVal > 0 {
			set[v.IntVal] = true
		} else if n, ok := named[v.StrVal]; ok {
			set[n] = true
		}
	}
	for _, p := range []*corev1.Probe{c.ReadinessProbe, c.LivenessProbe, c.StartupProbe} {
		if p == nil {
			continue
		}
		if p.HTTPGet != nil {
			port(p.HTTPGet.Port)
		}
		if p.TCPSocket != nil {
			port(p.TCPSocket.Port)
		}
	}
	if len(set) == 0 {
		return []int32{8080}
	}
	return slices.Sorted(maps.Keys(set))
}

// podSpecOf returns the pod template's spec of a workload object, and the Job behaviour of its
// pods when they run to completion (Jobs, CronJobs, bare Pods that do not restart).
func podSpecOf(o runtime.Object) (*corev1.PodSpec, *JobApp) {
	jobApp := func(ann map[string]string) *JobApp {
		j := &JobApp{RunTime: 30 * time.Second}
		if d, err := time.ParseDuration(ann[sim.AnnRunTime]); err == nil && d > 0 {
			j.RunTime = d
		}
		if f, err := strconv.ParseFloat(ann[sim.AnnFailureRatio], 64); err == nil {
			j.FailRatio = f
		}
		return j
	}
	switch o := o.(type) {
	case *appsv1.Deployment:
		return &o.Spec.Template.Spec, nil
	case *appsv1.StatefulSet:
		return &o.Spec.Template.Spec, nil
	case *appsv1.DaemonSet:
		return &o.Spec.Template.Spec, nil
	case *appsv1.ReplicaSet:
		return &o.Spec.Template.Spec, nil
	case *batchv1.Job:
		return &o.Spec.Template.Spec, jobApp(o.Annotations)
	case *batchv1.CronJob:
		return &o.Spec.JobTemplate.Spec.Template.Spec, jobApp(o.Annotations)
	case *corev1.Pod:
		if o.Spec.RestartPolicy == corev1.RestartPolicyNever || o.Spec.RestartPolicy == corev1.RestartPolicyOnFailure {
			return &o.Spec, jobApp(o.Annotations)
		}
		return &o.Spec, nil
	}
	return nil, nil
}

// adaptForRealNodes rewrites a workload object for the real nodes: image substituted, requests
// and limits scaled. It records the images it replaced in r.images.
func (r *run) adaptForRealNodes(o runtime.Object) {
	spec, job := podSpecOf(o)
	if spec == nil {
		return
	}
	keepImages(o, spec) // before substitution: a new image must still roll out (changes.go)
	orig := slices.Concat(spec.InitContainers, spec.Containers)
	replaced, changed := SubstituteImage(spec, r.opts.Real.Image, job)
	kept := r.keepRegistryImages(spec, orig) // pulled from the run's registry (registry.go)
	replaced = slices.DeleteFunc(replaced, func(img string) bool { return slices.Contains(kept, img) })
	if r.net != nil && job == nil {
		r.net.adaptApp(o, spec) // the load's app behaviour (netpath.go)
	}
	for _, img := range replaced {
		if !slices.Contains(r.images, img) {
			r.images = append(r.images, img)
		}
	}
	r.rep.Notes = append(r.rep.Notes, changed...)
	ScaleResources(spec, r.factors)
}

// useNodes maps the pools onto the cluster's real nodes (AssignNodes), labels them as
// createNodes labels KWOK nodes (RunLabel, PoolLabel, NodeLabel, the zone, the pool's labels and
// taints), cordons workers the scenario does not have, waits until the pool nodes are Ready and
// computes the resource scale factors.
func (r *run) useNodes(ctx context.Context) error {
	list, err := r.cs.CoreV1().Nodes().List(ctx, metav1.ListOptions{})
	if err != nil {
		return fmt.Errorf("list nodes: %w", err)
	}
	nodeOf, extra, err := AssignNodes(r.in.Pools, list.Items, r.in.Name)
	if err != nil {
		return err
	}
	byName := map[string]*corev1.Node{}
	for i := range list.Items {
		byName[list.Items[i].Name] = &list.Items[i]
	}
	r.nodeOf, r.poolNode = nodeOf, map[string]string{}
	for _, pool := range r.in.Pools {
		for i := 1; i <= pool.Count; i++ {
			name := pool.Name + "-" + strconv.Itoa(i)
			k := nodeOf[name]
			r.poolNode[k] = name
			l := map[string]string{RunLabel: r.id, PoolLabel: pool.Name, NodeLabel: name}
			maps.Copy(l, pool.Labels)
			if len(pool.Zones) > 0 {
				l[corev1.LabelTopologyZone] = pool.Zones[(i-1)%len(pool.Zones)]
			}
			if err := r.relabel(ctx, byName[k], l, pool.Taints, false); err != nil {
				return err
			}
			r.nodes = append(r.nodes, k)
		}
	}
	for _, k := range extra {
		if err := r.relabel(ctx, byName[k], nil, nil, true); err != nil {
			return err
		}
	}
	r.rep.Nodes = len(r.nodes)
	for _, f := range r.in.Faults {
		if f.Action == sim.NodeStop || f.Action == sim.NodeReset {
			r.rep.Notes = append(r.rep.Notes, fmt.Sprintf("node faults stop a node by %s for the fault's window (node-reset: models.kernelPanic.rebootTime): the control plane sees what a panic or power cut shows it, but on thaw the node's containers continue where a rebooted machine would restart them", r.opts.Real.Describe))
			break
		}
	}
	deadline := r.clock.Now().Add(3 * time.Minute)
	for {
		ready := 0
		for _, k := range r.nodes {
			n, err := r.cs.CoreV1().Nodes().Get(ctx, k, metav1.GetOptions{})
			if err != nil {
				return fmt.Errorf("node %s: %w", k, err)
			}
			if clusters.NodeReady(n) && !clusters.LifecycleTainted(n) {
				ready++
			}
		}
		if ready == len(r.nodes) {
			break
		}
		if r.clock.Now().After(deadline) {
			return fmt.Errorf("nodes: %d of %d Ready after 3 minutes", ready, len(r.nodes))
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-r.clock.After(500 * time.Millisecond):
		}
	}
	free, err := r.freeAllocatable(ctx)
	if err != nil {
		return err
	}
	r.factors = ScaleFactors(r.in.Pools, nodeOf, free)
	for _, res := range []corev1.ResourceName{corev1.ResourceCPU, corev1.ResourceMemory} {
		if f, ok := r.factors[res]; ok {
			r.rep.Notes = append(r.rep.Notes, fmt.Sprintf("%s requests and limits scaled by %.3g: a %s node offers the machine's %s, not the pool's (the least free allocatable over pool capacity), so placement by requests keeps the scenario's proportions",
				res, f, r.opts.Real.Provider, res))
		}
	}
	if len(r.in.Pools) > 1 {
		caps := map[string]bool{}
		for _, p := range r.in.Pools {
			caps[p.Capacity.Cpu().String()+"/"+p.Capacity.Memory().String()] = true
		}
		if len(caps) > 1 {
			r.rep.Notes = append(r.rep.Notes, "the pools differ in capacity but the real nodes do not: one scale factor fits the smallest, larger pools' nodes offer less than their share")
		}
	}
	return nil
}

// freeAllocatable is each pool node's allocatable minus the requests of the pods already on it
// (kube-proxy, CoreDNS, ...).
func (r *run) freeAllocatable(ctx context.Context) (map[string]corev1.ResourceList, error) {
	pods, err := r.cs.CoreV1().Pods("").List(ctx, metav1.ListOptions{})
	if err != nil {
		return nil, fmt.Errorf("list pods: %w", err)
	}
	out := map[string]corev1.ResourceList{}
	for _, k := range r.nodes {
		n, err := r.cs.CoreV1().Nodes().Get(ctx, k, metav1.GetOptions{})
		if err != nil {
			return nil, err
		}
		out[k] = n.Status.Allocatable.DeepCopy()
	}
	for _, p := range pods.Items {
		rl, ok := out[p.Spec.NodeName]
		if !ok || p.Status.Phase == corev1.PodSucceeded || p.Status.Phase == corev1.PodFailed {
			continue
		}
		for _, c := range p.Spec.Containers {
			for res, q := range c.Resources.Requests {
				if v, ok := rl[res]; ok {
					v.Sub(q)
					rl[res] = v
				}
			}
		}
	}
	return out, nil
}

// relabel sets labels and adds taints on a real node (or cordons it), remembering what to undo.
func (r *run) relabel(ctx context.Context, n *corev1.Node, l map[string]string, taints []corev1.Taint, cordon bool) error {
	undo := nodeRestore{name: n.Name, labels: map[string]*string{}, unschedulable: n.Spec.Unschedulable}
	meta := map[string]any{}
	if len(l) > 0 {
		labels := map[string]any{}
		for k, v := range l {
			if old, ok := n.Labels[k]; ok {
				undo.labels[k] = &old
			} else {
				undo.labels[k] = nil
			}
			labels[k] = v
		}
		meta["labels"] = labels
	}
	spec := map[string]any{}
	if cordon && !n.Spec.Unschedulable {
		spec["unschedulable"] = true
		undo.cordoned = true
	}
	if len(taints) > 0 {
		all := slices.Clone(n.Spec.Taints)
		for _, t := range taints {
			if !slices.ContainsFunc(all, func(o corev1.Taint) bool { return o.MatchTaint(&t) }) {
				all = append(all, t)
				undo.addedTaints = append(undo.addedTaints, t)
			}
		}
		spec["taints"] = all
	}
	patch := map[string]any{}
	if len(meta) > 0 {
		patch["metadata"] = meta
	}
	if len(spec) > 0 {
		patch["spec"] = spec
	}
	if len(patch) == 0 {
		return nil
	}
	b, _ := json.Marshal(patch)
	if _, err := r.cs.CoreV1().Nodes().Patch(ctx, n.Name, types.MergePatchType, b, metav1.PatchOptions{FieldManager: FieldManager}); err != nil {
		return fmt.Errorf("label node %s: %w", n.Name, err)
	}
	r.restore = append(r.restore, undo)
	return nil
}

// restoreNodes undoes relabel on every node (existing clusters; a throwaway one is deleted).
func (r *run) restoreNodes(ctx context.Context) {
	for _, u := range r.restore {
		n, err := r.cs.CoreV1().Nodes().Get(ctx, u.name, metav1.GetOptions{})
		if err != nil {
			r.log.Warn("restore node", "node", u.name, "err", err)
			continue
		}
		labels := map[string]any{}
		for k, old := range u.labels {
			if old == nil {
				labels[k] = nil
			} else {
				labels[k] = *old
			}
		}
		spec := map[string]any{}
		if u.cordoned {
			spec["unschedulable"] = u.unschedulable
		}
		if len(u.addedTaints) > 0 {
			spec["taints"] = slices.DeleteFunc(slices.Clone(n.Spec.Taints), func(t corev1.Taint) bool {
				return slices.ContainsFunc(u.addedTaints, func(a corev1.Taint) bool { return a.MatchTaint(&t) })
			})
		}
		patch := map[string]any{"metadata": map[string]any{"labels": labels}}
		if len(spec) > 0 {
			patch["spec"] = spec
		}
		b, _ := json.Marshal(patch)
		if _, err := r.cs.CoreV1().Nodes().Patch(ctx, u.name, types.MergePatchType, b, metav1.PatchOptions{FieldManager: FieldManager}); err != nil {
			r.log.Warn("restore node", "node", u.name, "err", err)
		}
	}
}

// k8sNode is the Kubernetes name of a pool node (itself for KWOK nodes).
func (r *run) k8sNode(name string) string {
	if k, ok := r.nodeOf[name]; ok {
		return k
	}
	return name
}

// poolName is the pool node name of a Kubernetes node (itself for KWOK nodes).
func (r *run) poolName(k string) string {
	if n, ok := r.poolNode[k]; ok {
		return n
	}
	return k
}
