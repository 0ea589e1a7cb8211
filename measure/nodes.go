package measure

import "time"

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
// apiserver-exits, nodes-recreated and repair-cadence-minutes come from it
// (ControlPlaneIndicators).
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
