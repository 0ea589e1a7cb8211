package sim

import (
	"testing"
	"time"
)

// BenchmarkControlPlane is the webhook-blocked-upgrade loop, 3 hours: an unscoped Fail webhook
// whose backend hangs at 10 minutes, a master upgrade at 20 minutes (its instance crash-looping
// on the client-CA hook), the kubelets' renewals blocked and auto-repair recreating every node
// over and over: the control-plane models' work and the indicators derived from their record.
func BenchmarkControlPlane(b *testing.B) {
	in := webhookInput(10*time.Minute, 0, 20*time.Minute)
	in.Models.AutoRepair.Enabled = true
	b.ReportAllocs()
	for b.Loop() {
		if _, err := Run(in, 1, Options{}); err != nil {
			b.Fatal(err)
		}
	}
}
