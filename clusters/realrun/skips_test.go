package realrun

import (
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/faultline-dev/faultline/measure"
)

// A skip Event folded by the event recorder counts the scheduled times it stands for, not its
// reports: the controller reports a skipped time again at every re-sync (a Job's update).
func TestSkippedTimesCountsScheduledTimesNotReports(t *testing.T) {
	every, err := measure.ParseSchedule("* * * * *", nil)
	require.NoError(t, err)
	at := func(hms string) time.Time {
		ts, err := time.Parse(time.DateTime, "2026-12-02 "+hms)
		require.NoError(t, err)
		return ts
	}
	ev := func(first, last string, count int32) *corev1.Event {
		return &corev1.Event{Reason: "JobAlreadyActive", Count: count,
			FirstTimestamp: metav1.NewTime(at(first)), LastTimestamp: metav1.NewTime(at(last))}
	}
	ran := map[time.Time]bool{at("10:02:00"): true}

	// reports from 10:00:05 to 10:04:30 refer to 10:00..10:04; 10:02 got its Job: 4 skipped
	assert.Equal(t, 4, skippedTimes(ev("10:00:05", "10:04:30", 23), every, ran))
	// never more than the reports
	assert.Equal(t, 2, skippedTimes(ev("10:00:05", "10:04:30", 2), every, ran))
	// one report, one skipped time
	assert.Equal(t, 1, skippedTimes(ev("10:03:00", "10:03:00", 1), every, ran))
	// at least one, also when every time in the span ran (a report races its own Job)
	assert.Equal(t, 1, skippedTimes(ev("10:02:10", "10:02:40", 5), every, ran))
	// no schedule known: the reports, as before
	assert.Equal(t, 7, skippedTimes(ev("10:00:05", "10:04:30", 7), measure.Schedule{}, ran))

	hourly, err := measure.ParseSchedule("30 * * * *", nil)
	require.NoError(t, err)
	// a report at 11:10 refers to 10:30; reports until 12:45 add 11:30 and 12:30
	assert.Equal(t, 3, skippedTimes(ev("11:10:00", "12:45:00", 40), hourly, nil))
}
