package sim

import (
	"time"

	"github.com/faultline-dev/faultline/measure"
	"github.com/faultline-dev/faultline/sim/trace"
)

// newSink is where the run's trace events go: the text log (Options.Trace), typed events
// (Options.Events), both, or nowhere (nil).
func newSink(opts Options) trace.Sink {
	switch {
	case opts.Trace != nil && opts.Events != nil:
		return trace.Tee{trace.NewText(opts.Trace), opts.Events}
	case opts.Trace != nil:
		return trace.NewText(opts.Trace)
	case opts.Events != nil:
		return opts.Events
	}
	return nil
}

// FormatVirtual prints a virtual time as +DDdHH:MM:SS.mmm, fixed width for aligned traces.
func FormatVirtual(d time.Duration) string { return trace.FormatVirtual(d) }

// observeNode records a node transition in the observation record (measure.Observations.Nodes).
func (w *World) observeNode(name string, to measure.NodeState) {
	w.obsNodes = append(w.obsNodes, measure.NodeTransition{At: w.q.Now(), Node: name, To: to})
}

// clientCAExit is why an apiserver exits in the model: its client-CA post-start hook timed out.
const clientCAExit = "unable to initialize client CA configmap"
