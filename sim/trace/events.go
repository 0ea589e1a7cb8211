package trace

// One type per trace event kind, grouped by model. Keep All (at the end) in step.

import (
	"strings"
	"time"
)

// --- Node lifecycle ----------------------------------------------------------------------------

// NodeSaturated: a node's CPU demand crossed the kernel-panic saturation threshold.
type NodeSaturated struct {
	Node        string
	Demand      float64
	Allocatable float64
}

func (NodeSaturated) Kind() string    { return "NodeSaturated" }
func (NodeSaturated) Message() string { return "node saturated" }
func (e NodeSaturated) fields(f *encoder) {
	f.str("node", e.Node)
	f.cores("demand", e.Demand)
	f.cores("allocatable", e.Allocatable)
}

// NodeSaturationOver: a saturated node's demand fell below the threshold.
type NodeSaturationOver struct {
	Node   string
	Demand float64
}

func (NodeSaturationOver) Kind() string    { return "NodeSaturationOver" }
func (NodeSaturationOver) Message() string { return "node recovered from saturation" }
func (e NodeSaturationOver) fields(f *encoder) {
	f.str("node", e.Node)
	f.cores("demand", e.Demand)
}

// NodePanicked: a saturated node's kernel panicked: the node goes down.
type NodePanicked struct {
	Node   string
	Demand float64
	Pods   int
}

func (NodePanicked) Kind() string    { return "NodePanicked" }
func (NodePanicked) Message() string { return "node kernel panic" }
func (e NodePanicked) fields(f *encoder) {
	f.str("node", e.Node)
	f.cores("demand", e.Demand)
	f.int("pods", e.Pods)
}

// NodeNotReady: the node lifecycle controller marked a silent node NotReady.
type NodeNotReady struct {
	Node      string
	SilentFor time.Duration
}

func (NodeNotReady) Kind() string    { return "NodeNotReady" }
func (NodeNotReady) Message() string { return "node not ready" }
func (e NodeNotReady) fields(f *encoder) {
	f.str("node", e.Node)
	f.dur("silentFor", e.SilentFor)
}

// FullDisruption: every node is NotReady: the node lifecycle controller stops evicting.
type FullDisruption struct{}

func (FullDisruption) Kind() string    { return "FullDisruption" }
func (FullDisruption) Message() string { return "full disruption: evictions stopped" }
func (FullDisruption) fields(*encoder) {}

// FullDisruptionOver: a node is Ready again after a full disruption.
type FullDisruptionOver struct{}

func (FullDisruptionOver) Kind() string    { return "FullDisruptionOver" }
func (FullDisruptionOver) Message() string { return "full disruption over: evictions resume" }
func (FullDisruptionOver) fields(*encoder) {}

// NodeBooted: a node that was down is up again (its kubelet runs).
type NodeBooted struct {
	Node    string
	DownFor time.Duration
}

func (NodeBooted) Kind() string    { return "NodeBooted" }
func (NodeBooted) Message() string { return "node booted" }
func (e NodeBooted) fields(f *encoder) {
	f.str("node", e.Node)
	f.dur("downFor", e.DownFor)
}

// NodeReady: the node is Ready again.
type NodeReady struct {
	Node string
}

func (NodeReady) Kind() string    { return "NodeReady" }
func (NodeReady) Message() string { return "node ready" }
func (e NodeReady) fields(f *encoder) {
	f.str("node", e.Node)
}

// NodeRepairStarted: node auto-repair deletes a NotReady node to recreate its VM.
type NodeRepairStarted struct {
	Node string
	Pods int
}

func (NodeRepairStarted) Kind() string    { return "NodeRepairStarted" }
func (NodeRepairStarted) Message() string { return "node auto-repair: recreating" }
func (e NodeRepairStarted) fields(f *encoder) {
	f.str("node", e.Node)
	f.int("pods", e.Pods)
}

// NodeRecreated: auto-repair's fresh VM is up and registered.
type NodeRecreated struct {
	Node string
}

func (NodeRecreated) Kind() string    { return "NodeRecreated" }
func (NodeRecreated) Message() string { return "node recreated" }
func (e NodeRecreated) fields(f *encoder) {
	f.str("node", e.Node)
}

