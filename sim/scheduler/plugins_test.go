package scheduler

import (
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"

	"github.com/faultline-dev/faultline/sim/cluster"
)

// scores runs one plugin's PreScore/Score/NormalizeScore on the feasible nodes named and returns
// the normalized score per node (nil when the plugin skips).
func scores(t *testing.T, cfg Config, st *cluster.State, p *cluster.Pod, feasible []string,
	plugin func(c *cycle, nodes []*cluster.Node, raw []int64) bool) map[string]int64 {
	t.Helper()
	s := New(cfg)
	info, err := s.specs.get(podSpec(p))
	require.NoError(t, err)
	s.cyc.begin(s, st, p, info)
	var nodes []*cluster.Node
	for _, name := range feasible {
		for _, n := range st.Nodes {
			if n.Name == name {
				nodes = append(nodes, n)
			}
		}
	}
	require.Len(t, nodes, len(feasible))
	raw := make([]int64, len(nodes))
	if !plugin(&s.cyc, nodes, raw) {
		return nil
	}
	out := map[string]int64{}
	for i, n := range nodes {
		out[n.Name] = raw[i]
	}
	return out
}

// labelled builds a bare node with the given labels.
func labelled(name string, kv ...string) *cluster.Node {
	n := &cluster.Node{Name: name, Labels: map[string]string{}, Allocatable: cluster.Resources{MilliCPU: 4000, Memory: 16 * gi}}
	for i := 0; i < len(kv); i += 2 {
		n.Labels[kv[i]] = kv[i+1]
	}
	return n
}

// labelledPod builds a pod in "default" with the given label keys (empty values), bound to node.
func labelledPod(st *cluster.State, name, nodeName string, keys ...string) {
	p := &cluster.Pod{Name: name, Namespace: "default", Labels: map[string]string{}, Spec: &corev1.PodSpec{}}
	for _, k := range keys {
		p.Labels[k] = ""
	}
	bind(st, p, nodeName)
}

func exists(key string) *metav1.LabelSelector {
	return &metav1.LabelSelector{MatchExpressions: []metav1.LabelSelectorRequirement{{Key: key, Operator: metav1.LabelSelectorOpExists}}}
}

