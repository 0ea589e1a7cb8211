package bench

// The scale targets of issue 16 (your cluster in the simulator): S1 import of a large live
// cluster, S2 replay of a recorded hour of it, S3 a what-if placement at the largest managed
// cluster size, S4 the real kube-scheduler and the simulator side by side on the same nodes and
// pods. S1 and S4 need the local control plane's binaries (make tools); all four run only when
// named with --only, since each takes minutes and gigabytes.

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"os"
	"path/filepath"
	goruntime "runtime"
	"slices"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/spf13/cobra"
	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/informers"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"
	"k8s.io/client-go/tools/cache"
	"k8s.io/client-go/tools/clientcmd"
	"k8s.io/utils/ptr"

	"github.com/faultline-dev/faultline/clusters"
	"github.com/faultline-dev/faultline/clusters/importer"
	"github.com/faultline-dev/faultline/clusters/local"
	"github.com/faultline-dev/faultline/clusters/record"
	"github.com/faultline-dev/faultline/scenarios"
	"github.com/faultline-dev/faultline/sim"
	"github.com/faultline-dev/faultline/sim/cluster"
	"github.com/faultline-dev/faultline/sim/scheduler"
)

// scaleFlags size the scale targets; the defaults are the figures.
type scaleFlags struct {
	nodes       int           // S1, S2: nodes of the imported and recorded cluster (30 pods a node)
	hour        time.Duration // S2: length of the recording
	whatIfNodes int           // S3: nodes (10 pods a node)
	sideNodes   int           // S4: nodes (10 pods a node)
	qps         float64       // S1, S4: the bench's client QPS when populating the control plane
	hold        time.Duration // S1: how long the populated control plane stays up after the import
}

func addScaleFlags(cmd *cobra.Command, f *scaleFlags) {
	cmd.Flags().IntVar(&f.nodes, "scale-nodes", 5000, "S1, S2: nodes of the cluster imported and recorded (30 pods a node: 5,000 nodes is 150,000 pods)")
	cmd.Flags().DurationVar(&f.hour, "scale-recording", time.Hour, "S2: length of the recording replayed")
	cmd.Flags().IntVar(&f.whatIfNodes, "whatif-nodes", 65_000, "S3: nodes of the what-if placement (10 pods a node)")
	cmd.Flags().IntVar(&f.sideNodes, "side-nodes", 1000, "S4: nodes placed on by the real scheduler and the simulator (10 pods a node)")
	cmd.Flags().Float64Var(&f.qps, "populate-qps", 2000, "S1, S4: client-side QPS of the bench when it populates the local control plane")
	cmd.Flags().DurationVar(&f.hold, "scale-hold", 0, "S1: keep the populated control plane up this long after the import, its kubeconfig printed, to time other imports (faultline import --kubeconfig) against the same cluster; Ctrl-C ends the hold")
}

// scaleSteps are the scale targets, run only when named (--only S1,S4).
var scaleSteps = []struct {
	id string
	fn func(context.Context, *flags) (Result, error)
}{{"S1", s1}, {"S2", s2}, {"S3", s3}, {"S4", s4}}

// onlyWhenNamed: targets that `faultline bench` without --only leaves out.
func onlyWhenNamed(id string) bool { return id == "P9" || len(id) == 2 && id[0] == 'S' }

const (
	benchNS      = "bench"
	podsPerNode  = 30 // S1, S2
	replicasEach = 100
)

// synthNodes are n nodes in two pools (m-8: 8 CPUs, 32Gi; c-16: 16 CPUs, 64Gi) over three
// zones, named n-00000...
func synthNodes(n int) []corev1.Node {
	out := make([]corev1.Node, n)
	zones := []string{"zone-a", "zone-b", "zone-c"}
	for i := range out {
		pool, cpu, mem := "m-8", "8", "32Gi"
		if i%2 == 1 {
			pool, cpu, mem = "c-16", "16", "64Gi"
		}
		out[i] = *clusters.FakeNode(fmt.Sprintf("n-%05d", i),
			corev1.ResourceList{corev1.ResourceCPU: resource.MustParse(cpu), corev1.ResourceMemory: resource.MustParse(mem), corev1.ResourcePods: resource.MustParse("110")},
			map[string]string{corev1.LabelInstanceTypeStable: pool, corev1.LabelTopologyZone: zones[(i/2)%3]}, nil)
	}
	return out
}

// synthDeployment is Deployment app-NNNNN of replicasEach replicas (100m CPU, 128Mi each).
func synthDeployment(d int, image string) *appsv1.Deployment {
	name := fmt.Sprintf("app-%05d", d)
	l := map[string]string{"app": name}
	return &appsv1.Deployment{TypeMeta: metav1.TypeMeta{APIVersion: "apps/v1", Kind: "Deployment"},
		ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: benchNS, Labels: l},
		Spec: appsv1.DeploymentSpec{Replicas: ptr.To(int32(replicasEach)), Selector: &metav1.LabelSelector{MatchLabels: l},
			Template: corev1.PodTemplateSpec{ObjectMeta: metav1.ObjectMeta{Labels: l}, Spec: corev1.PodSpec{Containers: []corev1.Container{{Name: "app", Image: image,
				Resources: corev1.ResourceRequirements{Requests: corev1.ResourceList{corev1.ResourceCPU: resource.MustParse("100m"), corev1.ResourceMemory: resource.MustParse("128Mi")}}}}}}}}
}