// HeartbeatsFailing: a node's kubelet cannot renew its lease through the API.
type HeartbeatsFailing struct {
	Node string
}

func (HeartbeatsFailing) Kind() string    { return "HeartbeatsFailing" }
func (HeartbeatsFailing) Message() string { return "node heartbeats failing" }
func (e HeartbeatsFailing) fields(f *encoder) {
	f.str("node", e.Node)
}

// HeartbeatsThrough: a node's lease renewals get through again.
type HeartbeatsThrough struct {
	Node string
}

func (HeartbeatsThrough) Kind() string    { return "HeartbeatsThrough" }
func (HeartbeatsThrough) Message() string { return "node heartbeats through" }
func (e HeartbeatsThrough) fields(f *encoder) {
	f.str("node", e.Node)
}

// --- Control plane -----------------------------------------------------------------------------

// APIImpaired: the API is impaired: no apiserver ready, or p99 latency over the alert threshold.
type APIImpaired struct {
	P99               time.Duration
	AnyAPIServerReady bool
}

func (APIImpaired) Kind() string    { return "APIImpaired" }
func (APIImpaired) Message() string { return "API impaired" }
func (e APIImpaired) fields(f *encoder) {
	f.dur("p99", e.P99)
	f.bool("anyApiserverReady", e.AnyAPIServerReady)
}

// APIHealthy: the API is healthy again.
type APIHealthy struct{}

func (APIHealthy) Kind() string    { return "APIHealthy" }
func (APIHealthy) Message() string { return "API healthy again" }
func (APIHealthy) fields(*encoder) {}

// AlertFiring: a control-plane alert fires.
type AlertFiring struct {
	Alert string
	P99   time.Duration
}

func (AlertFiring) Kind() string    { return "AlertFiring" }
func (AlertFiring) Message() string { return "alert firing" }
func (e AlertFiring) fields(f *encoder) {
	f.str("alert", e.Alert)
	f.dur("p99", e.P99)
}

// AlertResolved: a control-plane alert resolves.
type AlertResolved struct {
	Alert string
}

func (AlertResolved) Kind() string    { return "AlertResolved" }
func (AlertResolved) Message() string { return "alert resolved" }
func (e AlertResolved) fields(f *encoder) {
	f.str("alert", e.Alert)
}

// APIServerStarting: a kube-apiserver instance starts.
type APIServerStarting struct {
	Instance string
	Version  string
}

func (APIServerStarting) Kind() string    { return "APIServerStarting" }
func (APIServerStarting) Message() string { return "apiserver starting" }
func (e APIServerStarting) fields(f *encoder) {
	f.str("instance", e.Instance)
	f.str("version", e.Version)
}

// APIServerReady: a kube-apiserver instance passes its readiness check.
type APIServerReady struct {
	Instance string
	Version  string
}

func (APIServerReady) Kind() string    { return "APIServerReady" }
func (APIServerReady) Message() string { return "apiserver ready" }
func (e APIServerReady) fields(f *encoder) {
	f.str("instance", e.Instance)
	f.str("version", e.Version)
}

// APIServerExited: a kube-apiserver instance exited; it is restarted after RestartIn.
type APIServerExited struct {
	Instance  string
	Reason    string
	RestartIn time.Duration
}

func (APIServerExited) Kind() string    { return "APIServerExited" }
func (APIServerExited) Message() string { return "apiserver exited" }
func (e APIServerExited) fields(f *encoder) {
	f.str("instance", e.Instance)
	f.str("reason", e.Reason)
	f.dur("restartIn", e.RestartIn)
}

// APIServerReplaced: the managed upgrade stops an instance to replace it.
type APIServerReplaced struct {
	Instance string
}

func (APIServerReplaced) Kind() string    { return "APIServerReplaced" }
func (APIServerReplaced) Message() string { return "apiserver replaced for upgrade" }
func (e APIServerReplaced) fields(f *encoder) {
	f.str("instance", e.Instance)
}

// UpgradeStarted: a managed control-plane upgrade starts.
type UpgradeStarted struct {
	Version string
	Timeout time.Duration
}

func (UpgradeStarted) Kind() string    { return "UpgradeStarted" }
func (UpgradeStarted) Message() string { return "control-plane upgrade started" }
func (e UpgradeStarted) fields(f *encoder) {
	f.str("version", e.Version)
	f.dur("timeout", e.Timeout)
}

