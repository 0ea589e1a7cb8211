package sim

import (
	"path"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/validation/field"
)

// APIServer holds the API server and client-side rate-limit parameters
// (docs/upstream.md "Client rate limits").
type APIServer struct {
	// ControllerManagerQPS and ControllerManagerBurst are each kube-controller-manager controller
	// client's token bucket (--kube-api-qps 20, --kube-api-burst 30; per controller: inferred).
	ControllerManagerQPS   float64 `json:"controllerManagerQPS"`
	ControllerManagerBurst int     `json:"controllerManagerBurst"`
	// SchedulerQPS and SchedulerBurst are kube-scheduler's client (50 / 100); the Binding of a
	// Job's pod goes through it.
	SchedulerQPS   float64 `json:"schedulerQPS"`
	SchedulerBurst int     `json:"schedulerBurst"`
	// RequestLatency is the server-side time of one write or GET (faultline choice).
	RequestLatency metav1.Duration `json:"requestLatency"`
	// ListLatencyPerObject is the extra LIST time per object returned (faultline choice): LIST cost
	// grows with the object count.
	ListLatencyPerObject metav1.Duration `json:"listLatencyPerObject"`
	// ListPageSize is the pager's page size (client-go pager default 500).
	ListPageSize int `json:"listPageSize"`
}

func defaultAPIServer() APIServer {
	return APIServer{
		ControllerManagerQPS:   20,                                               // kube-controller-manager --kube-api-qps
		ControllerManagerBurst: 30,                                               // kube-controller-manager --kube-api-burst
		SchedulerQPS:           50,                                               // kube-scheduler --kube-api-qps
		SchedulerBurst:         100,                                              // kube-scheduler --kube-api-burst
		RequestLatency:         metav1.Duration{Duration: 5 * time.Millisecond},  // faultline choice
		ListLatencyPerObject:   metav1.Duration{Duration: 20 * time.Microsecond}, // faultline choice
		ListPageSize:           500,                                              // client-go tools/pager default
	}
}

// CronJobModel selects and tunes the CronJob controller.
type CronJobModel struct {
	// Controller is "v1" (the legacy 10 s syncAll poller, default up to 1.20) or "v2" (informers
	// and a work queue, default from 1.21).
	Controller string `json:"controller"`
	// SyncPeriod is v1's wait.Until period (10 s).
	SyncPeriod metav1.Duration `json:"syncPeriod"`
	// Workers is v2's --concurrent-cron-job-syncs (5).
	Workers int `json:"workers"`
	// MaxMissed is the missed-start count past which v1 stalls and v2 warns (100).
	MaxMissed int `json:"maxMissed"`
	// RequeueDelay is what v2 adds to the next schedule time when it requeues (100 ms).
	RequeueDelay metav1.Duration `json:"requeueDelay"`
}

func defaultCronJob() CronJobModel {
	return CronJobModel{
		Controller:   "v2",                                              // upstream default from 1.21
		SyncPeriod:   metav1.Duration{Duration: 10 * time.Second},       // cronjob_controller.go wait.Until(syncAll, 10s)
		Workers:      5,                                                 // --concurrent-cron-job-syncs
		MaxMissed:    100,                                               // getRecentUnmetScheduleTimes / mostRecentScheduleTime
		RequeueDelay: metav1.Duration{Duration: 100 * time.Millisecond}, // nextScheduleTimeDuration
	}
}

// JobModel tunes the Job controller.
type JobModel struct {
	// BackoffBase and BackoffMax bound the pod-failure back-off (10 s doubling, capped at 6 min in
	// the docs; 10 min in newer code).
	BackoffBase metav1.Duration `json:"backoffBase"`
	BackoffMax  metav1.Duration `json:"backoffMax"`
	// Writes are the Job controller's API requests per run besides creating pods, each through
	// its rate-limited client (the one that creates the pods, so a burst of Jobs delays the next
	// pods): with pod tracking by finalizers (GA 1.26, KEP-2307) every sync that changes the
	// status writes it, and every finished pod costs the finalizer's removal.
	Writes JobWrites `json:"writes"`
}

