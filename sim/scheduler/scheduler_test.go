package scheduler

import (
	"errors"
	"fmt"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/faultline-dev/faultline/sim/cluster"
)

// Placement follows requests: a small pod avoids the node that is fuller by requests, and tiny-request
// replicas of one deployment stack on the emptier node even though each may burn whole CPUs.
func TestStackingByRequests(t *testing.T) {
	t.Run("small pod goes to the least allocated nodes", func(t *testing.T) {
		for seed := uint64(1); seed <= 20; seed++ {
			st := newState(node("a", "z1", 4000, 16), node("b", "z2", 4000, 16), node("c", "z3", 4000, 16))
			bind(st, pod("batch-0", "batch", spec(3000, 1024)), "a")
			p := pod("api-0", "api", spec(100, 128))
			got, err := place(New(DefaultConfig()), st, p, seeded(seed))
			require.NoError(t, err)
			assert.NotEqual(t, "a", got, "seed %d", seed)
		}
	})
	t.Run("tiny-request replicas stack on the emptier node", func(t *testing.T) {
		// b and c are fuller BY REQUESTS; web's replicas request 100m each (their real use, whole
		// CPUs, is invisible to the scheduler), so all three land on a.
		for seed := uint64(1); seed <= 20; seed++ {
			st := newState(node("a", "z1", 4000, 16), node("b", "z1", 4000, 16), node("c", "z1", 4000, 16))
			bind(st, pod("batch-b", "batch", spec(3500, 12*1024)), "b")
			bind(st, pod("batch-c", "batch", spec(3500, 12*1024)), "c")
			s := New(DefaultConfig())
			web := spec(100, 256)
			for i := range 3 {
				got, err := place(s, st, pod(fmt.Sprintf("web-%d", i), "web", web), seeded(seed))
				require.NoError(t, err)
				assert.Equal(t, "a", got, "seed %d replica %d", seed, i)
			}
			assert.Equal(t, map[string]int{"a": 3}, countBy(st, "web", cluster.LabelHostname))
		}
	})
}

// The fix of the incident: required anti-affinity on the hostname keeps replicas apart.
func TestRequiredAntiAffinityOnHostname(t *testing.T) {
	for seed := uint64(1); seed <= 10; seed++ {
		t.Run(fmt.Sprintf("seed %d", seed), func(t *testing.T) {
			st := newState(node("a", "z1", 4000, 16), node("b", "z2", 4000, 16), node("c", "z3", 4000, 16))
			s := New(DefaultConfig())
			web := spec(100, 256, antiAffinity("web", cluster.LabelHostname))
			for i := range 3 {
				_, err := place(s, st, pod(fmt.Sprintf("web-%d", i), "web", web), seeded(seed))
				require.NoError(t, err)
			}
			assert.Equal(t, map[string]int{"a": 1, "b": 1, "c": 1}, countBy(st, "web", cluster.LabelHostname))

			_, err := place(s, st, pod("web-3", "web", web), seeded(seed))
			require.Error(t, err)
			assert.ErrorIs(t, err, ErrUnschedulable)
			assert.Contains(t, err.Error(), "didn't match pod anti-affinity rules")
			assert.Equal(t, "0/3 nodes are available: 3 node(s) didn't match pod anti-affinity rules.", err.Error())
		})
	}
}

// An existing pod's required anti-affinity also repels an incoming pod that has no rules itself.
func TestExistingAntiAffinitySymmetry(t *testing.T) {
	db := spec(500, 1024, antiAffinity("web", cluster.LabelHostname))
	tests := []struct {
		name    string
		nodes   []string
		want    string
		wantErr string
	}{
		{name: "incoming pod avoids the node of the repelling pod", nodes: []string{"a", "b"}, want: "b"},
		{
			name:    "no other node",
			nodes:   []string{"a"},
			wantErr: "0/1 nodes are available: 1 node(s) didn't satisfy existing pods anti-affinity rules.",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			for seed := uint64(1); seed <= 10; seed++ {
				st := newState()
				for _, name := range tt.nodes {
					st.AddNode(node(name, "z1", 4000, 16))
				}
				bind(st, pod("db-0", "db", db), "a")
				got, err := place(New(DefaultConfig()), st, pod("web-0", "web", spec(100, 256)), seeded(seed))
				if tt.wantErr != "" {
					require.Error(t, err)
					assert.Equal(t, tt.wantErr, err.Error())
					continue
				}
				require.NoError(t, err)
				assert.Equal(t, tt.want, got, "seed %d", seed)
			}
		})
	}
}

