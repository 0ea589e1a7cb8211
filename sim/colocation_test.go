package sim

import (
	"testing"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	"k8s.io/apimachinery/pkg/runtime"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/faultline-dev/faultline/sim/cluster"
	"github.com/faultline-dev/faultline/sim/trace"
)

// colocationCheck is a trace sink that, at every bind, recounts the live pods per owner on every
// node and compares them with what colocation kept from the observer calls, and keeps the most
// replicas of a multi-replica owner on one node the way a full count of the bound node gives it.
type colocationCheck struct {
	t           *testing.T
	w           *World
	binds       int
	terminating int // binds seen with a Terminating pod on some node
	max         int
}

func (c *colocationCheck) Emit(_ time.Duration, e trace.Event) {
	b, ok := e.(trace.PodBound)
	if !ok {
		return
	}
	c.binds++
	a := &c.w.acct
	require.NotNil(c.t, a.colo, "colocation is kept once a multi-replica workload's pod is bound")
	sawTerminating := false
	for _, n := range c.w.st.Nodes {
		want := map[string]int{}
		for _, p := range n.Pods {
			if p.Phase == cluster.PodTerminating {
				sawTerminating = true
				continue
			}
			want[p.Owner]++
		}
		got := map[string]int{}
		for _, e := range a.colo.node(n.Index) {
			got[a.colo.names[e.owner]] = int(e.live)
		}
		require.Equal(c.t, want, got, "live pods per owner on %s", n.Name)
		if n.Name == b.Node {
			for owner, k := range want {
				if k > c.max && c.w.multiReplica(owner) {
					c.max = k
				}
			}
		}
	}
	if sawTerminating {
		c.terminating++
	}
}

// The live pods per owner and node that colocation keeps from the cluster's observer calls equal
// a full count at every bind, through a rolling update whose old pods terminate gracefully, pod
// kills and a node stop; the reported maximum is the one full counts give. So they do on a
// Scratch, whose colocation tables were filled by another world before (one with more nodes and
// owners, then the same world).
func TestColocationMatchesFullCount(t *testing.T) {
	d := withReadiness(deployment("api", 8, "100m"), 5, 5, 3)
	d.Spec.Strategy.RollingUpdate = &appsv1.RollingUpdateDeployment{MaxSurge: intOrStr("50%"), MaxUnavailable: intOrStr("0")}
	v2 := d.DeepCopy()
	v2.Spec.Template.Spec.Containers[0].Image = "api:v2"
	in := netInput([]runtime.Object{d, deployment("web", 5, "200m"), service("api")},
		[]Load{{Target: "deployment/api", RequestsPerSecond: 100, OnSIGTERM: SIGTERMKeepServing}},
		podFault(PodKill, "web", ModeFixed, "2", 12*time.Minute, 0),
		Fault{Name: "stop", Action: NodeStop, At: 15 * time.Minute, Duration: 5 * time.Minute, Nodes: []string{"n-1"}})
	in.Changes = []Change{{Name: "deployment/default/api", At: 5 * time.Minute, Object: v2}}
	// a world with more nodes and other owners, whose pods spread over all of them
	other := input(7, deployment("a", 9, "500m"), deployment("b", 6, "300m"), deployment("c", 4, "1"))
	other.Faults = []Fault{{Name: "stop", Action: NodeStop, At: 10 * time.Minute, Duration: 5 * time.Minute, Nodes: []string{"n-2", "n-5"}}}
	var s Scratch
	for _, run := range []struct {
		name   string
		s      *Scratch
		before *Input
	}{{"fresh", nil, nil}, {"scratch after another world", &s, other}, {"scratch after the same world", &s, in}} {
		t.Run(run.name, func(t *testing.T) {
			if run.before != nil {
				w, err := run.s.New(run.before, 5, Options{})
				require.NoError(t, err)
				w.Run()
				require.NotNil(t, w.acct.colo, "the world before filled the colocation tables")
			}
			c := &colocationCheck{t: t}
			w, err := run.s.New(in, 3, Options{Events: c})
			require.NoError(t, err)
			c.w = w
			w.Run()
			assert.Greater(t, c.binds, 13, "the rollout, the kills and the stop bind new pods")
			assert.Positive(t, c.terminating, "old pods terminating while new ones are bound")
			assert.Equal(t, c.max, w.acct.maxColocated)
			assert.GreaterOrEqual(t, w.acct.maxColocated, 2)
		})
	}
}
