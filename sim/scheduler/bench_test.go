package scheduler

import (
	"fmt"
	"testing"

	corev1 "k8s.io/api/core/v1"

	"github.com/faultline-dev/faultline/sim/cluster"
)

// BenchmarkSchedule5000Nodes schedules one pod (without binding it, so every iteration sees the same
// state) in a cluster of 5,000 nodes over 3 zones holding 20,000 pods: 500 deployments of 40
// replicas, each with required anti-affinity against itself on the hostname.
func BenchmarkSchedule5000Nodes(b *testing.B) {
	const (
		nodes       = 5000
		deployments = 500
		replicas    = 40
	)
	st := newState(uniformNodes(nodes, []string{"z1", "z2", "z3"}, 8000, 32)...)
	specs := make([]*corev1.PodSpec, deployments)
	for d := range specs {
		app := fmt.Sprintf("svc-%d", d)
		specs[d] = spec(100, 256, antiAffinity(app, cluster.LabelHostname))
	}
	k := 0
	for d := range deployments {
		app := fmt.Sprintf("svc-%d", d)
		for r := range replicas {
			bind(st, pod(fmt.Sprintf("%s-%d", app, r), app, specs[d]), st.Nodes[k%nodes].Name)
			k += 7 // spread the replicas of one deployment over distinct nodes
		}
	}
	cases := []struct {
		name string
		pod  *cluster.Pod
	}{
		{"anti-affinity replica", pod("svc-0-new", "svc-0", specs[0])},
		{"plain pod", pod("plain", "plain", spec(100, 256))},
	}
	for _, c := range cases {
		b.Run(c.name, func(b *testing.B) {
			s := New(DefaultConfig())
			rng := seeded(1)
			if _, err := s.Schedule(st, c.pod, rng); err != nil { // warm the spec cache
				b.Fatal(err)
			}
			b.ReportAllocs()
			for b.Loop() {
				if _, err := s.Schedule(st, c.pod, rng); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
