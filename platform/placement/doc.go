// Package placement is the platform's placement service.
//
// Spread (scenarios/kernel-panic-stacking/README.md, Moonlight): a mutating admission webhook for Deployments and
// StatefulSets. A workload is CPU-heavy when one pod of it requests at least CPUThreshold; a
// CPU-heavy workload with more than one replica that has neither pod anti-affinity nor topology
// spread constraints gets one (required anti-affinity on the hostname, or a maxSkew 1
// DoNotSchedule topology spread), with the workload's own selector. The scheduler places by
// requests, so replicas that really use much more CPU than they request can stack on one node
// and saturate it; spreading them is Moonlight's fix, applied by the platform to every team's
// workloads instead of by hand. Workloads that already say how to spread are left alone.
//
// Consolidation (scenarios/cron-deleted-images/README.md, mittwald): apps with compatible runtime requirements (the same
// AnnRuntime, e.g. php-8.2.10) are grouped into shared pods running one image per runtime
// (Consolidate, Plan, Group.Deployment), and Resolver gives the cron scheduler (package
// platform/cron) the image of a CronJob's app at the moment each Job is created, so that the
// per-app images can be deleted without breaking cron jobs.
//
// Both are pure functions of their inputs; package platform/kube serves the webhook over TLS and
// package platform/simadapter runs Spread as an admission plugin inside the simulator.
package placement
