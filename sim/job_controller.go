package sim

// The Job controller (pkg/controller/job) for the CronJobs' Jobs, and the pod start pipeline of
// their pods: admission, binding, the image pull, the app's start and exit, the Job's end.

import (
	"time"

	corev1 "k8s.io/api/core/v1"

	"github.com/faultline-dev/faultline/sim/cluster"
	"github.com/faultline-dev/faultline/sim/trace"
)

// Model: the Job controller (pkg/controller/job) for completions = parallelism = 1: a pod per
// attempt created through its own rate-limited client, which also carries the Job's status
// writes (job.writes: after each pod creation, when the pod is ready, and three when a pod ends,
// as pod tracking with finalizers does; nothing waits for them, but they take the tokens the
// next pods need, which is what delays pods at a hot spot); a failed pod counts against backoffLimit
// and the next pod waits the pod-failure back-off (10 s doubling, capped); backoffLimit exceeded
// fails the Job (BackoffLimitExceeded); activeDeadlineSeconds from the Job's start fails it
// (DeadlineExceeded) and deletes its pod. The back-off lives in memory and is lost when the
// controller-manager restarts.
// The pod start pipeline, each step timed: admission (a mutating webhook injecting sidecars),
// kube-scheduler (the shared scheduling queue and plugins), image pull by the kubelet (per-node
// cache; IfNotPresent uses it, Always asks the registry each time; pulls serialized per node with
// registryPullQPS/registryBurst; a missing image is ErrImagePull and is retried after
// ImagePullBackOff, 10 s doubling to 300 s), sidecars (restartable init containers) started one
// after another, then the app container.
// Left out: pods with completions > 1, podFailurePolicy, suspend, node boot for autoscaled pools,
// image sizes (one PullTime per image), container restarts within a pod (restartPolicy Never).

func (w *World) jobCreated(r *cronRun, now time.Duration) {
	c := w.cron
	if r.done {
		return
	}
	if r.cj.deadline > 0 {
		r.deadlineT = w.q.AtID(now+r.cj.deadline, w.hid, pack(evJobDeadline, r.idx))
	}
	if c.cmDown {
		r.backlog = true
		return
	}
	w.jobSync(r, now)
}

// jobSync creates the run's next pod through the Job controller's client, then writes the
// Job's status (job.writes.sync) through the same client.
func (w *World) jobSync(r *cronRun, now time.Duration) {
	t := w.cron.jobClient.do(now)
	w.q.AtID(t, w.hid, pack(evJobPod, r.idx))
	w.jobWrites(t, w.m.Job.Writes.Sync)
}

// jobWrites spends n requests of the Job controller's client from t on. Nothing waits for
// them; they take the tokens the next pod creations would have used.
func (w *World) jobWrites(t time.Duration, n int) {
	for range n {
		t = w.cron.jobClient.do(t)
	}
}

func (w *World) jobPod(r *cronRun, now time.Duration) {
	if r.done || r.pod >= 0 {
		return
	}
	if w.cron.cmDown {
		r.backlog = true // a back-off that ended during the outage: the controller is not there
		return
	}
	cj := r.cj
	var sfx [5]byte
	for j := range sfx {
		sfx[j] = nameRunes[cj.rng.IntN(len(nameRunes))]
	}
	p := w.newJobPod(r.name+"-"+string(sfx[:]), cj.ns, cj.labels, cj.podSpec, "job/"+cj.ns+"/"+r.name, cj.req, cj.nonZero, cj.limCPU)
	ps := w.pods[p.Index]
	ps.run = r
	r.pod = p.Index
	r.pulls = 0
	r.podCreated = now
	ps.start = w.podAt(now+w.m.PodStart.Admission.Duration, evPodAdmitted, p.Index)
}

func (w *World) podAdmitted(pi int, now time.Duration) {
	r := w.pods[pi].run
	if r == nil || r.done || r.pod != pi {
		return
	}
	r.admitted = now
	w.enqueue(pi)
}

