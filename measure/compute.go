package measure

import "slices"

// Compute turns one run's observations into its indicator values, in registry order (per-load
// success ratios last), and lists, as "name: why", the indicators the scenario's scopes call for
// that this world cannot measure. Both worlds call it, so both summarise alike: durations become
// float32 seconds before their nearest-rank quantiles.
func Compute(o *Observations, win Window) (values []Indicator, unmeasured []string) {
	// room for the common indicators and the per-load ones at once: a Monte Carlo replay computes
	// them for every seed, and growing the slice from empty took five allocations
	return ComputeAppend(make([]Indicator, 0, 16+len(o.Requests.PerTarget)), o, win)
}

// ComputeAppend is Compute appending the values to dst (a buffer the caller reuses).
func ComputeAppend(dst []Indicator, o *Observations, win Window) (values []Indicator, unmeasured []string) {
	values = dst
	add := func(name string, v float64) {
		d, _ := Lookup(name)
		if !d.MeasuredIn(o.World) {
			return
		}
		if _, omit := o.Omit[name]; omit {
			return
		}
		values = append(values, Indicator{Name: name, Value: v})
	}
	ratio := func(ok, total float64) float64 {
		if total == 0 {
			return 1
		}
		return ok / total
	}
	first := win.Length
	if o.Panics > 0 {
		first = o.FirstPanic
	}
	add("request-success-ratio", ratio(o.Requests.Succeeded, o.Requests.Offered))
	add("node-panics", float64(o.Panics))
	add("nodes-panicked", float64(o.NodesPanicked))
	add("cascade", b2f(o.NodesPanicked >= 2))
	add("time-to-first-panic", first.Hours())
	add("pods-lost", float64(o.PodsLost))
	add("evictions", float64(o.Evictions))
	add("max-replicas-per-node", float64(o.MaxColocated))
	add("full-outage-minutes", o.Outage.Minutes())
	add("degraded-minutes", o.Degraded.Minutes())
	if o.Cron != nil {
		cronIndicators(o.Cron, win, add)
	}
	var network, rollout, controlPlane []Indicator
	if o.Net != nil {
		network = o.Net.Indicators()
	}
	if o.Scopes&Rollout != 0 {
		rollout = RolloutIndicators(o.Rollouts)
	}
	if o.ControlPlane != nil {
		controlPlane = ControlPlaneIndicators(o.ControlPlane, FoldNodes(o), win)
	}
	for _, group := range [][]Indicator{network, rollout, controlPlane} {
		for _, in := range group {
			add(in.Name, in.Value)
		}
	}
	for _, t := range o.Requests.PerTarget {
		name := t.Indicator
		if name == "" {
			name = PerLoadPrefix + t.Target
		}
		add(name, ratio(t.Succeeded, t.Offered))
	}
	if o.World != Simulated {
		for _, d := range Indicators {
			if !d.MeasuredIn(o.World) && o.Scopes&d.Scope == d.Scope {
				unmeasured = append(unmeasured, d.Name+": "+d.Unmeasurable[o.World])
			}
		}
	}
	for name, why := range o.Omit {
		unmeasured = append(unmeasured, name+": "+why)
	}
	slices.Sort(unmeasured)
	return values, unmeasured
}

func cronIndicators(c *CronObservations, win Window, add func(string, float64)) {
	cutoff := win.missedCutoff()
	due := 0
	for _, cj := range c.CronJobs {
		if cj.Next != nil {
			due += Due(cj.Next, win.Start.Add(cj.DueFrom), win.Start.Add(cutoff))
		}
	}
	got, stalled := 0, 0
	for _, cj := range c.CronJobs {
		if cj.Stalled {
			stalled++
		}
	}
	// the runs' durations by series: those folded as they finished (c.Folded) and those kept
	var extra [nSeries][]float32
	extra[seriesCreate] = make([]float32, 0, len(c.Runs))
	for i := range c.Runs {
		if foldRun(&c.Runs[i], win, cutoff, func(s int, v float32) { extra[s] = append(extra[s], v) }) {
			got++
		}
	}
	quantile := func(s int, q float64) float64 {
		if c.Folded == nil {
			return Quantile(extra[s], q)
		}
		return c.Folded.series[s].Quantile(q, extra[s])
	}
	started := len(extra[seriesDelay])
	if c.Folded != nil {
		got += c.Folded.got
		started += c.Folded.series[seriesDelay].Len()
	}
	ttd := 0.0
	if c.AnyBad {
		at := win.Length
		if c.Detected {
			at = c.DetectedAt
		}
		ttd = max(0, (at - c.FirstBad).Minutes())
	}
	span := 0.0
	if c.AnyFailure {
		span = (c.LastFailure - c.FirstFailure).Hours()
	}
	throttle := 0.0
	if c.ThrottleFor > 0 {
		throttle = c.ThrottleWait.Seconds() / float64(c.ThrottleFor)
	}
	add("cron-runs-started", float64(started))
	add("start-delay-p50-seconds", quantile(seriesDelay, 0.5))
	add("start-delay-p99-seconds", quantile(seriesDelay, 0.99))
	add("start-delay-max-seconds", quantile(seriesDelay, 1))
	add("job-create-delay-p50-seconds", quantile(seriesCreate, 0.5))
	add("job-create-delay-p99-seconds", quantile(seriesCreate, 0.99))
	add("job-create-delay-max-seconds", quantile(seriesCreate, 1))
	add("pod-create-delay-p50-seconds", quantile(seriesToPod, 0.5))
	add("pod-create-delay-p99-seconds", quantile(seriesToPod, 0.99))
	add("pod-bind-delay-p50-seconds", quantile(seriesToBind, 0.5))
	add("pod-bind-delay-p99-seconds", quantile(seriesToBind, 0.99))
	add("pod-run-delay-p50-seconds", quantile(seriesToRun, 0.5))
	add("pod-run-delay-p99-seconds", quantile(seriesToRun, 0.99))
	add("skipped-runs", float64(c.Skipped))
	add("missed-schedules", float64(max(0, due-got)))
	add("failed-runs", float64(c.FailedRuns))
	add("failed-attempts", float64(c.FailedAttempts))
	add("stalled-cronjobs", float64(stalled))
	add("time-to-detect-minutes", ttd)
	add("failure-span-hours", span)
	add("controller-throttle-seconds", throttle)
}

func b2f(b bool) float64 {
	if b {
		return 1
	}
	return 0
}
