package sim

import (
	"time"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/util/validation/field"
)

// Input is one scenario variant, ready to simulate. Package scenarios builds it from a scenario
// file; the same objects are what a real cluster receives.
type Input struct {
	Name string
	// Start is the wall-clock instant virtual time 0 stands for (schedules, traffic profiles).
	Start    time.Time
	Duration time.Duration
	Pools    []NodePool
	// Objects are decoded Kubernetes objects (*appsv1.Deployment, *corev1.Service, ...).
	Objects []runtime.Object
	Load    []Load
	Faults  []Fault
	Models  Models
	// Changes are object updates at a time during the run (a new image: a rolling update);
	// see Change in rollout.go.
	Changes []Change
	// Extensions run code from outside the simulator in the World (extension.go).
	Extensions []ExtensionFactory `json:"-"`
}

// NodePool is a group of identical nodes. Nodes are named <pool>-<i> (1-based) and spread over
// Zones round-robin.
type NodePool struct {
	Name     string              `json:"name"`
	Count    int                 `json:"count"`
	Capacity corev1.ResourceList `json:"capacity"`
	Zones    []string            `json:"zones,omitempty"`
	Labels   map[string]string   `json:"labels,omitempty"`
	Taints   []corev1.Taint      `json:"taints,omitempty"`
}

// Load is what manifests cannot say: how much CPU a workload really uses and how much traffic
// its Service receives. Target names a workload, "deployment/NAME" (namespace "default") or
// "deployment/NAMESPACE/NAME".
type Load struct {
	Target string `json:"target"`
	// CPUPerReplica is the CPU one replica really uses at the nominal request rate when every
	// desired replica is serving. A replica's use scales with its share of the traffic: when one of
	// three replicas is down, the other two each carry half of the load.
	CPUPerReplica resource.Quantity `json:"cpuPerReplica"`
	// CPUIdle is what a running replica uses with no traffic (also while starting).
	CPUIdle resource.Quantity `json:"cpuIdle,omitempty"`
	// RequestsPerSecond is the nominal request rate to the workload's Service; 0 for workers that
	// serve no traffic (their CPU use still follows the profile).
	RequestsPerSecond float64 `json:"requestsPerSecond,omitempty"`
	// DependsOn lists targets every request of this workload needs (a session store, say): a
	// request succeeds only if the dependencies' requests would.
	DependsOn []string `json:"dependsOn,omitempty"`
	// Profile scales the nominal rate and CPU over time.
	Profile *Profile `json:"profile,omitempty"`

	// The fields below are app behaviour on the network path (endpoints.go), which manifests
	// cannot say; setting any of them (or routing traffic through an Ingress) turns that model on.

	// Readiness is what the app's readiness endpoint checks: "shallow" (default: the process can
	// answer) or "deep" (it also calls every dependency in ReadinessChecks and fails when any of
	// them fails). It takes effect through the container's readinessProbe (period, thresholds).
	Readiness string `json:"readiness,omitempty"`
	// ReadinessChecks are the dependencies a deep check calls; default DependsOn. A shared health
	// library often checks every client a service has, including ones a request path never uses.
	ReadinessChecks []string `json:"readinessChecks,omitempty"`
	// OnSIGTERM is what the process does on SIGTERM: "exit" (default: at once), "keep-serving"
	// (serve until the grace period ends) or "connection-close" (keep serving, replying
	// Connection: close, until the grace period ends).
	OnSIGTERM string `json:"onSIGTERM,omitempty"`
	// Retry is how this workload's pods call their dependencies; nil: one attempt, no retries.
	Retry *Retry `json:"retry,omitempty"`
}

// Profile is a traffic shape: Hourly holds 24 multipliers for the hours of the day (UTC), and
// Weekend multiplies Saturdays and Sundays. Empty means constant 1.
type Profile struct {
	Hourly  []float64 `json:"hourly,omitempty"`
	Weekend float64   `json:"weekend,omitempty"`
}

// At returns the multiplier in force at wall-clock time t.
func (p *Profile) At(t time.Time) float64 {
	if p == nil {
		return 1
	}
	m := 1.0
	if len(p.Hourly) == 24 {
		m = p.Hourly[t.Hour()]
	}
	if wd := t.Weekday(); (wd == time.Saturday || wd == time.Sunday) && p.Weekend > 0 {
		m *= p.Weekend
	}
	return m
}

