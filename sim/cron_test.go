package sim

import (
	"fmt"
	"math"
	"math/rand/v2"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/robfig/cron/v3"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"golang.org/x/time/rate"
	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"

	"github.com/faultline-dev/faultline/sim/trace"
)

func cronJobObj(name, schedule string, mut ...func(*batchv1.CronJob)) *batchv1.CronJob {
	always := corev1.ContainerRestartPolicyAlways
	cj := &batchv1.CronJob{
		ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: "default", Annotations: map[string]string{AnnRunTime: "20s"}},
		Spec: batchv1.CronJobSpec{
			Schedule: schedule,
			JobTemplate: batchv1.JobTemplateSpec{Spec: batchv1.JobSpec{Template: corev1.PodTemplateSpec{
				ObjectMeta: metav1.ObjectMeta{Labels: map[string]string{"cron": name}},
				Spec: corev1.PodSpec{
					RestartPolicy: corev1.RestartPolicyNever,
					InitContainers: []corev1.Container{{Name: "envoy", Image: "envoy:v1.30", RestartPolicy: &always,
						Resources: corev1.ResourceRequirements{Requests: corev1.ResourceList{corev1.ResourceCPU: resource.MustParse("50m")}}}},
					Containers: []corev1.Container{{Name: "app", Image: "registry.example/app-" + name + ":v1",
						Resources: corev1.ResourceRequirements{Requests: corev1.ResourceList{corev1.ResourceCPU: resource.MustParse("100m")}}}},
				},
			}}},
		},
	}
	for _, m := range mut {
		m(cj)
	}
	return cj
}

func cronInput(controller string, d time.Duration, objs ...runtime.Object) *Input {
	in := input(3, objs...)
	in.Duration = d
	in.Models.CronJob.Controller = controller
	return in
}

func outage(at, d time.Duration) Fault {
	return Fault{Name: "PodChaos/kcm-down", Action: ControllerManagerDown, At: at, Duration: d}
}

func get(t *testing.T, r Result, name string) float64 {
	t.Helper()
	v, ok := r.Get(name)
	require.True(t, ok, "indicator %s", name)
	return v
}

// jobsCreatedAfter counts Job creations in the trace after virtual time at.
func runsStartedAfter(t *testing.T, in *Input, at time.Duration) int {
	t.Helper()
	n := 0
	w, err := New(in, 1, Options{OnRun: func(r RunRecord) {
		if r.Scheduled.Sub(t0) > at {
			n++
		}
	}})
	require.NoError(t, err)
	w.Run()
	return n
}

func TestV1StallsAtThe101stMissedStart(t *testing.T) {
	// every minute; the 00:01 run is created before the outage, which starts at 00:01:30. Coming
	// back after 00:N:30 leaves the start times 00:02 .. 00:N unmet.
	for _, tc := range []struct {
		name    string
		missed  int
		stalled float64
	}{
		{"100 missed: the latest runs", 100, 0},
		{"101 missed: stuck for good", 101, 1},
	} {
		t.Run(tc.name, func(t *testing.T) {
			down := time.Duration(tc.missed) * time.Minute
			in := cronInput("v1", 4*time.Hour, cronJobObj("every-minute", "* * * * *"))
			in.Faults = []Fault{outage(90*time.Second, down)}
			r, evs, _ := eventsOf(t, in, 1)
			assert.Equal(t, tc.stalled, get(t, r, "stalled-cronjobs"))
			after := runsStartedAfter(t, in, 90*time.Second+down)
			if tc.stalled == 1 {
				assert.NotEmpty(t, trace.Of[trace.CronFailedNeedsStart](evs))
				assert.Zero(t, after, "a stalled CronJob creates no Job")
				assert.Equal(t, 1.0, get(t, r, "skipped-runs"), "the stall is one error decision")
			} else {
				assert.Empty(t, trace.Of[trace.CronFailedNeedsStart](evs))
				assert.Greater(t, after, 100, "runs go on every minute")
			}
		})
	}
}

func TestV2KeepsRunningAfterTooManyMissed(t *testing.T) {
	in := cronInput("v2", 4*time.Hour, cronJobObj("every-minute", "* * * * *"))
	in.Faults = []Fault{outage(90*time.Second, 150*time.Minute)}
	r, evs, _ := eventsOf(t, in, 1)
	assert.NotEmpty(t, trace.Of[trace.CronTooManyMissed](evs))
	assert.Zero(t, get(t, r, "stalled-cronjobs"))
	assert.Greater(t, runsStartedAfter(t, in, 90*time.Second+150*time.Minute), 80)
}