func TestPodTopologySpread(t *testing.T) {
	zones := []string{"z1", "z2", "z3"}
	t.Run("DoNotSchedule maxSkew 1 over zones keeps the skew", func(t *testing.T) {
		for seed := uint64(1); seed <= 10; seed++ {
			st := newState(uniformNodes(6, zones, 8000, 32)...)
			s := New(DefaultConfig())
			web := spec(100, 256, spread("web", cluster.LabelZone, 1, corev1.DoNotSchedule))
			for i := range 9 {
				_, err := place(s, st, pod(fmt.Sprintf("web-%d", i), "web", web), seeded(seed))
				require.NoError(t, err)
				counts := countBy(st, "web", cluster.LabelZone)
				lo, hi := 1<<30, 0
				for _, z := range zones {
					lo, hi = min(lo, counts[z]), max(hi, counts[z])
				}
				assert.LessOrEqual(t, hi-lo, 1, "seed %d after %d replicas: %v", seed, i+1, counts)
			}
		}
	})
	t.Run("DoNotSchedule rejects the fuller zone", func(t *testing.T) {
		st := newState(node("a", "z1", 8000, 32), node("b", "z2", 8000, 32))
		web := spec(100, 256, spread("web", cluster.LabelZone, 1, corev1.DoNotSchedule))
		bind(st, pod("web-0", "web", web), "a")
		st.Nodes[1].Labels[cluster.LabelZone] = "z2"
		s := New(DefaultConfig())
		// z1 has 1, z2 has 0: placing in z1 makes the skew 2.
		got, err := place(s, st, pod("web-1", "web", web), seeded(1))
		require.NoError(t, err)
		assert.Equal(t, "b", got)
		// a node without the zone label is rejected outright
		st2 := newState(node("a", "", 8000, 32))
		_, err = place(New(DefaultConfig()), st2, pod("web-9", "web", web), seeded(1))
		require.Error(t, err)
		assert.Equal(t, "0/1 nodes are available: 1 node(s) didn't match pod topology spread constraints (missing required label).", err.Error())
	})
	t.Run("ScheduleAnyway prefers the emptier domain", func(t *testing.T) {
		for seed := uint64(1); seed <= 20; seed++ {
			st := newState(node("a", "z1", 8000, 32), node("b", "z2", 8000, 32))
			web := spec(100, 256, spread("web", cluster.LabelZone, 1, corev1.ScheduleAnyway))
			other := spec(100, 256)
			// equal requests on both nodes; only a holds web replicas
			for i := range 3 {
				bind(st, pod(fmt.Sprintf("web-%d", i), "web", web), "a")
				bind(st, pod(fmt.Sprintf("other-%d", i), "other", other), "b")
			}
			got, err := place(New(Config{DisableDefaultSpread: true}), st, pod("web-3", "web", web), seeded(seed))
			require.NoError(t, err)
			assert.Equal(t, "b", got, "seed %d", seed)
		}
	})
	t.Run("minDomains raises the skew when domains are missing", func(t *testing.T) {
		two := int32(3)
		web := spec(100, 256, func(s *corev1.PodSpec) {
			s.TopologySpreadConstraints = []corev1.TopologySpreadConstraint{{
				MaxSkew: 1, TopologyKey: cluster.LabelZone, WhenUnsatisfiable: corev1.DoNotSchedule,
				LabelSelector: selector("web"), MinDomains: &two,
			}}
		})
		st := newState(node("a", "z1", 8000, 32), node("b", "z2", 8000, 32))
		bind(st, pod("web-0", "web", web), "a")
		bind(st, pod("web-1", "web", web), "b")
		// only 2 of the 3 required domains exist: the global minimum is 0, so 1 + 1 - 0 > 1
		_, err := place(New(DefaultConfig()), st, pod("web-2", "web", web), seeded(1))
		require.Error(t, err)
		assert.Equal(t, "0/2 nodes are available: 2 node(s) didn't match pod topology spread constraints.", err.Error())
	})
}