// UpgradeCompleted: every instance runs the new version.
type UpgradeCompleted struct {
	Version string
	Took    time.Duration
}

func (UpgradeCompleted) Kind() string    { return "UpgradeCompleted" }
func (UpgradeCompleted) Message() string { return "control-plane upgrade completed" }
func (e UpgradeCompleted) fields(f *encoder) {
	f.str("version", e.Version)
	f.dur("took", e.Took)
}

// UpgradeTimedOut: the upgrade ran past its timeout and is reported failed.
type UpgradeTimedOut struct {
	Upgraded int
	Of       int
}

func (UpgradeTimedOut) Kind() string    { return "UpgradeTimedOut" }
func (UpgradeTimedOut) Message() string { return "control-plane upgrade timed out: reported failed" }
func (e UpgradeTimedOut) fields(f *encoder) {
	f.int("upgraded", e.Upgraded)
	f.int("of", e.Of)
}

// ControllerManagerDown: kube-controller-manager stops (its controllers pause).
type ControllerManagerDown struct{}

func (ControllerManagerDown) Kind() string    { return "ControllerManagerDown" }
func (ControllerManagerDown) Message() string { return "kube-controller-manager down" }
func (ControllerManagerDown) fields(*encoder) {}

// ControllerManagerUp: kube-controller-manager runs again.
type ControllerManagerUp struct{}

func (ControllerManagerUp) Kind() string    { return "ControllerManagerUp" }
func (ControllerManagerUp) Message() string { return "kube-controller-manager up" }
func (ControllerManagerUp) fields(*encoder) {}

// --- CronJobs and Jobs -------------------------------------------------------------------------

// CronFailedNeedsStart: the CronJob controller gives up on a CronJob with too many missed start times.
type CronFailedNeedsStart struct {
	CronJob string
	Reason  string
}

func (CronFailedNeedsStart) Kind() string    { return "CronFailedNeedsStart" }
func (CronFailedNeedsStart) Message() string { return "cronjob FailedNeedsStart" }
func (e CronFailedNeedsStart) fields(f *encoder) {
	f.str("cronjob", e.CronJob)
	f.str("reason", e.Reason)
}

// CronTooManyMissed: the CronJob controller warns of many missed start times.
type CronTooManyMissed struct {
	CronJob string
	Missed  int
}

func (CronTooManyMissed) Kind() string    { return "CronTooManyMissed" }
func (CronTooManyMissed) Message() string { return "cronjob TooManyMissedTimes" }
func (e CronTooManyMissed) fields(f *encoder) {
	f.str("cronjob", e.CronJob)
	f.int("missed", e.Missed)
}

// CronRunSkipped: a scheduled run is not started, and why.
type CronRunSkipped struct {
	CronJob   string
	Scheduled time.Time
	Reason    string
}

func (CronRunSkipped) Kind() string    { return "CronRunSkipped" }
func (CronRunSkipped) Message() string { return "cron run skipped" }
func (e CronRunSkipped) fields(f *encoder) {
	f.str("cronjob", e.CronJob)
	f.wall("scheduled", e.Scheduled)
	f.str("reason", e.Reason)
}

// CronAlertFires: the missed-CronJob alert would fire At.
type CronAlertFires struct {
	CronJob string
	At      time.Duration
}

func (CronAlertFires) Kind() string    { return "CronAlertFires" }
func (CronAlertFires) Message() string { return "alert fires" }
func (e CronAlertFires) fields(f *encoder) {
	f.str("cronjob", e.CronJob)
	f.dur("at", e.At)
}

// JobDeadlineExceeded: a Job ran past activeDeadlineSeconds.
type JobDeadlineExceeded struct {
	Job string
}

func (JobDeadlineExceeded) Kind() string    { return "JobDeadlineExceeded" }
func (JobDeadlineExceeded) Message() string { return "job deadline exceeded" }
func (e JobDeadlineExceeded) fields(f *encoder) {
	f.str("job", e.Job)
}

// JobReplaced: concurrencyPolicy Replace deleted a running Job.
type JobReplaced struct {
	Job string
}