// JobWrites counts the Job controller's requests at each point of a run.
type JobWrites struct {
	// Sync follows each pod creation: status.active and startTime.
	Sync int `json:"sync"`
	// Ready is the pod becoming ready: status.ready.
	Ready int `json:"ready"`
	// Finish is each pod that ends: its UID into status.uncountedTerminatedPods, its
	// batch.kubernetes.io/job-tracking finalizer removed, the counts and conditions written.
	Finish int `json:"finish"`
}

func defaultJob() JobModel {
	return JobModel{
		BackoffBase: metav1.Duration{Duration: 10 * time.Second}, // job controller DefaultJobPodFailureBackOff
		BackoffMax:  metav1.Duration{Duration: 6 * time.Minute},  // docs: capped at six minutes
		Writes:      JobWrites{Sync: 1, Ready: 1, Finish: 3},     // job_controller.go syncJob, trackJobStatusAndRemoveFinalizers
	}
}

// PodStart times the pod start pipeline of a Job's pod, step by step.
type PodStart struct {
	// Admission is the time the admission chain takes, sidecar injection included (faultline
	// choice; a mutating webhook call).
	Admission metav1.Duration `json:"admission"`
	// PullTime is the time to pull one image not in the node's cache (faultline choice).
	PullTime metav1.Duration `json:"pullTime"`
	// PullBackoffBase and PullBackoffMax are the kubelet's image pull back-off (10 s → 300 s).
	PullBackoffBase metav1.Duration `json:"pullBackoffBase"`
	PullBackoffMax  metav1.Duration `json:"pullBackoffMax"`
	// RegistryPullQPS and RegistryBurst are the kubelet's registryPullQPS and registryBurst.
	RegistryPullQPS float64 `json:"registryPullQPS"`
	RegistryBurst   int     `json:"registryBurst"`
	// SidecarStart is the time from starting a sidecar until it is ready, per sidecar, in order
	// (faultline choice; Lyft names sidecar start among the biggest contributors).
	SidecarStart metav1.Duration `json:"sidecarStart"`
	// AppStart is from starting the app container to it running (sandbox and process start).
	AppStart metav1.Duration `json:"appStart"`
}

func defaultPodStart() PodStart {
	return PodStart{
		Admission:       metav1.Duration{Duration: 50 * time.Millisecond},  // faultline choice
		PullTime:        metav1.Duration{Duration: 5 * time.Second},        // faultline choice
		PullBackoffBase: metav1.Duration{Duration: 10 * time.Second},       // kubelet image back-off
		PullBackoffMax:  metav1.Duration{Duration: 300 * time.Second},      // kubelet image back-off cap
		RegistryPullQPS: 5,                                                 // kubelet registryPullQPS
		RegistryBurst:   10,                                                // kubelet registryBurst
		SidecarStart:    metav1.Duration{Duration: 2 * time.Second},        // faultline choice
		AppStart:        metav1.Duration{Duration: 500 * time.Millisecond}, // faultline choice
	}
}

// Registry is the image registry: every image exists unless a deletion removed it.
type Registry struct {
	Deletions []ImageDeletion `json:"deletions,omitempty"`
}

// ImageDeletion removes the images matching Images (a path.Match glob) during a rollout: each
// image is deleted at Start plus a fraction of Over fixed by a hash of its name (the order in which
// a rollout walks the projects), so the same image goes at the same instant in every seed and
// variant. A roll-back (RollbackAt > 0) restores the images in the same order over the same span,
// starting at RollbackAt.
type ImageDeletion struct {
	Images string          `json:"images"`
	Start  metav1.Duration `json:"start"`
	Over   metav1.Duration `json:"over"`
	// First lists globs of images the rollout takes first, at Start (a canary project).
	First []string `json:"first,omitempty"`
	// ReplacedBy is the image a platform resolving images at run time uses once an image is gone
	// (the consolidated shared image).
	ReplacedBy string          `json:"replacedBy,omitempty"`
	RollbackAt metav1.Duration `json:"rollbackAt,omitempty"`
	// ResolveAtRunTime: the platform resolves app → image when it creates each Job, from
	// ResolveFrom on (0: from the start; the fix-forward time otherwise).
	ResolveAtRunTime bool            `json:"resolveAtRunTime,omitempty"`
	ResolveFrom      metav1.Duration `json:"resolveFrom,omitempty"`
	// FixAfterDetection, when set, brings run-time resolution forward to the first alert plus
	// this long (the team fixes forward once it knows), if that is earlier than ResolveFrom.
	FixAfterDetection metav1.Duration `json:"fixAfterDetection,omitempty"`
}