func TestV1WithDeadlineDoesNotStall(t *testing.T) {
	sds := int64(200)
	in := cronInput("v1", 4*time.Hour, cronJobObj("every-minute", "* * * * *", func(c *batchv1.CronJob) { c.Spec.StartingDeadlineSeconds = &sds }))
	in.Faults = []Fault{outage(90*time.Second, 150*time.Minute)}
	r, _, _ := eventsOf(t, in, 1)
	assert.Zero(t, get(t, r, "stalled-cronjobs"))
	assert.Greater(t, runsStartedAfter(t, in, 90*time.Second+150*time.Minute), 80)
}

func TestDeadlineSkip(t *testing.T) {
	// a 25 s poll sees the 00:01 start at 00:01:15, past a 5 s deadline: skipped, never run
	sds := int64(5)
	in := cronInput("v1", 30*time.Minute, cronJobObj("tight", "* * * * *", func(c *batchv1.CronJob) { c.Spec.StartingDeadlineSeconds = &sds }))
	in.Models.CronJob.SyncPeriod = metav1.Duration{Duration: 25 * time.Second}
	r, evs, _ := eventsOf(t, in, 1)
	assert.NotEmpty(t, trace.Times(evs, func(e trace.CronRunSkipped) bool { return e.Reason == "missedDeadline" }))
	assert.Positive(t, get(t, r, "skipped-runs"))
	assert.Positive(t, get(t, r, "missed-schedules"))
	assert.Less(t, get(t, r, "start-delay-max-seconds"), 5+10.0, "what runs started within its deadline plus the pipeline")
}

func TestForbidSkip(t *testing.T) {
	// runs take 60-180 s, scheduled every minute: the next start finds the previous Job active
	in := cronInput("v2", time.Hour, cronJobObj("slow", "* * * * *", func(c *batchv1.CronJob) {
		c.Spec.ConcurrencyPolicy = batchv1.ForbidConcurrent
		c.Annotations[AnnRunTime] = "2m"
	}))
	r, evs, _ := eventsOf(t, in, 1)
	assert.NotEmpty(t, trace.Times(evs, func(e trace.CronRunSkipped) bool { return e.Reason == "concurrencyPolicy" }))
	assert.Positive(t, get(t, r, "skipped-runs"))
	assert.Positive(t, get(t, r, "missed-schedules"))
	allow := cronInput("v2", time.Hour, cronJobObj("slow", "* * * * *", func(c *batchv1.CronJob) { c.Annotations[AnnRunTime] = "2m" }))
	ra, _, _ := eventsOf(t, allow, 1)
	assert.Zero(t, get(t, ra, "skipped-runs"))
	assert.Greater(t, get(t, ra, "cron-runs-started"), get(t, r, "cron-runs-started"))
}

func TestRobfigDayOfMonthOrDayOfWeek(t *testing.T) {
	next := func(spec string, n int) []string {
		s, err := cron.ParseStandard(spec)
		require.NoError(t, err)
		var out []string
		for tm := t0; len(out) < n; {
			tm = s.Next(tm)
			out = append(out, tm.Format("Mon 02"))
		}
		return out
	}
	// both restricted: either may match (Fridays, and the 13th whatever its weekday)
	assert.Equal(t, []string{"Fri 05", "Fri 12", "Sat 13", "Fri 19"}, next("0 0 13 * 5", 4))
	// day-of-month is *: only the day of week counts
	assert.Equal(t, []string{"Fri 05", "Fri 12", "Fri 19"}, next("0 0 * * 5", 3))
}

func TestTimeZone(t *testing.T) {
	tz := "America/New_York"
	in := cronInput("v2", 24*time.Hour, cronJobObj("ny", "0 9 * * *", func(c *batchv1.CronJob) { c.Spec.TimeZone = &tz }))
	var got []time.Time
	w, err := New(in, 1, Options{OnRun: func(r RunRecord) { got = append(got, r.Scheduled) }})
	require.NoError(t, err)
	w.Run()
	require.Len(t, got, 1)
	assert.Equal(t, 14, got[0].UTC().Hour(), "09:00 in New York in January is 14:00 UTC")
}

