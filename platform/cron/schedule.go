package cron

import (
	"fmt"
	"hash/fnv"
	"strings"
	"time"
	_ "time/tzdata" // spec.timeZone: the same zone data on every machine

	robfig "github.com/robfig/cron/v3"
	batchv1 "k8s.io/api/batch/v1"
)

// Schedule is a CronJob's schedule as the platform runs it: the cron expression in the CronJob's
// time zone, shifted by a fixed jitter offset.
type Schedule struct {
	spec   robfig.Schedule
	loc    *time.Location
	Offset time.Duration
}

// ParseSchedule parses spec.schedule and spec.timeZone (robfig's ParseStandard, as upstream) and
// computes the CronJob's jitter offset bounded by maxJitter and by the schedule's shortest gap.
func ParseSchedule(cj *batchv1.CronJob, maxJitter time.Duration) (Schedule, error) {
	spec, err := robfig.ParseStandard(cj.Spec.Schedule)
	if err != nil {
		return Schedule{}, fmt.Errorf("spec.schedule %q: %w", cj.Spec.Schedule, err)
	}
	loc := time.UTC
	if tz := cj.Spec.TimeZone; tz != nil && *tz != "" {
		if loc, err = time.LoadLocation(*tz); err != nil {
			return Schedule{}, fmt.Errorf("spec.timeZone %q: %w", *tz, err)
		}
	}
	if v, ok := cj.Annotations[AnnJitter]; ok {
		d, err := time.ParseDuration(strings.TrimSpace(v))
		if v == "0" {
			d, err = 0, nil
		}
		if err != nil || d < 0 {
			return Schedule{}, fmt.Errorf("metadata.annotations[%s] %q: expected a non-negative duration", AnnJitter, v)
		}
		maxJitter = d
	}
	s := Schedule{spec: spec, loc: loc}
	if maxJitter > 0 {
		s.Offset = jitterOffset(cj.Namespace+"/"+cj.Name, min(maxJitter, s.shortestGap()))
	}
	return s, nil
}

// jitterOffset is a whole number of seconds in [0, bound), fixed by a hash of key: the same
// CronJob gets the same offset in every run and in both worlds.
func jitterOffset(key string, bound time.Duration) time.Duration {
	secs := int64(bound / time.Second)
	if secs <= 1 {
		return 0
	}
	h := fnv.New64a()
	_, _ = h.Write([]byte(key))
	return time.Duration(h.Sum64()%uint64(secs)) * time.Second
}

// shortestGap is the smallest distance between consecutive activations over a sample of a year's
// first activations (enough for minute, hour, day and month fields).
func (s Schedule) shortestGap() time.Duration {
	t := s.spec.Next(time.Date(2001, 1, 1, 0, 0, 0, 0, s.loc))
	gap := time.Duration(1<<62 - 1)
	for range 200 {
		n := s.spec.Next(t)
		if n.IsZero() {
			break
		}
		gap = min(gap, n.Sub(t))
		t = n
	}
	return gap
}

// Next is the first scheduled time strictly after t (zero if none within five years).
func (s Schedule) Next(t time.Time) time.Time {
	n := s.spec.Next(t.Add(-s.Offset).In(s.loc))
	if n.IsZero() {
		return n
	}
	return n.Add(s.Offset)
}