// Alerts is how cron failures are noticed: Prometheus scrapes the cron metrics every
// ScrapeInterval and Lyft's default alerts (rate(skip) > 0, rate(failure) > 0) fire at the first
// scrape that sees an increase of a watched CronJob (annotation faultline.dev/alert: "true").
type Alerts struct {
	ScrapeInterval metav1.Duration `json:"scrapeInterval"`
}

func defaultAlerts() Alerts {
	return Alerts{ScrapeInterval: metav1.Duration{Duration: 30 * time.Second}} // faultline choice (common scrape interval)
}

func (m Models) validateCron(p *field.Path) field.ErrorList {
	var errs field.ErrorList
	a, c, j, ps := m.APIServer, m.CronJob, m.Job, m.PodStart
	if a.ControllerManagerQPS <= 0 || a.ControllerManagerBurst < 1 {
		errs = append(errs, invalid(p.Child("apiServer", "controllerManagerQPS"), "expected QPS > 0 and burst >= 1"))
	}
	if a.SchedulerQPS <= 0 || a.SchedulerBurst < 1 {
		errs = append(errs, invalid(p.Child("apiServer", "schedulerQPS"), "expected QPS > 0 and burst >= 1"))
	}
	if a.RequestLatency.Duration < 0 || a.ListLatencyPerObject.Duration < 0 {
		errs = append(errs, invalid(p.Child("apiServer", "requestLatency"), "expected non-negative latencies"))
	}
	if a.ListPageSize < 1 {
		errs = append(errs, invalid(p.Child("apiServer", "listPageSize"), "expected >= 1"))
	}
	if c.Controller != "v1" && c.Controller != "v2" {
		errs = append(errs, invalid(p.Child("cronJob", "controller"), "%q; expected v1 or v2", c.Controller))
	}
	if c.SyncPeriod.Duration <= 0 {
		errs = append(errs, invalid(p.Child("cronJob", "syncPeriod"), "expected a positive duration"))
	}
	if c.Workers < 1 {
		errs = append(errs, invalid(p.Child("cronJob", "workers"), "expected >= 1"))
	}
	if c.MaxMissed < 1 {
		errs = append(errs, invalid(p.Child("cronJob", "maxMissed"), "expected >= 1"))
	}
	if j.BackoffBase.Duration <= 0 || j.BackoffMax.Duration < j.BackoffBase.Duration {
		errs = append(errs, invalid(p.Child("job", "backoffBase"), "expected 0 < backoffBase <= backoffMax"))
	}
	if j.Writes.Sync < 0 || j.Writes.Ready < 0 || j.Writes.Finish < 0 {
		errs = append(errs, invalid(p.Child("job", "writes"), "expected non-negative request counts"))
	}
	if ps.PullBackoffBase.Duration <= 0 || ps.PullBackoffMax.Duration < ps.PullBackoffBase.Duration {
		errs = append(errs, invalid(p.Child("podStart", "pullBackoffBase"), "expected 0 < pullBackoffBase <= pullBackoffMax"))
	}
	if ps.RegistryPullQPS <= 0 || ps.RegistryBurst < 1 {
		errs = append(errs, invalid(p.Child("podStart", "registryPullQPS"), "expected QPS > 0 and burst >= 1"))
	}
	if ps.Admission.Duration < 0 || ps.PullTime.Duration < 0 || ps.SidecarStart.Duration < 0 || ps.AppStart.Duration < 0 {
		errs = append(errs, invalid(p.Child("podStart"), "expected non-negative durations"))
	}
	if m.Alerts.ScrapeInterval.Duration <= 0 {
		errs = append(errs, invalid(p.Child("alerts", "scrapeInterval"), "expected a positive duration"))
	}
	for i, d := range m.Registry.Deletions {
		dp := p.Child("registry", "deletions").Index(i)
		if _, err := path.Match(d.Images, ""); err != nil || d.Images == "" {
			errs = append(errs, invalid(dp.Child("images"), "%q is not a glob", d.Images))
		}
		if d.Over.Duration < 0 || d.Start.Duration < 0 {
			errs = append(errs, invalid(dp.Child("over"), "expected non-negative durations"))
		}
	}
	return errs
}
