package realrun

import (
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/faultline-dev/faultline/measure"
)

// A skip Event folded by the event recorder counts the scheduled times its reports refer to,
// once per CronJob, scheduled time and reason, as the simulator counts skip decisions: not its
// reports (the controller reports a skipped time again at every re-sync) and not only the two
// its timestamps name.
func TestSkipTicksCountsScheduledTimesNotReports(t *testing.T) {
	cj := func(name, schedule string) cronJob {
		s, err := measure.ParseSchedule(schedule, nil)
		require.NoError(t, err)
		return cronJob{cj: &batchv1.CronJob{ObjectMeta: metav1.ObjectMeta{Namespace: "apps", Name: name}, Spec: batchv1.CronJobSpec{Schedule: schedule}}, sched: s}
	}
	at := func(hms string) metav1.Time {
		ts, err := time.Parse(time.DateTime, "2026-12-02 "+hms)
		require.NoError(t, err)
		return metav1.NewTime(ts)
	}
	// the Event as one report leaves it: the recorder bumps count and lastTimestamp
	ev := func(name, reason, msg, first, last string, count int32) *corev1.Event {
		return &corev1.Event{InvolvedObject: corev1.ObjectReference{Kind: "CronJob", Namespace: "apps", Name: name},
			Reason: reason, Message: msg, Count: count, FirstTimestamp: at(first), LastTimestamp: at(last)}
	}
	const active = "Not starting job because prior execution is running and concurrency policy is Forbid"

	s := newSkipTicks([]cronJob{cj("a", "* * * * *"), cj("b", "* * * * *"), cj("h", "30 * * * *")})
	// app a: 10:01 skipped (reported at its tick and at two Job updates), its Job started late;
	// 10:02 skipped; 10:03 ran; 10:04 skipped: seven reports of one folded Event, three times
	for i, last := range []string{"10:01:00", "10:01:20", "10:01:45", "10:02:00", "10:02:30", "10:04:00", "10:04:59"} {
		s.event(ev("a", "JobAlreadyActive", active, "10:01:00", last, int32(i+1)))
	}
	assert.Equal(t, 3, s.count())
	// the final Event listed again adds nothing
	s.event(ev("a", "JobAlreadyActive", active, "10:01:00", "10:04:59", 7))
	assert.Equal(t, 3, s.count())

	// listed only (the watch missed its reports): its two timestamps, two times
	s.event(ev("b", "JobAlreadyActive", active, "10:01:01", "10:05:10", 12))
	assert.Equal(t, 5, s.count())
	// MissSchedule names its scheduled time; the same time with another reason is another decision
	s.event(ev("b", "MissSchedule", missPrefix+"Wed, 02 Dec 2026 10:01:00 +0000", "10:07:31", "10:09:02", 3))
	assert.Equal(t, 6, s.count())
	// an hourly schedule: reports at 11:10 and 12:45 refer to 10:30 and 12:30
	s.event(ev("h", "JobAlreadyActive", active, "11:10:00", "12:45:00", 40))
	assert.Equal(t, 8, s.count())
	// other reasons and kinds are not skips
	s.event(ev("a", "SawCompletedJob", "Saw completed job", "10:06:00", "10:06:00", 1))
	e := ev("a", "JobAlreadyActive", active, "10:07:00", "10:07:00", 1)
	e.InvolvedObject.Kind = "Job"
	s.event(e)
	assert.Equal(t, 8, s.count())
	// a CronJob faultline did not create: one decision per reported second
	s.event(ev("other", "JobAlreadyActive", active, "10:00:05", "10:00:05", 1))
	assert.Equal(t, 9, s.count())

	firsts := map[string]time.Time{}
	for _, f := range s.firsts() {
		firsts[f.cronJob] = f.at
	}
	assert.Equal(t, map[string]time.Time{"apps/a": at("10:01:00").Time, "apps/b": at("10:01:01").Time,
		"apps/h": at("11:10:00").Time, "apps/other": at("10:00:05").Time}, firsts)
}