func TestStartDelayDecompositionAddsUp(t *testing.T) {
	var objs []runtime.Object
	for i := range 60 {
		objs = append(objs, cronJobObj(fmt.Sprintf("c%02d", i), []string{"0 * * * *", "*/15 * * * *", "*/5 * * * *"}[i%3]))
	}
	for _, ctl := range []string{"v1", "v2"} {
		t.Run(ctl, func(t *testing.T) {
			in := cronInput(ctl, 3*time.Hour, objs...)
			in.Models.APIServer.ControllerManagerQPS = 5
			in.Models.APIServer.ControllerManagerBurst = 10
			n := 0
			var controller, toPod, toBind, toRun []float64
			w, err := New(in, 1, Options{OnRun: func(r RunRecord) {
				n++
				controller = append(controller, r.Controller.Seconds())
				toPod = append(toPod, r.JobController.Seconds())
				toBind = append(toBind, (r.Admission + r.Scheduling).Seconds())
				toRun = append(toRun, (r.ImagePull + r.Sidecars + r.AppStart).Seconds())
				sum := r.Controller + r.JobController + r.Admission + r.Scheduling + r.ImagePull + r.Sidecars + r.AppStart
				require.Equal(t, r.Delay, sum, "%+v", r)
				for _, part := range []time.Duration{r.Controller, r.JobController, r.Admission, r.Scheduling, r.ImagePull, r.Sidecars, r.AppStart} {
					require.GreaterOrEqual(t, part, time.Duration(0), "%+v", r)
				}
				require.Equal(t, 2*time.Second, r.Sidecars, "one sidecar")
			}})
			require.NoError(t, err)
			res := w.Run()
			assert.Equal(t, float64(n), get(t, res, "cron-runs-started"))
			assert.Greater(t, n, 400)
			// the Job-creation delay is the controller's share of the start delay
			slices.Sort(controller)
			assert.GreaterOrEqual(t, get(t, res, "job-create-delay-max-seconds"), controller[len(controller)-1]-1e-3, "every started run's Job is among the created Jobs (float32 quantiles)")
			assert.Greater(t, get(t, res, "job-create-delay-p99-seconds"), 0.0)
			assert.Less(t, get(t, res, "job-create-delay-p50-seconds"), get(t, res, "start-delay-p50-seconds"))
			// the step indicators are the quantiles of the decomposition's parts (nearest rank)
			for _, c := range []struct {
				name  string
				parts []float64
			}{{"pod-create-delay", toPod}, {"pod-bind-delay", toBind}, {"pod-run-delay", toRun}} {
				slices.Sort(c.parts)
				for _, q := range []struct {
					suffix string
					q      float64
				}{{"-p50-seconds", 0.5}, {"-p99-seconds", 0.99}} {
					i := max(0, int(q.q*float64(len(c.parts))+0.999999)-1)
					assert.InDelta(t, c.parts[i], get(t, res, c.name+q.suffix), 1e-3, c.name+q.suffix)
				}
			}
			assert.Greater(t, get(t, res, "pod-run-delay-p50-seconds"), 0.0, "the kubelet's part takes time")
			assert.Contains(t, string(res.Metrics), "cron_start_delay_seconds_bucket")
			assert.True(t, strings.HasSuffix(string(res.Metrics), "# EOF\n"))
		})
	}
}

func TestV1PassGrowsWithCronJobCount(t *testing.T) {
	p99 := func(n int) float64 {
		var objs []runtime.Object
		for i := range n {
			objs = append(objs, cronJobObj(fmt.Sprintf("c%03d", i), "0 * * * *"))
		}
		in := cronInput("v1", 2*time.Hour+time.Minute, objs...)
		in.Pools[0].Count = 10
		r, err := Run(in, 1, Options{})
		require.NoError(t, err)
		return get(t, r, "start-delay-p99-seconds")
	}
	small, large := p99(50), p99(500)
	assert.Greater(t, large, small+10, "500 CronJobs at 20 QPS: a pass takes over 25 s (50: %.1fs, 500: %.1fs)", small, large)
}

func TestMissingImageFailsUntilResolvedAtRunTime(t *testing.T) {
	ads := int64(300)
	mk := func(resolve bool) Result {
		in := cronInput("v2", 6*time.Hour, cronJobObj("app1", "*/10 * * * *", func(c *batchv1.CronJob) {
			c.Spec.JobTemplate.Spec.ActiveDeadlineSeconds = &ads
			c.Spec.JobTemplate.Spec.Template.Spec.Containers[0].ImagePullPolicy = corev1.PullAlways
		}))
		in.Models.Registry.Deletions = []ImageDeletion{{
			Images: "registry.example/app-*", Start: metav1.Duration{Duration: time.Hour},
			ReplacedBy: "registry.example/shared:php-8.2", ResolveAtRunTime: resolve,
		}}
		r, evs, _ := eventsOf(t, in, 1)
		if !resolve {
			assert.NotEmpty(t, trace.Of[trace.ImagePullFailed](evs))
		}
		return r
	}
	assert.InDelta(t, 30, get(t, mk(false), "failed-runs"), 1, "every run from 01:00 on fails at its deadline")
	assert.Zero(t, get(t, mk(true), "failed-runs"))
}