// With nothing else to tell nodes apart, the system-default spreading puts replicas of one owner on
// different hosts; without it ties are broken at random and replicas may stack.
func TestDefaultSpreading(t *testing.T) {
	// Huge nodes and best-effort pods: resource scores are equal on every node.
	mkState := func() *cluster.State {
		return newState(node("a", "z1", 1_000_000, 4096), node("b", "z1", 1_000_000, 4096), node("c", "z1", 1_000_000, 4096))
	}
	web := spec(0, 0)
	tests := []struct {
		name     string
		cfg      Config
		distinct bool // every seed spreads the 3 replicas over the 3 hosts
	}{
		{name: "defaults on", cfg: DefaultConfig(), distinct: true},
		{name: "defaults off", cfg: Config{DisableDefaultSpread: true}, distinct: false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			stacked := 0
			for seed := uint64(1); seed <= 30; seed++ {
				st := mkState()
				s := New(tt.cfg)
				for i := range 3 {
					_, err := place(s, st, pod(fmt.Sprintf("web-%d", i), "web", web), seeded(seed))
					require.NoError(t, err)
				}
				if len(countBy(st, "web", cluster.LabelHostname)) < 3 {
					stacked++
				}
			}
			if tt.distinct {
				assert.Zero(t, stacked)
			} else {
				assert.Positive(t, stacked)
			}
		})
	}
}

func TestTaints(t *testing.T) {
	unreachable := taint(corev1.TaintNodeUnreachable, "", corev1.TaintEffectNoExecute)
	tests := []struct {
		name    string
		nodes   []*cluster.Node
		spec    *corev1.PodSpec
		want    string
		wantErr string
	}{
		{
			name:  "unreachable NoExecute filters the node",
			nodes: []*cluster.Node{node("a", "z1", 4000, 16, unreachable), node("b", "z1", 4000, 16)},
			spec:  spec(100, 128),
			want:  "b",
		},
		{
			name:    "unreachable NoExecute alone",
			nodes:   []*cluster.Node{node("a", "z1", 4000, 16, unreachable)},
			spec:    spec(100, 128),
			wantErr: "0/1 nodes are available: 1 node(s) had untolerated taint {node.kubernetes.io/unreachable: }.",
		},
		{
			name:  "toleration admits",
			nodes: []*cluster.Node{node("a", "z1", 4000, 16, unreachable)},
			spec:  spec(100, 128, toleration(corev1.TaintNodeUnreachable, corev1.TolerationOpExists, corev1.TaintEffectNoExecute)),
			want:  "a",
		},
		{
			name:  "PreferNoSchedule scores lower",
			nodes: []*cluster.Node{node("a", "z1", 4000, 16, taint("spot", "true", corev1.TaintEffectPreferNoSchedule)), node("b", "z1", 4000, 16)},
			spec:  spec(100, 128),
			want:  "b",
		},
		{
			name:    "cordoned node",
			nodes:   []*cluster.Node{node("a", "z1", 4000, 16, cordoned)},
			spec:    spec(100, 128),
			wantErr: "0/1 nodes are available: 1 node(s) were unschedulable.",
		},
		{
			name:  "cordoned node, tolerated",
			nodes: []*cluster.Node{node("a", "z1", 4000, 16, cordoned)},
			spec:  spec(100, 128, toleration(corev1.TaintNodeUnschedulable, corev1.TolerationOpExists, corev1.TaintEffectNoSchedule)),
			want:  "a",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			for seed := uint64(1); seed <= 10; seed++ {
				st := newState(tt.nodes...)
				got, err := New(DefaultConfig()).Schedule(st, st.AddPod(pod("p", "p", tt.spec)), seeded(seed))
				if tt.wantErr != "" {
					require.Error(t, err)
					assert.Equal(t, tt.wantErr, err.Error())
					continue
				}
				require.NoError(t, err)
				assert.Equal(t, tt.want, got.Node.Name, "seed %d", seed)
			}
		})
	}
}