// synthPod is replica r of Deployment d (ReplicaSet revision rev), bound to node ("" unbound).
func synthPod(dep *appsv1.Deployment, rev, r int, node string) *corev1.Pod {
	rs := dep.Name + "-" + strconv.Itoa(1000+rev)
	return &corev1.Pod{TypeMeta: metav1.TypeMeta{APIVersion: "v1", Kind: "Pod"},
		ObjectMeta: metav1.ObjectMeta{Name: rs + "-" + strconv.Itoa(r), Namespace: benchNS, Labels: dep.Spec.Template.Labels,
			OwnerReferences: []metav1.OwnerReference{{APIVersion: "apps/v1", Kind: "ReplicaSet", Name: rs, UID: types.UID("bench-" + rs), Controller: ptr.To(true)}}},
		Spec: corev1.PodSpec{NodeName: node, Containers: dep.Spec.Template.Spec.Containers}}
}

// benchCluster is a throwaway local control plane with the bench's namespace, and a client at
// --populate-qps.
type benchCluster struct {
	p    *local.Provider
	cs   kubernetes.Interface
	cfg  *rest.Config
	stop func()
}

// localCluster starts a throwaway local control plane with KWOK nodes, or says why it cannot.
// Its leases are renewed every 5 minutes instead of every 10 s (and the node controller waits 20
// minutes for them): thousands of KWOK nodes would otherwise keep two cores busy renewing.
func localCluster(ctx context.Context, name string, qps float64, extra ...clusters.CreateOption) (*benchCluster, error) {
	state, err := os.MkdirTemp("", "fl-bench-")
	if err != nil {
		return nil, err
	}
	p, err := local.New(local.WithStateDir(state), local.WithLogger(slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelWarn}))))
	if err != nil {
		return nil, err
	}
	if !p.BinariesCached() {
		_ = os.RemoveAll(state)
		return nil, errNoControlPlane
	}
	opts := append([]clusters.CreateOption{clusters.WithThrowaway(), clusters.WithWaitForReady(3 * time.Minute),
		clusters.WithExtraArgs(local.KWOK, "--node-lease-duration-seconds=1200"),
		clusters.WithExtraArgs(local.ControllerManager, "--node-monitor-grace-period=20m"),
		clusters.WithExtraArgs(local.APIServer, "--max-requests-inflight=1000", "--max-mutating-requests-inflight=500"),
	}, extra...)
	bc := &benchCluster{p: p, stop: func() {
		if err := p.Delete(context.WithoutCancel(ctx), name); err != nil && !errors.Is(err, clusters.ErrNotFound) {
			fmt.Fprintf(os.Stderr, "bench: delete cluster %s: %v\n", name, err)
		}
		_ = os.RemoveAll(state)
	}}
	err = p.Create(ctx, name, opts...)
	var kc string
	if err == nil {
		kc, err = p.KubeConfigPath(name)
	}
	if err == nil {
		bc.cfg, err = clientcmd.BuildConfigFromFlags("", kc)
	}
	if err == nil {
		c := rest.CopyConfig(bc.cfg)
		c.QPS, c.Burst = float32(qps), int(2*qps)
		bc.cs, err = kubernetes.NewForConfig(c)
	}
	if err == nil {
		_, err = bc.cs.CoreV1().Namespaces().Create(ctx, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: benchNS}}, metav1.CreateOptions{})
	}
	if err != nil {
		bc.stop()
		return nil, err
	}
	return bc, nil
}

var errNoControlPlane = errors.New("the local control plane's binaries are not built (make tools)")

// notMeasured is the result of a target that needs what this machine lacks.
func notMeasured(id, what, target string, err error) Result {
	return Result{ID: id, What: what, Target: target, Detail: "not measured: " + err.Error()}
}

// parallel runs fn(i) for i in [0, n) on workers goroutines; the first error stops it.
func parallel(ctx context.Context, n, workers int, fn func(ctx context.Context, i int) error) error {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	var next atomic.Int64
	var once sync.Once
	var first error
	var wg sync.WaitGroup
	for range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for ctx.Err() == nil {
				i := int(next.Add(1) - 1)
				if i >= n {
					return
				}
				if err := fn(ctx, i); err != nil {
					once.Do(func() { first = err; cancel() })
					return
				}
			}
		}()
	}
	wg.Wait()
	if first == nil && ctx.Err() != nil {
		first = ctx.Err()
	}
	return first
}