func (JobReplaced) Kind() string    { return "JobReplaced" }
func (JobReplaced) Message() string { return "job replaced" }
func (e JobReplaced) fields(f *encoder) {
	f.str("job", e.Job)
}

// JobFailed: a Job failed.
type JobFailed struct {
	Job    string
	Reason string
}

func (JobFailed) Kind() string    { return "JobFailed" }
func (JobFailed) Message() string { return "job failed" }
func (e JobFailed) fields(f *encoder) {
	f.str("job", e.Job)
	f.str("reason", e.Reason)
}

// ImagePullFailed: a pod's image pull failed.
type ImagePullFailed struct {
	Pod   string
	Image string
}

func (ImagePullFailed) Kind() string    { return "ImagePullFailed" }
func (ImagePullFailed) Message() string { return "ErrImagePull" }
func (e ImagePullFailed) fields(f *encoder) {
	f.str("pod", e.Pod)
	f.str("image", e.Image)
}

// ExtensionCreatedJob: a controller extension created a Job through the API.
type ExtensionCreatedJob struct {
	Job       string
	Scheduled time.Time
}

func (ExtensionCreatedJob) Kind() string    { return "ExtensionCreatedJob" }
func (ExtensionCreatedJob) Message() string { return "extension created job" }
func (e ExtensionCreatedJob) fields(f *encoder) {
	f.str("job", e.Job)
	f.wall("scheduled", e.Scheduled)
}

// KubeEvent: a controller extension recorded a Kubernetes Event.
type KubeEvent struct {
	Regarding string
	Type      string
	Reason    string
	Note      string
}

func (KubeEvent) Kind() string    { return "KubeEvent" }
func (KubeEvent) Message() string { return "event" }
func (e KubeEvent) fields(f *encoder) {
	f.str("regarding", e.Regarding)
	f.str("type", e.Type)
	f.str("reason", e.Reason)
	f.str("note", e.Note)
}

// --- Faults and changes ------------------------------------------------------------------------

// FaultStarted: a scenario fault starts.
type FaultStarted struct {
	Fault  string
	Action string
}

func (FaultStarted) Kind() string    { return "FaultStarted" }
func (FaultStarted) Message() string { return "fault starts" }
func (e FaultStarted) fields(f *encoder) {
	f.str("fault", e.Fault)
	f.str("action", e.Action)
}

// FaultEnded: a scenario fault ends.
type FaultEnded struct {
	Fault  string
	Action string
}

func (FaultEnded) Kind() string    { return "FaultEnded" }
func (FaultEnded) Message() string { return "fault ends" }
func (e FaultEnded) fields(f *encoder) {
	f.str("fault", e.Fault)
	f.str("action", e.Action)
}

// DeploymentChanged: a scenario change applied a Deployment.
type DeploymentChanged struct {
	Deployment  string
	Replicas    int
	NewTemplate bool
}

func (DeploymentChanged) Kind() string    { return "DeploymentChanged" }
func (DeploymentChanged) Message() string { return "deployment changed" }
func (e DeploymentChanged) fields(f *encoder) {
	f.str("deployment", e.Deployment)
	f.int("replicas", e.Replicas)
	f.bool("newTemplate", e.NewTemplate)
}

// RolloutComplete: a Deployment's rollout finished.
type RolloutComplete struct {
	Deployment string
	Took       time.Duration
}

func (RolloutComplete) Kind() string    { return "RolloutComplete" }
func (RolloutComplete) Message() string { return "rollout complete" }
func (e RolloutComplete) fields(f *encoder) {
	f.str("deployment", e.Deployment)
	f.dur("took", e.Took)
}

// --- Pods --------------------------------------------------------------------------------------

// PodCreated: a controller created a pod.
type PodCreated struct {
	Pod   string
	Owner string
}

func (PodCreated) Kind() string    { return "PodCreated" }
func (PodCreated) Message() string { return "pod created" }
func (e PodCreated) fields(f *encoder) {
	f.str("pod", e.Pod)
	f.str("owner", e.Owner)
}

// PodDeleted: a pod was deleted, and why.
type PodDeleted struct {
	Pod    string
	Reason string
}

