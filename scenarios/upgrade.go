package scenarios

import (
	"fmt"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/faultline-dev/faultline/sim"
)

// ControlPlaneUpgrade is faultline's action object for a managed rolling upgrade of the control
// plane, written as the object of a spec.faults entry like a Chaos Mesh object (apiVersion
// faultline.dev/v1alpha1):
//
//	at: 1h
//	object:
//	  apiVersion: faultline.dev/v1alpha1
//	  kind: ControlPlaneUpgrade
//	  metadata: {name: master-1-13}
//	  spec: {version: 1.13.7-gke.8, timeout: 20m}
//
// It stands for what `gcloud container clusters upgrade --master` or a Terraform change of
// min_master_version asks of a managed provider: replace the apiserver instances one at a time
// with the new version, each only once the previous one is ready. Chaos Mesh has no such action,
// and a local or kind cluster cannot be upgraded in place: the simulator runs it, a real-cluster
// run reports it as not injectable.
type ControlPlaneUpgrade struct {
	metav1.TypeMeta   `json:",inline"`
	metav1.ObjectMeta `json:"metadata,omitempty"`
	Spec              ControlPlaneUpgradeSpec `json:"spec"`
}

// ControlPlaneUpgradeSpec is what the upgrade asks for.
type ControlPlaneUpgradeSpec struct {
	// Version is the target version (shown in traces).
	Version string `json:"version"`
	// Timeout is the client's time-out, after which it reports the upgrade failed (Terraform's
	// update timeout; the incident's was 20m). Default models.controlPlane.upgradeTimeout.
	Timeout *string `json:"timeout,omitempty"`
}

// actionKinds are the faultline.dev/v1alpha1 kinds spec.faults accepts beside Chaos Mesh's.
var actionKinds = map[string]func() any{
	"ControlPlaneUpgrade": func() any { return &ControlPlaneUpgrade{} },
}

func translateUpgrade(o *ControlPlaneUpgrade) (sim.Fault, string, error) {
	f := sim.Fault{Name: "ControlPlaneUpgrade/" + o.Name, Action: sim.ControlPlaneUpgrade, Version: o.Spec.Version}
	if o.Spec.Version == "" {
		return f, "spec.version", fmt.Errorf("missing; expected the target version, e.g. 1.13.7-gke.8")
	}
	if o.Spec.Timeout != nil && *o.Spec.Timeout != "" {
		d, err := time.ParseDuration(*o.Spec.Timeout)
		if err != nil || d <= 0 {
			return f, "spec.timeout", fmt.Errorf("%q is not a positive duration; expected e.g. 20m", *o.Spec.Timeout)
		}
		f.Timeout = d
	}
	return f, "", nil
}