// populateNodes creates the nodes and waits until KWOK reports every one Ready.
func populateNodes(ctx context.Context, cs kubernetes.Interface, nodes []corev1.Node) error {
	if err := parallel(ctx, len(nodes), 32, func(ctx context.Context, i int) error {
		_, err := cs.CoreV1().Nodes().Create(ctx, &nodes[i], metav1.CreateOptions{})
		return err
	}); err != nil {
		return fmt.Errorf("create nodes: %w", err)
	}
	deadline := time.Now().Add(10 * time.Minute)
	for {
		l, err := cs.CoreV1().Nodes().List(ctx, metav1.ListOptions{ResourceVersion: "0"})
		if err != nil {
			return err
		}
		ready := 0
		for i := range l.Items {
			if clusters.NodeReady(&l.Items[i]) {
				ready++
			}
		}
		if ready >= len(nodes) {
			return nil
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("%d of %d nodes Ready after 10 minutes", ready, len(nodes))
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(2 * time.Second):
		}
	}
}

// s1 imports a cluster of --scale-nodes KWOK nodes and 30 pods a node from the local control
// plane. The bench populates it itself: the nodes, Deployments of 100 replicas, and every pod
// created already bound (spec.nodeName) and owned by a ReplicaSet name, at --populate-qps; the
// Deployment, ReplicaSet and garbage-collector controllers are off so that nothing replaces or
// removes the bench's pods. The figure is the import: listing, Build and Write.
func s1(ctx context.Context, f *flags) (Result, error) {
	n := f.scale.nodes
	id, target := "S1", "<= 60 s (about a minute)"
	what := fmt.Sprintf("import %d nodes, %d pods (local control plane, KWOK)", n, n*podsPerNode)
	if n < 1 || n > 100_000 {
		return Result{}, fmt.Errorf("--scale-nodes: want 1 to 100000, got %d", n)
	}
	bc, err := localCluster(ctx, "bench-import", f.scale.qps,
		clusters.WithExtraArgs(local.ControllerManager, "--controllers=*,-deployment-controller,-replicaset-controller,-garbage-collector-controller"))
	if errors.Is(err, errNoControlPlane) {
		return notMeasured(id, what, target, err), nil
	}
	if err != nil {
		return Result{}, err
	}
	defer bc.stop()
	fc, cfg := bc.cs, bc.cfg
	t0 := time.Now()
	nodes := synthNodes(n)
	if err := populateNodes(ctx, fc, nodes); err != nil {
		return Result{}, err
	}
	tNodes := time.Since(t0)
	deps := n * podsPerNode / replicasEach
	depObjs := make([]*appsv1.Deployment, deps)
	for d := range deps {
		depObjs[d] = synthDeployment(d, "registry.example/app:1")
	}
	if err := parallel(ctx, deps, 16, func(ctx context.Context, d int) error {
		_, err := fc.AppsV1().Deployments(benchNS).Create(ctx, depObjs[d], metav1.CreateOptions{})
		return err
	}); err != nil {
		return Result{}, fmt.Errorf("create deployments: %w", err)
	}
	pods := deps * replicasEach
	t1 := time.Now()
	if err := parallel(ctx, pods, 64, func(ctx context.Context, i int) error {
		d, r := i/replicasEach, i%replicasEach
		_, err := fc.CoreV1().Pods(benchNS).Create(ctx, synthPod(depObjs[d], 0, r, nodes[i%n].Name), metav1.CreateOptions{})
		return err
	}); err != nil {
		return Result{}, fmt.Errorf("create pods: %w", err)
	}
	tPods := time.Since(t1)
	// let KWOK mark the pods Running, so that the import reads a settled cluster
	t2 := time.Now()
	settled := "every pod Running"
	for {
		l, err := fc.CoreV1().Pods(benchNS).List(ctx, metav1.ListOptions{ResourceVersion: "0", FieldSelector: "status.phase!=Running"})
		if err != nil {
			return Result{}, err
		}
		if len(l.Items) == 0 {
			break
		}
		if time.Since(t2) > 15*time.Minute {
			settled = fmt.Sprintf("%d pods not yet Running after 15 minutes", len(l.Items))
			break
		}
		time.Sleep(5 * time.Second)
	}
	tSettle := time.Since(t2)

	resetPeakRSS()
	start, c0 := time.Now(), cpuTime()
	snap, err := importer.ReadCluster(ctx, rest.CopyConfig(cfg), "bench", importer.Filter{Include: []string{benchNS}})
	if err != nil {
		return Result{}, err
	}
	listed := time.Since(start)
	res, err := importer.Build(snap, importer.Options{Name: "bench-import", Duration: time.Hour})
	if err != nil {
		return Result{}, err
	}
	built := time.Since(start)
	dir, err := os.MkdirTemp("", "fl-bench-import-")
	if err != nil {
		return Result{}, err
	}
	defer os.RemoveAll(dir)
	if err := res.Write(dir); err != nil {
		return Result{}, err
	}
	el, cpu := time.Since(start), cpuTime()-c0
	placed := 0
	for _, c := range res.Live {
		placed += c
	}
	if f.scale.hold > 0 {
		kc, err := bc.p.KubeConfigPath("bench-import")
		if err != nil {
			return Result{}, err
		}
		fmt.Fprintf(os.Stderr, "S1: the control plane stays up for %v (Ctrl-C ends it): --kubeconfig %s --namespace %s\n", f.scale.hold, kc, benchNS)
		select {
		case <-ctx.Done():
		case <-time.After(f.scale.hold):
		}
	}
	ok := el.Seconds() <= 60 && placed == pods && len(snap.Nodes) == n
	return Result{ID: id, What: what, Figure: el.Seconds(), Unit: "s", Target: target, Met: met(ok),
		Detail: fmt.Sprintf("list %.1f s, Build %.1f s, Write %.1f s (bench CPU %.1f s, peak RSS %s); read %d nodes, %d pods, %d pools, %d pods placed; "+
			"populated by the bench at --populate-qps %.0f: %d nodes created and Ready in %.0f s, %d pods created bound in %.0f s (%.0f pods/s), KWOK settled in %.0f s (%s)",
			listed.Seconds(), (built - listed).Seconds(), (el - built).Seconds(), cpu.Seconds(), peakRSS(), len(snap.Nodes), len(snap.Pods), len(res.Pools), placed,
			f.scale.qps, n, tNodes.Seconds(), pods, tPods.Seconds(), float64(pods)/tPods.Seconds(), tSettle.Seconds(), settled)}, nil
}