func TestFitErrorMessages(t *testing.T) {
	full := func(name string) *cluster.Node {
		n := node(name, "z1", 4000, 16)
		n.Requested = cluster.Resources{MilliCPU: 3000, Memory: 1 * gi}
		n.NonZeroRequested = n.Requested
		return n
	}
	tests := []struct {
		name  string
		nodes []*cluster.Node
		spec  *corev1.PodSpec
		want  string
	}{
		{
			name:  "insufficient cpu everywhere",
			nodes: []*cluster.Node{full("a"), full("b"), full("c")},
			spec:  spec(2000, 128),
			want:  "0/3 nodes are available: 3 Insufficient cpu.",
		},
		{
			name:  "cpu and memory",
			nodes: []*cluster.Node{full("a"), full("b")},
			spec:  spec(2000, 16*1024),
			want:  "0/2 nodes are available: 2 Insufficient cpu, 2 Insufficient memory.",
		},
		{
			name: "mixed reasons sorted as upstream",
			nodes: []*cluster.Node{
				full("a"),
				node("b", "z1", 4000, 16, taint(corev1.TaintNodeUnreachable, "", corev1.TaintEffectNoExecute)),
				full("c"),
			},
			spec: spec(2000, 128),
			want: "0/3 nodes are available: 1 node(s) had untolerated taint {node.kubernetes.io/unreachable: }, 2 Insufficient cpu.",
		},
		{
			name:  "node selector",
			nodes: []*cluster.Node{full("a"), node("b", "z1", 4000, 16)},
			spec:  spec(2000, 128, func(s *corev1.PodSpec) { s.NodeSelector = map[string]string{"disk": "ssd"} }),
			want:  "0/2 nodes are available: 2 node(s) didn't match Pod's node affinity/selector.",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			st := newState(tt.nodes...)
			_, err := New(DefaultConfig()).Schedule(st, st.AddPod(pod("p", "p", tt.spec)), seeded(1))
			require.Error(t, err)
			assert.True(t, errors.Is(err, ErrUnschedulable))
			var fe *FitError
			require.ErrorAs(t, err, &fe)
			assert.Equal(t, len(tt.nodes), fe.NumAllNodes)
			assert.Equal(t, tt.want, err.Error())
		})
	}
}

// TestFitErrorFollowsTheState checks the reuse of the previous FitError: one scheduler failing
// again and again must report each failure as it is, not the previous one.
func TestFitErrorFollowsTheState(t *testing.T) {
	st := newState(node("a", "z1", 1000, 16), node("b", "z1", 1000, 16))
	s := New(DefaultConfig())
	big := st.AddPod(pod("big", "big", spec(2000, 128)))
	fail := func() string {
		_, err := s.Schedule(st, big, seeded(1))
		require.Error(t, err)
		return err.Error()
	}
	const cpu = "0/2 nodes are available: 2 Insufficient cpu."
	steps := []struct {
		name   string
		change func()
		want   string
	}{
		{"insufficient cpu", func() {}, cpu},
		{"same failure again", func() {}, cpu},
		{"a node tainted", func() {
			st.SetTaints(st.Nodes[0], []corev1.Taint{{Key: "k", Value: "v", Effect: corev1.TaintEffectNoSchedule}})
		}, "0/2 nodes are available: 1 Insufficient cpu, 1 node(s) had untolerated taint {k: v}."},
		{"another taint value", func() {
			st.SetTaints(st.Nodes[0], []corev1.Taint{{Key: "k", Value: "w", Effect: corev1.TaintEffectNoSchedule}})
		},
			"0/2 nodes are available: 1 Insufficient cpu, 1 node(s) had untolerated taint {k: w}."},
		{"both nodes cordoned", func() {
			st.SetUnschedulable(st.Nodes[0], true)
			st.SetUnschedulable(st.Nodes[1], true)
		}, "0/2 nodes are available: 2 node(s) were unschedulable."},
		{"back to cpu", func() {
			st.SetUnschedulable(st.Nodes[0], false)
			st.SetUnschedulable(st.Nodes[1], false)
			st.SetTaints(st.Nodes[0], nil)
		}, cpu},
		{"a third node", func() { st.AddNode(node("c", "z1", 1000, 16)) }, "0/3 nodes are available: 3 Insufficient cpu."},
	}
	for _, step := range steps {
		t.Run(step.name, func(t *testing.T) {
			step.change()
			assert.Equal(t, step.want, fail())
		})
	}
}

