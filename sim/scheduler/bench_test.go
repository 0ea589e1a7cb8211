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

// p3Cluster builds the P3 workload of issue 9 at a given size: nodes over 3 zones and
// deployments whose pods carry required hostname anti-affinity against their own replicas and a
// ScheduleAnyway zone spread constraint.
func p3Cluster(nodes, deployments int) (*cluster.State, []*corev1.PodSpec) {
	st := newState(uniformNodes(nodes, []string{"zone-a", "zone-b", "zone-c"}, 32000, 128)...)
	specs := make([]*corev1.PodSpec, deployments)
	for d := range specs {
		app := fmt.Sprintf("app-%d", d)
		specs[d] = spec(0, 0, antiAffinity(app, cluster.LabelHostname), spread(app, cluster.LabelZone, 1, corev1.ScheduleAnyway))
	}
	return st, specs
}

// BenchmarkPlaceP3 places replica after replica of the P3 workload (10 pods per node when full)
// and reports the cost per pod; the cost must not grow with the number of pods already placed.
func BenchmarkPlaceP3(b *testing.B) {
	for _, nodes := range []int{1000, 5000} {
		b.Run(fmt.Sprintf("nodes=%d", nodes), func(b *testing.B) {
			deployments := nodes / 10
			st, specs := p3Cluster(nodes, deployments)
			s := New(DefaultConfig())
			rng := seeded(1)
			i := 0
			b.ReportAllocs()
			for b.Loop() {
				d := i % deployments
				if _, err := place(s, st, pod(fmt.Sprintf("app-%d-%d", d, i/deployments), fmt.Sprintf("app-%d", d), specs[d]), rng); err != nil {
					b.Fatal(err)
				}
				i++
			}
		})
	}
}

// whatIfCluster is the bench's S3 shape at a given size: nodes of two sizes alternating (8 cores /
// 32 GiB and 16 / 64), over 3 zones, and Deployments of 100 replicas requesting 100m / 128 MiB
// with the system-default topology spreading (their pods have an owner selector).
func whatIfCluster(nodes int) *cluster.State {
	zones := []string{"zone-a", "zone-b", "zone-c"}
	ns := make([]*cluster.Node, nodes)
	for i := range ns {
		cpu, mem := int64(8000), int64(32)
		if i%2 == 1 {
			cpu, mem = 16000, 64
		}
		ns[i] = node(fmt.Sprintf("n-%05d", i), zones[(i/2)%3], cpu, mem)
	}
	return newState(ns...)
}

// BenchmarkPlaceWhatIf places the S3 workload pod after pod, a Deployment's 100 replicas in a row,
// and reports the cost per pod.
func BenchmarkPlaceWhatIf(b *testing.B) {
	for _, nodes := range []int{2000, 10000} {
		b.Run(fmt.Sprintf("nodes=%d", nodes), func(b *testing.B) {
			st := whatIfCluster(nodes)
			sp := spec(100, 128)
			s := New(DefaultConfig())
			rng := seeded(1)
			i := 0
			b.ReportAllocs()
			for b.Loop() {
				app := fmt.Sprintf("app-%05d", i/100)
				if _, err := place(s, st, pod(fmt.Sprintf("%s-%d", app, i%100), app, sp), rng); err != nil {
					b.Fatal(err)
				}
				i++
			}
		})
	}
}