// s2 replays a recorded hour of a cluster of --scale-nodes nodes and 30 pods a node. The
// recording is synthetic, written through the trace writer `faultline record` uses (record.Writer):
// the cluster as listed, then an hour of Deployments scaled every 20 s, a rollout every 5
// minutes, a node added every 6 minutes and one deleted every 10, a Job every 2 minutes, with
// the pod events each makes.
//
// Two budgets, as the issue sets them: importing the trace (read it, build the scenario, write
// the folder) is an import, done once, and has S1's budget of about a minute; the replay is
// what a user repeats for every seed and every mitigation (`faultline run` of the imported
// folder: load it, build the world, simulate), and its speed is the figure: the recorded length
// over the replay's wall time, target 1,000x. The replay starts after a collection, as a fresh
// `faultline run` process would, so the import's garbage is not charged to it. The end-to-end
// speed (import and replay together) is in the detail.
func s2(ctx context.Context, f *flags) (Result, error) {
	n, length := f.scale.nodes, f.scale.hour
	if n < 10 || n > 10_000 {
		return Result{}, fmt.Errorf("--scale-nodes: S2 wants 10 to 10000 (a scenario holds at most 10,000 nodes), got %d", n)
	}
	if length < time.Minute || length > 24*time.Hour {
		return Result{}, fmt.Errorf("--scale-recording: want 1m to 24h, got %v", length)
	}
	dir, err := os.MkdirTemp("", "fl-bench-replay-")
	if err != nil {
		return Result{}, err
	}
	defer os.RemoveAll(dir)
	path := filepath.Join(dir, "trace.jsonl.gz")
	tw0 := time.Now()
	tr, err := writeSyntheticTrace(path, n, length)
	if err != nil {
		return Result{}, err
	}
	written := time.Since(tw0)
	goruntime.GC()
	resetPeakRSS()

	// the import: read, build, write
	start, c0 := time.Now(), cpuTime()
	t, err := record.ReadTrace(path)
	if err != nil {
		return Result{}, err
	}
	read := time.Since(start)
	rep, err := record.Import(t, importer.Filter{Include: []string{benchNS}}, importer.Options{Name: "bench-replay", Seeds: 1})
	if err != nil {
		return Result{}, err
	}
	t = nil
	imported := time.Since(start)
	scDir := filepath.Join(dir, "scenario")
	if err := rep.Write(scDir); err != nil {
		return Result{}, err
	}
	imp, cImp := time.Since(start), cpuTime()-c0
	recorded, changes := rep.Length, rep.Changes
	unplayed := 0
	for _, c := range rep.Unplayed {
		unplayed += c
	}
	rep = nil
	goruntime.GC()

	// the replay: load, build, simulate
	start, c0 = time.Now(), cpuTime()
	sc, err := scenarios.Open(scDir)
	if err != nil {
		return Result{}, err
	}
	v, err := sc.Variant(sc.Baseline())
	if err != nil {
		return Result{}, err
	}
	loaded := time.Since(start)
	w, err := sim.New(sc.Compile(v), 1, sim.Options{})
	if err != nil {
		return Result{}, err
	}
	r := w.Run()
	replay, cReplay := time.Since(start), cpuTime()-c0
	speed := recorded.Seconds() / replay.Seconds()
	rss := peakRSSKB()
	ok := speed >= 1000 && imp <= time.Minute && rss > 0 && rss < 4<<20
	return Result{ID: "S2", What: fmt.Sprintf("replay %v recorded on %d nodes, %d pods", length, n, n*podsPerNode), Figure: speed, Unit: "x real time",
		Target: ">= 1000x (replay), import <= 60 s, peak RSS < 4 GiB", Met: met(ok),
		Detail: fmt.Sprintf("replay %.2f s (CPU %.1f s): load %.2f s, simulate %.2f s (%v simulated, %d events); "+
			"import %.1f s (CPU %.1f s): read %.1f s, build %.1f s, write %.1f s; end to end %.0fx real time; peak RSS %s; "+
			"synthetic trace (%s): %d events, %d MB gzip'd, written in %.0f s; %d changes replayed, %d events not replayed",
			replay.Seconds(), cReplay.Seconds(), loaded.Seconds(), (replay - loaded).Seconds(), sc.Spec.Spec.Duration.Duration, r.Events,
			imp.Seconds(), cImp.Seconds(), read.Seconds(), (imported - read).Seconds(), (imp - imported).Seconds(),
			recorded.Seconds()/(imp+replay).Seconds(), peakRSS(), tr.what, tr.events, tr.bytes>>20, written.Seconds(), changes, unplayed)}, nil
}