// The expected scores are those of upstream's podtopologyspread scoring_test.go cases of the same
// names.
func TestPodTopologySpreadScoreMatchesUpstream(t *testing.T) {
	host := cluster.LabelHostname
	constraint := func(maxSkew int32, key string, sel *metav1.LabelSelector) corev1.TopologySpreadConstraint {
		return corev1.TopologySpreadConstraint{MaxSkew: maxSkew, TopologyKey: key, WhenUnsatisfiable: corev1.ScheduleAnyway, LabelSelector: sel}
	}
	type pp struct {
		name, node string
		keys       []string
	}
	tests := []struct {
		name        string
		podKeys     []string
		constraints []corev1.TopologySpreadConstraint
		owner       labels.Selector // for system defaults
		nodes       []*cluster.Node
		pods        []pp
		feasible    []string
		want        map[string]int64
	}{
		{
			name:        "one constraint on node, all 4 nodes are candidates, maxSkew=3",
			podKeys:     []string{"foo"},
			constraints: []corev1.TopologySpreadConstraint{constraint(3, host, exists("foo"))},
			nodes:       []*cluster.Node{labelled("node-a", host, "node-a"), labelled("node-b", host, "node-b"), labelled("node-c", host, "node-c"), labelled("node-d", host, "node-d")},
			pods: []pp{{"p-a1", "node-a", []string{"foo"}}, {"p-a2", "node-a", []string{"foo"}}, {"p-a3", "node-a", []string{"foo"}}, {"p-a4", "node-a", []string{"foo"}},
				{"p-b1", "node-b", []string{"foo"}}, {"p-b2", "node-b", []string{"foo"}}, {"p-b3", "node-b", []string{"foo"}},
				{"p-c1", "node-c", []string{"foo"}}, {"p-c2", "node-c", []string{"foo"}}, {"p-d1", "node-d", []string{"foo"}}},
			feasible: []string{"node-a", "node-b", "node-c", "node-d"},
			want:     map[string]int64{"node-a": 44, "node-b": 66, "node-c": 77, "node-d": 100},
		},
		{
			name:    "system defaulting, nodes don't have zone, pods match service",
			podKeys: []string{"foo"},
			owner:   labels.SelectorFromSet(labels.Set{"foo": ""}),
			nodes:   []*cluster.Node{labelled("node-a", host, "node-a"), labelled("node-b", host, "node-b"), labelled("node-c", host, "node-c"), labelled("node-d", host, "node-d")},
			pods: []pp{{"p-a1", "node-a", []string{"foo"}}, {"p-a2", "node-a", []string{"foo"}}, {"p-a3", "node-a", []string{"foo"}}, {"p-a4", "node-a", []string{"foo"}},
				{"p-b1", "node-b", []string{"foo"}}, {"p-b2", "node-b", []string{"foo"}}, {"p-b3", "node-b", []string{"foo"}},
				{"p-c1", "node-c", []string{"foo"}}, {"p-c2", "node-c", []string{"foo"}}, {"p-d1", "node-d", []string{"foo"}}},
			feasible: []string{"node-a", "node-b", "node-c", "node-d"},
			want:     map[string]int64{"node-a": 44, "node-b": 66, "node-c": 77, "node-d": 100},
		},
		{
			name:        "one constraint on node, 3 out of 4 nodes are candidates",
			podKeys:     []string{"foo"},
			constraints: []corev1.TopologySpreadConstraint{constraint(1, host, exists("foo"))},
			nodes:       []*cluster.Node{labelled("node-a", host, "node-a"), labelled("node-b", host, "node-b"), labelled("node-x", host, "node-x"), labelled("node-y", host, "node-y")},
			pods: []pp{{"p-a1", "node-a", []string{"foo"}}, {"p-a2", "node-a", []string{"foo"}}, {"p-a3", "node-a", []string{"foo"}}, {"p-a4", "node-a", []string{"foo"}},
				{"p-b1", "node-b", []string{"foo"}}, {"p-b2", "node-b", []string{"foo"}}, {"p-x1", "node-x", []string{"foo"}},
				{"p-y1", "node-y", []string{"foo"}}, {"p-y2", "node-y", []string{"foo"}}, {"p-y3", "node-y", []string{"foo"}}},
			feasible: []string{"node-a", "node-b", "node-x"},
			want:     map[string]int64{"node-a": 33, "node-b": 83, "node-x": 100},
		},
		{
			name:        "one constraint on node, 3 out of 4 nodes are candidates, one node doesn't match topology key",
			podKeys:     []string{"foo"},
			constraints: []corev1.TopologySpreadConstraint{constraint(1, host, exists("foo"))},
			nodes:       []*cluster.Node{labelled("node-a", host, "node-a"), labelled("node-b", "n", "node-b"), labelled("node-x", host, "node-x"), labelled("node-y", host, "node-y")},
			pods: []pp{{"p-a1", "node-a", []string{"foo"}}, {"p-a2", "node-a", []string{"foo"}}, {"p-a3", "node-a", []string{"foo"}}, {"p-a4", "node-a", []string{"foo"}},
				{"p-b1", "node-b", []string{"foo"}}, {"p-b2", "node-b", []string{"foo"}}, {"p-x1", "node-x", []string{"foo"}},
				{"p-y1", "node-y", []string{"foo"}}, {"p-y2", "node-y", []string{"foo"}}, {"p-y3", "node-y", []string{"foo"}}},
			feasible: []string{"node-a", "node-b", "node-x"},
			want:     map[string]int64{"node-a": 16, "node-b": 0, "node-x": 100},
		},
		{
			name:        "one constraint on zone, 3 out of 4 nodes are candidates",
			podKeys:     []string{"foo"},
			constraints: []corev1.TopologySpreadConstraint{constraint(1, "zone", exists("foo"))},
			nodes: []*cluster.Node{labelled("node-a", "zone", "zone1", host, "node-a"), labelled("node-b", "zone", "zone1", host, "node-b"),
				labelled("node-x", "zone", "zone2", host, "node-x"), labelled("node-y", "zone", "zone2", host, "node-y")},
			pods: []pp{{"p-a1", "node-a", []string{"foo"}}, {"p-a2", "node-a", []string{"foo"}}, {"p-a3", "node-a", []string{"foo"}}, {"p-a4", "node-a", []string{"foo"}},
				{"p-b1", "node-b", []string{"foo"}}, {"p-b2", "node-b", []string{"foo"}}, {"p-x1", "node-x", []string{"foo"}},
				{"p-y1", "node-y", []string{"foo"}}, {"p-y2", "node-y", []string{"foo"}}, {"p-y3", "node-y", []string{"foo"}}},
			feasible: []string{"node-a", "node-b", "node-x"},
			want:     map[string]int64{"node-a": 75, "node-b": 75, "node-x": 100},
		},
		{
			name:        "two Constraints on zone and node, with different labelSelectors",
			podKeys:     []string{"foo", "bar"},
			constraints: []corev1.TopologySpreadConstraint{constraint(1, "zone", exists("foo")), constraint(1, host, exists("bar"))},
			nodes: []*cluster.Node{labelled("node-a", "zone", "zone1", host, "node-a"), labelled("node-b", "zone", "zone1", host, "node-b"),
				labelled("node-x", "zone", "zone2", host, "node-x"), labelled("node-y", "zone", "zone2", host, "node-y")},
			pods:     []pp{{"p-a1", "node-a", []string{"foo"}}, {"p-b1", "node-b", []string{"foo", "bar"}}, {"p-y1", "node-y", []string{"foo"}}, {"p-y2", "node-y", []string{"bar"}}},
			feasible: []string{"node-a", "node-b", "node-x", "node-y"},
			want:     map[string]int64{"node-a": 60, "node-b": 20, "node-x": 100, "node-y": 60},
		},
		{
			name:        "two Constraints on zone and node, 2 out of 4 nodes are candidates",
			podKeys:     []string{"foo"},
			constraints: []corev1.TopologySpreadConstraint{constraint(1, "zone", exists("foo")), constraint(1, host, exists("foo"))},
			nodes: []*cluster.Node{labelled("node-a", "zone", "zone1", host, "node-a"), labelled("node-x", "zone", "zone2", host, "node-x"),
				labelled("node-b", "zone", "zone1", host, "node-b"), labelled("node-y", "zone", "zone2", host, "node-y")},
			pods: []pp{{"p-a1", "node-a", []string{"foo"}}, {"p-a2", "node-a", []string{"foo"}}, {"p-b1", "node-b", []string{"foo"}},
				{"p-x1", "node-x", []string{"foo"}}, {"p-x2", "node-x", []string{"foo"}},
				{"p-y1", "node-y", []string{"foo"}}, {"p-y2", "node-y", []string{"foo"}}, {"p-y3", "node-y", []string{"foo"}}, {"p-y4", "node-y", []string{"foo"}}},
			feasible: []string{"node-a", "node-x"},
			want:     map[string]int64{"node-a": 100, "node-x": 63},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			st := newState(tt.nodes...)
			for _, p := range tt.pods {
				labelledPod(st, p.name, p.node, p.keys...)
			}
			in := &cluster.Pod{Name: "p", Namespace: "default", Labels: map[string]string{}, OwnerSelector: tt.owner,
				Spec: &corev1.PodSpec{TopologySpreadConstraints: tt.constraints}}
			for _, k := range tt.podKeys {
				in.Labels[k] = ""
			}
			got := scores(t, DefaultConfig(), st, in, tt.feasible, func(c *cycle, nodes []*cluster.Node, raw []int64) bool {
				return c.spread.score(st, indexes(nodes), raw)
			})
			assert.Equal(t, tt.want, got)
		})
	}
}

