package sim

import (
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// The registry model on its own: deletion and roll-back at the image's offset, run-time
// resolution from ResolveFrom, brought forward (never back) by the first alert.
func TestImageRegistryResolveAndFixForward(t *testing.T) {
	d := func(h float64) time.Duration { return time.Duration(h * float64(time.Hour)) }
	g := newImageRegistry(Registry{Deletions: []ImageDeletion{{
		Images: "app-*", Start: metav1.Duration{Duration: d(1)}, RollbackAt: metav1.Duration{Duration: d(20)},
		ReplacedBy: "shared", ResolveAtRunTime: true, ResolveFrom: metav1.Duration{Duration: d(10)},
		FixAfterDetection: metav1.Duration{Duration: d(0.5)},
	}}})
	assert.False(t, g.missing("app-a", d(0.9)))
	assert.True(t, g.missing("app-a", d(1)))
	assert.False(t, g.missing("other", d(2)))
	assert.False(t, g.missing("app-a", d(20)), "rolled back")

	assert.Equal(t, "app-a", g.resolve("app-a", d(2)), "run-time resolution starts at ResolveFrom")
	assert.Equal(t, "shared", g.resolve("app-a", d(10)))
	assert.Equal(t, "other", g.resolve("other", d(10)))

	g.detected(d(3))
	assert.Equal(t, "app-a", g.resolve("app-a", d(3.4)))
	assert.Equal(t, "shared", g.resolve("app-a", d(3.5)), "fixed forward half an hour after the alert")
	g.detected(d(12))
	assert.Equal(t, "shared", g.resolve("app-a", d(3.5)), "a later alert does not move the fix back")

	plain := newImageRegistry(Registry{Deletions: []ImageDeletion{{Images: "app-*", ReplacedBy: "shared"}}})
	plain.detected(0)
	assert.Equal(t, "app-a", plain.resolve("app-a", d(5)), "without run-time resolution the CronJob's image stays")
}
