package runner_test

import "testing"

// The webhook incident's event log (scenarios/webhook-blocked-upgrade/README.md): upgrade, hung backend, apiserver exits,
// NotReady nodes, the latency alert and the auto-repair loop. Regenerate with
// `go test ./scenarios/runner/ -run Golden -update` and review the diff.
func TestGoldenTraceWebhookBlockedUpgrade(t *testing.T) {
	checkGoldenTrace(t, "webhook-blocked-upgrade")
}
