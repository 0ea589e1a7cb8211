package platform

import (
	"fmt"

	"github.com/faultline-dev/faultline/platform/cron"
	"github.com/faultline-dev/faultline/platform/placement"
)

// Config enables and configures the platform's components. A nil component is not deployed.
// It is a scenario's spec.platform and the `faultline platform run` configuration file.
type Config struct {
	Cron      *cron.Config      `json:"cron,omitempty"`
	Placement *placement.Config `json:"placement,omitempty"`
}

// Enabled reports whether any component is on.
func (c *Config) Enabled() bool { return c != nil && (c.Cron != nil || c.Placement != nil) }

// Validate checks the configuration; the error names the field.
func (c *Config) Validate() error {
	if c == nil {
		return nil
	}
	if c.Cron != nil {
		if err := c.Cron.Validate(); err != nil {
			return fmt.Errorf("platform.cron.%w", err)
		}
	}
	if c.Placement != nil {
		if err := c.Placement.Validate(); err != nil {
			return fmt.Errorf("platform.placement.%w", err)
		}
	}
	return nil
}
