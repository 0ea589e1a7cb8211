package measure_test

import (
	"testing"
	"time"

	"github.com/stretchr/testify/assert"

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
// run, gives the same figures: ControlPlaneIndicators folds the record in both worlds.
func TestNodeRecordSameFiguresInBothWorlds(t *testing.T) {
	nodes, exits := nodeStream()
	win := measure.Window{Length: time.Hour}
	figures := func(w measure.World) map[string]float64 {
		o := &measure.Observations{World: w, Scopes: measure.ControlPlane, ControlPlane: &measure.ControlPlaneObservations{}, Nodes: nodes, APIServerExits: exits}
		vals, _ := measure.Compute(o, win)
		out := map[string]float64{}
		for _, v := range vals {
			if v.Name == "apiserver-exits" || v.Name == "nodes-recreated" || v.Name == "repair-cadence-minutes" {
				out[v.Name] = v.Value
			}
		}
		return out
	}
	sim := figures(measure.Simulated)
	assert.Equal(t, map[string]float64{"apiserver-exits": 2, "nodes-recreated": 3, "repair-cadence-minutes": 12}, sim)
	// a real run reports what the registry says it measures, from the same record
	kwok := figures(measure.KWOK)
	assert.Equal(t, map[string]float64{"apiserver-exits": 2}, kwok)
}
