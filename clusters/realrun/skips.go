package realrun

import (
	"fmt"
	"strings"
	"sync"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/informers"
	"k8s.io/client-go/tools/cache"

	"github.com/faultline-dev/faultline/measure"
)

// The CronJob controller (v2, pkg/controller/cronjob/cronjob_controllerv2.go syncCronJob)
// reports a skip as an Event: JobAlreadyActive when concurrencyPolicy Forbid meets an active
// Job, MissSchedule when the scheduled time is past startingDeadlineSeconds. Neither advances
// lastScheduleTime, so every re-sync of the CronJob (each update of one of its Jobs enqueues it)
// reports the most recent unmet scheduled time again, and when the active Job ends the same
// re-sync creates the skipped time's Job late. The event recorder folds the repeats of one
// reason and message into one Event whose count and lastTimestamp go up, across scheduled times
// too (JobAlreadyActive's message names none): its count is reports (on kind 216 for 52
// skipped times) and its two timestamps name only the first and the last.
//
// The simulator counts a skip decision once per CronJob, scheduled time and reason (sim
// cronSkip), also when that time's Job starts late afterwards. So the real run watches the
// CronJobs' Events and takes the scheduled time each report refers to: JobAlreadyActive's is the
// latest instant of the schedule at or before the report (the controller's most recent unmet
// time; lastTimestamp has whole seconds, the schedules whole minutes), MissSchedule's is in its
// message. Reports the event recorder's spam filter drops (25 per CronJob, then one per 5
// minutes, all reasons together) are not seen in either world's sense: a real limitation.

// skipTicks is the set of skipped scheduled times seen, per CronJob and reason.
type skipTicks struct {
	mu     sync.Mutex
	scheds map[string]measure.Schedule // namespace/name
	seen   map[skipKey]bool
	first  map[string]time.Time // namespace/name → the first report
}

type skipKey struct {
	cronJob, reason string
	at              time.Time // the scheduled time, or the report's when the schedule is unknown
}

func newSkipTicks(cronJobs []cronJob) *skipTicks {
	s := &skipTicks{scheds: map[string]measure.Schedule{}, seen: map[skipKey]bool{}, first: map[string]time.Time{}}
	for _, c := range cronJobs {
		s.scheds[namespaceOr(c.cj.Namespace)+"/"+c.cj.Name] = c.sched
	}
	return s
}

// missPrefix is MissSchedule's message before the scheduled time (RFC 1123Z, UTC).
const missPrefix = "Missed scheduled time to start a job: "

// event notes an Event as the watch sees it at a report, or as listed at the end.
func (s *skipTicks) event(e *corev1.Event) {
	if e.InvolvedObject.Kind != "CronJob" || (e.Reason != "JobAlreadyActive" && e.Reason != "MissSchedule") {
		return
	}
	key := namespaceOr(e.InvolvedObject.Namespace) + "/" + e.InvolvedObject.Name
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, at := range reportTimes(e) {
		if f, ok := s.first[key]; !ok || at.Before(f) {
			s.first[key] = at
		}
		s.seen[skipKey{key, e.Reason, s.scheduledTime(key, e, at)}] = true
	}
}

// reportTimes are the reports an Event names: its first and last (legacy fields), or its event
// time and series' last observation (events.k8s.io).
func reportTimes(e *corev1.Event) []time.Time {
	var out []time.Time
	for _, t := range []time.Time{e.FirstTimestamp.Time, e.LastTimestamp.Time, e.EventTime.Time} {
		if !t.IsZero() {
			out = append(out, t)
		}
	}
	if e.Series != nil && !e.Series.LastObservedTime.IsZero() {
		out = append(out, e.Series.LastObservedTime.Time)
	}
	return out
}

// scheduledTime is the scheduled time a report at at refers to (the caller holds mu).
func (s *skipTicks) scheduledTime(key string, e *corev1.Event, at time.Time) time.Time {
	if e.Reason == "MissSchedule" {
		if t, err := time.Parse(time.RFC1123Z, strings.TrimPrefix(e.Message, missPrefix)); err == nil {
			return t.UTC()
		}
	}
	if sc, ok := s.scheds[key]; ok && sc.Spec != nil {
		if t, ok := latestTick(sc, at); ok {
			return t.UTC()
		}
	}
	return at.UTC().Truncate(time.Second)
}

// count is how many skip decisions were seen: one per CronJob, scheduled time and reason.
func (s *skipTicks) count() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return len(s.seen)
}

// firsts are the CronJobs' first skip reports, for time to detect (cronbad.go).
func (s *skipTicks) firsts() []skipSeen {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := make([]skipSeen, 0, len(s.first))
	for k, at := range s.first {
		out = append(out, skipSeen{cronJob: k, at: at})
	}
	return out
}

// latestTick is the latest instant of s at or before t, looked for up to a day back.
func latestTick(s measure.Schedule, t time.Time) (time.Time, bool) {
	var found time.Time
	for tick, i := s.Next(t.Add(-24*time.Hour)), 0; !tick.After(t) && i < 24*60+1; tick, i = s.Next(tick), i+1 {
		found = tick
	}
	return found, !found.IsZero()
}

// watchSkips starts a watch on the CronJobs' Events, so that every report of a folded skip
// Event is seen (each one updates the Event).
func (r *run) watchSkips() error {
	if len(r.cronJobs) == 0 {
		return nil
	}
	f := informers.NewSharedInformerFactoryWithOptions(r.cs, 0, informers.WithTweakListOptions(func(o *metav1.ListOptions) {
		o.FieldSelector = "involvedObject.kind=CronJob"
	}))
	inf := f.Core().V1().Events().Informer()
	note := func(o any) {
		if e, ok := o.(*corev1.Event); ok {
			r.skips.event(e)
		}
	}
	_, _ = inf.AddEventHandler(cache.ResourceEventHandlerFuncs{AddFunc: note, UpdateFunc: func(_, o any) { note(o) }})
	f.Start(r.stopInf)
	if !cache.WaitForCacheSync(r.stopInf, inf.HasSynced) {
		return fmt.Errorf("watch cronjob events: cache did not sync")
	}
	return nil
}
