package measure

import "strings"

// World is where a run took place; each is a column of the registry.
type World int

const (
	// Simulated is the discrete-event simulator (package sim).
	Simulated World = iota
	// KWOK is a real control plane with KWOK nodes (faultline's local clusters): real
	// apiserver, scheduler and controllers; nodes and pods only animated.
	KWOK
	// Kind is a cluster of real kubelets (kind): real containers, probes, node lifecycle and
	// data planes, with faultline's load generator sending the loads' traffic (package realrun).
	Kind
	numWorlds
)

// Worlds lists every world in column order.
var Worlds = []World{Simulated, KWOK, Kind}

func (w World) String() string {
	switch w {
	case Simulated:
		return "simulated"
	case KWOK:
		return "kwok"
	case Kind:
		return "kind"
	}
	return "unknown"
}

// Scope says which runs report an indicator: what the scenario must hold for it to mean anything.
type Scope uint8

const (
	// Always: every run.
	Always Scope = 0
	// Cron: scenarios with CronJobs.
	Cron Scope = 1 << iota
	// Network: scenarios on the network path (an Ingress, or loads with readiness, onSIGTERM or retry).
	Network
	// Rollout: scenarios with spec.changes.
	Rollout
	// ControlPlane: scenarios with webhooks, a control-plane upgrade or auto-repair.
	ControlPlane
)

// Doc describes one indicator: for objectives, --help, reports and fidelity.
type Doc struct {
	Name, Unit, Doc string
	HigherIsBetter  bool
	Scope           Scope
	// Unmeasurable says, per world, why that world cannot measure the indicator; empty where it can.
	Unmeasurable [numWorlds]string
	// Calibrate names the model parameters (under spec.cluster.models) behind the indicator, the
	// first to look at when the worlds disagree.
	Calibrate string
}

// MeasuredIn reports whether world w measures the indicator.
func (d Doc) MeasuredIn(w World) bool { return d.Unmeasurable[w] == "" }

// Calibration is Calibrate, or a pointer at the model behind the indicator where none is named.
func (d Doc) Calibration() string {
	if d.Calibrate != "" {
		return d.Calibrate
	}
	return "the model behind " + d.Name
}

// reasons shared by several indicators
const (
	noTrafficKWOK  = "KWOK pods serve no traffic"
	noPanicKWOK    = "kernel panics come from real CPU saturation; KWOK pods use no CPU"
	noPanicKind    = "kernel panics from CPU saturation are not reproduced: the substituted containers use no CPU and a node container cannot panic the host's kernel (node faults freeze the node instead)"
	v1Stall        = "the v1 CronJob controller's stall; Kubernetes 1.34 runs only v2"
	noAlerting     = "needs the platform's alerting in the loop"
	noThrottleView = "kube-controller-manager's client-side wait is not observable from outside"
	notObserved    = "not observed by real runs yet"
)

func simOnly(kwok, kind string) [numWorlds]string { return [numWorlds]string{"", kwok, kind} }

var (
	traffic   = simOnly(noTrafficKWOK, "")
	panics    = simOnly(noPanicKWOK, noPanicKind)
	unwatched = simOnly(notObserved, notObserved)
	// a rollout's pace is set by its new pods' readiness: KWOK marks a pod Ready the moment it
	// runs, without probes and without waiting for readiness gates (measured: the ingress
	// scenario's rollout took 1 s on a local control plane, where the simulator, probes and the
	// load balancer's gate played, takes 20 s to 2 min); real kubelets on kind play both
	rollouts = simOnly("KWOK marks pods Ready as they run: no readiness probes, readiness gates ignored", "")
	// a real run plays the control-plane upgrade on a local control plane, whose kube-apiserver
	// faultline runs (clusters/realrun upgrade.go)
	upgradeOnly = simOnly("", "faultline does not run a kind cluster's kube-apiserver, so it cannot restart it as an upgrade would")
)

