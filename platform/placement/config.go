package placement

import (
	"fmt"

	"k8s.io/apimachinery/pkg/api/resource"
)

// Config enables the placement components; nil ones are off.
type Config struct {
	Spread        *SpreadConfig        `json:"spread,omitempty"`
	Consolidation *ConsolidationConfig `json:"consolidation,omitempty"`
}

// Spread modes.
const (
	ModeAntiAffinity   = "antiAffinity"
	ModeTopologySpread = "topologySpread"
)

// SpreadConfig configures the spreading webhook.
type SpreadConfig struct {
	// CPUThreshold: a workload is CPU-heavy when one pod requests at least this much CPU (the sum
	// over its containers). Required.
	CPUThreshold resource.Quantity `json:"cpuThreshold"`
	// Mode is antiAffinity (required pod anti-affinity, default) or topologySpread (maxSkew 1,
	// DoNotSchedule).
	Mode string `json:"mode,omitempty"`
	// TopologyKey is the node label to spread over (default kubernetes.io/hostname).
	TopologyKey string `json:"topologyKey,omitempty"`
}

// ConsolidationConfig configures the consolidation of apps into shared pods.
type ConsolidationConfig struct {
	// Images maps a runtime requirement (AnnRuntime) to the image of the shared pods that run all
	// apps requiring it, e.g. php-8.2.10: registry.example/shared:php-8.2.10. Apps whose runtime is
	// not listed keep their own pods and image.
	Images map[string]string `json:"images"`
	// SharedReplicas is the replica count of each shared Deployment (default 2).
	SharedReplicas int32 `json:"sharedReplicas,omitempty"`
}

// Validate checks the configuration; the error starts with the field name.
func (c Config) Validate() error {
	if s := c.Spread; s != nil {
		if s.CPUThreshold.Sign() <= 0 {
			return fmt.Errorf("spread.cpuThreshold: expected a positive CPU quantity such as 500m")
		}
		if s.Mode != "" && s.Mode != ModeAntiAffinity && s.Mode != ModeTopologySpread {
			return fmt.Errorf("spread.mode: %q; expected %s or %s", s.Mode, ModeAntiAffinity, ModeTopologySpread)
		}
	}
	if s := c.Consolidation; s != nil {
		if len(s.Images) == 0 {
			return fmt.Errorf("consolidation.images: expected at least one runtime: image entry")
		}
		for rt, img := range s.Images {
			if rt == "" || img == "" {
				return fmt.Errorf("consolidation.images: %q: %q; expected a runtime and an image", rt, img)
			}
		}
	}
	return nil
}