type traceStats struct {
	events int
	bytes  int64
	what   string
}

// writeSyntheticTrace writes a recording of a cluster of n nodes for length (see s2).
func writeSyntheticTrace(path string, n int, length time.Duration) (traceStats, error) {
	f, err := os.Create(path)
	if err != nil {
		return traceStats{}, err
	}
	defer f.Close()
	t0 := time.Date(2026, 12, 2, 10, 0, 0, 0, time.UTC)
	w, err := record.NewWriter(f, "bench synthetic", t0)
	if err != nil {
		return traceStats{}, err
	}
	var werr error
	ev := func(at time.Time, op string, initial bool, o any) {
		if werr != nil {
			return
		}
		m, ok := o.(map[string]any)
		if !ok {
			if m, werr = runtime.DefaultUnstructuredConverter.ToUnstructured(o); werr != nil {
				return
			}
		}
		werr = w.Event(at, op, initial, m)
	}
	ev(t0, record.OpAdd, true, &corev1.Namespace{TypeMeta: metav1.TypeMeta{APIVersion: "v1", Kind: "Namespace"}, ObjectMeta: metav1.ObjectMeta{Name: benchNS}})
	nodes := synthNodes(n)
	for i := range nodes {
		ev(t0, record.OpAdd, true, &nodes[i])
	}
	deps := n * podsPerNode / replicasEach
	type depState struct {
		d    *appsv1.Deployment
		rev  int
		pods []*corev1.Pod // live, in creation order
		next int           // next replica number
	}
	ds := make([]*depState, deps)
	cursor := 0
	nextNode := func(live []string) string {
		cursor++
		return live[cursor%len(live)]
	}
	live := make([]string, n)
	for i := range nodes {
		live[i] = nodes[i].Name
	}
	running := func(p *corev1.Pod) *corev1.Pod {
		q := p.DeepCopy()
		q.Status.Phase = corev1.PodRunning
		q.Status.ContainerStatuses = []corev1.ContainerStatus{{Name: "app", Ready: true, State: corev1.ContainerState{Running: &corev1.ContainerStateRunning{}}}}
		return q
	}
	for d := range deps {
		s := &depState{d: synthDeployment(d, "registry.example/app:1")}
		ds[d] = s
		ev(t0, record.OpAdd, true, s.d)
		for r := range replicasEach {
			p := running(synthPod(s.d, 0, r, live[(d*replicasEach+r)%n]))
			s.pods = append(s.pods, p)
			ev(t0, record.OpAdd, true, p)
		}
		s.next = replicasEach
	}
	synced := t0.Add(5 * time.Second)
	if err := w.Synced(synced); err != nil {
		return traceStats{}, err
	}
	// the recorded hour, in event order: each change with the pod events it causes
	type timed struct {
		at time.Time
		op string
		o  any
	}
	var later []timed
	add := func(at time.Time, op string, o any) { later = append(later, timed{at, op, o}) }
	start := func(at time.Time, s *depState, node string) {
		p := synthPod(s.d, s.rev, s.next, "")
		s.next++
		add(at, record.OpAdd, p)
		b := p.DeepCopy()
		b.Spec.NodeName = node
		add(at.Add(50*time.Millisecond), record.OpUpdate, b)
		r := running(b)
		add(at.Add(1500*time.Millisecond), record.OpUpdate, r)
		s.pods = append(s.pods, r)
	}
	stopPod := func(at time.Time, s *depState, i int) {
		add(at, record.OpDelete, s.pods[i])
		s.pods = slices.Delete(s.pods, i, i+1)
	}
	rng := rand.New(rand.NewPCG(16, 4))
	added, jobs := 0, 0
	for off := 20 * time.Second; off < length; off += 20 * time.Second {
		at := synced.Add(off)
		// scaling: a Deployment by -10..+10 replicas
		s := ds[rng.IntN(deps)]
		k := rng.IntN(21) - 10
		cur := int(*s.d.Spec.Replicas)
		if cur+k < 1 {
			k = 1 - cur
		}
		s.d = s.d.DeepCopy()
		s.d.Spec.Replicas = ptr.To(int32(cur + k))
		add(at, record.OpUpdate, s.d)
		for j := 0; j < k; j++ {
			start(at.Add(100*time.Millisecond), s, nextNode(live))
		}
		for j := 0; j < -k; j++ {
			stopPod(at.Add(100*time.Millisecond), s, len(s.pods)-1)
		}
		if off%(5*time.Minute) == 0 { // a rollout: new pods by 25, old ones deleted as they run
			s := ds[rng.IntN(deps)]
			s.d = s.d.DeepCopy()
			s.rev++
			s.d.Spec.Template.Spec.Containers = []corev1.Container{*s.d.Spec.Template.Spec.Containers[0].DeepCopy()}
			s.d.Spec.Template.Spec.Containers[0].Image = "registry.example/app:" + strconv.Itoa(s.rev+1)
			add(at, record.OpUpdate, s.d)
			old := len(s.pods)
			for b := 0; b*25 < old; b++ {
				bt := at.Add(time.Duration(b) * 3 * time.Second)
				for j := 0; j < 25 && b*25+j < old; j++ {
					start(bt, s, nextNode(live))
				}
				for j := 0; j < 25 && len(s.pods) > int(*s.d.Spec.Replicas); j++ {
					stopPod(bt.Add(2*time.Second), s, 0)
				}
			}
		}
		if off%(6*time.Minute) == 0 { // a node joins
			nn := synthNodes(1)[0]
			nn.Name = fmt.Sprintf("n-new-%03d", added)
			nn.Labels[corev1.LabelHostname] = nn.Name
			added++
			add(at, record.OpAdd, &nn)
			live = append(live, nn.Name)
		}
		if off%(10*time.Minute) == 0 && len(live) > 2 { // a node is deleted with its pods; their Deployments replace them
			gone := live[0]
			live = live[1:]
			add(at, record.OpDelete, &nodes[slices.IndexFunc(nodes, func(x corev1.Node) bool { return x.Name == gone })])
			for _, s := range ds {
				for i := len(s.pods) - 1; i >= 0; i-- {
					if s.pods[i].Spec.NodeName == gone {
						stopPod(at.Add(time.Second), s, i)
						start(at.Add(2*time.Second), s, nextNode(live))
					}
				}
			}
		}
		if off%(2*time.Minute) == 0 { // a Job runs once
			job := synthJob(jobs, at)
			jobs++
			add(at, record.OpAdd, job)
		}
	}
	slices.SortStableFunc(later, func(a, b timed) int { return a.at.Compare(b.at) })
	for _, e := range later {
		ev(e.at, e.op, false, e.o)
	}
	if werr != nil {
		return traceStats{}, werr
	}
	if err := w.Close(synced.Add(length), "duration"); err != nil {
		return traceStats{}, err
	}
	return traceStats{events: w.Events(), bytes: w.Bytes(),
		what: fmt.Sprintf("%d nodes, %d pods listed; %d Deployments scaled, rollouts, %d nodes added, Jobs %d", n, deps*replicasEach, int(length/(20*time.Second)), added, jobs)}, nil
}

