package realrun

import (
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	appsv1 "k8s.io/api/apps/v1"
	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/util/intstr"

	"github.com/faultline-dev/faultline/clusters/kind"
	"github.com/faultline-dev/faultline/sim"
)

// kind.Config labels the workers with the names AssignNodes looks for.
func TestNodeLabelsMatchKind(t *testing.T) {
	assert.Equal(t, kind.NodeLabel, NodeLabel)
	assert.Equal(t, kind.PoolLabel, PoolLabel)
}

func node(name string, labels map[string]string) corev1.Node {
	return corev1.Node{ObjectMeta: metav1.ObjectMeta{Name: name, Labels: labels}}
}

func TestAssignNodes(t *testing.T) {
	cp := node("c-control-plane", map[string]string{"node-role.kubernetes.io/control-plane": ""})
	pools := []sim.NodePool{{Name: "a", Count: 2}, {Name: "b", Count: 1}}
	for _, tc := range []struct {
		name  string
		nodes []corev1.Node
		want  map[string]string
		extra []string
		err   string
	}{
		{
			name: "kind's labels decide, whatever the node names",
			nodes: []corev1.Node{cp, node("c-worker", map[string]string{NodeLabel: "b-1"}),
				node("c-worker2", map[string]string{NodeLabel: "a-2"}), node("c-worker3", map[string]string{NodeLabel: "a-1"})},
			want: map[string]string{"a-1": "c-worker3", "a-2": "c-worker2", "b-1": "c-worker"},
		},
		{
			name:  "unlabelled workers in name order; the control plane never",
			nodes: []corev1.Node{node("w3", nil), cp, node("w1", nil), node("w2", nil), node("w4", nil)},
			want:  map[string]string{"a-1": "w1", "a-2": "w2", "b-1": "w3"},
			extra: []string{"w4"},
		},
		{
			name: "labels of another scenario's nodes are taken last",
			nodes: []corev1.Node{node("w1", map[string]string{NodeLabel: "other-1"}), node("w2", map[string]string{NodeLabel: "a-1"}),
				node("w3", nil), node("w4", nil)},
			want:  map[string]string{"a-1": "w2", "a-2": "w3", "b-1": "w4"},
			extra: []string{"w1"},
		},
		{
			name:  "too few workers",
			nodes: []corev1.Node{cp, node("w1", nil), node("w2", nil)},
			err:   "s.yaml: cluster.nodePools: 3 nodes; the cluster has 2 worker nodes (w1, w2); expected at least 3",
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, extra, err := AssignNodes(pools, tc.nodes, "s.yaml")
			if tc.err != "" {
				assert.EqualError(t, err, tc.err)
				return
			}
			require.NoError(t, err)
			assert.Equal(t, tc.want, got)
			assert.Equal(t, tc.extra, extra)
		})
	}
}

func rl(cpu, mem string) corev1.ResourceList {
	out := corev1.ResourceList{}
	if cpu != "" {
		out[corev1.ResourceCPU] = resource.MustParse(cpu)
	}
	if mem != "" {
		out[corev1.ResourceMemory] = resource.MustParse(mem)
	}
	return out
}