// cronPodBound continues the pipeline once kube-scheduler chose a node for a Job's pod: the
// Binding goes through the scheduler's client, then the kubelet sees the pod. (The binding of
// other pods is the scheduling cycle's latency alone.)
func (w *World) cronPodBound(pi int, now time.Duration) {
	ps := w.pods[pi]
	t := w.cron.schedClient.do(now)
	ps.run.bound = t
	ps.start = w.podAt(t, evPullRetry, pi)
}

// cronPull pulls the pod's images on its node, then starts sidecars and the app container.
func (w *World) cronPull(pi int, now time.Duration) {
	ps := w.pods[pi]
	r := ps.run
	p := ps.p
	if r == nil || r.done || r.pod != pi || p.Node == nil {
		return
	}
	ni := &w.cron.images[p.Node.Index]
	m := &w.m.PodStart
	t := now
	pull := func(img string, always bool) bool {
		at, cached := ni.present[img]
		if cached && !always {
			t = max(t, at)
			return true
		}
		start := ni.bucket.take(max(t, ni.pullFree))
		if w.imageMissing(img, start) {
			r.pulls++
			back := m.PullBackoffBase.Duration
			for i := 1; i < r.pulls && back < m.PullBackoffMax.Duration; i++ {
				back *= 2
			}
			back = min(back, m.PullBackoffMax.Duration)
			if r.pulls == 1 {
				emit(w, trace.ImagePullFailed{Pod: p.Name, Image: img})
			}
			ps.start = w.podAt(start+back, evPullRetry, pi)
			return false
		}
		if cached {
			t = max(start, at) // the manifest check; the layers are there
			return true
		}
		end := start + m.PullTime.Duration
		ni.pullFree = end
		ni.present[img] = end
		t = end
		return true
	}
	spec := p.Spec
	sidecars := 0
	for i := range spec.InitContainers {
		ic := &spec.InitContainers[i]
		if ic.RestartPolicy != nil && *ic.RestartPolicy == corev1.ContainerRestartPolicyAlways {
			sidecars++
		}
		if !pull(ic.Image, ic.ImagePullPolicy == corev1.PullAlways) {
			return
		}
	}
	for i := range spec.Containers {
		img, always := spec.Containers[i].Image, spec.Containers[i].ImagePullPolicy == corev1.PullAlways
		if i == 0 {
			img, always = r.image, r.cj.alwaysPull
		}
		if !pull(img, always) {
			return
		}
	}
	r.pulled = t
	t += time.Duration(sidecars) * m.SidecarStart.Duration
	r.sidecars = t
	t += m.AppStart.Duration
	ps.start = w.podAt(t, evAppStart, pi)
}

func (w *World) appStart(pi int, now time.Duration) {
	ps := w.pods[pi]
	r, p := ps.run, ps.p
	if r == nil || r.done || r.pod != pi || p.Node == nil || !p.Node.Up {
		return
	}
	c := w.cron
	p.Phase = cluster.PodRunning
	p.Node.Changed = true
	p.Started = now
	if !r.started {
		r.started = true
		r.app = now
		w.jobWrites(now, w.m.Job.Writes.Ready)
		c.started++
		d := now - r.sched
		c.met.Started.Inc()
		c.met.StartDelay.Observe(d.Seconds())
		if w.opts.OnRun != nil {
			w.opts.OnRun(RunRecord{
				CronJob: r.cj.key, Scheduled: w.wall(r.sched), Delay: d,
				Controller: r.created - r.sched, JobController: r.podCreated - r.created,
				Admission: r.admitted - r.podCreated, Scheduling: r.bound - r.admitted,
				ImagePull: r.pulled - r.bound, Sidecars: r.sidecars - r.pulled, AppStart: now - r.sidecars,
			})
		}
		if r.ext != nil {
			w.extJobStarted(r, now)
		}
	}
	cj := r.cj
	run := time.Duration(float64(cj.runMean) * (0.5 + cj.rng.Float64()))
	r.exitFail = cj.failRatio > 0 && cj.rng.Float64() < cj.failRatio
	ps.start = w.podAt(now+run, evAppExit, pi)
}

