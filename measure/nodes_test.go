package measure_test

import (
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/faultline-dev/faultline/measure"
)

// nodeStream is auto-repair's loop on one node (deleted every 12 minutes) beside a node that
// goes NotReady once, and two apiserver exits.
func nodeStream() ([]measure.NodeTransition, []measure.APIServerExit) {
	m := time.Minute
	return []measure.NodeTransition{
			{At: 10 * m, Node: "a-1", To: measure.NodeNotReady},
			{At: 11 * m, Node: "a-2", To: measure.NodeNotReady},
			{At: 20 * m, Node: "a-1", To: measure.NodeDeleted},
			{At: 22 * m, Node: "a-1", To: measure.NodeCreated},
			{At: 32 * m, Node: "a-1", To: measure.NodeDeleted},
			{At: 34 * m, Node: "a-1", To: measure.NodeCreated},
			{At: 40 * m, Node: "a-2", To: measure.NodeReady},
			{At: 44 * m, Node: "a-1", To: measure.NodeDeleted},
		}, []measure.APIServerExit{
			{At: 5 * m, Instance: "kube-apiserver-1", Reason: "unable to initialize client CA configmap"},
			{At: 6 * m, Instance: "kube-apiserver-1", Reason: "unable to initialize client CA configmap"},
		}
}

func TestFoldNodes(t *testing.T) {
	nodes, exits := nodeStream()
	f := measure.FoldNodes(&measure.Observations{Nodes: nodes, APIServerExits: exits})
	assert.Equal(t, measure.NodeFigures{APIServerExits: 2, Recreated: 3, Cadence: 12 * time.Minute, NotReady: 2}, f)
	assert.Equal(t, measure.NodeFigures{}, measure.FoldNodes(&measure.Observations{}))
}

// One stream of node transitions and apiserver exits, recorded by the simulator or by a real
// run, gives the same figures: Compute folds the record, whatever values the world's group
// carries for them.
func TestNodeRecordSameFiguresInBothWorlds(t *testing.T) {
	nodes, exits := nodeStream()
	win := measure.Window{Length: time.Hour}
	figures := func(w measure.World, group []measure.Indicator) map[string]float64 {
		o := &measure.Observations{World: w, Scopes: measure.ControlPlane, ControlPlane: group, Nodes: nodes, APIServerExits: exits}
		vals, _ := measure.Compute(o, win)
		out := map[string]float64{}
		for _, v := range vals {
			if v.Name == "apiserver-exits" || v.Name == "nodes-recreated" || v.Name == "repair-cadence-minutes" {
				out[v.Name] = v.Value
			}
		}
		return out
	}
	sim := figures(measure.Simulated, []measure.Indicator{{Name: "apiserver-exits"}, {Name: "nodes-recreated"}, {Name: "repair-cadence-minutes"}})
	assert.Equal(t, map[string]float64{"apiserver-exits": 2, "nodes-recreated": 3, "repair-cadence-minutes": 12}, sim)
	// a real run lists what it watches, with stale values: the record decides
	kwok := figures(measure.KWOK, []measure.Indicator{{Name: "apiserver-exits", Value: 99}})
	require.Contains(t, kwok, "apiserver-exits")
	assert.Equal(t, sim["apiserver-exits"], kwok["apiserver-exits"])
}