func TestDeterminism(t *testing.T) {
	t.Run("same seed, same choices", func(t *testing.T) {
		run := func(seed uint64) []string {
			st := newState(uniformNodes(10, []string{"z1", "z2"}, 4000, 16)...)
			s := New(DefaultConfig())
			rng := seeded(seed)
			var out []string
			for i := range 30 {
				app := fmt.Sprintf("app-%d", i%4)
				got, err := place(s, st, pod(fmt.Sprintf("p-%d", i), app, spec(int64(50+10*(i%5)), 128)), rng)
				require.NoError(t, err)
				out = append(out, got)
			}
			return out
		}
		first := run(7)
		assert.Equal(t, first, run(7))
		assert.NotEqual(t, first, run(8), "another seed should differ somewhere")
	})
	t.Run("ties are broken among all equal nodes", func(t *testing.T) {
		seen := map[string]int{}
		for seed := uint64(1); seed <= 300; seed++ {
			st := newState(node("a", "z1", 4000, 16), node("b", "z1", 4000, 16), node("c", "z1", 4000, 16))
			d, err := New(DefaultConfig()).Schedule(st, st.AddPod(pod("p", "p", spec(100, 128))), seeded(seed))
			require.NoError(t, err)
			assert.Equal(t, 3, d.Feasible)
			seen[d.Node.Name]++
		}
		assert.Len(t, seen, 3)
		for name, n := range seen {
			assert.Greater(t, n, 60, "node %s chosen %d/300 times", name, n)
		}
	})
}

func TestPercentageOfNodesToScore(t *testing.T) {
	t.Run("numFeasibleNodesToFind", func(t *testing.T) {
		tests := []struct {
			pct, nodes, want int
		}{
			{0, 50, 50},
			{0, 100, 100},
			{0, 1000, 420},
			{0, 5000, 500},
			{0, 10000, 500},
			{0, 20000, 1000},
			{10, 1000, 100},
			{30, 1000, 300},
			{100, 1000, 1000},
			{50, 99, 99},
		}
		for _, tt := range tests {
			t.Run(fmt.Sprintf("%d%% of %d", tt.pct, tt.nodes), func(t *testing.T) {
				assert.Equal(t, tt.want, New(Config{PercentageOfNodesToScore: tt.pct}).numFeasibleNodesToFind(tt.nodes))
			})
		}
	})
	t.Run("1000 nodes: 420 evaluated, start rotates", func(t *testing.T) {
		st := newState(uniformNodes(1000, []string{"z1", "z2", "z3"}, 4000, 16)...)
		s := New(DefaultConfig())
		d, err := s.Schedule(st, st.AddPod(pod("p-0", "p", spec(100, 128))), seeded(1))
		require.NoError(t, err)
		assert.Equal(t, 420, d.Feasible)
		assert.Equal(t, 420, d.Evaluated)
		assert.Equal(t, 420, s.nextStart)
		d, err = s.Schedule(st, st.AddPod(pod("p-1", "p", spec(100, 128))), seeded(1))
		require.NoError(t, err)
		assert.Equal(t, 420, d.Evaluated)
		assert.Equal(t, 840, s.nextStart)
	})
	t.Run("infeasible nodes met on the way count as evaluated", func(t *testing.T) {
		nodes := uniformNodes(200, []string{"z1"}, 4000, 16)
		for i := 0; i < 200; i += 2 {
			nodes[i].Unschedulable = true
		}
		st := newState(nodes...)
		s := New(DefaultConfig())
		d, err := s.Schedule(st, st.AddPod(pod("p-0", "p", spec(100, 128))), seeded(1))
		require.NoError(t, err)
		// 200 nodes: find 100 feasible; every other node is cordoned, so all 200 are visited
		assert.Equal(t, 100, d.Feasible)
		assert.Equal(t, 200, d.Evaluated)
	})
	t.Run("nodes are visited zone by zone in turn", func(t *testing.T) {
		st := newState(node("a1", "z1", 1, 1), node("a2", "z1", 1, 1), node("a3", "z1", 1, 1), node("b1", "z2", 1, 1), node("b2", "z2", 1, 1), node("c1", "z3", 1, 1))
		var names []string
		for _, i := range New(DefaultConfig()).order.get(st) {
			names = append(names, st.Nodes[i].Name)
		}
		assert.Equal(t, []string{"a1", "b1", "c1", "a2", "b2", "a3"}, names)
	})
}