const (
	calStartSteps = "the step rows (job-create, pod-create, pod-bind, pod-run delay) say which step differs; cronJob.requeueDelay, apiServer.controllerManagerQPS/Burst and requestLatency (the controllers' writes), scheduler.latency and apiServer.schedulerQPS (binding), podStart.* (the kubelet's part)"
	calJobCreate  = "cronJob.requeueDelay, cronJob.workers, apiServer.controllerManagerQPS/Burst and requestLatency (the CronJob controller's writes)"
	calPodCreate  = "apiServer.controllerManagerQPS/Burst and requestLatency (the Job controller's pod creates)"
	calPodBind    = "podStart.admission, scheduler.latency, apiServer.schedulerQPS/Burst (binding)"
	calPodRun     = "podStart.pullTime, podStart.sidecarStart, podStart.appStart (the kubelet's part)"
	calCronRuns   = "cronJob.workers, cronJob.requeueDelay, apiServer.controllerManagerQPS/Burst"
	calFailures   = "job.backoffBase/backoffMax and the CronJobs' faultline.dev/failure-ratio"
	calPlacement  = "the scheduler model's scoring (sim/scheduler: PodTopologySpread system defaults, NodeResourcesFit) and scheduler.percentageOfNodesToScore, initialBackoff/maxBackoff"
	calNodeLoss   = "nodeLifecycle.gracePeriod, monitorPeriod, defaultTolerationSeconds and kernelPanic.rebootTime (a reset node's downtime)"
	calPanic      = "kernelPanic.saturationAbove, meanTimeToPanic, shape, rebootTime"
)

