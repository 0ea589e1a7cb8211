package sim

// The Job controller (pkg/controller/job) for the CronJobs' Jobs: their pods, back-offs,
// deadlines and ends. Their pods' start pipeline is jobpod_start.go.

import (
	"time"

	"github.com/faultline-dev/faultline/sim/cluster"
	"github.com/faultline-dev/faultline/sim/engine"
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
// Left out: pods with completions > 1, podFailurePolicy, suspend.

// jobController is the Job controller: it creates each run's pods through the cluster's
// jobPodCluster and hands them to the pod start pipeline (podStarter), and ends the runs.
type jobController struct {
	*env
	c      *cronWorld
	hid    engine.HandlerID
	client *apiClient
	pods   jobPodCluster
}

func newJobController(c *cronWorld, pods jobPodCluster) *jobController {
	a := c.m.APIServer
	return &jobController{env: c.env, c: c, pods: pods, client: newAPIClient(a, a.ControllerManagerQPS, a.ControllerManagerBurst)}
}

// The Job controller's event kinds, packed with a run index.
const (
	jobEvCreated  uint32 = iota + 1 // a Job's CREATE completed: the Job exists
	jobEvPod                        // the Job controller creates the Job's next pod
	jobEvDeadline                   // activeDeadlineSeconds
)

var jobEventNames = [...]string{jobEvCreated: "job-created", jobEvPod: "job-pod", jobEvDeadline: "job-deadline"}

func (j *jobController) register() { j.hid = j.q.Register(j) }

// Fire runs the Job controller's events.
func (j *jobController) Fire(now time.Duration, arg uint32) {
	kind, i := unpack(arg)
	r := j.c.run(i)
	if r == nil {
		return // retired
	}
	switch kind {
	case jobEvCreated:
		j.jobCreated(r, now)
	case jobEvPod:
		j.jobPod(r, now)
	case jobEvDeadline:
		if !r.done {
			envEmit(j.env, trace.JobDeadlineExceeded{Job: r.name})
			j.killRunPod(r)
			j.jobFinish(r, now, false, "DeadlineExceeded")
		}
	}
}

// createdAt makes run r's Job exist at t (its CREATE's response).
func (j *jobController) createdAt(t time.Duration, r *cronRun) {
	j.q.AtID(t, j.hid, pack(jobEvCreated, r.idx))
}

// delete deletes run r's Job at t (Replace, an extension's DELETE): its pod goes, the run ends
// without a reason.
func (j *jobController) delete(r *cronRun, t time.Duration) {
	j.killRunPod(r)
	j.jobFinish(r, t, false, "")
}

func (j *jobController) jobCreated(r *cronRun, now time.Duration) {
	if r.done {
		return
	}
	if r.cj.deadline > 0 {
		r.deadlineT = j.q.AtID(now+r.cj.deadline, j.hid, pack(jobEvDeadline, r.idx))
	}
	if j.c.cmDown {
		r.backlog = true
		return
	}
	j.jobSync(r, now)
}

// jobSync creates the run's next pod through the Job controller's client, then writes the
// Job's status (job.writes.sync) through the same client.
func (j *jobController) jobSync(r *cronRun, now time.Duration) {
	t := j.client.do(now)
	j.q.AtID(t, j.hid, pack(jobEvPod, r.idx))
	j.jobWrites(t, j.m.Job.Writes.Sync)
}

// jobWrites spends n requests of the Job controller's client from t on. Nothing waits for
// them; they take the tokens the next pod creations would have used.
func (j *jobController) jobWrites(t time.Duration, n int) {
	for range n {
		t = j.client.do(t)
	}
}

// catchUp is the controller back after a controller-manager outage: it syncs the Jobs it
// missed; its in-memory back-off is lost.
func (j *jobController) catchUp(now time.Duration) {
	for _, r := range j.c.runs {
		if r != nil && r.backlog && !r.done {
			r.backlog = false
			j.jobSync(r, now)
		}
	}
}

func (j *jobController) jobPod(r *cronRun, now time.Duration) {
	if r.done || r.pod >= 0 {
		return
	}
	if j.c.cmDown {
		r.backlog = true // a back-off that ended during the outage: the controller is not there
		return
	}
	cj := r.cj
	name, owner := jobPodName(cj, r.name)
	p := j.pods.newJobPod(name, cj.ns, cj.labels, cj.podSpec, owner, cj.req, cj.nonZero, cj.limCPU)
	ps := j.pods.podState(p.Index)
	ps.run = r
	r.pod = p.Index
	r.pulls = 0
	r.podCreated = now
	j.c.start.admit(ps, now)
}

// jobPodName draws a pod name for the Job named job of cj, <job>-<5 random characters>, and
// returns it with the pod's owner, job/<namespace>/<job>: both are cut from one string, one
// allocation where there were two per pod.
func jobPodName(cj *cronJob, job string) (name, owner string) {
	var buf [128]byte
	b := append(buf[:0], "job/"...)
	b = append(b, cj.ns...)
	b = append(b, '/')
	at := len(b)
	b = append(b, job...)
	n := len(b)
	b = append(b, '-')
	for range 5 {
		b = append(b, nameRunes[cj.rng.IntN(len(nameRunes))])
	}
	s := string(b)
	return s[at:], s[:n]
}

// podRunning is the run's app container running for the first time: the Job's status.ready.
func (j *jobController) podRunning(now time.Duration) {
	j.jobWrites(now, j.m.Job.Writes.Ready)
}

// podExited is the run's app container exiting: the pod is done, and so is the Job unless the
// pod failed and the back-off limit allows another.
func (j *jobController) podExited(r *cronRun, now time.Duration) {
	j.releaseRunPod(r)
	if r.exitFail {
		j.runPodFailed(r, now)
		return
	}
	j.jobFinish(r, now, true, "Complete")
}

// runPodFailed counts a failed pod against backoffLimit and schedules the next one.
func (j *jobController) runPodFailed(r *cronRun, now time.Duration) {
	c := j.c
	if !c.cmDown {
		j.jobWrites(now, j.m.Job.Writes.Finish)
	}
	r.podFails++
	c.attemptFails++
	c.met.AttemptFail.Inc()
	if r.podFails > r.cj.backoff {
		j.jobFinish(r, now, false, "BackoffLimitExceeded")
		return
	}
	back := j.m.Job.BackoffBase.Duration
	for i := 1; i < r.podFails && back < j.m.Job.BackoffMax.Duration; i++ {
		back *= 2
	}
	back = min(back, j.m.Job.BackoffMax.Duration)
	if c.cmDown {
		r.backlog = true
		return
	}
	j.jobSync(r, now+back)
}

// releaseRunPod frees the run's pod (it finished or was deleted).
func (j *jobController) releaseRunPod(r *cronRun) {
	if r.pod < 0 {
		return
	}
	pi := r.pod
	r.pod = -1
	ps := j.pods.podState(pi)
	ps.run = nil // the run may be retired; the pod's slot may be reused (newJobPod)
	j.pods.podCancel(ps, &ps.start)
	j.pods.unpark(pi)
	if ps.p.Phase != cluster.PodGone {
		j.pods.releasePod(ps.p)
	}
}

// killRunPod deletes the run's pod (deadline, Replace).
func (j *jobController) killRunPod(r *cronRun) { j.releaseRunPod(r) }

// podGone is a Job pod deleted by someone else (eviction, PodChaos): the Job controller
// counts it as failed and creates another.
func (j *jobController) podGone(pi int) {
	r := j.pods.podState(pi).run
	if r == nil || r.done || r.pod != pi {
		return
	}
	r.pod = -1
	j.runPodFailed(r, j.q.Now())
}

func (j *jobController) jobFinish(r *cronRun, now time.Duration, ok bool, reason string) {
	if r.done {
		return
	}
	r.done = true
	r.backlog = false
	j.q.Cancel(r.deadlineT)
	j.releaseRunPod(r)
	c := j.c
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
			j.jobWrites(now, j.m.Job.Writes.Finish)
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
		envEmit(j.env, trace.JobFailed{Job: r.name, Reason: reason})
		c.cronBad(cj, now)
	}
	if r.ext != nil {
		c.hooks.extJobFinished(r, now, ok, reason)
	} else if !c.cmDown {
		c.ctl.jobFinished(cj, now)
	}
	c.retireRun(r)
}