func TestResourceScores(t *testing.T) {
	// balanced_allocation_test.go "nothing scheduled, resources requested, differently sized nodes"
	// (cpu 3000m and memory 5000 on nodes of 4000m/10000 and 6000m/10000): 87 and 100.
	st := newState(
		&cluster.Node{Name: "node1", Allocatable: cluster.Resources{MilliCPU: 4000, Memory: 10000}},
		&cluster.Node{Name: "node2", Allocatable: cluster.Resources{MilliCPU: 6000, Memory: 10000}},
	)
	p := &cluster.Pod{Name: "p", Namespace: "default", Spec: &corev1.PodSpec{},
		Requests: cluster.Resources{MilliCPU: 3000, Memory: 5000}, NonZero: cluster.Resources{MilliCPU: 3000, Memory: 5000}}
	got := scores(t, Config{DisableDefaultSpread: true}, st, p, []string{"node1", "node2"}, func(c *cycle, nodes []*cluster.Node, raw []int64) bool {
		return c.balanced.score(nodes, raw)
	})
	assert.Equal(t, map[string]int64{"node1": 87, "node2": 100}, got)

	// least_allocated_test.go "nothing scheduled, resources requested, differently sized nodes":
	// cpu (4000-3000)/4000 = 25, memory (10000-5000)/10000 = 50 -> 37; (6000-3000)/6000 = 50, 50 -> 50.
	got = scores(t, Config{DisableDefaultSpread: true}, st, p, []string{"node1", "node2"}, func(c *cycle, nodes []*cluster.Node, raw []int64) bool {
		return c.fit.score(nodes, raw)
	})
	assert.Equal(t, map[string]int64{"node1": 37, "node2": 50}, got)

	// best-effort pods skip BalancedAllocation
	p.Requests = cluster.Resources{}
	assert.Nil(t, scores(t, Config{}, st, p, []string{"node1", "node2"}, func(c *cycle, nodes []*cluster.Node, raw []int64) bool {
		return c.balanced.score(nodes, raw)
	}))
}

