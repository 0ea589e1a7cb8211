// Package platform is the platform under test: the code a platform team deploys on top of
// Kubernetes to fix the incidents faultline replays, written once and run in both worlds.
//
//   - cron (package platform/cron): a scheduling controller for opted-in batch/v1 CronJobs,
//     event driven, without the missed-start stall, with deterministic jitter, T1/T2
//     annotations, Lyft's metric families and on-demand runs (scenarios/cron-missed-start-storm/README.md, scenarios/cron-deleted-images/README.md).
//   - placement (package platform/placement): a mutating admission webhook that spreads
//     CPU-heavy workloads lacking anti-affinity or topology spread (scenarios/kernel-panic-stacking/README.md), and the
//     consolidation of apps with compatible runtimes into shared pods, with each cron job's image
//     resolved from its app at run time (scenarios/cron-deleted-images/README.md).
//
// The decision logic takes an injected k8s.io/utils/clock and small client interfaces defined in
// the component packages. Two adapters run it: package platform/simadapter inside a simulated
// World (sim.Extension, virtual clock, the simulator's API model), package platform/kube against
// a real API server with client-go (informers, work queue, /metrics, the TLS webhook), shipped
// by `faultline platform run` and the manifests in platform/deploy.
//
// Config is what a scenario's spec.platform enables; the same value configures both adapters.
package platform