// synthJob is a Job created at at, running one pod of 30 s.
func synthJob(i int, at time.Time) map[string]any {
	name := fmt.Sprintf("report-%03d", i)
	return map[string]any{
		"apiVersion": "batch/v1", "kind": "Job",
		"metadata": map[string]any{"name": name, "namespace": benchNS, "creationTimestamp": at.UTC().Format(time.RFC3339)},
		"spec": map[string]any{"backoffLimit": int64(0), "template": map[string]any{"spec": map[string]any{"restartPolicy": "Never",
			"containers": []any{map[string]any{"name": "report", "image": "registry.example/report:1",
				"resources": map[string]any{"requests": map[string]any{"cpu": "500m", "memory": "256Mi"}}}}}}},
	}
}

// s3 places --whatif-nodes nodes' worth of pods (10 a node: 65,000 nodes, 650,000 pods) in the
// simulator for a capacity what-if: a synthetic cluster imported (package importer infers its
// pools and writes its Deployments), the largest pool shrunk by a tenth, every pod placed afresh
// by the simulator's scheduler. A scenario file holds at most 10,000 nodes and 200,000 pods
// (scenarios.MaxNodes, MaxPods), so the simulator's input is built from the import directly.
func s3(ctx context.Context, f *flags) (Result, error) {
	n := f.scale.whatIfNodes
	if n < 10 || n > 200_000 {
		return Result{}, fmt.Errorf("--whatif-nodes: want 10 to 200000, got %d", n)
	}
	pods := n * 10
	tb := time.Now()
	snap := &importer.Snapshot{Source: "bench synthetic", Nodes: synthNodes(n)}
	for d := range pods / replicasEach {
		m, err := runtime.DefaultUnstructuredConverter.ToUnstructured(synthDeployment(d, "registry.example/app:1"))
		if err != nil {
			return Result{}, err
		}
		snap.Objects = append(snap.Objects, &unstructured.Unstructured{Object: m})
	}
	res, err := importer.Build(snap, importer.Options{Name: "bench-whatif", Duration: time.Minute, Seeds: 1})
	if err != nil {
		return Result{}, err
	}
	snap = nil
	in := &sim.Input{Name: "what-if", Start: scenarios.DefaultStart, Duration: time.Minute, Models: sim.DefaultModels(), Load: res.Scenario.Spec.Load}
	in.Pools = slices.Clone(res.Scenario.Spec.Cluster.NodePools)
	largest := 0
	for i, p := range in.Pools {
		if p.Count > in.Pools[largest].Count {
			largest = i
		}
	}
	in.Pools[largest].Count -= in.Pools[largest].Count / 10
	for _, u := range res.Manifests {
		if u.GetKind() != "Deployment" {
			continue
		}
		d := &appsv1.Deployment{}
		if err := runtime.DefaultUnstructuredConverter.FromUnstructured(u.Object, d); err != nil {
			return Result{}, err
		}
		in.Objects = append(in.Objects, d)
	}
	pools := len(in.Pools)
	built := time.Since(tb)
	res = nil
	goruntime.GC()
	resetPeakRSS()

	start, c0 := time.Now(), cpuTime()
	w, err := sim.New(in, 1, sim.Options{})
	if err != nil {
		return Result{}, err
	}
	r := w.Run()
	el, cpu := time.Since(start), cpuTime()-c0
	st := w.State()
	placed, nodes := 0, 0
	for _, p := range st.Pods {
		if p.Node != nil && p.Phase != cluster.PodGone {
			placed++
		}
	}
	nodes = len(st.Nodes)
	rss := peakRSSKB()
	ok := el.Seconds() <= 60 && rss > 0 && rss <= 8<<20 && placed == pods
	return Result{ID: "S3", What: fmt.Sprintf("what-if placement, %d nodes, %d pods", n, pods), Figure: el.Seconds(), Unit: "s", Target: "<= 60 s, peak RSS <= 8 GiB", Met: met(ok),
		Detail: fmt.Sprintf("largest of %d inferred pools shrunk by a tenth: %d nodes; %d of %d pods placed, %d events, CPU %.1f s, peak RSS %s (simulation only; import and input built in %.1f s before)",
			pools, nodes, placed, pods, r.Events, cpu.Seconds(), peakRSS(), built.Seconds())}, nil
}