func (PodDeleted) Kind() string    { return "PodDeleted" }
func (PodDeleted) Message() string { return "pod deleted" }
func (e PodDeleted) fields(f *encoder) {
	f.str("pod", e.Pod)
	f.str("reason", e.Reason)
}

// PodUnschedulable: a scheduling attempt found no node; Err is the scheduler's error, printed without its "unschedulable: " prefix.
type PodUnschedulable struct {
	Pod     string
	Attempt int
	Err     error
}

func (PodUnschedulable) Kind() string    { return "PodUnschedulable" }
func (PodUnschedulable) Message() string { return "pod unschedulable" }
func (e PodUnschedulable) fields(f *encoder) {
	f.str("pod", e.Pod)
	f.int("attempt", e.Attempt)
	f.str("reason", strings.TrimPrefix(e.Err.Error(), "unschedulable: "))
}

// PodBound: the scheduler bound a pod to a node.
type PodBound struct {
	Pod  string
	Node string
}

func (PodBound) Kind() string    { return "PodBound" }
func (PodBound) Message() string { return "pod bound" }
func (e PodBound) fields(f *encoder) {
	f.str("pod", e.Pod)
	f.str("node", e.Node)
}

// ContainersStarted: the kubelet started a pod's containers.
type ContainersStarted struct {
	Pod  string
	Node string
}

func (ContainersStarted) Kind() string    { return "ContainersStarted" }
func (ContainersStarted) Message() string { return "containers started" }
func (e ContainersStarted) fields(f *encoder) {
	f.str("pod", e.Pod)
	f.str("node", e.Node)
}

// PodReady: a pod became Ready.
type PodReady struct {
	Pod string
}

func (PodReady) Kind() string    { return "PodReady" }
func (PodReady) Message() string { return "pod ready" }
func (e PodReady) fields(f *encoder) {
	f.str("pod", e.Pod)
}

// PodTerminating: a graceful termination starts: preStop, then SIGTERM, the process exits after ExitAfter.
type PodTerminating struct {
	Pod       string
	PreStop   time.Duration
	Grace     time.Duration
	ExitAfter time.Duration
}

func (PodTerminating) Kind() string    { return "PodTerminating" }
func (PodTerminating) Message() string { return "pod terminating" }
func (e PodTerminating) fields(f *encoder) {
	f.str("pod", e.Pod)
	f.dur("preStop", e.PreStop)
	f.dur("grace", e.Grace)
	f.dur("exitAfter", e.ExitAfter)
}

// ProcessExited: a terminating pod's process exited.
type ProcessExited struct {
	Pod string
}

func (ProcessExited) Kind() string    { return "ProcessExited" }
func (ProcessExited) Message() string { return "process exited" }
func (e ProcessExited) fields(f *encoder) {
	f.str("pod", e.Pod)
}

// ProbeResult: a probe's result changed.
type ProbeResult struct {
	Pod   string
	Probe string
	OK    bool
}

func (ProbeResult) Kind() string    { return "ProbeResult" }
func (ProbeResult) Message() string { return "probe result" }
func (e ProbeResult) fields(f *encoder) {
	f.str("pod", e.Pod)
	f.str("probe", e.Probe)
	f.bool("ok", e.OK)
}

// ContainerRestarted: the kubelet restarts a container after a failed probe.
type ContainerRestarted struct {
	Pod      string
	Probe    string
	Restarts int
	Backoff  time.Duration
}

func (ContainerRestarted) Kind() string    { return "ContainerRestarted" }
func (ContainerRestarted) Message() string { return "container restart" }
func (e ContainerRestarted) fields(f *encoder) {
	f.str("pod", e.Pod)
	f.str("probe", e.Probe)
	f.int("restarts", e.Restarts)
	f.dur("backoff", e.Backoff)
}

// PodUnreachable: a PodUnreachable fault cut a pod off the network.
type PodUnreachable struct {
	Pod string
}

func (PodUnreachable) Kind() string    { return "PodUnreachable" }
func (PodUnreachable) Message() string { return "pod unreachable" }
func (e PodUnreachable) fields(f *encoder) {
	f.str("pod", e.Pod)
}

// PodReadyUnreachable: an unreachable pod stays Ready: no readiness probe fails.
type PodReadyUnreachable struct {
	Pod string
}