func TestTokenBucketMatchesRate(t *testing.T) {
	b := newTokenBucket(20, 30)
	l := rate.NewLimiter(20, 30)
	at := []time.Duration{0, 0, 0, 10 * time.Millisecond, time.Second, time.Second, 3 * time.Second}
	for i := range 200 {
		at = append(at, 3*time.Second+time.Duration(i)*7*time.Millisecond)
	}
	for _, a := range at {
		got := b.take(a)
		r := l.ReserveN(t0.Add(a), 1)
		want := a + r.DelayFrom(t0.Add(a))
		assert.InDelta(t, float64(want), float64(got), float64(time.Microsecond), "at %v", a)
	}
}

// TestTokenBucketReuseIsExact checks take, which reuses the last refill's and wait's results,
// against the same arithmetic done in full for every request, to the nanosecond and the float64
// bit: serial chains in debt (each request issued when the one before completed, the v1
// controller's pass), bursts at one instant, idle gaps that refill the bucket, and random gaps.
func TestTokenBucketReuseIsExact(t *testing.T) {
	for _, qps := range []float64{20, 7.3, 50, 1000} {
		b := newTokenBucket(qps, 30)
		ref := *b
		full := func(at time.Duration) time.Duration {
			if at > ref.last {
				ref.tokens += float64(at-ref.last) / ref.interval
				if ref.tokens > ref.burst {
					ref.tokens = ref.burst
				}
				ref.last = at
			} else {
				at = ref.last
			}
			ref.tokens--
			if ref.tokens >= 0 {
				return at
			}
			return at + time.Duration(-ref.tokens*ref.interval)
		}
		rng := rand.New(rand.NewPCG(uint64(qps), 1))
		at := time.Duration(0)
		for i := range 20000 {
			switch {
			case i%5000 < 3000: // a serial chain: the next request when this one completed
				want := full(at)
				require.Equal(t, want, b.take(at), "chain, qps %v request %d", qps, i)
				require.Equal(t, math.Float64bits(ref.tokens), math.Float64bits(b.tokens))
				at = want + 3*time.Millisecond
				continue
			case i%5000 < 3100: // a burst at one instant
			case i%5000 == 3100: // idle: the bucket fills up
				at += time.Hour
			default:
				at += time.Duration(rng.Int64N(int64(200 * time.Millisecond)))
			}
			require.Equal(t, full(at), b.take(at), "qps %v request %d", qps, i)
			require.Equal(t, math.Float64bits(ref.tokens), math.Float64bits(b.tokens))
		}
	}
}

func TestCronRunIsDeterministic(t *testing.T) {
	var objs []runtime.Object
	for i := range 30 {
		objs = append(objs, cronJobObj(fmt.Sprintf("c%02d", i), "*/5 * * * *", func(c *batchv1.CronJob) { c.Annotations[AnnFailureRatio] = "0.2" }))
	}
	in := cronInput("v1", 2*time.Hour, objs...)
	a, b := textTrace(t, in, 7), textTrace(t, in, 7)
	require.NotEmpty(t, a)
	assert.Equal(t, a, b)
}

func TestCronSchedFastPath(t *testing.T) {
	specs := []string{"0 * * * *", "*/15 * * * *", "7-59/10 * * * *", "* * * * *", "59 * * * *", "3,17,44 * * * *", "@hourly", "0 9 * * *", "0 0 13 * 5"}
	for _, spec := range specs {
		s, err := cron.ParseStandard(spec)
		require.NoError(t, err)
		fast := newCronSched(s, time.UTC)
		tm := t0.Add(-17 * time.Second)
		for range 3000 {
			want := s.Next(tm.In(time.UTC))
			got := fast.Next(tm)
			require.True(t, want.Equal(got), "%s after %v: %v, robfig %v", spec, tm, got, want)
			tm = tm.Add(37 * time.Second)
			if tm.Second()%3 == 0 {
				tm = want // also exactly at an activation
			}
		}
	}
	s, _ := cron.ParseStandard("*/15 * * * *")
	assert.True(t, newCronSched(s, time.UTC).fast)
	s, _ = cron.ParseStandard("0 9 * * *")
	assert.False(t, newCronSched(s, time.UTC).fast)
}