// s4 places the same pods on the same nodes twice: by the real kube-scheduler of the local
// control plane (KWOK nodes; its client QPS raised to 500 so that binding is not what limits it)
// and by the simulator's scheduler model. Pods are bare (no owner), with four request sizes in
// turn. They are all created (at --populate-qps) while kube-scheduler is stopped; its throughput
// is the pods over the time from starting it again to the last binding observed (its start-up
// included). The distance is the Kolmogorov-Smirnov distance between the two pods-per-node
// distributions over every node.
func s4(ctx context.Context, f *flags) (Result, error) {
	n := f.scale.sideNodes
	pods := n * 10
	id, target := "S4", "reported (no target): ratio and distance"
	what := fmt.Sprintf("kube-scheduler vs simulator, %d nodes, %d pods", n, pods)
	if n < 3 || n > 10_000 {
		return Result{}, fmt.Errorf("--side-nodes: want 3 to 10000, got %d", n)
	}
	nodes := synthNodes(n)
	for i := range nodes { // one shape: 8 CPUs, 32Gi
		nodes[i].Status.Capacity[corev1.ResourceCPU] = resource.MustParse("8")
		nodes[i].Status.Capacity[corev1.ResourceMemory] = resource.MustParse("32Gi")
		nodes[i].Status.Allocatable = nodes[i].Status.Capacity.DeepCopy()
		nodes[i].Labels[corev1.LabelInstanceTypeStable] = "m-8"
	}
	sizes := []struct{ cpu, mem string }{{"100m", "128Mi"}, {"250m", "256Mi"}, {"500m", "512Mi"}, {"1", "1Gi"}}
	podSpec := func(i int) corev1.PodSpec {
		s := sizes[i%len(sizes)]
		return corev1.PodSpec{Containers: []corev1.Container{{Name: "app", Image: "registry.example/app:1",
			Resources: corev1.ResourceRequirements{Requests: corev1.ResourceList{corev1.ResourceCPU: resource.MustParse(s.cpu), corev1.ResourceMemory: resource.MustParse(s.mem)}}}}}
	}
	podName := func(i int) string { return fmt.Sprintf("p-%05d", i) }

	// the simulator first: it needs no cluster
	var st cluster.State
	for i := range nodes {
		st.AddNode(&cluster.Node{Name: nodes[i].Name, Up: true, Ready: true, Labels: nodes[i].Labels,
			Allocatable: cluster.Resources{MilliCPU: 8000, Memory: 32 << 30}})
	}
	sch := scheduler.New(scheduler.DefaultConfig())
	rng := rand.New(rand.NewPCG(1, 4))
	specs := make([]corev1.PodSpec, pods)
	for i := range specs {
		specs[i] = podSpec(i)
	}
	simStart := time.Now()
	for i := range pods {
		req, nz, lim := cluster.PodRequests(&specs[i])
		p := st.AddPod(&cluster.Pod{Name: podName(i), Namespace: benchNS, Spec: &specs[i], Requests: req, NonZero: nz, LimitCPU: lim})
		dec, err := sch.Schedule(&st, p, rng)
		if err != nil {
			return Result{}, fmt.Errorf("simulator: pod %s: %w", p.Name, err)
		}
		st.Bind(p, dec.Node)
	}
	simEl := time.Since(simStart)
	simCount := map[string]int{}
	for _, p := range st.Pods {
		if p.Node != nil {
			simCount[p.Node.Name]++
		}
	}

	bc, err := localCluster(ctx, "bench-sched", f.scale.qps,
		clusters.WithExtraArgs(local.Scheduler, "--kube-api-qps=500", "--kube-api-burst=1000"))
	if errors.Is(err, errNoControlPlane) {
		return notMeasured(id, what, target, err), nil
	}
	if err != nil {
		return Result{}, err
	}
	defer bc.stop()
	p, fc := bc.p, bc.cs
	if err := populateNodes(ctx, fc, nodes); err != nil {
		return Result{}, err
	}
	// an informer sees each binding as it happens (it lists and watches again if the API server
	// drops a watch that falls behind, as it does under load)
	var mu sync.Mutex
	bound := map[string]time.Time{}
	realCount := map[string]int{}
	allBound := make(chan struct{})
	seen := func(obj any) {
		p, ok := obj.(*corev1.Pod)
		if !ok || p.Spec.NodeName == "" {
			return
		}
		mu.Lock()
		defer mu.Unlock()
		if _, done := bound[p.Name]; !done {
			bound[p.Name] = time.Now()
			realCount[p.Spec.NodeName]++
			if len(bound) == pods {
				close(allBound)
			}
		}
	}
	inf := informers.NewSharedInformerFactoryWithOptions(fc, 0, informers.WithNamespace(benchNS)).Core().V1().Pods().Informer()
	if _, err := inf.AddEventHandler(cache.ResourceEventHandlerFuncs{AddFunc: seen, UpdateFunc: func(_, obj any) { seen(obj) }}); err != nil {
		return Result{}, err
	}
	ictx, stopInformer := context.WithCancel(ctx)
	defer stopInformer()
	go inf.RunWithContext(ictx)
	if !cache.WaitForCacheSync(ictx.Done(), inf.HasSynced) {
		return Result{}, ctx.Err()
	}
	// every pod exists before kube-scheduler runs: its throughput, not the API server's create
	// rate, is what is measured
	if err := p.StopProcess(ctx, "bench-sched", local.Scheduler); err != nil {
		return Result{}, err
	}
	tc := time.Now()
	if err := parallel(ctx, pods, 32, func(ctx context.Context, i int) error {
		_, err := fc.CoreV1().Pods(benchNS).Create(ctx, &corev1.Pod{ObjectMeta: metav1.ObjectMeta{Name: podName(i), Namespace: benchNS}, Spec: podSpec(i)}, metav1.CreateOptions{})
		return err
	}); err != nil {
		return Result{}, fmt.Errorf("create pods: %w", err)
	}
	created := time.Since(tc)
	t0 := time.Now()
	if err := p.StartProcess(ctx, "bench-sched", local.Scheduler); err != nil {
		return Result{}, err
	}
	healthy := time.Since(t0)
	select {
	case <-allBound:
	case <-time.After(15 * time.Minute):
	case <-ctx.Done():
		return Result{}, ctx.Err()
	}
	mu.Lock()
	var first, last time.Time
	for _, t := range bound {
		if t.After(last) {
			last = t
		}
		if first.IsZero() || t.Before(first) {
			first = t
		}
	}
	nBound := len(bound)
	live, simc := make([]int, n), make([]int, n)
	for i := range nodes {
		live[i], simc[i] = realCount[nodes[i].Name], simCount[nodes[i].Name]
	}
	mu.Unlock()
	realEl := last.Sub(t0)
	realRate, simRate := float64(nBound)/realEl.Seconds(), float64(pods)/simEl.Seconds()
	ks := importer.KSDistance(live, simc)
	return Result{ID: id, What: what, Figure: simRate / realRate, Unit: "x", Target: target, Met: met(nBound == pods),
		Detail: fmt.Sprintf("simulator %.0f pods/s (%.2f s), kube-scheduler %.0f pods/s (%d of %d pods bound %.1f s after it was started on them: healthy after %.1f s, first binding %.1f s, last %.1f s; "+
			"the pods were created beforehand in %.1f s); pods-per-node Kolmogorov-Smirnov distance %.3f (kube-scheduler %s; simulator %s)",
			simRate, simEl.Seconds(), realRate, nBound, pods, realEl.Seconds(), healthy.Seconds(), first.Sub(t0).Seconds(), realEl.Seconds(), created.Seconds(), ks, spreadOf(live), spreadOf(simc))}, nil
}

func spreadOf(xs []int) string {
	s := slices.Clone(xs)
	slices.Sort(s)
	if len(s) == 0 {
		return "none"
	}
	return fmt.Sprintf("min %d, median %d, max %d", s[0], s[len(s)/2], s[len(s)-1])
}