func (PodReadyUnreachable) Kind() string { return "PodReadyUnreachable" }
func (PodReadyUnreachable) Message() string {
	return "pod ready (unreachable, no failing readiness probe)"
}
func (e PodReadyUnreachable) fields(f *encoder) {
	f.str("pod", e.Pod)
}

// LivenessRestart: an unreachable pod's liveness probe failed and its container restarted.
type LivenessRestart struct {
	Pod string
}

func (LivenessRestart) Kind() string    { return "LivenessRestart" }
func (LivenessRestart) Message() string { return "liveness probe failed: container restarted" }
func (e LivenessRestart) fields(f *encoder) {
	f.str("pod", e.Pod)
}

// ReadinessFailed: an unreachable pod's readiness probe failed.
type ReadinessFailed struct {
	Pod string
}

func (ReadinessFailed) Kind() string    { return "ReadinessFailed" }
func (ReadinessFailed) Message() string { return "readiness probe failed" }
func (e ReadinessFailed) fields(f *encoder) {
	f.str("pod", e.Pod)
}

// --- Network path ------------------------------------------------------------------------------

// ReadinessGate: a pod waits on a readiness gate.
type ReadinessGate struct {
	Pod       string
	Condition string
}

func (ReadinessGate) Kind() string    { return "ReadinessGate" }
func (ReadinessGate) Message() string { return "readiness gate" }
func (e ReadinessGate) fields(f *encoder) {
	f.str("pod", e.Pod)
	f.str("condition", e.Condition)
}

// EndpointChanged: a pod's endpoint readiness changed; To names the data planes told (all, ingress, kube-proxy).
type EndpointChanged struct {
	Pod   string
	Ready bool
	To    string
}

func (EndpointChanged) Kind() string    { return "EndpointChanged" }
func (EndpointChanged) Message() string { return "endpoint changed" }
func (e EndpointChanged) fields(f *encoder) {
	f.str("pod", e.Pod)
	f.bool("ready", e.Ready)
	f.str("to", e.To)
}

// DataPlaneUpdated: a data plane (load balancer, kube-proxy) applied an endpoint change.
type DataPlaneUpdated struct {
	Plane string
	Pod   string
	Ready bool
}

func (DataPlaneUpdated) Kind() string    { return "DataPlaneUpdated" }
func (DataPlaneUpdated) Message() string { return "data plane updated" }
func (e DataPlaneUpdated) fields(f *encoder) {
	f.str("plane", e.Plane)
	f.str("pod", e.Pod)
	f.bool("ready", e.Ready)
}

// All lists one zero value of every event kind, for documentation and tests.
var All = []Event{
	NodeSaturated{},
	NodeSaturationOver{},
	NodePanicked{},
	NodeNotReady{},
	FullDisruption{},
	FullDisruptionOver{},
	NodeBooted{},
	NodeReady{},
	NodeRepairStarted{},
	NodeRecreated{},
	HeartbeatsFailing{},
	HeartbeatsThrough{},
	APIImpaired{},
	APIHealthy{},
	AlertFiring{},
	AlertResolved{},
	APIServerStarting{},
	APIServerReady{},
	APIServerExited{},
	APIServerReplaced{},
	UpgradeStarted{},
	UpgradeCompleted{},
	UpgradeTimedOut{},
	ControllerManagerDown{},
	ControllerManagerUp{},
	CronFailedNeedsStart{},
	CronTooManyMissed{},
	CronRunSkipped{},
	CronAlertFires{},
	JobDeadlineExceeded{},
	JobReplaced{},
	JobFailed{},
	ImagePullFailed{},
	ExtensionCreatedJob{},
	KubeEvent{},
	FaultStarted{},
	FaultEnded{},
	DeploymentChanged{},
	RolloutComplete{},
	PodCreated{},
	PodDeleted{},
	PodUnschedulable{},
	PodBound{},
	ContainersStarted{},
	PodReady{},
	PodTerminating{},
	ProcessExited{},
	ProbeResult{},
	ContainerRestarted{},
	PodUnreachable{},
	PodReadyUnreachable{},
	LivenessRestart{},
	ReadinessFailed{},
	ReadinessGate{},
	EndpointChanged{},
	DataPlaneUpdated{},
}