func TestScaleFactors(t *testing.T) {
	nodeOf := map[string]string{"p-1": "w1", "p-2": "w2", "q-1": "w3"}
	for _, tc := range []struct {
		name  string
		pools []sim.NodePool
		free  map[string]corev1.ResourceList
		want  map[corev1.ResourceName]float64
	}{
		{
			name:  "a 2-core machine for 4-core pool nodes: the least free node decides",
			pools: []sim.NodePool{{Name: "p", Count: 2, Capacity: rl("4", "16Gi")}},
			free:  map[string]corev1.ResourceList{"w1": rl("1900m", "24Gi"), "w2": rl("1800m", "20Gi")},
			want:  map[corev1.ResourceName]float64{corev1.ResourceCPU: 0.45, corev1.ResourceMemory: 1.25},
		},
		{
			name:  "pools of different sizes: the one that fits worst",
			pools: []sim.NodePool{{Name: "p", Count: 2, Capacity: rl("4", "")}, {Name: "q", Count: 1, Capacity: rl("8", "")}},
			free:  map[string]corev1.ResourceList{"w1": rl("2", "1Gi"), "w2": rl("2", "1Gi"), "w3": rl("2", "1Gi")},
			want:  map[corev1.ResourceName]float64{corev1.ResourceCPU: 0.25},
		},
		{
			name:  "no capacity given: nothing scaled",
			pools: []sim.NodePool{{Name: "p", Count: 2}},
			free:  map[string]corev1.ResourceList{"w1": rl("2", "1Gi"), "w2": rl("2", "1Gi")},
			want:  map[corev1.ResourceName]float64{},
		},
		{
			name:  "a node already full: zero, never negative",
			pools: []sim.NodePool{{Name: "p", Count: 2, Capacity: rl("4", "")}},
			free:  map[string]corev1.ResourceList{"w1": rl("-100m", ""), "w2": rl("2", "")},
			want:  map[corev1.ResourceName]float64{corev1.ResourceCPU: 0},
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got := ScaleFactors(tc.pools, nodeOf, tc.free)
			require.Len(t, got, len(tc.want))
			for k, v := range tc.want {
				assert.InDelta(t, v, got[k], 1e-9, k)
			}
		})
	}
}

func TestScaleResources(t *testing.T) {
	spec := &corev1.PodSpec{
		InitContainers: []corev1.Container{{Name: "init", Resources: corev1.ResourceRequirements{Requests: rl("100m", "")}}},
		Containers: []corev1.Container{
			{Name: "web", Resources: corev1.ResourceRequirements{Requests: rl("500m", "1Gi"), Limits: rl("1200m", "")}},
			{Name: "tiny", Resources: corev1.ResourceRequirements{Requests: rl("1m", "")}},
			{Name: "none"},
		},
	}
	ScaleResources(spec, map[corev1.ResourceName]float64{corev1.ResourceCPU: 0.45, corev1.ResourceMemory: 1.5})
	for _, tc := range []struct {
		name string
		got  corev1.ResourceList
		want corev1.ResourceList
	}{
		{"requests of both resources", spec.Containers[0].Resources.Requests, rl("225m", "1536Mi")},
		{"limits too, so CFS quota keeps its share", spec.Containers[0].Resources.Limits, rl("540m", "")},
		{"rounded down but never to zero", spec.Containers[1].Resources.Requests, rl("1m", "")},
		{"init containers", spec.InitContainers[0].Resources.Requests, rl("45m", "")},
	} {
		t.Run(tc.name, func(t *testing.T) {
			require.Len(t, tc.got, len(tc.want))
			for k, v := range tc.want {
				assert.Zero(t, v.Cmp(tc.got[k]), "%s: got %s, want %s", k, ptrQ(tc.got[k]), v.String())
			}
		})
	}
	assert.Nil(t, spec.Containers[2].Resources.Requests, "a container without requests stays without")
}

func ptrQ(q resource.Quantity) string { return q.String() }

// What fits on a pool node fits on the real node after scaling, in the same shares: the
// scenario's pods summed against the pool's capacity and the scaled ones against the node.
func TestScalingKeepsFit(t *testing.T) {
	capacity, free := 4000, 1850 // milli-CPU: the pool node, a kind node after kube-proxy and CoreDNS
	f := float64(free) / float64(capacity)
	requests := []string{"500m", "500m", "500m", "250m", "250m", "250m", "250m", "250m", "250m", "100m"}
	sum, scaled := 0, 0
	for _, r := range requests {
		q := resource.MustParse(r)
		sum += int(q.MilliValue())
		s := scaleQuantity(corev1.ResourceCPU, q, f)
		scaled += int(s.MilliValue())
	}
	assert.LessOrEqual(t, sum, capacity, "the scenario's pods fit one pool node")
	assert.LessOrEqual(t, scaled, free, "and so they fit the real node")
	assert.InDelta(t, float64(sum)/float64(capacity), float64(scaled)/float64(free), 0.01, "in the same share")
}