func TestInterPodAffinityScore(t *testing.T) {
	// Existing pods' preferred terms count for the incoming pod (symmetry), and the incoming pod's
	// preferred anti-affinity subtracts: region r1 holds a pod that prefers "web" in its zone
	// (weight 5); the incoming web pod prefers to avoid "batch" on a host (weight 10).
	st := newState(
		labelled("a", "zone", "z1", cluster.LabelHostname, "a"),
		labelled("b", "zone", "z1", cluster.LabelHostname, "b"),
		labelled("c", "zone", "z2", cluster.LabelHostname, "c"),
	)
	fan := &cluster.Pod{Name: "fan", Namespace: "default", Labels: map[string]string{"app": "fan"}, Spec: spec(0, 0, func(s *corev1.PodSpec) {
		s.Affinity = &corev1.Affinity{PodAffinity: &corev1.PodAffinity{PreferredDuringSchedulingIgnoredDuringExecution: []corev1.WeightedPodAffinityTerm{
			{Weight: 5, PodAffinityTerm: corev1.PodAffinityTerm{LabelSelector: selector("web"), TopologyKey: "zone"}},
		}}}
	})}
	bind(st, fan, "a")
	bind(st, &cluster.Pod{Name: "batch", Namespace: "default", Labels: map[string]string{"app": "batch"}, Spec: spec(0, 0)}, "b")
	web := pod("web", "web", spec(0, 0, preferredAntiAffinity("batch", cluster.LabelHostname, 10)))
	// raw: a = +5 (zone z1), b = +5 - 10 = -5, c = 0; normalized over -5..5
	got := scores(t, DefaultConfig(), st, web, []string{"a", "b", "c"}, func(c *cycle, nodes []*cluster.Node, raw []int64) bool {
		return c.interPod.score(st, indexes(nodes), raw)
	})
	assert.Equal(t, map[string]int64{"a": 100, "b": 0, "c": 50}, got)
}

func TestLabelMatcherAgreesWithSelector(t *testing.T) {
	mustParse := func(s string) labels.Selector {
		sel, err := labels.Parse(s)
		require.NoError(t, err)
		return sel
	}
	selectors := map[string]labels.Selector{
		"everything":    labels.Everything(),
		"nothing":       labels.Nothing(),
		"set":           labels.SelectorFromSet(labels.Set{"app": "web", "tier": "fe"}),
		"empty value":   labels.SelectorFromSet(labels.Set{"foo": ""}),
		"in one":        mustParse("app in (web)"),
		"in two":        mustParse("app in (web,api)"),
		"not in":        mustParse("app notin (web)"),
		"exists":        mustParse("app"),
		"not exists":    mustParse("!app"),
		"twice":         mustParse("app=web,app in (web,api)"),
		"mixed":         mustParse("app=web,tier!=be"),
		"from selector": mustSelector(t, selector("web")),
	}
	sets := []map[string]string{
		nil, {}, {"app": "web"}, {"app": "api"}, {"app": "web", "tier": "fe"}, {"app": "web", "tier": "be"},
		{"foo": ""}, {"foo": "x"}, {"tier": "fe"},
	}
	for name, sel := range selectors {
		t.Run(name, func(t *testing.T) {
			m := newLabelMatcher(sel, nil)
			assert.Equal(t, sel.Empty(), m.empty)
			for _, l := range sets {
				assert.Equal(t, sel.Matches(labels.Set(l)), m.matches(l), "labels %v", l)
			}
		})
	}
}

