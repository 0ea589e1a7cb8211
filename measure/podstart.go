package measure

import "time"

// PodStart is one workload pod started during a run (a scale-up, a rollout, a replacement), as
// any world observes it: offsets from the window's start when the pod was created, bound to a
// node and first running. Seen says which of PodCreated, PodBound and AppRunning were observed.
type PodStart struct {
	Created, Bound, Running time.Duration
	Seen                    Step
}

// PodStartup is the start-up of a run's workload pods, summarised as Compute summarises cron
// runs: durations as float32 seconds, nearest-rank quantiles. Only pods observed running count.
type PodStartup struct {
	// Started counts the pods observed running.
	Started int
	// Seconds is created to running; Bind created to bound (admission and scheduling); Run bound
	// to running (the kubelet). Each is a sample, sorted, one value per pod started.
	Seconds, Bind, Run []float64
}

// SummarisePodStarts turns observed pod starts into their start-up sample. A step seen in the
// same event as the next counts as taking no time.
func SummarisePodStarts(starts []PodStart) PodStartup {
	var out PodStartup
	secs := func(d time.Duration) float64 { return float64(float32(max(0, d).Seconds())) }
	var all, bind, run []float64
	for _, s := range starts {
		if s.Seen&(PodCreated|AppRunning) != PodCreated|AppRunning {
			continue
		}
		out.Started++
		all = append(all, secs(s.Running-s.Created))
		if s.Seen&PodBound != 0 {
			bind = append(bind, secs(s.Bound-s.Created))
			run = append(run, secs(s.Running-s.Bound))
		}
	}
	// Quantile sorts in place: the samples come back sorted
	Quantile(all, 0.5)
	Quantile(bind, 0.5)
	Quantile(run, 0.5)
	out.Seconds, out.Bind, out.Run = all, bind, run
	return out
}

// P is the nearest-rank q-quantile of created-to-running seconds (0 without pods).
func (p PodStartup) P(q float64) float64 { return Quantile(p.Seconds, q) }
