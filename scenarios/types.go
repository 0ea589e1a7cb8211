package scenarios

import (
	"encoding/json"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/faultline-dev/faultline/platform"
	"github.com/faultline-dev/faultline/sim"
)

// APIVersion and Kind identify a scenario file.
const (
	APIVersion = "faultline.dev/v1alpha1"
	Kind       = "Scenario"
)

// File is a scenario file as written.
type File struct {
	APIVersion string            `json:"apiVersion"`
	Kind       string            `json:"kind"`
	Metadata   metav1.ObjectMeta `json:"metadata"`
	Spec       Spec              `json:"spec"`
}

// Spec is the body of a scenario.
type Spec struct {
	// Start is the wall-clock instant the run begins (weekday and hour drive traffic profiles).
	// Default 2024-01-01T00:00:00Z.
	Start *metav1.Time `json:"start,omitempty"`
	// Duration of simulated time, e.g. 72h.
	Duration metav1.Duration `json:"duration"`
	// Seeds is the default number of Monte Carlo replications per variant.
	Seeds int `json:"seeds,omitempty"`
	// Cluster is the shape of the cluster and the model parameters.
	Cluster Cluster `json:"cluster"`
	// Objects are Kubernetes manifests, inline or {include: FILE} (a YAML stream, relative to the
	// scenario file; globs allowed).
	Objects []json.RawMessage `json:"objects,omitempty"`
	// Templates expand into many objects each (500 CronJobs with a schedule mix, say); see Template.
	Templates []Template `json:"templates,omitempty"`
	// Load says how much CPU workloads really use and how much traffic they get.
	Load []sim.Load `json:"load,omitempty"`
	// Faults are Chaos Mesh objects with a start time.
	Faults []FaultSpec `json:"faults,omitempty"`
	// Changes update objects at a time during the run, as `kubectl patch` would: a new image in a
	// Deployment's pod template starts a rolling update. See ChangeSpec.
	Changes []ChangeSpec `json:"changes,omitempty"`
	// Variants: the first is the baseline unless one is named "baseline".
	Variants []VariantSpec `json:"variants,omitempty"`
	// Objectives are what is scored, per variant, per seed.
	Objectives []Objective `json:"objectives,omitempty"`
	// RuleFiles are Prometheus rule files (alerting rules) next to the scenario, evaluated on
	// every run's series; each alert gives the indicators alert/<name>/detect-minutes and
	// alert/<name>/firing-minutes (package measure/promql).
	RuleFiles []string `json:"ruleFiles,omitempty"`
	// Platform deploys the platform under test (package platform) with the scenario; a variant
	// enables it with a spec patch. In simulation it runs inside the World (platform/simadapter).
	Platform *platform.Config `json:"platform,omitempty"`
}

// Cluster is the cluster's shape.
type Cluster struct {
	NodePools []sim.NodePool `json:"nodePools"`
	// Models overrides model parameters; see sim.DefaultModels for every default and its source.
	Models json.RawMessage `json:"models,omitempty"`
}

// FaultSpec is one Chaos Mesh object and when it starts.
type FaultSpec struct {
	At     metav1.Duration `json:"at"`
	Object json.RawMessage `json:"object"`
}

// ChangeSpec is a patch applied to an object at a time during the run (after the variant's
// patches): target KIND/NAME, type strategic (default), merge or json, as for variant patches.
// Only Deployments can change; a new pod template rolls out per spec.strategy.
type ChangeSpec struct {
	At    metav1.Duration `json:"at"`
	Patch `json:",inline"`
}

// VariantSpec is a named set of patches over the baseline.
type VariantSpec struct {
	Name        string  `json:"name"`
	Description string  `json:"description,omitempty"`
	Patches     []Patch `json:"patches,omitempty"`
}

// Patch changes one object, or the scenario spec itself when Target is "spec".
type Patch struct {
	// Target is KIND/NAME or KIND/NAMESPACE/NAME of an object (e.g. deployment/web), or "spec".
	Target string `json:"target"`
	// Type is strategic (default for objects), merge (RFC 7386; default for spec) or json (RFC 6902).
	Type string `json:"type,omitempty"`
	// Patch is the patch document: an object for strategic and merge, a list of operations for json.
	Patch json.RawMessage `json:"patch"`
}

// Objective is one scored indicator, or one PromQL query, with an optional target.
type Objective struct {
	Name string `json:"name"`
	// Indicator names what a run measures (see `faultline list --indicators`).
	Indicator string `json:"indicator,omitempty"`
	// PromQL, instead of an indicator, is a query evaluated at the end of each run over its
	// series (package measure/promql); it must give one value. $__range is the run's length.
	PromQL string `json:"promql,omitempty"`
	// Target like ">= 0.999" or "< 1": a seed violates the objective when its value misses it.
	Target string `json:"target,omitempty"`
	// Better is "higher" or "lower"; default from the indicator.
	Better string `json:"better,omitempty"`
	// Weight in the resilience score (default 1).
	Weight float64 `json:"weight,omitempty"`
}