func TestNodeAffinity(t *testing.T) {
	nodes := func() []*cluster.Node {
		return []*cluster.Node{
			node("a", "z1", 4000, 16, nodeLabel("disk", "ssd"), nodeLabel("gen", "3")),
			node("b", "z2", 4000, 16, nodeLabel("disk", "hdd"), nodeLabel("gen", "5")),
			node("c", "z3", 4000, 16, nodeLabel("gen", "7")),
		}
	}
	expr := func(key string, op corev1.NodeSelectorOperator, values ...string) corev1.NodeSelectorTerm {
		return corev1.NodeSelectorTerm{MatchExpressions: []corev1.NodeSelectorRequirement{{Key: key, Operator: op, Values: values}}}
	}
	tests := []struct {
		name    string
		spec    *corev1.PodSpec
		want    []string // acceptable nodes
		wantErr string
	}{
		{name: "In", spec: spec(100, 128, nodeSelectorTerms(expr("disk", corev1.NodeSelectorOpIn, "ssd"))), want: []string{"a"}},
		{name: "NotIn", spec: spec(100, 128, nodeSelectorTerms(expr("disk", corev1.NodeSelectorOpNotIn, "ssd"))), want: []string{"b", "c"}},
		{name: "Exists", spec: spec(100, 128, nodeSelectorTerms(expr("disk", corev1.NodeSelectorOpExists))), want: []string{"a", "b"}},
		{name: "DoesNotExist", spec: spec(100, 128, nodeSelectorTerms(expr("disk", corev1.NodeSelectorOpDoesNotExist))), want: []string{"c"}},
		{name: "Gt", spec: spec(100, 128, nodeSelectorTerms(expr("gen", corev1.NodeSelectorOpGt, "4"))), want: []string{"b", "c"}},
		{name: "Lt", spec: spec(100, 128, nodeSelectorTerms(expr("gen", corev1.NodeSelectorOpLt, "4"))), want: []string{"a"}},
		{
			name: "terms are ORed",
			spec: spec(100, 128, nodeSelectorTerms(expr("disk", corev1.NodeSelectorOpIn, "ssd"), expr("gen", corev1.NodeSelectorOpGt, "6"))),
			want: []string{"a", "c"},
		},
		{
			name: "matchFields metadata.name restricts the nodes examined",
			spec: spec(100, 128, nodeSelectorTerms(corev1.NodeSelectorTerm{MatchFields: []corev1.NodeSelectorRequirement{{Key: metav1.ObjectNameField, Operator: corev1.NodeSelectorOpIn, Values: []string{"b"}}}})),
			want: []string{"b"},
		},
		{
			name:    "matchFields on a tainted node",
			spec:    spec(100, 128, nodeSelectorTerms(corev1.NodeSelectorTerm{MatchFields: []corev1.NodeSelectorRequirement{{Key: metav1.ObjectNameField, Operator: corev1.NodeSelectorOpIn, Values: []string{"b"}}}}), func(s *corev1.PodSpec) { s.NodeSelector = map[string]string{"disk": "ssd"} }),
			wantErr: "0/3 nodes are available: 1 node(s) didn't match Pod's node affinity/selector, 2 node(s) didn't satisfy plugin(s) [NodeAffinity].",
		},
		{
			name: "conflicting matchFields",
			spec: spec(100, 128, nodeSelectorTerms(corev1.NodeSelectorTerm{MatchFields: []corev1.NodeSelectorRequirement{
				{Key: metav1.ObjectNameField, Operator: corev1.NodeSelectorOpIn, Values: []string{"a"}},
				{Key: metav1.ObjectNameField, Operator: corev1.NodeSelectorOpIn, Values: []string{"b"}},
			}})),
			wantErr: "0/3 nodes are available: pod affinity terms conflict.",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			for seed := uint64(1); seed <= 10; seed++ {
				st := newState(nodes()...)
				d, err := New(DefaultConfig()).Schedule(st, st.AddPod(pod("p", "p", tt.spec)), seeded(seed))
				if tt.wantErr != "" {
					require.Error(t, err)
					assert.Equal(t, tt.wantErr, err.Error())
					continue
				}
				require.NoError(t, err)
				assert.Contains(t, tt.want, d.Node.Name)
			}
		})
	}
	t.Run("preferred terms score", func(t *testing.T) {
		s := spec(100, 128, func(s *corev1.PodSpec) {
			s.Affinity = &corev1.Affinity{NodeAffinity: &corev1.NodeAffinity{PreferredDuringSchedulingIgnoredDuringExecution: []corev1.PreferredSchedulingTerm{
				{Weight: 10, Preference: expr("disk", corev1.NodeSelectorOpIn, "hdd")},
			}}}
		})
		for seed := uint64(1); seed <= 10; seed++ {
			st := newState(nodes()...)
			d, err := New(DefaultConfig()).Schedule(st, st.AddPod(pod("p", "p", s)), seeded(seed))
			require.NoError(t, err)
			assert.Equal(t, "b", d.Node.Name)
		}
	})
}

