package runner_test

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"strings"
	"testing"
	"testing/fstest"
	"time"

	"github.com/faultline-dev/faultline/scenarios"
	"github.com/faultline-dev/faultline/scenarios/runner"
	"github.com/faultline-dev/faultline/sim"
)

// Generated scenarios: a fuzz target turns bytes into a valid scenario assembled from the
// library's building blocks (node pools, Deployments with Services and an Ingress, loads with
// network behaviour and dependencies, CronJobs on either controller, faults of every kind the
// simulator supports, a rolling change, variants patching objects and the spec) and runs each
// variant with the invariant checker on. Scenarios are small and short (at most 8 nodes, 12
// pods, 3 CronJobs, 30 virtual minutes) so one input runs in milliseconds.
//
// `go test` runs the checked-in corpus (testdata/fuzz/FuzzScenario) and the seeds below (a few
// hand-picked inputs and fuzzSeeds pseudo-random ones);
// `make fuzz-sim` explores further and adds any failing input to the corpus.
func FuzzScenario(f *testing.F) {
	for _, seed := range [][]byte{
		nil,
		[]byte("kernel panic: one pool, stacked replicas, node resets"),
		{1, 3, 2, 3, 1, 3, 1, 0, 0, 2, 1, 2, 0, 1, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15},
		{2, 2, 3, 2, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2},
		{0, 0, 0, 0, 0, 0, 0, 0, 3, 3, 3, 3, 3, 3, 3, 3, 3, 3, 3, 3, 3, 3, 3, 3, 3, 3, 3, 3, 3, 3},
		[]byte("webhooks cron storms and auto-repair loops, all at once, with a rolling change"),
	} {
		f.Add(seed)
	}
	// and a fixed list of pseudo-random inputs, the same on every machine
	for i := range fuzzSeeds {
		r := rand.New(rand.NewPCG(uint64(i), 0x5eed))
		b := make([]byte, 64)
		for j := range b {
			b[j] = byte(r.Uint32())
		}
		f.Add(b)
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		yaml := genScenario(data)
		sc, err := scenarios.LoadFS(fstest.MapFS{"scenario.yaml": {Data: []byte(yaml)}}, "scenario.yaml", "generated.yaml")
		if err != nil {
			t.Fatalf("the generator built an invalid scenario: %v\n%s", err, yaml)
		}
		_, err = runner.Run(context.Background(), sc, runner.Config{Seeds: []uint64{uint64(len(data))}, Workers: 1, CheckInvariants: true})
		if errors.Is(err, sim.ErrInvariant) {
			t.Fatalf("%v\nscenario:\n%s", err, yaml)
		}
		if err != nil {
			t.Fatalf("generated scenario does not run: %v\n%s", err, yaml)
		}
	})
}

// fuzzSeeds is how many pseudo-random inputs `go test` runs besides the corpus.
const fuzzSeeds = 48

// picker draws choices from the fuzz input; past its end every choice is 0.
type picker struct {
	b []byte
	i int
}

func (p *picker) n(k int) int {
	if p.i >= len(p.b) {
		return 0
	}
	v := int(p.b[p.i]) % k
	p.i++
	return v
}

func (p *picker) of(s ...string) string { return s[p.n(len(s))] }