// FaultAction is what a fault does, in the simulator's terms.
type FaultAction string

const (
	// NodeStop powers a node off for the fault's duration (Chaos Mesh GCPChaos node-stop,
	// AWSChaos ec2-stop), then boots it.
	NodeStop FaultAction = "node-stop"
	// NodeReset reboots a node at once (GCPChaos node-reset, AWSChaos ec2-restart).
	NodeReset FaultAction = "node-reset"
	// PodKill deletes the selected pods (PodChaos pod-kill); their owners replace them.
	PodKill FaultAction = "pod-kill"
	// PodFailure makes the selected pods fail (not ready, serving nothing) for the duration
	// (PodChaos pod-failure).
	PodFailure FaultAction = "pod-failure"
	// CPUStress adds CPU demand to the selected pods for the duration (StressChaos cpu stressors:
	// workers × load/100 cores).
	CPUStress FaultAction = "cpu-stress"
	// ControllerManagerDown stops kube-controller-manager (its CronJob and Job controllers) for
	// the duration (PodChaos pod-failure on the kube-controller-manager pod in kube-system); a
	// duration of 0 with pod-kill is a restart, which loses the in-memory Job back-off.
	ControllerManagerDown FaultAction = "controller-manager-down"
	// PodUnreachable drops every packet to and from the selected pods for the duration (Chaos
	// Mesh NetworkChaos loss 100 %): they stay Ready unless a probe says otherwise, and callers
	// wait for their time-out (unreachable.go).
	PodUnreachable FaultAction = "pod-unreachable"
	// ControlPlaneUpgrade is a managed rolling upgrade of the apiserver instances to Version,
	// reported failed after Timeout (faultline.dev/v1alpha1 ControlPlaneUpgrade; controlplane.go).
	ControlPlaneUpgrade FaultAction = "control-plane-upgrade"
)

// Fault is one injected fault, translated from a Chaos Mesh object by package scenarios.
type Fault struct {
	Name     string // the Chaos Mesh object's kind/name, for traces
	Action   FaultAction
	At       time.Duration // when it starts, from the run start
	Duration time.Duration // 0: until the end of the run (or instantaneous for kills and resets)
	Nodes    []string      // node names for node actions
	Pods     PodSelector   // pods for pod actions
	CPU      float64       // cores added per selected pod, for CPUStress
	Version  string        // target version, for ControlPlaneUpgrade
	Timeout  time.Duration // the upgrade client's time-out; 0: models.controlPlane.upgradeTimeout
}

// SelectMode is Chaos Mesh's selector mode.
type SelectMode string

const (
	ModeOne                  SelectMode = "one"
	ModeAll                  SelectMode = "all"
	ModeFixed                SelectMode = "fixed"
	ModeFixedPercent         SelectMode = "fixed-percent"
	ModeRandomMaxPercent     SelectMode = "random-max-percent"
	defaultFaultNamespace               = "default"
	defaultWorkloadNamespace            = "default"
)

// PodSelector picks pods as Chaos Mesh's PodSelectorSpec with a mode does: namespaces, a label
// selector, node names, then Mode/Value among the matches (chosen with the fault's random stream).
type PodSelector struct {
	Namespaces []string
	Labels     labels.Selector // nil: everything
	Nodes      []string
	Mode       SelectMode
	Value      string
}

// Models holds every model parameter. Defaults come from DefaultModels and are sourced in
// docs/upstream.md; a scenario overrides any of them under spec.cluster.models.
type Models struct {
	KernelPanic   KernelPanic   `json:"kernelPanic"`
	NodeLifecycle NodeLifecycle `json:"nodeLifecycle"`
	Scheduler     SchedulerQ    `json:"scheduler"`
	Pods          PodTiming     `json:"pods"`
	Sampling      Sampling      `json:"sampling"`
	APIServer     APIServer     `json:"apiServer"`
	CronJob       CronJobModel  `json:"cronJob"`
	Job           JobModel      `json:"job"`
	PodStart      PodStart      `json:"podStart"`
	Registry      Registry      `json:"registry"`
	Alerts        Alerts        `json:"alerts"`
	Network       Network       `json:"network"`
	ControlPlane  ControlPlane  `json:"controlPlane"`
	AutoRepair    AutoRepair    `json:"autoRepair"`
}