func TestInterPodAffinity(t *testing.T) {
	zones := func() *cluster.State {
		return newState(node("a", "z1", 4000, 16), node("b", "z2", 4000, 16), node("c", "z3", 4000, 16))
	}
	t.Run("required affinity follows the zone of the target", func(t *testing.T) {
		for seed := uint64(1); seed <= 10; seed++ {
			st := zones()
			bind(st, pod("cache-0", "cache", spec(100, 128)), "c")
			got, err := place(New(DefaultConfig()), st, pod("web-0", "web", spec(100, 128, affinity("cache", cluster.LabelZone))), seeded(seed))
			require.NoError(t, err)
			assert.Equal(t, "c", got)
		}
	})
	t.Run("no target: only a pod matching its own terms may start the group", func(t *testing.T) {
		st := zones()
		_, err := place(New(DefaultConfig()), st, pod("web-0", "web", spec(100, 128, affinity("cache", cluster.LabelZone))), seeded(1))
		require.Error(t, err)
		assert.Equal(t, "0/3 nodes are available: 3 node(s) didn't match pod affinity rules.", err.Error())
		_, err = place(New(DefaultConfig()), st, pod("cache-0", "cache", spec(100, 128, affinity("cache", cluster.LabelZone))), seeded(1))
		require.NoError(t, err)
	})
	t.Run("preferred anti-affinity spreads", func(t *testing.T) {
		for seed := uint64(1); seed <= 10; seed++ {
			st := newState(node("a", "z1", 1_000_000, 4096), node("b", "z1", 1_000_000, 4096))
			web := spec(0, 0, preferredAntiAffinity("web", cluster.LabelHostname, 100))
			s := New(Config{DisableDefaultSpread: true})
			a, err := place(s, st, pod("web-0", "web", web), seeded(seed))
			require.NoError(t, err)
			b, err := place(s, st, pod("web-1", "web", web), seeded(seed))
			require.NoError(t, err)
			assert.NotEqual(t, a, b)
		}
	})
	t.Run("namespaceSelector sees the metadata.name label", func(t *testing.T) {
		st := zones()
		other := pod("cache-0", "cache", spec(100, 128))
		other.Namespace = "infra"
		bind(st, other, "b")
		sameNS := spec(100, 128, affinity("cache", cluster.LabelZone))
		_, err := place(New(DefaultConfig()), st, pod("web-0", "web", sameNS), seeded(1))
		require.Error(t, err, "the term defaults to the pod's own namespace")

		withNS := spec(100, 128, affinity("cache", cluster.LabelZone), func(s *corev1.PodSpec) {
			s.Affinity.PodAffinity.RequiredDuringSchedulingIgnoredDuringExecution[0].NamespaceSelector = &metav1.LabelSelector{
				MatchLabels: map[string]string{corev1.LabelMetadataName: "infra"},
			}
		})
		got, err := place(New(DefaultConfig()), st, pod("web-1", "web", withNS), seeded(1))
		require.NoError(t, err)
		assert.Equal(t, "b", got)
	})
	t.Run("terminating pods still repel", func(t *testing.T) {
		st := newState(node("a", "z1", 4000, 16), node("b", "z1", 4000, 16))
		web := spec(100, 128, antiAffinity("web", cluster.LabelHostname))
		bind(st, pod("web-0", "web", web), "a").Phase = cluster.PodTerminating
		for seed := uint64(1); seed <= 10; seed++ {
			d, err := New(DefaultConfig()).Schedule(st, pod("web-1", "web", web), seeded(seed))
			require.NoError(t, err)
			assert.Equal(t, "b", d.Node.Name)
		}
	})
}

func TestScheduleRejectsBoundPod(t *testing.T) {
	st := newState(node("a", "z1", 4000, 16))
	p := bind(st, pod("p", "p", spec(100, 128)), "a")
	_, err := New(DefaultConfig()).Schedule(st, p, seeded(1))
	require.Error(t, err)
	assert.NotErrorIs(t, err, ErrUnschedulable)

	_, err = New(DefaultConfig()).Schedule(&cluster.State{}, pod("q", "q", spec(1, 1)), seeded(1))
	assert.ErrorIs(t, err, ErrUnschedulable)
}
