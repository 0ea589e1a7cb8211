package cron

import (
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	batchv1 "k8s.io/api/batch/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/utils/ptr"
)

var t0 = time.Date(2020, 3, 2, 10, 0, 0, 0, time.UTC)

func cronJob(schedule string, mut ...func(*batchv1.CronJob)) *batchv1.CronJob {
	cj := &batchv1.CronJob{
		ObjectMeta: metav1.ObjectMeta{Name: "job", Namespace: "ns", Annotations: map[string]string{AnnManaged: "true"}},
		Spec:       batchv1.CronJobSpec{Schedule: schedule, Suspend: ptr.To(true)},
	}
	for _, m := range mut {
		m(cj)
	}
	return cj
}

func TestDecide(t *testing.T) {
	tests := []struct {
		name string
		cj   *batchv1.CronJob
		st   State
		now  time.Time
		want Decision
	}{
		{
			name: "first sight owes nothing",
			cj:   cronJob("*/5 * * * *"),
			now:  t0.Add(2 * time.Minute),
			want: Decision{Last: t0.Add(2 * time.Minute), Next: t0.Add(5 * time.Minute)},
		},
		{
			name: "nothing due",
			cj:   cronJob("*/5 * * * *"),
			st:   State{Last: t0},
			now:  t0.Add(4 * time.Minute),
			want: Decision{Last: t0, Next: t0.Add(5 * time.Minute)},
		},
		{
			name: "due exactly at the scheduled time",
			cj:   cronJob("*/5 * * * *"),
			st:   State{Last: t0},
			now:  t0.Add(5 * time.Minute),
			want: Decision{Run: t0.Add(5 * time.Minute), Last: t0.Add(5 * time.Minute), Next: t0.Add(10 * time.Minute)},
		},
		{
			name: "101 missed starts: counted, the latest runs (no TooManyMissedStarts stall)",
			cj:   cronJob("* * * * *"),
			st:   State{Last: t0},
			now:  t0.Add(101*time.Minute + 30*time.Second),
			want: Decision{Run: t0.Add(101 * time.Minute), Missed: 100, Last: t0.Add(101 * time.Minute), Next: t0.Add(102 * time.Minute)},
		},
		{
			name: "startingDeadlineSeconds passed: the latest is skipped, missedDeadline",
			cj:   cronJob("*/5 * * * *", func(c *batchv1.CronJob) { c.Spec.StartingDeadlineSeconds = ptr.To[int64](30) }),
			st:   State{Last: t0},
			now:  t0.Add(6 * time.Minute),
			want: Decision{Skip: ReasonMissedDeadline, Skipped: t0.Add(5 * time.Minute), Last: t0.Add(5 * time.Minute), Next: t0.Add(10 * time.Minute)},
		},
		{
			name: "Forbid with an active Job skips",
			cj:   cronJob("*/5 * * * *", func(c *batchv1.CronJob) { c.Spec.ConcurrencyPolicy = batchv1.ForbidConcurrent }),
			st:   State{Last: t0, Active: []string{"a"}},
			now:  t0.Add(5 * time.Minute),
			want: Decision{Skip: ReasonConcurrencyPolicy, Skipped: t0.Add(5 * time.Minute), Last: t0.Add(5 * time.Minute), Next: t0.Add(10 * time.Minute)},
		},
		{
			name: "Replace deletes the active Jobs",
			cj:   cronJob("*/5 * * * *", func(c *batchv1.CronJob) { c.Spec.ConcurrencyPolicy = batchv1.ReplaceConcurrent }),
			st:   State{Last: t0, Active: []string{"a"}},
			now:  t0.Add(5 * time.Minute),
			want: Decision{Run: t0.Add(5 * time.Minute), Delete: []string{"a"}, Last: t0.Add(5 * time.Minute), Next: t0.Add(10 * time.Minute)},
		},
		{
			name: "an unstarted Job is superseded even under Forbid",
			cj:   cronJob("*/5 * * * *", func(c *batchv1.CronJob) { c.Spec.ConcurrencyPolicy = batchv1.ForbidConcurrent }),
			st:   State{Last: t0, Active: []string{"a"}, Unstarted: []string{"a"}},
			now:  t0.Add(5 * time.Minute),
			want: Decision{Run: t0.Add(5 * time.Minute), Missed: 1, Delete: []string{"a"}, Last: t0.Add(5 * time.Minute), Next: t0.Add(10 * time.Minute)},
		},
		{
			name: "paused owes nothing and is not requeued",
			cj:   cronJob("*/5 * * * *", func(c *batchv1.CronJob) { c.Annotations[AnnPaused] = "true" }),
			st:   State{Last: t0},
			now:  t0.Add(12 * time.Minute),
			want: Decision{Last: t0.Add(12 * time.Minute)},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			sch, err := ParseSchedule(tt.cj, 0)
			require.NoError(t, err)
			assert.Equal(t, tt.want, Decide(tt.cj, sch, tt.st, tt.now))
		})
	}
}

func TestJitter(t *testing.T) {
	t.Run("bounded by maxJitter and by the schedule's gap, fixed per CronJob", func(t *testing.T) {
		for _, tt := range []struct {
			schedule string
			max      time.Duration
			bound    time.Duration
		}{
			{"0 * * * *", 15 * time.Minute, 15 * time.Minute},
			{"* * * * *", 15 * time.Minute, time.Minute},
			{"*/5 * * * *", time.Hour, 5 * time.Minute},
		} {
			seen := map[time.Duration]bool{}
			for i := range 50 {
				cj := cronJob(tt.schedule)
				cj.Name = "job-" + string(rune('a'+i%26)) + string(rune('a'+i/26))
				s, err := ParseSchedule(cj, tt.max)
				require.NoError(t, err)
				assert.GreaterOrEqual(t, s.Offset, time.Duration(0))
				assert.Less(t, s.Offset, tt.bound, tt.schedule)
				s2, _ := ParseSchedule(cj, tt.max)
				assert.Equal(t, s.Offset, s2.Offset, "deterministic")
				seen[s.Offset] = true
			}
			assert.Greater(t, len(seen), 10, "offsets spread over the bound for %s", tt.schedule)
		}
	})
	t.Run("annotation overrides, 0 turns it off", func(t *testing.T) {
		cj := cronJob("0 * * * *", func(c *batchv1.CronJob) { c.Annotations[AnnJitter] = "0" })
		s, err := ParseSchedule(cj, time.Hour)
		require.NoError(t, err)
		assert.Zero(t, s.Offset)
		cj.Annotations[AnnJitter] = "soon"
		_, err = ParseSchedule(cj, time.Hour)
		assert.ErrorContains(t, err, AnnJitter)
	})
	t.Run("next times keep the period", func(t *testing.T) {
		s, err := ParseSchedule(cronJob("*/15 * * * *"), 10*time.Minute)
		require.NoError(t, err)
		a := s.Next(t0)
		b := s.Next(a)
		assert.Equal(t, 15*time.Minute, b.Sub(a))
		assert.Equal(t, s.Offset, a.Sub(t0.Truncate(15*time.Minute)))
	})
}

func TestConfigValidate(t *testing.T) {
	assert.NoError(t, Config{}.Validate())
	assert.ErrorContains(t, Config{MaxJitter: metav1.Duration{Duration: -time.Second}}.Validate(), "maxJitter")
	assert.ErrorContains(t, Config{QPS: -1}.Validate(), "qps")
}