// KernelPanic is the hazard model for a node whose CPU is saturated. Upstream has no such model;
// it is empirical and provider specific (docs/upstream.md "CPU saturation"). While a node's real CPU
// demand is at or above SaturationAbove of its allocatable CPU, a cumulative Weibull hazard grows
// with the time spent saturated; the node panics when it crosses a unit-exponential draw.
// Shape 1 gives a memoryless panic with mean MeanTimeToPanic; shape > 1 makes a longer stretch
// at 100 % ever more dangerous. Leaving saturation resets the hazard (the kernel recovered).
type KernelPanic struct {
	Enabled         *bool           `json:"enabled,omitempty"`
	SaturationAbove float64         `json:"saturationAbove"`
	MeanTimeToPanic metav1.Duration `json:"meanTimeToPanic"`
	Shape           float64         `json:"shape"`
	// RebootTime is from the panic until the machine is up and its kubelet reports again.
	RebootTime metav1.Duration `json:"rebootTime"`
}

// On reports whether the hazard is enabled (the default).
func (k KernelPanic) On() bool { return k.Enabled == nil || *k.Enabled }

// NodeLifecycle holds kubelet and node-lifecycle-controller timings.
type NodeLifecycle struct {
	StatusUpdateFrequency    metav1.Duration `json:"statusUpdateFrequency"`
	MonitorPeriod            metav1.Duration `json:"monitorPeriod"`
	GracePeriod              metav1.Duration `json:"gracePeriod"`
	DefaultTolerationSeconds int64           `json:"defaultTolerationSeconds"`
}

// SchedulerQ holds the scheduling queue's timings and the per-pod scheduling cost.
type SchedulerQ struct {
	InitialBackoff metav1.Duration `json:"initialBackoff"`
	MaxBackoff     metav1.Duration `json:"maxBackoff"`
	// MaxInUnschedulable is podMaxInUnschedulablePodsDuration: an unschedulable pod is retried at
	// the latest after this long even if no cluster event moved it.
	MaxInUnschedulable metav1.Duration `json:"maxInUnschedulable"`
	// Latency is the time one scheduling cycle plus binding takes.
	Latency metav1.Duration `json:"latency"`
	// PercentageOfNodesToScore: 0 is upstream's adaptive rule.
	PercentageOfNodesToScore int `json:"percentageOfNodesToScore,omitempty"`
}

// PodTiming holds pod start timings not given by manifests.
type PodTiming struct {
	// ContainerStart is from binding to the containers running (image present, sandbox, start).
	ContainerStart metav1.Duration `json:"containerStart"`
}

// Sampling controls the time series kept for reports.
type Sampling struct {
	Interval metav1.Duration `json:"interval"`
}

// DefaultModels returns the defaults, each from docs/upstream.md unless marked as a faultline choice.
func DefaultModels() Models {
	return Models{
		KernelPanic: KernelPanic{
			SaturationAbove: 0.98,                                        // scenario parameter (faultline choice)
			MeanTimeToPanic: metav1.Duration{Duration: 20 * time.Minute}, // faultline choice, overridable
			Shape:           1.5,                                         // faultline choice: hazard grows with time saturated
			RebootTime:      metav1.Duration{Duration: 8 * time.Minute},  // faultline choice
		},
		NodeLifecycle: NodeLifecycle{
			StatusUpdateFrequency:    metav1.Duration{Duration: 10 * time.Second}, // kubelet nodeStatusUpdateFrequency
			MonitorPeriod:            metav1.Duration{Duration: 5 * time.Second},  // node-monitor-period
			GracePeriod:              metav1.Duration{Duration: 40 * time.Second}, // node-monitor-grace-period (50 s from 1.32)
			DefaultTolerationSeconds: 300,                                         // DefaultTolerationSeconds admission
		},
		Scheduler: SchedulerQ{
			InitialBackoff:     metav1.Duration{Duration: time.Second},           // pod-initial-backoff-seconds
			MaxBackoff:         metav1.Duration{Duration: 10 * time.Second},      // pod-max-backoff-seconds
			MaxInUnschedulable: metav1.Duration{Duration: 5 * time.Minute},       // podMaxInUnschedulablePodsDuration
			Latency:            metav1.Duration{Duration: 10 * time.Millisecond}, // ~100 pods/s (docs/upstream.md "Client rate limits")
		},
		Pods: PodTiming{
			ContainerStart: metav1.Duration{Duration: 3 * time.Second}, // faultline choice: cached image
		},
		Sampling:     Sampling{Interval: metav1.Duration{Duration: 5 * time.Minute}},
		APIServer:    defaultAPIServer(),
		CronJob:      defaultCronJob(),
		Job:          defaultJob(),
		PodStart:     defaultPodStart(),
		Alerts:       defaultAlerts(),
		Network:      defaultNetwork(),
		ControlPlane: defaultControlPlane(),
		AutoRepair:   defaultAutoRepair(),
	}
}

