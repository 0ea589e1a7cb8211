package cluster

import (
	"fmt"
	"testing"

	"github.com/stretchr/testify/assert"
)

// recorder is an Observer that writes down what it is told and what it sees of the pod then.
type recorder struct{ log []string }

func (r *recorder) PodBound(p *Pod) {
	r.log = append(r.log, fmt.Sprintf("bound %s on %s (%d pods there)", p.Name, p.Node.Name, len(p.Node.Pods)))
}

func (r *recorder) PodUnbound(p *Pod) {
	r.log = append(r.log, fmt.Sprintf("unbound %s from %s as %s (%d pods there)", p.Name, p.Node.Name, p.Phase, len(p.Node.Pods)))
}

func (r *recorder) PodPhaseChanged(p *Pod, old PodPhase) {
	r.log = append(r.log, fmt.Sprintf("phase %s %s -> %s", p.Name, old, p.Phase))
}

func TestObservers(t *testing.T) {
	tests := []struct {
		name string
		do   func(st *State, n *Node, p *Pod)
		want []string
	}{
		{"bind then release", func(st *State, n *Node, p *Pod) {
			st.Bind(p, n)
			st.Release(p)
		}, []string{"bound p on n (1 pods there)", "unbound p from n as Pending (1 pods there)"}},
		{"terminating while bound, then released", func(st *State, n *Node, p *Pod) {
			st.Bind(p, n)
			st.SetPhase(p, PodRunning)
			st.SetPhase(p, PodTerminating)
			st.SetPhase(p, PodTerminating)
			st.Release(p)
		}, []string{"bound p on n (1 pods there)", "phase p Running -> Terminating", "unbound p from n as Terminating (1 pods there)"}},
		{"leaving Terminating is told too", func(st *State, n *Node, p *Pod) {
			st.Bind(p, n)
			st.SetPhase(p, PodTerminating)
			st.SetPhase(p, PodRunning)
		}, []string{"bound p on n (1 pods there)", "phase p Pending -> Terminating", "phase p Terminating -> Running"}},
		{"unbound pods are not counted", func(st *State, n *Node, p *Pod) {
			st.SetPhase(p, PodTerminating)
			st.Release(p)
		}, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			st := &State{}
			n := st.AddNode(&Node{Name: "n"})
			p := st.AddPod(&Pod{Name: "p"})
			r, gone := &recorder{}, &recorder{}
			st.Observe(r)
			st.Observe(r) // once only
			st.Observe(gone)
			st.Unobserve(gone)
			tt.do(st, n, p)
			assert.Equal(t, tt.want, r.log)
			assert.Empty(t, gone.log)
		})
	}
}

// Reset leaves an empty state that tells no old observer and holds no old object, in the same
// backing arrays.
func TestResetEmptiesAndForgets(t *testing.T) {
	st := &State{}
	n := st.AddNode(&Node{Name: "n"})
	p := st.AddPod(&Pod{Name: "p"})
	old := &recorder{}
	st.Observe(old)
	st.Bind(p, n)
	nodes, pods := st.Nodes[:1], st.Pods[:1]
	st.Reset()
	assert.Empty(t, st.Nodes)
	assert.Empty(t, st.Pods)
	assert.Nil(t, nodes[0], "the old node is not kept alive")
	assert.Nil(t, pods[0], "the old pod is not kept alive")
	n2 := st.AddNode(&Node{Name: "n2"})
	p2 := st.AddPod(&Pod{Name: "p2"})
	assert.Equal(t, 0, n2.Index)
	assert.Equal(t, 0, p2.Index)
	assert.Same(t, n2, nodes[0], "the backing array is reused")
	now := &recorder{}
	st.Observe(now)
	st.Bind(p2, n2)
	assert.Equal(t, []string{"bound p on n (1 pods there)"}, old.log, "an observer of the old cluster hears nothing more")
	assert.Equal(t, []string{"bound p2 on n2 (1 pods there)"}, now.log)
}