func mustSelector(t *testing.T, ls *metav1.LabelSelector) labels.Selector {
	sel, err := metav1.LabelSelectorAsSelector(ls)
	require.NoError(t, err)
	return sel
}

func TestMatchLabelKeys(t *testing.T) {
	t.Run("pod anti-affinity only against the same revision", func(t *testing.T) {
		// Replicas of revision r2 repel each other but not the r1 pods they replace.
		st := newState(node("a", "z1", 4000, 16), node("b", "z1", 4000, 16))
		mk := func(name, rev string, s *corev1.PodSpec) *cluster.Pod {
			p := pod(name, "web", s)
			p.Labels["pod-template-hash"] = rev
			return p
		}
		web := spec(100, 128, antiAffinity("web", cluster.LabelHostname), func(s *corev1.PodSpec) {
			s.Affinity.PodAntiAffinity.RequiredDuringSchedulingIgnoredDuringExecution[0].MatchLabelKeys = []string{"pod-template-hash"}
		})
		bind(st, mk("web-r1-a", "r1", web), "a")
		bind(st, mk("web-r1-b", "r1", web), "b")
		bind(st, mk("web-r2-a", "r2", web), "a")
		for seed := uint64(1); seed <= 10; seed++ {
			d, err := New(DefaultConfig()).Schedule(st, mk("web-r2-b", "r2", web), seeded(seed))
			require.NoError(t, err)
			assert.Equal(t, "b", d.Node.Name)
		}
	})
	t.Run("topology spread counts only the same revision", func(t *testing.T) {
		st := newState(node("a", "z1", 8000, 32), node("b", "z2", 8000, 32))
		web := spec(100, 128, spread("web", cluster.LabelZone, 1, corev1.DoNotSchedule), func(s *corev1.PodSpec) {
			s.TopologySpreadConstraints[0].MatchLabelKeys = []string{"pod-template-hash"}
		})
		mk := func(name, rev string) *cluster.Pod {
			p := pod(name, "web", web)
			p.Labels["pod-template-hash"] = rev
			return p
		}
		// two old pods in z2 do not count for the new revision; one new pod in z1 does
		bind(st, mk("old-1", "r1"), "b")
		bind(st, mk("old-2", "r1"), "b")
		bind(st, mk("new-1", "r2"), "a")
		for seed := uint64(1); seed <= 10; seed++ {
			d, err := New(DefaultConfig()).Schedule(st, mk("new-2", "r2"), seeded(seed))
			require.NoError(t, err)
			assert.Equal(t, "b", d.Node.Name)
		}
	})
}

func TestScheduleDoesNotChangeState(t *testing.T) {
	st := newState(uniformNodes(5, []string{"z1", "z2"}, 4000, 16)...)
	bind(st, pod("db", "db", spec(500, 512, antiAffinity("web", cluster.LabelHostname))), "n-0000")
	before := *st.Nodes[0]
	p := pod("web", "web", spec(100, 128))
	d, err := New(DefaultConfig()).Schedule(st, p, seeded(3))
	require.NoError(t, err)
	require.NotNil(t, d.Node)
	assert.Nil(t, p.Node)
	assert.Equal(t, before.Requested, st.Nodes[0].Requested)
	assert.Len(t, st.Nodes[0].Pods, 1)
}

// indexes returns the nodes' indexes, as a cycle passes them to a score.
func indexes(nodes []*cluster.Node) []int32 {
	idx := make([]int32, len(nodes))
	for i, n := range nodes {
		idx[i] = int32(n.Index)
	}
	return idx
}