// Indicators is the registry: every indicator a run can report, in report order. Per-load
// success ratios follow as request-success-ratio/<target> (see Lookup).
var Indicators = []Doc{
	{Name: "request-success-ratio", Unit: "ratio", HigherIsBetter: true, Doc: "share of all requests that succeeded, weighted by rate", Unmeasurable: traffic},
	{Name: "node-panics", Unit: "count", Doc: "kernel panics over the run", Unmeasurable: panics, Calibrate: calPanic},
	{Name: "nodes-panicked", Unit: "count", Doc: "distinct nodes that panicked at least once", Unmeasurable: panics, Calibrate: calPanic},
	{Name: "cascade", Unit: "0/1", Doc: "1 when panics hit two or more distinct nodes", Unmeasurable: panics, Calibrate: calPanic},
	{Name: "time-to-first-panic", Unit: "hours", HigherIsBetter: true, Doc: "from the start to the first panic; the run's length when none (censored)", Unmeasurable: panics, Calibrate: calPanic},
	{Name: "pods-lost", Unit: "count", Doc: "running pods killed by a node going down", Calibrate: calNodeLoss},
	{Name: "evictions", Unit: "count", Doc: "pods deleted by taint-based eviction", Calibrate: calNodeLoss},
	{Name: "max-replicas-per-node", Unit: "count", Doc: "most replicas of one multi-replica Deployment ever bound to one node", Calibrate: calPlacement},
	{Name: "full-outage-minutes", Unit: "minutes", Doc: "time with under 1 % of requests succeeding", Unmeasurable: traffic},
	{Name: "degraded-minutes", Unit: "minutes", Doc: "time with under 99 % of requests succeeding", Unmeasurable: traffic},

	{Name: "cron-runs-started", Unit: "count", HigherIsBetter: true, Scope: Cron, Doc: "cron runs whose app container started", Calibrate: calCronRuns},
	{Name: "start-delay-p50-seconds", Unit: "seconds", Scope: Cron, Doc: "median start delay T2 - T1 (scheduled time to app container running)", Calibrate: calStartSteps},
	{Name: "start-delay-p99-seconds", Unit: "seconds", Scope: Cron, Doc: "99th percentile start delay T2 - T1", Calibrate: calStartSteps},
	{Name: "start-delay-max-seconds", Unit: "seconds", Scope: Cron, Doc: "largest start delay T2 - T1", Calibrate: calStartSteps},
	{Name: "job-create-delay-p50-seconds", Unit: "seconds", Scope: Cron, Doc: "median Job-creation delay: scheduled time T1 to the Job object existing (the CronJob controller's share of the start delay)", Calibrate: calJobCreate},
	{Name: "job-create-delay-p99-seconds", Unit: "seconds", Scope: Cron, Doc: "99th percentile Job-creation delay", Calibrate: calJobCreate},
	{Name: "job-create-delay-max-seconds", Unit: "seconds", Scope: Cron, Doc: "largest Job-creation delay", Calibrate: calJobCreate},
	{Name: "pod-create-delay-p50-seconds", Unit: "seconds", Scope: Cron, Doc: "median time from a started run's Job to its pod (the Job controller's share of the start delay)", Calibrate: calPodCreate},
	{Name: "pod-create-delay-p99-seconds", Unit: "seconds", Scope: Cron, Doc: "99th percentile time from Job to pod", Calibrate: calPodCreate},
	{Name: "pod-bind-delay-p50-seconds", Unit: "seconds", Scope: Cron, Doc: "median time from a started run's pod to its binding to a node (admission and scheduling)", Calibrate: calPodBind},
	{Name: "pod-bind-delay-p99-seconds", Unit: "seconds", Scope: Cron, Doc: "99th percentile time from pod to binding", Calibrate: calPodBind},
	{Name: "pod-run-delay-p50-seconds", Unit: "seconds", Scope: Cron, Doc: "median time from binding to the app container running (the kubelet: image pull, sidecars, app start)", Calibrate: calPodRun},
	{Name: "pod-run-delay-p99-seconds", Unit: "seconds", Scope: Cron, Doc: "99th percentile time from binding to app running", Calibrate: calPodRun},
	{Name: "skipped-runs", Unit: "count", Scope: Cron, Doc: "skip decisions (concurrencyPolicy, missedDeadline, error), once per CronJob and scheduled time", Calibrate: calCronRuns},
	{Name: "missed-schedules", Unit: "count", Scope: Cron, Doc: "scheduled times that never got a Job (skipped or stalled), up to 10 minutes before the end", Calibrate: calCronRuns},
	{Name: "failed-runs", Unit: "count", Scope: Cron, Doc: "Jobs that failed (backoffLimit exceeded or activeDeadlineSeconds)", Calibrate: calFailures},
	{Name: "failed-attempts", Unit: "count", Scope: Cron, Doc: "failed pods of cron Jobs, retries included (what per-attempt alerting would see)", Calibrate: calFailures},
	{Name: "stalled-cronjobs", Unit: "count", Scope: Cron, Doc: "CronJobs stuck for good after more than 100 missed starts (v1 without startingDeadlineSeconds)", Unmeasurable: simOnly(v1Stall, v1Stall)},
	{Name: "time-to-detect-minutes", Unit: "minutes", Scope: Cron, Doc: "from the first failed or skipped run to the first alert on a watched CronJob; to the end of the run when none fired; 0 without failures", Unmeasurable: simOnly(noAlerting, "")},
	{Name: "failure-span-hours", Unit: "hours", Scope: Cron, Doc: "from the scheduled time of the first failed run to the end of the last failed run; 0 without failures", Unmeasurable: simOnly("KWOK runs every Job pod to success", "")},
	{Name: "controller-throttle-seconds", Unit: "seconds", Scope: Cron, Doc: "mean client-side rate-limit wait per CronJob controller request", Unmeasurable: simOnly(noThrottleView, noThrottleView)},

	{Name: "requests-502", Unit: "count", Scope: Network, Doc: "requests a data plane sent to a pod whose process no longer answered (exited, hung, node down)", Unmeasurable: traffic},
	{Name: "requests-503", Unit: "count", Scope: Network, Doc: "requests a data plane had no ready endpoint for", Unmeasurable: traffic},
	{Name: "error-ratio-502", Unit: "ratio", Scope: Network, Doc: "share of all requests that failed as 502", Unmeasurable: traffic},
	{Name: "error-ratio-503", Unit: "ratio", Scope: Network, Doc: "share of all requests that failed as 503", Unmeasurable: traffic},
	{Name: "error-ratio-app", Unit: "ratio", Scope: Network, Doc: "share of all requests a pod answered with an error (a dependency call failed after retries, or CPU starvation)", Unmeasurable: traffic},
	{Name: "collateral-loss-ratio", Unit: "ratio", Scope: Network, Doc: "failed share of the requests that need no workload a pod fault acts on (the traffic that did not need what failed)", Unmeasurable: traffic},
	{Name: "dependency-call-errors", Unit: "count", Scope: Network, Doc: "failed dependency call attempts, retries included (what a caller's error counter counts)", Unmeasurable: traffic},
	{Name: "retries", Unit: "count", Scope: Network, Doc: "dependency call retries", Unmeasurable: traffic},
	{Name: "retry-wait-seconds", Unit: "seconds", Scope: Network, Doc: "mean back-off wait per request", Unmeasurable: traffic},
	{Name: "container-restarts", Unit: "count", Scope: Network, Doc: "containers restarted after failed liveness or startup probes", Unmeasurable: simOnly("KWOK runs no probes", "")},

	{Name: "rollout-minutes", Unit: "minutes", Scope: Rollout, Doc: "mean time from a template change to the rollout completing (to the end of the run when it did not)", Unmeasurable: rollouts},
	{Name: "rollouts-incomplete", Unit: "count", Scope: Rollout, Doc: "rollouts not complete at the end of the run", Unmeasurable: rollouts},

	{Name: "api-availability", Unit: "ratio", HigherIsBetter: true, Scope: ControlPlane, Doc: "share of API requests (client mix and kubelet lease renewals) that succeeded, weighted by rate", Unmeasurable: unwatched},
	{Name: "api-write-availability", Unit: "ratio", HigherIsBetter: true, Scope: ControlPlane, Doc: "share of mutating API requests that succeeded", Unmeasurable: unwatched},
	{Name: "api-latency-p99-max-seconds", Unit: "seconds", Scope: ControlPlane, Doc: "highest latency quantile (latencyAlert.quantile) of mutating requests at any instant", Unmeasurable: unwatched},
	{Name: "latency-alert-detect-minutes", Unit: "minutes", Scope: ControlPlane, Doc: "time the API was impaired (a request failing, or the latency quantile above the alert threshold) before the latency alert first fired: the time to detect of one continuous impairment; all impaired time when it never fired", Unmeasurable: unwatched},
	{Name: "apiserver-exits", Unit: "count", Scope: ControlPlane, Doc: "apiserver exits because the client-CA post-start hook could not write its ConfigMap", Unmeasurable: upgradeOnly},
	{Name: "upgrade-completed", Unit: "0/1", HigherIsBetter: true, Scope: ControlPlane, Doc: "1 when the control-plane upgrade completed before its time-out (1 without an upgrade)", Unmeasurable: upgradeOnly},
	{Name: "upgrade-minutes", Unit: "minutes", Scope: ControlPlane, Doc: "from the upgrade's start to its completion; to the end of the run when it never completed", Unmeasurable: upgradeOnly},
	{Name: "nodes-recreated", Unit: "count", Scope: ControlPlane, Doc: "nodes recreated by auto-repair", Unmeasurable: unwatched},
	{Name: "repair-cadence-minutes", Unit: "minutes", Scope: ControlPlane, Doc: "mean time between successive recreations of the same node; 0 when no node was recreated twice", Unmeasurable: unwatched},
}

// PerLoadPrefix starts the name of a per-load success ratio: request-success-ratio/<target>.
const PerLoadPrefix = "request-success-ratio/"

// PerLoad documents request-success-ratio/<target>.
var PerLoad = Doc{Name: PerLoadPrefix + "<target>", Unit: "ratio", HigherIsBetter: true, Doc: "share of this load's requests that succeeded", Unmeasurable: traffic}

var index = func() map[string]int {
	m := make(map[string]int, len(Indicators))
	for i, d := range Indicators {
		m[d.Name] = i
	}
	return m
}()

// Lookup returns the registry entry of a named indicator, including per-load ones.
func Lookup(name string) (Doc, bool) {
	if i, ok := index[name]; ok {
		return Indicators[i], true
	}
	if len(name) > len(PerLoadPrefix) && strings.HasPrefix(name, PerLoadPrefix) {
		d := PerLoad
		d.Name = name
		return d, true
	}
	return Doc{}, false
}

// Order is the indicator's position in the registry (report order); per-load and unknown
// indicators sort after every registered one.
func Order(name string) int {
	if i, ok := index[name]; ok {
		return i
	}
	return len(Indicators)
}
