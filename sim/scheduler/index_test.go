package scheduler

import (
	"fmt"
	"math/rand/v2"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"

	"github.com/faultline-dev/faultline/sim/cluster"
)

// TestIndexedMatchesCensus is the differential test of the podIndex: on random clusters, random
// pods (every kind of affinity term and spread constraint the model reads) and random binds,
// releases and Terminating transitions, the incremental scheduler must make the decisions of the
// reference one that recounts every bound pod each cycle: the same node, the same numbers of nodes
// evaluated and feasible, the same FitError message.
func TestIndexedMatchesCensus(t *testing.T) {
	cases := []struct {
		name  string
		nodes int
		steps int
		cfg   Config
	}{
		{"small cluster, all nodes scored", 12, 300, DefaultConfig()},
		{"partial scoring", 160, 600, DefaultConfig()},
		{"fixed percentage", 130, 500, Config{PercentageOfNodesToScore: 30}},
		{"no default spread", 40, 400, Config{DisableDefaultSpread: true}},
		{"crowded nodes (own counts beyond the spread score table)", 2, 600, DefaultConfig()},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			for seed := uint64(1); seed <= 12; seed++ {
				differential(t, seed, c.nodes, c.steps, c.cfg)
			}
		})
	}
}

func differential(t *testing.T, seed uint64, nodes, steps int, cfg Config) {
	r := rand.New(rand.NewPCG(seed, 99))
	g := &gen{r: r}
	st := &cluster.State{}
	for i := range nodes {
		st.AddNode(g.node(i, nodes))
	}
	specs := make([]*corev1.PodSpec, 10)
	for i := range specs {
		specs[i] = g.spec()
	}
	ref, inc := newReference(cfg), New(cfg)
	rngRef, rngInc := rand.New(rand.NewPCG(seed, 1)), rand.New(rand.NewPCG(seed, 1))
	var bound []*cluster.Pod
	placed := 0
	for step := range steps {
		switch x := r.IntN(100); {
		case x < 70:
			p := st.AddPod(g.pod(step, specs[r.IntN(len(specs))]))
			dr, er := ref.Schedule(st, p, rngRef)
			di, ei := inc.Schedule(st, p, rngInc)
			where := fmt.Sprintf("seed %d step %d pod %s", seed, step, p.Name)
			if er != nil {
				require.Error(t, ei, where)
				require.Equal(t, er.Error(), ei.Error(), where)
				continue
			}
			require.NoError(t, ei, where)
			require.Equal(t, dr.Node.Name, di.Node.Name, where)
			require.Equal(t, dr.Feasible, di.Feasible, where)
			require.Equal(t, dr.Evaluated, di.Evaluated, where)
			st.Bind(p, di.Node)
			if r.IntN(2) == 0 {
				st.SetPhase(p, cluster.PodRunning)
			}
			bound = append(bound, p)
			placed++
		case x < 84 && len(bound) > 0:
			i := r.IntN(len(bound))
			st.Release(bound[i])
			bound = append(bound[:i], bound[i+1:]...)
		case x < 94 && len(bound) > 0:
			st.SetPhase(bound[r.IntN(len(bound))], cluster.PodTerminating)
		case x < 98 && len(bound) > 0:
			if p := bound[r.IntN(len(bound))]; p.Phase == cluster.PodTerminating {
				st.SetPhase(p, cluster.PodRunning)
			}
		default:
			st.AddNode(g.node(len(st.Nodes), nodes))
		}
	}
	assert.Positive(t, placed, "seed %d placed nothing", seed)
}

// gen draws random nodes, specs and pods from a small vocabulary, so that selectors often match.
type gen struct{ r *rand.Rand }

func (g *gen) pick(s ...string) string { return s[g.r.IntN(len(s))] }