// Validate checks parameter ranges; every error is at its field under p.
func (m Models) Validate(p *field.Path) field.ErrorList {
	var errs field.ErrorList
	if m.KernelPanic.SaturationAbove <= 0 || m.KernelPanic.SaturationAbove > 1 {
		errs = append(errs, invalid(p.Child("kernelPanic", "saturationAbove"), "%v is out of range; expected a fraction in (0, 1]", m.KernelPanic.SaturationAbove))
	}
	if m.KernelPanic.MeanTimeToPanic.Duration <= 0 {
		errs = append(errs, invalid(p.Child("kernelPanic", "meanTimeToPanic"), "expected a positive duration"))
	}
	if m.KernelPanic.Shape <= 0 {
		errs = append(errs, invalid(p.Child("kernelPanic", "shape"), "%v; expected a positive Weibull shape", m.KernelPanic.Shape))
	}
	if m.KernelPanic.RebootTime.Duration < 0 {
		errs = append(errs, invalid(p.Child("kernelPanic", "rebootTime"), "expected a non-negative duration"))
	}
	if m.NodeLifecycle.MonitorPeriod.Duration <= 0 {
		errs = append(errs, invalid(p.Child("nodeLifecycle", "monitorPeriod"), "expected a positive duration"))
	}
	if m.NodeLifecycle.StatusUpdateFrequency.Duration <= 0 {
		errs = append(errs, invalid(p.Child("nodeLifecycle", "statusUpdateFrequency"), "expected a positive duration"))
	}
	if m.NodeLifecycle.GracePeriod.Duration <= 0 {
		errs = append(errs, invalid(p.Child("nodeLifecycle", "gracePeriod"), "expected a positive duration"))
	}
	if m.NodeLifecycle.DefaultTolerationSeconds < 0 {
		errs = append(errs, invalid(p.Child("nodeLifecycle", "defaultTolerationSeconds"), "expected >= 0"))
	}
	if m.Scheduler.InitialBackoff.Duration <= 0 || m.Scheduler.MaxBackoff.Duration < m.Scheduler.InitialBackoff.Duration {
		errs = append(errs, invalid(p.Child("scheduler", "initialBackoff"), "expected 0 < initialBackoff <= maxBackoff"))
	}
	if m.Scheduler.MaxInUnschedulable.Duration <= 0 {
		errs = append(errs, invalid(p.Child("scheduler", "maxInUnschedulable"), "expected a positive duration"))
	}
	if m.Scheduler.Latency.Duration < 0 {
		errs = append(errs, invalid(p.Child("scheduler", "latency"), "expected a non-negative duration"))
	}
	if m.Scheduler.PercentageOfNodesToScore < 0 || m.Scheduler.PercentageOfNodesToScore > 100 {
		errs = append(errs, invalid(p.Child("scheduler", "percentageOfNodesToScore"), "expected 0..100"))
	}
	if m.Pods.ContainerStart.Duration < 0 {
		errs = append(errs, invalid(p.Child("pods", "containerStart"), "expected a non-negative duration"))
	}
	if m.Sampling.Interval.Duration <= 0 {
		errs = append(errs, invalid(p.Child("sampling", "interval"), "expected a positive duration"))
	}
	errs = append(errs, m.Network.validate(p.Child("network"))...)
	errs = append(errs, m.validateControlPlane(p)...)
	return append(errs, m.validateCron(p)...)
}