func TestSubstituteImage(t *testing.T) {
	web := func() *corev1.PodSpec {
		return &corev1.PodSpec{Containers: []corev1.Container{{
			Name: "web", Image: "moonlight/web:2019.01",
			Ports:          []corev1.ContainerPort{{Name: "metrics", ContainerPort: 9090}},
			ReadinessProbe: &corev1.Probe{ProbeHandler: corev1.ProbeHandler{HTTPGet: &corev1.HTTPGetAction{Path: "/healthz", Port: intstr.FromInt32(8080)}}},
			LivenessProbe:  &corev1.Probe{ProbeHandler: corev1.ProbeHandler{TCPSocket: &corev1.TCPSocketAction{Port: intstr.FromString("metrics")}}},
		}}}
	}
	t.Run("a server answers on every probe and container port", func(t *testing.T) {
		spec := web()
		replaced, changed := SubstituteImage(spec, "faultline/echo:kind", nil)
		c := spec.Containers[0]
		assert.Equal(t, []string{"moonlight/web:2019.01"}, replaced)
		assert.Empty(t, changed)
		assert.Equal(t, "faultline/echo:kind", c.Image)
		assert.Equal(t, corev1.PullNever, c.ImagePullPolicy)
		assert.Equal(t, []string{"/faultline-echo"}, c.Command)
		assert.Equal(t, []string{"-listen", ":8080,:9090"}, c.Args)
		assert.Equal(t, "/healthz", c.ReadinessProbe.HTTPGet.Path, "probes stay as written")
	})
	t.Run("a Job's app exits after its run time", func(t *testing.T) {
		spec := &corev1.PodSpec{Containers: []corev1.Container{{Name: "job", Image: "app:1"}}}
		SubstituteImage(spec, "e", &JobApp{RunTime: 20 * time.Second, FailRatio: 0.2})
		assert.Equal(t, []string{"-listen", ":8080", "-run", "20s", "-fail-ratio", "0.2"}, spec.Containers[0].Args)
	})
	t.Run("exec probes become TCP probes the image can answer", func(t *testing.T) {
		spec := &corev1.PodSpec{Containers: []corev1.Container{{Name: "db", Image: "redis:5.0",
			Ports:         []corev1.ContainerPort{{ContainerPort: 6379}},
			LivenessProbe: &corev1.Probe{ProbeHandler: corev1.ProbeHandler{Exec: &corev1.ExecAction{Command: []string{"redis-cli", "ping"}}}}}}}
		_, changed := SubstituteImage(spec, "e", nil)
		p := spec.Containers[0].LivenessProbe
		assert.Nil(t, p.Exec)
		require.NotNil(t, p.TCPSocket)
		assert.Equal(t, int32(6379), p.TCPSocket.Port.IntVal)
		assert.Equal(t, []string{"container db: exec/gRPC probe turned into a TCP probe on port 6379"}, changed)
	})
	t.Run("init containers finish at once", func(t *testing.T) {
		spec := &corev1.PodSpec{InitContainers: []corev1.Container{{Name: "migrate", Image: "m:1"}}, Containers: []corev1.Container{{Name: "a", Image: "a:1"}}}
		replaced, _ := SubstituteImage(spec, "e", nil)
		assert.Equal(t, []string{"m:1", "a:1"}, replaced)
		assert.Equal(t, []string{"-listen", ":0", "-run", "1ms"}, spec.InitContainers[0].Args)
	})
}

func TestPodSpecOf(t *testing.T) {
	cron := &batchv1.CronJob{ObjectMeta: metav1.ObjectMeta{Annotations: map[string]string{sim.AnnRunTime: "2m", sim.AnnFailureRatio: "0.5"}}}
	for _, tc := range []struct {
		name string
		obj  runtime.Object
		spec bool
		job  *JobApp
	}{
		{"Deployment: a server", &appsv1.Deployment{}, true, nil},
		{"CronJob: its annotations", cron, true, &JobApp{RunTime: 2 * time.Minute, FailRatio: 0.5}},
		{"Job: the simulator's default run time", &batchv1.Job{}, true, &JobApp{RunTime: 30 * time.Second}},
		{"a Pod that does not restart runs to completion", &corev1.Pod{Spec: corev1.PodSpec{RestartPolicy: corev1.RestartPolicyNever}}, true, &JobApp{RunTime: 30 * time.Second}},
		{"a Service has no pods", &corev1.Service{}, false, nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			spec, job := podSpecOf(tc.obj)
			assert.Equal(t, tc.spec, spec != nil)
			assert.Equal(t, tc.job, job)
		})
	}
}