func (g *gen) node(i, total int) *cluster.Node {
	name := fmt.Sprintf("n%d", i)
	n := &cluster.Node{Name: name, Labels: map[string]string{cluster.LabelHostname: name}, Up: true, Ready: true,
		Allocatable: cluster.Resources{MilliCPU: int64(1000 + 1000*g.r.IntN(4)), Memory: int64(2+g.r.IntN(6)) * gi}}
	if g.r.IntN(40) == 0 {
		n.Labels[cluster.LabelHostname] = "n0" // a hostname label shared by two nodes
	}
	switch x := g.r.IntN(30); {
	case x == 0: // no zone
	case x == 1:
		n.Labels[cluster.LabelZone] = ""
	default:
		n.Labels[cluster.LabelZone] = g.pick("z1", "z2", "z3")
	}
	if g.r.IntN(2) == 0 {
		n.Labels["rack"] = fmt.Sprintf("r%d", g.r.IntN(1+total/8))
	}
	if g.r.IntN(3) == 0 {
		n.Labels["disk"] = "ssd"
	}
	switch g.r.IntN(12) {
	case 0:
		n.Taints = append(n.Taints, corev1.Taint{Key: "dedicated", Value: "db", Effect: corev1.TaintEffectNoSchedule})
	case 1:
		n.Taints = append(n.Taints, corev1.Taint{Key: "flaky", Effect: corev1.TaintEffectPreferNoSchedule})
	case 2:
		n.Unschedulable = true
	}
	return n
}

func (g *gen) selector() *metav1.LabelSelector {
	switch g.r.IntN(12) {
	case 0:
		return nil
	case 1:
		return &metav1.LabelSelector{}
	case 2:
		return &metav1.LabelSelector{MatchExpressions: []metav1.LabelSelectorRequirement{
			{Key: "app", Operator: metav1.LabelSelectorOpIn, Values: []string{"a1", "a2"}}}}
	case 3:
		return &metav1.LabelSelector{MatchExpressions: []metav1.LabelSelectorRequirement{
			{Key: "tier", Operator: metav1.LabelSelectorOpExists}}}
	case 4:
		return &metav1.LabelSelector{MatchLabels: map[string]string{"tier": g.pick("x", "y")}}
	case 5:
		return &metav1.LabelSelector{MatchLabels: map[string]string{"app": g.pick("a0", "a1"), "tier": "x"}}
	default:
		return &metav1.LabelSelector{MatchLabels: map[string]string{"app": g.pick("a0", "a1", "a2", "a3")}}
	}
}

func (g *gen) topologyKey() string {
	return g.pick(cluster.LabelHostname, cluster.LabelHostname, cluster.LabelZone, cluster.LabelZone, "rack")
}

func (g *gen) term() corev1.PodAffinityTerm {
	t := corev1.PodAffinityTerm{LabelSelector: g.selector(), TopologyKey: g.topologyKey()}
	switch g.r.IntN(8) {
	case 0:
		t.Namespaces = []string{"ns1"}
	case 1:
		t.NamespaceSelector = &metav1.LabelSelector{MatchLabels: map[string]string{corev1.LabelMetadataName: "ns2"}}
	case 2:
		t.NamespaceSelector = &metav1.LabelSelector{}
	}
	switch g.r.IntN(8) {
	case 0:
		t.MatchLabelKeys = []string{"ver"}
	case 1:
		t.MismatchLabelKeys = []string{"ver"}
	}
	return t
}

