package sim

// The pod start pipeline of the Job pods: admission, the Binding, the kubelet's image pull,
// sidecars, the app container's start and exit.

import (
	"time"

	"github.com/faultline-dev/faultline/sim/cluster"
	"github.com/faultline-dev/faultline/sim/engine"
	"github.com/faultline-dev/faultline/sim/trace"
)

// Model (docs/upstream.md "Image pull"; the Job controller is job_controller.go):
// The pod start pipeline, each step timed: admission (a mutating webhook injecting sidecars),
// kube-scheduler (the shared scheduling queue and plugins), image pull by the kubelet (per-node
// cache; IfNotPresent uses it, Always asks the registry each time; pulls serialized per node with
// registryPullQPS/registryBurst; a missing image is ErrImagePull and is retried after
// ImagePullBackOff, 10 s doubling to 300 s), sidecars (restartable init containers) started one
// after another, then the app container.
// Left out: node boot for autoscaled pools, image sizes (one PullTime per image), container
// restarts within a pod (restartPolicy Never).

// podStarter is the pipeline: the admission chain, kube-scheduler's client for the Binding and
// each node's kubelet with its image cache; the scheduling itself is the cluster's (enqueue, and
// World.attempt calls bound). Its events name a pod and are counted in its podState.pending.
type podStarter struct {
	*env
	c      *cronWorld
	hid    engine.HandlerID
	pods   jobPodCluster
	client *apiClient   // kube-scheduler's: the Binding of Job pods
	images []nodeImages // by node index
}

// nodeImages is a node's kubelet: its image cache and its serialized, rate-limited puller.
type nodeImages struct {
	present  map[string]time.Duration // image → when it is on the node
	pullFree time.Duration            // serializeImagePulls: the puller is busy until then
	bucket   *tokenBucket             // registryPullQPS / registryBurst
}

func newPodStarter(c *cronWorld, pods jobPodCluster, nodes int) *podStarter {
	a, ps := c.m.APIServer, c.m.PodStart
	s := &podStarter{env: c.env, c: c, pods: pods, client: newAPIClient(a, a.SchedulerQPS, a.SchedulerBurst),
		images: make([]nodeImages, nodes)}
	for i := range s.images {
		s.images[i] = nodeImages{present: map[string]time.Duration{}, bucket: newTokenBucket(ps.RegistryPullQPS, ps.RegistryBurst)}
	}
	return s
}

// The pipeline's event kinds, packed with a pod index.
const (
	startEvAdmitted uint32 = iota + 1 // admission (sidecar injection) done: the pod enters the scheduling queue
	startEvPull                       // kubelet (re)tries the image pulls: after binding, after a back-off
	startEvApp                        // the app container of a Job's pod is running (T2)
	startEvExit                       // the app container exits
)

var podStartEventNames = [...]string{startEvAdmitted: "pod-admitted", startEvPull: "pull-retry",
	startEvApp: "app-start", startEvExit: "app-exit"}

func (s *podStarter) register() { s.hid = s.q.Register(s) }

// Fire runs the pipeline's events.
func (s *podStarter) Fire(now time.Duration, arg uint32) {
	kind, pi := unpack(arg)
	ps := s.pods.podState(pi)
	ps.pending--
	r := ps.run
	if r == nil || r.done || r.pod != pi {
		return // the pod was deleted, or its run ended
	}
	switch kind {
	case startEvAdmitted:
		r.admitted = now
		s.pods.enqueue(pi)
	case startEvPull:
		s.pull(ps, now)
	case startEvApp:
		s.appStart(ps, now)
	case startEvExit:
		s.c.met.observeAppDuration((now - ps.p.Started).Seconds())
		s.c.jobs.podExited(r, now)
	}
}

// at schedules the pod's next step at t, as its start timer.
func (s *podStarter) at(ps *podState, t time.Duration, kind uint32) {
	ps.pending++
	ps.start = s.q.AtID(t, s.hid, pack(kind, ps.p.Index))
}

// admit sends a new pod through admission.
func (s *podStarter) admit(ps *podState, now time.Duration) {
	s.at(ps, now+s.m.PodStart.Admission.Duration, startEvAdmitted)
}

// bound continues the pipeline once kube-scheduler chose a node for a Job's pod: the Binding
// goes through the scheduler's client, then the kubelet sees the pod. (The binding of other pods
// is the scheduling cycle's latency alone.)
func (s *podStarter) bound(pi int, now time.Duration) {
	ps := s.pods.podState(pi)
	t := s.client.do(now)
	ps.run.bound = t
	s.at(ps, t, startEvPull)
}

// pull pulls the pod's images on its node, then starts sidecars and the app container.
func (s *podStarter) pull(ps *podState, now time.Duration) {
	r, p := ps.run, ps.p
	if p.Node == nil {
		return
	}
	ni := &s.images[p.Node.Index]
	m := &s.m.PodStart
	reg := s.c.reg
	t := now
	pull := func(img string, always bool) bool {
		at, cached := ni.present[img]
		if cached && !always {
			t = max(t, at)
			return true
		}
		start := ni.bucket.take(max(t, ni.pullFree))
		if reg.missing(img, start) {
			r.pulls++
			back := m.PullBackoffBase.Duration
			for i := 1; i < r.pulls && back < m.PullBackoffMax.Duration; i++ {
				back *= 2
			}
			back = min(back, m.PullBackoffMax.Duration)
			if r.pulls == 1 {
				envEmit(s.env, trace.ImagePullFailed{Pod: p.Name, Image: img})
			}
			s.at(ps, start+back, startEvPull)
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
	// the pod's spec is its CronJob's (jobController.jobPod), whose images cronJob keeps: the
	// init containers, the app's (resolved per run), the other containers
	cj := r.cj
	for _, ic := range cj.inits {
		if !pull(ic.image, ic.always) {
			return
		}
	}
	if !pull(r.image, cj.alwaysPull) {
		return
	}
	for _, c := range cj.others {
		if !pull(c.image, c.always) {
			return
		}
	}
	r.pulled = t
	t += time.Duration(cj.sidecars) * m.SidecarStart.Duration
	r.sidecars = t
	t += m.AppStart.Duration
	s.at(ps, t, startEvApp)
}

// appStart is the app container running: T2 for the run's first, then its run time and exit.
func (s *podStarter) appStart(ps *podState, now time.Duration) {
	r, p := ps.run, ps.p
	if p.Node == nil || !p.Node.Up {
		return
	}
	c := s.c
	p.Phase = cluster.PodRunning
	p.Node.Changed = true
	p.Started = now
	if !r.started {
		r.started = true
		r.app = now
		c.jobs.podRunning(now)
		c.started++
		d := now - r.sched
		c.met.Started.Inc()
		c.met.observeStartDelay(d.Seconds())
		if s.opts.OnRun != nil {
			s.opts.OnRun(RunRecord{
				CronJob: r.cj.key, Scheduled: s.wall(r.sched), Delay: d,
				Controller: r.created - r.sched, JobController: r.podCreated - r.created,
				Admission: r.admitted - r.podCreated, Scheduling: r.bound - r.admitted,
				ImagePull: r.pulled - r.bound, Sidecars: r.sidecars - r.pulled, AppStart: now - r.sidecars,
			})
		}
		if r.ext != nil {
			c.hooks.extJobStarted(r, now)
		}
	}
	cj := r.cj
	run := time.Duration(float64(cj.runMean) * (0.5 + cj.rng.Float64()))
	r.exitFail = cj.failRatio > 0 && cj.rng.Float64() < cj.failRatio
	s.at(ps, now+run, startEvExit)
}
