package measure

import (
	"math"
	"time"
)

// NodeFigures is what a run's node transitions and apiserver exits come to.
type NodeFigures struct {
	// APIServerExits counts the exits.
	APIServerExits int
	// Recreated counts node deletions: auto-repair deletes a node to recreate it under the same
	// name, so each deletion is one recreation (the last may still be under way at the end).
	Recreated int
	// Cadence is the mean time between successive deletions of the same node; 0 when no node was
	// deleted twice.
	Cadence time.Duration
	// NotReady counts transitions to NotReady.
	NotReady int
}

// FoldNodes folds the record's node transitions and apiserver exits. Both worlds' indicators
// apiserver-exits, nodes-recreated and repair-cadence-minutes come from it (Compute).
func FoldNodes(o *Observations) NodeFigures {
	f := NodeFigures{APIServerExits: len(o.APIServerExits)}
	lastDeleted := map[string]time.Duration{}
	var gaps time.Duration
	n := 0
	for _, t := range o.Nodes {
		switch t.To {
		case NodeNotReady:
			f.NotReady++
		case NodeDeleted:
			f.Recreated++
			if last, ok := lastDeleted[t.Node]; ok {
				gaps += t.At - last
				n++
			}
			lastDeleted[t.Node] = t.At
		}
	}
	if n > 0 {
		f.Cadence = gaps / time.Duration(n)
	}
	return f
}

// folded are the indicators whose values Compute takes from FoldNodes rather than from the
// world's group (the group says that the world reports them, and where).
var folded = map[string]func(NodeFigures) float64{
	"apiserver-exits": func(f NodeFigures) float64 { return float64(f.APIServerExits) },
	"nodes-recreated": func(f NodeFigures) float64 { return float64(f.Recreated) },
	"repair-cadence-minutes": func(f NodeFigures) float64 {
		return math.Round(f.Cadence.Minutes()/1e-9) * 1e-9
	},
}