// genScenario writes a scenario from data. Every choice is valid by construction: the targets
// name objects it wrote, the times fall inside the run.
func genScenario(data []byte) string {
	p := &picker{b: data}
	var b strings.Builder
	w := func(format string, a ...any) { fmt.Fprintf(&b, format+"\n", a...) }

	dur := []time.Duration{10 * time.Minute, 20 * time.Minute, 30 * time.Minute}[p.n(3)]
	at := func() string { return (time.Duration(1+p.n(8)) * dur / 10).String() } // inside the run
	w("apiVersion: faultline.dev/v1alpha1\nkind: Scenario\nmetadata: {name: generated}\nspec:")
	w("  start: \"2024-03-04T09:00:00Z\"\n  duration: %s\n  seeds: 1\n  cluster:\n    nodePools:", dur)
	pools := 1 + p.n(2)
	nodes := map[string]int{}
	for i := range pools {
		name := fmt.Sprintf("pool-%c", 'a'+i)
		nodes[name] = 1 + p.n(4)
		w("      - {name: %s, count: %d, capacity: {cpu: %q, memory: 16Gi}, zones: [z1, z2, z3]}", name, nodes[name], p.of("2", "4", "8"))
	}
	w("    models:")
	w("      cronJob: {controller: %s}", p.of("v1", "v2"))
	w("      autoRepair: {enabled: %t}", p.n(2) == 1)
	w("      kernelPanic: {saturationAbove: 0.9, meanTimeToPanic: 5m, rebootTime: 2m}")
	w("  objects:")
	apps := 1 + p.n(3)
	ingress := p.n(2) == 1
	probed := make([]bool, apps)
	for i := range apps {
		name := fmt.Sprintf("app-%d", i)
		affinity := ""
		if p.n(3) == 0 {
			affinity = fmt.Sprintf(", affinity: {podAntiAffinity: {requiredDuringSchedulingIgnoredDuringExecution: [{topologyKey: kubernetes.io/hostname, labelSelector: {matchLabels: {app: %s}}}]}}", name)
		}
		probe := ""
		if probed[i] = p.n(2) == 1; probed[i] {
			probe = ", readinessProbe: {httpGet: {path: /ready, port: 8080}, periodSeconds: 5, failureThreshold: 2}"
		}
		w("    - {apiVersion: apps/v1, kind: Deployment, metadata: {name: %s, namespace: default}, spec: {replicas: %d, selector: {matchLabels: {app: %s}}, template: {metadata: {labels: {app: %s}}, spec: {containers: [{name: %s, image: \"%s:v1\", resources: {requests: {cpu: %s, memory: 256Mi}}%s}]%s}}}}",
			name, 1+p.n(4), name, name, name, name, p.of("100m", "500m", "1", "2"), probe, affinity)
		w("    - {apiVersion: v1, kind: Service, metadata: {name: %s, namespace: default}, spec: {selector: {app: %s}, ports: [{port: 80, targetPort: 8080}]}}", name, name)
	}
	if ingress {
		w("    - {apiVersion: networking.k8s.io/v1, kind: Ingress, metadata: {name: edge, namespace: default}, spec: {defaultBackend: {service: {name: app-0, port: {number: 80}}}}}")
	}
	crons := p.n(4)
	for i := range crons {
		w("    - {apiVersion: batch/v1, kind: CronJob, metadata: {name: job-%d, namespace: batch, annotations: {faultline.dev/run-time: %s, faultline.dev/failure-ratio: %q}}, spec: {schedule: %q, concurrencyPolicy: %s, jobTemplate: {spec: {backoffLimit: 1, template: {spec: {restartPolicy: Never, containers: [{name: app, image: \"job:v1\", resources: {requests: {cpu: 100m}}}]}}}}}}",
			i, p.of("20s", "90s", "4m"), p.of("0", "0.3"), p.of("* * * * *", "*/2 * * * *", "*/5 * * * *"), p.of("Allow", "Forbid", "Replace"))
	}
	w("  load:")
	for i := range apps {
		line := fmt.Sprintf("    - {target: deployment/app-%d, requestsPerSecond: %s, cpuPerReplica: %s", i, p.of("10", "100", "0"), p.of("200m", "900m", "3"))
		if i > 0 && p.n(2) == 1 {
			line += fmt.Sprintf(", dependsOn: [deployment/app-%d]", i-1)
		}
		if ingress || p.n(3) == 0 {
			line += ", onSIGTERM: " + p.of("exit", "keep-serving", "connection-close")
			if probed[i] { // a deep check runs in the readiness probe
				line += ", readiness: " + p.of("shallow", "deep")
			}
		}
		w("%s}", line)
	}
	if p.n(2) == 1 {
		w("  changes:\n    - {at: %s, target: deployment/app-0, patch: {spec: {template: {spec: {containers: [{name: app-0, image: \"app-0:v2\"}]}}}}}", at())
	}
	faults := p.n(4)
	if faults > 0 {
		w("  faults:")
	}
	for i := range faults {
		app := fmt.Sprintf("app-%d", p.n(apps))
		pool := fmt.Sprintf("pool-%c", 'a'+p.n(pools))
		node := fmt.Sprintf("%s-%d", pool, 1+p.n(nodes[pool]))
		w("    - at: %s\n      object:\n        apiVersion: chaos-mesh.org/v1alpha1", at())
		switch p.n(6) {
		case 0:
			w("        kind: PodChaos\n        metadata: {name: f%d}\n        spec: {action: pod-kill, mode: one, selector: {labelSelectors: {app: %s}}}", i, app)
		case 1:
			w("        kind: PodChaos\n        metadata: {name: f%d}\n        spec: {action: pod-failure, mode: %s, duration: 3m, selector: {labelSelectors: {app: %s}}}", i, p.of("one", "all"), app)
		case 2:
			w("        kind: GCPChaos\n        metadata: {name: f%d}\n        spec: {action: node-reset, project: p, zone: z, instance: %s}", i, node)
		case 3:
			w("        kind: GCPChaos\n        metadata: {name: f%d}\n        spec: {action: node-stop, project: p, zone: z, instance: %s, duration: %s}", i, node, p.of("2m", "15m"))
		case 4:
			w("        kind: StressChaos\n        metadata: {name: f%d}\n        spec: {mode: all, selector: {labelSelectors: {app: %s}}, stressors: {cpu: {workers: 2, load: 100}}, duration: 5m}", i, app)
		case 5:
			w("        kind: NetworkChaos\n        metadata: {name: f%d}\n        spec: {action: loss, mode: all, selector: {labelSelectors: {app: %s}}, loss: {loss: \"100\"}, direction: both, duration: 4m}", i, app)
		}
	}
	w("  variants:\n    - {name: baseline}")
	if p.n(2) == 1 {
		w("    - name: more-replicas\n      patches:\n        - {target: deployment/app-0, patch: {spec: {replicas: %d}}}", 1+p.n(5))
	}
	if p.n(2) == 1 {
		w("    - name: more-nodes\n      patches:\n        - {target: spec, type: json, patch: [{op: replace, path: /cluster/nodePools/0/count, value: %d}]}", nodes["pool-a"]+p.n(3)) // faults name nodes: only grow
	}
	return b.String()
}
