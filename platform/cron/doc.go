// Package cron is the platform's CronJob scheduler: the decisions of a controller that runs
// opted-in batch/v1 CronJobs in place of kube-controller-manager's CronJob controller, with the
// fixes Lyft describes (scenarios/cron-missed-start-storm/README.md) and mittwald's run-time image resolution (scenarios/cron-deleted-images/README.md).
//
// Opt-in is an annotation on a standard batch/v1 CronJob (AnnManaged: "true") together with
// spec.suspend: true. Why an annotation and not a CRD: the object is the same in both worlds and
// in every tool (kubectl get cronjobs, `kubectl create job --from=cronjob/NAME`, the scenario's
// manifests, the simulator's CronJob model); nothing needs installing before the platform can be
// tested; and opting out is removing two fields. suspend: true is what keeps the upstream
// controller from running the same schedule a second time (Kubernetes has no spec.managedBy for
// CronJobs); the platform's own pause is the AnnPaused annotation. Jobs it creates carry a
// non-controller ownerReference to their CronJob (garbage collection works, the upstream
// controller ignores them) and the LabelCronJob label.
//
// What it does differently from upstream:
//   - event driven: a sync computes the next scheduled time and returns how long until then; the
//     adapter requeues the CronJob for that instant (no polling loop); Job completions requeue it.
//   - no missed-start stall: unmet scheduled times are all counted (no limit of 100), the older
//     ones are reported as missed (skip, reason missedDeadline: counted, an Event, alertable) and
//     the latest follows the concurrency policy and startingDeadlineSeconds.
//   - deterministic jitter: with MaxJitter (or the AnnJitter annotation) a CronJob's schedule is
//     shifted by a fixed offset, a hash of namespace/name bounded by the schedule's shortest gap,
//     to flatten hot spots at :00. T1 is the shifted time.
//   - T1 (the scheduled time) and T2 (the first time the app container ran, restarts ignored)
//     as annotations on each Job; T2 is written once (AnnotateJobOnce is the lock).
//   - Lyft's metric families (Metrics), the same names the simulator registers.
//   - on-demand runs (Controller.Trigger, `faultline cron trigger NAME`).
//   - optional image resolution from the CronJob's app (AnnApp) at the moment each Job is created.
//
// Decide is the pure decision; Controller wraps it with a Client and a clock.PassiveClock.
package cron
