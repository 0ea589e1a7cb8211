// Package realrun is the real world of a scenario: it plays the same sim.Input that the simulator
// gets (node pools, Kubernetes objects, Chaos Mesh faults, duration) against a real API server,
// scheduler and controllers, and measures the simulator's indicators from the real objects, so
// that package results scores a real run exactly like a simulated one.
//
// What a run does, in order:
//  1. creates one KWOK node per pool member (<pool>-<i>, the pool's labels, zone round-robin,
//     capacity and taints, as the simulator names and labels them) and waits until they are Ready;
//  2. starts faultline's webhook backend (package webhook) when the objects hold webhook
//     configurations, and points their clientConfig at it (no kube-proxy routes a Service here);
//  3. applies every object with server-side apply (field manager "faultline");
//  4. plays the faults at their times on the wall clock (optionally compressed by TimeScale):
//     node stop/reset by taking the node's Lease away from KWOK (its heartbeat stops, the node
//     lifecycle controller marks it Unknown and taints it, exactly as for a dead kubelet), pod
//     kill (delete), pod failure (the pods' Ready condition False for the window), the webhook
//     backend hanging when a fault selects the pods behind a webhook's Service, and
//     kube-controller-manager stopped for a window and kube-apiserver restarted step by step
//     for a ControlPlaneUpgrade when the cluster is faultline's own (upgrade.go), NetworkChaos
//     loss on a webhook's backend pods hanging the backend. With
//     Chaos Mesh's CRDs in the cluster, the Chaos Mesh object is applied as written instead.
//     What cannot be injected (CPU stress: KWOK pods use no CPU) is reported, never faked;
//  5. records what happens from informers, timestamped when observed (Kubernetes timestamps have
//     one-second resolution): Job creation against the CronJob's scheduled time, the app
//     container running, placements per node, evictions, node conditions;
//  6. returns a sim.Result with the indicators it could measure (measure.Compute over what it
//     observed) and a Report saying which it could not (request success needs real traffic,
//     kernel panics need real CPU).
//
// Real nodes (Options.Real; the Kind source, or KindNodes for a faultline kind cluster named by
// --kubeconfig): the pools are mapped onto the cluster's workers instead of KWOK nodes
// (AssignNodes: kind's faultline.dev/node labels, else workers in name order; labelled and
// tainted as above, extra workers cordoned, all undone on an existing cluster), and since those
// are real kubelets with nothing to pull from:
//   - every container image becomes faultline-echo (SubstituteImage: HTTP on the probe and
//     container ports, Job containers exit after faultline.dev/run-time), pull policy Never;
//     except, where the input has a registry model and the cluster a registry (RealNodes.Registry,
//     registry.go), the images of the model's hosts: seeded into the registry under their names
//     and pulled as the manifests say, deleted and restored through the registry API at the
//     model's times, the CronJobs resolved at the fix; the variant's spec.platform runs against
//     the cluster in this process (platform.go);
//   - CPU and memory requests and limits are multiplied by the nodes' free allocatable over the
//     pool capacity (ScaleFactors), so placement by requests keeps the scenario's proportions on
//     nodes that all have the machine's capacity;
//   - node-stop and node-reset stop the node through NodeFaults (kind: docker pause, every
//     process frozen as in a kernel panic; unpause when the window ends). On thaw the containers
//     continue, where a rebooted machine would restart them;
//   - pod-failure is not injected (the kubelet owns the Ready condition; Chaos Mesh would be
//     needed, and cannot be installed offline), nor is cpu-stress, nor webhook scenarios (the
//     backend on 127.0.0.1 is out of reach of an API server in a container).
//
// The report's notes record each of these differences; package measure's registry says, per
// world, what KWOK nodes and real kubelets still cannot measure (no traffic is generated; kernel
// panics from CPU saturation are not reproduced), and measure.Compute turns the recorder's
// observations into the indicators, as it does for the simulator.
//
// PromQL (prometheus.go): a scenario with PromQL objectives or rule files gets a Prometheus
// server per run (package clusters/prometheus), on loopback, scraping the kube-apiserver and, in
// a variant with spec.platform.cron, the platform's cron scheduler, which then runs beside the
// cluster (platform.go); the same PromQL is evaluated there after the run and reported as the
// same indicators, or as unmeasured where this world serves no family the query reads.
//
// Validity (validity.go): a run whose cluster broke beneath it (a control-plane process died,
// the API server went silent, a fault could not be injected or reverted) is invalid and not
// scored. Clean-up that survives SIGKILL (ledger.go): throwaway clusters belong to their run's
// process, runs on existing clusters record what they change before they change it, and
// CollectGarbage undoes what dead processes left. On an existing cluster the cluster's own nodes
// are cordoned for the run, so that pods run on the pool nodes (placement.go).
//
// Safety: Resolve refuses any kubeconfig context that does not point at a cluster faultline
// created (recorded in the local or kind provider's state directory) unless the user named it with
// --allow-context. Nothing is written before that check.
package realrun