func (g *gen) spec() *corev1.PodSpec {
	cpu := *resource.NewMilliQuantity(int64(100*(1+g.r.IntN(5))), resource.DecimalSI)
	s := &corev1.PodSpec{Containers: []corev1.Container{{Name: "c", Resources: corev1.ResourceRequirements{
		Requests: corev1.ResourceList{corev1.ResourceCPU: cpu}}}}}
	a := &corev1.Affinity{PodAffinity: &corev1.PodAffinity{}, PodAntiAffinity: &corev1.PodAntiAffinity{}}
	for range g.r.IntN(3) {
		switch g.r.IntN(4) {
		case 0:
			a.PodAffinity.RequiredDuringSchedulingIgnoredDuringExecution = append(a.PodAffinity.RequiredDuringSchedulingIgnoredDuringExecution, g.term())
		case 1:
			a.PodAntiAffinity.RequiredDuringSchedulingIgnoredDuringExecution = append(a.PodAntiAffinity.RequiredDuringSchedulingIgnoredDuringExecution, g.term())
		case 2:
			a.PodAffinity.PreferredDuringSchedulingIgnoredDuringExecution = append(a.PodAffinity.PreferredDuringSchedulingIgnoredDuringExecution,
				corev1.WeightedPodAffinityTerm{Weight: int32(1 + g.r.IntN(100)), PodAffinityTerm: g.term()})
		case 3:
			a.PodAntiAffinity.PreferredDuringSchedulingIgnoredDuringExecution = append(a.PodAntiAffinity.PreferredDuringSchedulingIgnoredDuringExecution,
				corev1.WeightedPodAffinityTerm{Weight: int32(1 + g.r.IntN(100)), PodAffinityTerm: g.term()})
		}
	}
	if g.r.IntN(3) > 0 {
		s.Affinity = a
	}
	for range g.r.IntN(3) {
		c := corev1.TopologySpreadConstraint{MaxSkew: int32(1 + g.r.IntN(3)), TopologyKey: g.topologyKey(),
			WhenUnsatisfiable: corev1.DoNotSchedule, LabelSelector: g.selector()}
		if g.r.IntN(2) == 0 {
			c.WhenUnsatisfiable = corev1.ScheduleAnyway
		}
		if g.r.IntN(5) == 0 {
			m := int32(2 + g.r.IntN(3))
			c.MinDomains = &m
		}
		if g.r.IntN(5) == 0 {
			p := corev1.NodeInclusionPolicyIgnore
			c.NodeAffinityPolicy = &p
		}
		if g.r.IntN(5) == 0 {
			p := corev1.NodeInclusionPolicyHonor
			c.NodeTaintsPolicy = &p
		}
		if g.r.IntN(6) == 0 {
			c.MatchLabelKeys = []string{"ver"}
		}
		s.TopologySpreadConstraints = append(s.TopologySpreadConstraints, c)
	}
	switch g.r.IntN(6) {
	case 0:
		s.NodeSelector = map[string]string{"disk": "ssd"}
	case 1:
		if s.Affinity == nil {
			s.Affinity = &corev1.Affinity{}
		}
		s.Affinity.NodeAffinity = &corev1.NodeAffinity{RequiredDuringSchedulingIgnoredDuringExecution: &corev1.NodeSelector{
			NodeSelectorTerms: []corev1.NodeSelectorTerm{{MatchExpressions: []corev1.NodeSelectorRequirement{
				{Key: cluster.LabelZone, Operator: corev1.NodeSelectorOpIn, Values: []string{"z1", "z2"}}}}}}}
	}
	if g.r.IntN(4) == 0 {
		s.Tolerations = []corev1.Toleration{{Key: "dedicated", Operator: corev1.TolerationOpExists}}
	}
	return s
}

func (g *gen) pod(i int, s *corev1.PodSpec) *cluster.Pod {
	app := g.pick("a0", "a1", "a2", "a3")
	lbl := map[string]string{"app": app}
	if g.r.IntN(2) == 0 {
		lbl["tier"] = g.pick("x", "y")
	}
	if g.r.IntN(2) == 0 {
		lbl["ver"] = g.pick("v1", "v2")
	}
	req, nz, lim := cluster.PodRequests(s)
	p := &cluster.Pod{Name: fmt.Sprintf("p%d", i), Namespace: g.pick("default", "default", "ns1", "ns2"), Labels: lbl, Spec: s,
		Requests: req, NonZero: nz, LimitCPU: lim}
	if g.r.IntN(3) > 0 {
		p.Owner = "deployment/" + p.Namespace + "/" + app
		p.OwnerSelector = labels.SelectorFromSet(labels.Set{"app": app})
	}
	return p
}
