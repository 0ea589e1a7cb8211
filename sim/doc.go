// Package sim is faultline's simulated world: a deterministic discrete-event model of a
// Kubernetes cluster built on package engine. A World is created from an Input (the objects,
// node pools, load, faults and model parameters of one scenario variant) and a seed, runs to the
// end of the scenario, and returns a Result with the indicators that objectives score.
//
// The models re-express upstream behaviour as events (state changes, not ticks). Each model's doc
// comment names the upstream behaviour it follows and what it leaves out:
//
//   - scheduling queue and binding (kube-scheduler's activeQ, backoffQ, unschedulable pods) over
//     the filter/score plugins in package scheduler, a model type with its own state and engine
//     handler reaching the rest of the world through the narrow schedCluster interface
//     (schedulingQueue, scheduling_queue.go);
//   - the ReplicaSet controller behind Deployments (replica count only), a model type with its own
//     event kind behind the narrow workloadCluster interface (workloadController,
//     workload_controller.go);
//   - the nodes, as model types with their own state and engine handlers, sharing a nodeEnv and
//     reaching the rest of the world through the narrow nodeCluster interface (node_models.go):
//     the CPU (cpuModel, node_cpu.go): demand from the scenario's load, CFS-share contention, CPU
//     limits as quota, a kernel-panic hazard while saturated; the machines and their kubelets
//     (machines, node_machine.go): kernel panic, stop, reboot; the node lifecycle controller
//     (nodeLifecycleController, node_lifecycle.go): NotReady/Unknown after the grace period,
//     pods marked not ready, unreachable NoExecute taints and eviction after the toleration, the
//     full-disruption rule;
//   - Services: traffic to the Ready endpoints, dependencies between services, availability;
//   - the network path, as model types that own their state and register their own event
//     handler, sharing a netEnv (queue, trace sink, parameters, cluster state) and reaching the
//     rest of the world through the narrow netCluster interface (network.go) rather than World:
//     netWorld (endpoints.go, probes.go, termination.go, traffic.go): EndpointSlices seen by each
//     data plane (kube-proxy, Ingress load balancers) after its own lag, 502s and 503s, readiness,
//     liveness and startup probes as threshold crossings, deep or shallow readiness, caller
//     retries, preStop hooks, SIGTERM policies and the grace period; rollouts: Deployment rolling
//     updates from spec.changes (rollout.go); unreachable: pods under a NetworkChaos loss fault
//     (unreachable.go);
//   - the batch side, split as upstream splits it, each model a type with its own state and
//     engine handler, sharing the env (env.go) and reaching the cluster through the narrow
//     interfaces of batch.go: the CronJobs, their schedules and runs (cron.go, cronWorld); the
//     CronJob controller, v1 (the 10 s syncAll poller, cronJobControllerV1) and v2 (informers and
//     a work queue, cronJobControllerV2), through client-side token buckets on virtual time
//     (cronjob_controller.go, cronjob_controllerv2.go, apiserver.go); the Job controller
//     (jobController, job_controller.go) and the pod start pipeline of Job pods: admission,
//     scheduling, image pull, sidecars, app (podStarter, jobpod_start.go); the registry where
//     images can be missing (imageRegistry, registry.go);
//     Lyft's cron metrics as Prometheus families on a per-run registry (cronmetrics.go);
//   - the control plane, split as upstream splits it, each model a type with its own state and
//     engine handler, sharing a cpEnv and reaching the rest of the world through the narrow
//     cpCluster interface (controlplane.go): HA apiserver instances with the PostStartHook that
//     writes kube-system/extension-apiserver-authentication (apiServers,
//     controlplane_apiserver.go), a managed rolling upgrade with its time-out (upgrader,
//     controlplane_upgrade.go), validating admission webhooks (rules, namespace and object
//     selectors, failurePolicy, timeoutSeconds, a backend Deployment that can fail;
//     admissionChain, admission.go), the clients' requests and the latency alert (apiTraffic,
//     latencyAlert, controlplane_traffic.go), kubelet lease renewals through the API
//     (leaseHeartbeats, controlplane_heartbeat.go), node auto-repair (autoRepairer,
//     autorepair.go), apiserver latency metrics (cpmetrics.go); their observations go into the
//     typed record, from which package measure derives the indicators;
//   - extensions (extension.go): the platform under test running inside a World with the same
//     decision code it runs against a real API server.
//
// Nothing in this package starts a goroutine, reads the wall clock, or ranges over a map in a
// way that affects results. It imports no client-go, kind or chaos-mesh package (see deps_test.go);
// faults arrive already translated into Fault values by package scenarios.
package sim