func (w *World) appExit(pi int, now time.Duration) {
	ps := w.pods[pi]
	r := ps.run
	if r == nil || r.done || r.pod != pi {
		return
	}
	w.cron.met.AppDuration.Observe((now - ps.p.Started).Seconds())
	w.releaseRunPod(r)
	if r.exitFail {
		w.runPodFailed(r, now)
		return
	}
	w.jobFinish(r, now, true, "Complete")
}

// runPodFailed counts a failed pod against backoffLimit and schedules the next one.
func (w *World) runPodFailed(r *cronRun, now time.Duration) {
	if !w.cron.cmDown {
		w.jobWrites(now, w.m.Job.Writes.Finish)
	}
	r.podFails++
	w.cron.attemptFails++
	w.cron.met.AttemptFail.Inc()
	if r.podFails > r.cj.backoff {
		w.jobFinish(r, now, false, "BackoffLimitExceeded")
		return
	}
	back := w.m.Job.BackoffBase.Duration
	for i := 1; i < r.podFails && back < w.m.Job.BackoffMax.Duration; i++ {
		back *= 2
	}
	back = min(back, w.m.Job.BackoffMax.Duration)
	if w.cron.cmDown {
		r.backlog = true
		return
	}
	w.jobSync(r, now+back)
}

// releaseRunPod frees the run's pod (it finished or was deleted).
func (w *World) releaseRunPod(r *cronRun) {
	if r.pod < 0 {
		return
	}
	pi := r.pod
	r.pod = -1
	ps := w.pods[pi]
	ps.run = nil // the run may be retired; the pod's slot may be reused (newJobPod)
	w.podCancel(ps, &ps.start)
	w.unpark(pi)
	if ps.p.Phase != cluster.PodGone {
		w.st.Release(ps.p)
		w.moveUnschedulable()
	}
}

// killRunPod deletes the run's pod (deadline, Replace).
func (w *World) killRunPod(r *cronRun) { w.releaseRunPod(r) }

// cronPodGone is a Job pod deleted by someone else (eviction, PodChaos): the Job controller
// counts it as failed and creates another.
func (w *World) cronPodGone(pi int) {
	r := w.pods[pi].run
	if r == nil || r.done || r.pod != pi {
		return
	}
	r.pod = -1
	w.runPodFailed(r, w.q.Now())
}

func (w *World) jobFinish(r *cronRun, now time.Duration, ok bool, reason string) {
	if r.done {
		return
	}
	r.done = true
	r.backlog = false
	w.q.Cancel(r.deadlineT)
	w.releaseRunPod(r)
	c := w.cron
	cj := r.cj
	for i, ri := range cj.active {
		if ri == r.idx {
			cj.active = append(cj.active[:i], cj.active[i+1:]...)
			break
		}
	}
	switch {
	case reason == "": // deleted (Replace)
	case ok:
		if !c.cmDown {
			w.jobWrites(now, w.m.Job.Writes.Finish)
		}
		c.ok++
		c.met.Success.Inc()
		cj.oks++
		if cj.oks > cj.okLimit {
			cj.pendingDel++
		}
	default:
		c.fail++
		c.met.Failure.Inc()
		cj.fails++
		if cj.fails > cj.failLimit {
			cj.pendingDel++
		}
		if !c.anyFail {
			c.anyFail, c.firstFail = true, r.sched
		}
		c.lastFail = now
		emit(w, trace.JobFailed{Job: r.name, Reason: reason})
		w.cronBad(cj, now)
	}
	if r.ext != nil {
		w.extJobFinished(r, now, ok, reason)
	} else if c.v2 && !c.cmDown {
		w.cronEnqueue(cj, now)
	}
	w.retireRun(r)
}
