package measure

import (
	"fmt"
	"time"
	_ "time/tzdata" // spec.timeZone: the same zone data on every machine

	"github.com/robfig/cron/v3"
)

// Schedule is a CronJob's schedule in its time zone: the rule the CronJob controller applies to
// spec.schedule and spec.timeZone, shared by the simulator's controller model and a real run's
// count of due times.
type Schedule struct {
	Spec cron.Schedule
	// Loc is spec.timeZone's location; UTC without one (the controller manager's zone in
	// faultline's clusters).
	Loc *time.Location
}

// ParseSchedule reads spec.schedule (five fields or a @descriptor) and spec.timeZone (nil or ""
// for UTC). The error names the field that is wrong.
func ParseSchedule(schedule string, timeZone *string) (Schedule, error) {
	spec, err := cron.ParseStandard(schedule)
	if err != nil {
		return Schedule{}, fmt.Errorf("spec.schedule: %q: %w", schedule, err)
	}
	loc := time.UTC
	if timeZone != nil && *timeZone != "" {
		if loc, err = time.LoadLocation(*timeZone); err != nil {
			return Schedule{}, fmt.Errorf("spec.timeZone: %q: %w", *timeZone, err)
		}
	}
	return Schedule{Spec: spec, Loc: loc}, nil
}

// Next is the first scheduled time after t, in the schedule's zone (zero if none).
func (s Schedule) Next(t time.Time) time.Time { return s.Spec.Next(t.In(s.Loc)) }

// Due counts the scheduled times in (from, before) of a schedule given as its Next function.
func Due(next func(time.Time) time.Time, from, before time.Time) int {
	n := 0
	for t := next(from); !t.IsZero() && t.Before(before); t = next(t) {
		n++
	}
	return n
}
