package kind_test

import (
	"bytes"
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/faultline-dev/faultline/clusters/realrun"
	"github.com/faultline-dev/faultline/cmd/faultline/app/cli"
	"github.com/faultline-dev/faultline/cmd/faultline/app/run"
)

// registrySets compress scenarios/cron-deleted-images for kind through --set (both worlds get
// them): 2 nodes, 20 of the 400 apps, every app's CronJob every minute with 10 s runs and a
// 60 s deadline, the consolidation deleting the 20 per-app images from minute 1 over 2 minutes,
// the fix forward at minute 5, 8 minutes in all. CronJob schedules, the kubelet's pull back-off
// and Job deadlines keep real time, so the story is shortened rather than the clock scaled.
var registrySets = []string{
	"spec.cluster.nodePools[0].count=2",
	"spec.templates[0].count=20",
	`spec.templates[0].fields[0].choices=[{"value":"* * * * *","weight":1}]`,
	`spec.templates[0].object.metadata.annotations={"faultline.dev/run-time":"10s"}`,
	"spec.templates[0].object.spec.jobTemplate.spec.activeDeadlineSeconds=60",
	"spec.cluster.models.registry.deletions[0].start=1m",
	"spec.cluster.models.registry.deletions[0].over=2m",
	"spec.cluster.models.registry.deletions[0].resolveFrom=5m",
	"spec.duration=8m",
}

// TestKindRegistryE2E needs what TestKindE2E needs (FAULTLINE_E2E_KIND=1, root, the node image).
// cron-deleted-images through `faultline run --cluster kind`: a real registry on the kind
// network, the consolidation deleting the per-app images through its API, real kubelets pulling
// with imagePullPolicy Always. The baseline's Jobs fail on real pulls (ErrImagePull,
// ImagePullBackOff, then the Job's deadline); with the platform resolving each Job's image none
// fail; runtime-resolution leaves at most the race the model has (a Job created just before its
// image goes). Nothing is left on the machine afterwards.
//
// Cost: three throwaway 2-worker clusters one after the other, each measured at 9.5-10 minutes
// on a shared 2-core machine (about 40 s up, the registry and faultline-echo built and seeded,
// 8 minutes of run, clean-up): about 30 minutes warm; cold, building distribution's packages adds
// a minute or two (README.md, "A real registry on kind").
func TestKindRegistryE2E(t *testing.T) {
	if os.Getenv("FAULTLINE_E2E_KIND") == "" {
		t.Skip("the kind e2e runs with FAULTLINE_E2E_KIND=1 (make e2e-kind): it needs root, Docker packages and the node image")
	}
	before := snapshot(t)
	t.Setenv("XDG_STATE_HOME", t.TempDir())
	out := t.TempDir()
	if keep := os.Getenv("FAULTLINE_E2E_REGISTRY_OUT"); keep != "" { // the real runs' figures, kept for a results note
		out = keep
	}
	args := []string{"cron-deleted-images", "--cluster", "kind", "--seeds", "1", "--out", out,
		"--variant", "baseline", "--variant", "platform-resolution", "--variant", "runtime-resolution"}
	for _, s := range registrySets {
		args = append(args, "--set", s)
	}
	var stdout, stderr bytes.Buffer
	cmd := run.NewCommand(cli.Streams{Out: &stdout, Err: &stderr})
	cmd.SetArgs(args)
	cmd.SilenceUsage, cmd.SilenceErrors = true, true
	started := time.Now()
	err := cmd.ExecuteContext(t.Context())
	require.NoError(t, err, "stderr:\n%s", tail(stderr.String(), 60))
	t.Logf("cron-deleted-images: 3 real runs on throwaway kind clusters in %s\n%s", time.Since(started).Round(time.Second), stdout.String())

	var reports [][]*realrun.Report
	b, err := os.ReadFile(filepath.Join(out, "real-runs.json"))
	require.NoError(t, err)
	require.NoError(t, json.Unmarshal(b, &reports))
	pulls := map[string]int{}
	variants := []string{"baseline", "platform-resolution", "runtime-resolution"}
	for _, rs := range reports { // in the scenario's variant order, not --variant's
		for _, r := range rs {
			require.NotNil(t, r)
			assert.Empty(t, r.Invalid, r.Input)
			assert.Empty(t, r.NotInjected, r.Input)
			assert.True(t, strings.Contains(strings.Join(r.Injected, "\n"), "20 of 20 images deleted through the registry API"), "%s: %v", r.Input, r.Injected)
			require.Contains(t, variants, r.Input[strings.LastIndex(r.Input, "/")+1:], "the report's scenario/variant")
			pulls[r.Input[strings.LastIndex(r.Input, "/")+1:]] = r.ImagePullFailures
			t.Logf("%s: %d pods failed to pull; notes:\n  %s", r.Input, r.ImagePullFailures, strings.Join(r.Notes, "\n  "))
		}
	}
	got := readSeeds(t, filepath.Join(out, "seeds.csv"))
	for _, v := range variants {
		require.Contains(t, got, v)
		t.Logf("%s: %v", v, got[v])
	}
	assert.Positive(t, pulls["baseline"], "the kubelets failed to pull the deleted images")
	assert.GreaterOrEqual(t, got["baseline"]["failed-runs"], 10.0, "every app's Jobs fail from its image's deletion to the fix")
	assert.Positive(t, got["baseline"]["failure-span-hours"])
	// concurrencyPolicy Forbid: a Job failing on its pull runs to its 60 s deadline, past the next
	// minute's time, which the CronJob controller skips (JobAlreadyActive) and starts late
	assert.Positive(t, got["baseline"]["skipped-runs"], "the next minute's time skipped behind a failing Job")
	assert.Zero(t, pulls["platform-resolution"], "the platform's Jobs run the consolidated image")
	assert.Zero(t, got["platform-resolution"]["failed-runs"])
	assert.Less(t, got["runtime-resolution"]["failed-runs"], got["baseline"]["failed-runs"]/4, "resolution at run time leaves only the Jobs created just before their image went")

	// the registry container went with its cluster
	ps, err := exec.Command("docker", "ps", "-aq", "--filter", "label=io.faultline.kind.registry").Output()
	if err == nil {
		assert.Empty(t, strings.TrimSpace(string(ps)), "registry containers left behind")
	}
	after := snapshot(t)
	assert.Equal(t, before.links, after.links, "network interfaces")
	assert.Equal(t, before.iptables, after.iptables, "iptables rules")
}
