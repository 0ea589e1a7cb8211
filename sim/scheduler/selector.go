package scheduler

import (
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/selection"
)

// labelMatcher is a labels.Selector with a fast path for the common form, a conjunction of
// key=value requirements (matchLabels, or In with one value): it then reads the label map directly
// instead of going through three interface calls per requirement. Results are those of
// sel.Matches.
type labelMatcher struct {
	sel   labels.Selector
	empty bool      // sel.Empty(): no requirement (matches everything)
	fast  bool      // eq holds every requirement
	eq    []labelKV // when fast
}

type labelKV struct{ key, value string }

// newLabelMatcher builds a matcher for sel, reusing buf for its requirements (allocation-free when
// buf is large enough).
func newLabelMatcher(sel labels.Selector, buf []labelKV) labelMatcher {
	m := labelMatcher{sel: sel, empty: sel.Empty()}
	reqs, selectable := sel.Requirements()
	if !selectable {
		return m // labels.Nothing()
	}
	eq := buf[:0]
	for i := range reqs {
		r := &reqs[i]
		switch r.Operator() {
		case selection.Equals, selection.DoubleEquals, selection.In:
		default:
			return m
		}
		key := r.Key()
		for _, kv := range eq {
			if kv.key == key {
				return m // a key required twice: leave it to the selector
			}
		}
		v, ok := sel.RequiresExactMatch(key)
		if !ok {
			return m // In with several values
		}
		eq = append(eq, labelKV{key, v})
	}
	m.fast, m.eq = true, eq
	return m
}

func (m *labelMatcher) matches(l map[string]string) bool {
	if !m.fast {
		return m.sel.Matches(labels.Set(l))
	}
	for _, kv := range m.eq {
		if v, ok := l[kv.key]; !ok || v != kv.value {
			return false
		}
	}
	return true
}
