package sim

import (
	"fmt"
	"math/rand/v2"
	"time"

	"github.com/faultline-dev/faultline/measure"
	"github.com/faultline-dev/faultline/sim/engine"
	"github.com/faultline-dev/faultline/sim/trace"
)

// apiServers are the kube-apiserver instances behind the load balancer (controlplane.go's
// model): each starts, runs its post-start hooks (the client-CA hook writes its ConfigMap
// through the instance's own admission chain) and is ready, or exits and is restarted by the
// kubelet after the CrashLoopBackOff. A managed upgrade (upgrader) replaces them one at a time.
type apiServers struct {
	*cpEnv
	hid   engine.HandlerID
	adm   *admissionChain
	up    *upgrader // told when an instance is ready
	rng   *rand.Rand
	insts []*apiInstance
	hook  apiClass // the post-start write (not counted in availability)
	exits int
	// exitObs are the exits for the record (measure.Observations.APIServerExits)
	exitObs []measure.APIServerExit
}

type instState uint8

const (
	instReady    instState = iota
	instStopped            // out of service for the upgrade's replacement
	instStarting           // process starting, hooks not yet run
	instHook               // post-start hook polling
	instCrashed            // exited, waiting for the restart back-off
)

type apiInstance struct {
	idx       int
	name      string
	state     instState
	version   string
	restarts  int
	hookStart time.Duration
	hookOK    bool
	timer     engine.Timer
}

var clientCAWrite = APIRequest{Name: "post-start client-CA hook", Operation: "UPDATE", APIVersion: "v1", Resource: "configmaps", Namespace: "kube-system"}

// The instances' event kinds, packed with an instance index.
const (
	apiEvStep     uint32 = iota + 1 // the instance's timer: hooks begin, or a restart after a crash
	apiEvReplaced                   // the upgrade's replacement instance starts
	apiEvHookTry                    // a try of the client-CA post-start hook
	apiEvHookDone                   // the hook succeeded or gave up
)

// apiServerEvents are the instances' event kinds: their names and what they do.
var apiServerEvents = [...]cpEvent[*apiServers]{
	apiEvStep:     {"apiserver-instance", (*apiServers).step},
	apiEvReplaced: {"apiserver-replaced", func(s *apiServers, i int) { s.start(s.insts[i]) }},
	apiEvHookTry:  {"apiserver-hook-try", (*apiServers).hookTry},
	apiEvHookDone: {"apiserver-hook-done", (*apiServers).hookDone},
}

func newAPIServers(e *cpEnv, adm *admissionChain) *apiServers {
	s := &apiServers{cpEnv: e, adm: adm, rng: e.streams.Stream("controlplane")}
	for i := range e.m.ControlPlane.APIServers {
		s.insts = append(s.insts, &apiInstance{idx: i, name: fmt.Sprintf("kube-apiserver-%d", i+1), version: "current"})
	}
	s.hook = apiClass{r: clientCAWrite, matched: adm.match(&clientCAWrite)}
	return s
}

// Fire runs the instances' events.
func (s *apiServers) Fire(_ time.Duration, arg uint32) { fireEvent(s, apiServerEvents[:], arg) }

// serving reports whether some instance is ready.
func (s *apiServers) serving() bool {
	for _, in := range s.insts {
		if in.state == instReady {
			return true
		}
	}
	return false
}

func (s *apiServers) start(in *apiInstance) {
	in.state = instStarting
	s.q.Cancel(in.timer)
	in.timer = s.q.AfterID(s.m.ControlPlane.StartTime.Duration, s.hid, pack(apiEvStep, in.idx))
	envEmit(s.env, trace.APIServerStarting{Instance: in.name, Version: in.version})
	s.cl.touch()
}

// replace takes instance i out of the load balancer for the upgrade to version: the new process
// starts UpgradeInstanceTime later.
func (s *apiServers) replace(i int, version string) {
	in := s.insts[i]
	s.q.Cancel(in.timer)
	in.state = instStopped
	in.version = version
	in.restarts = 0
	envEmit(s.env, trace.APIServerReplaced{Instance: in.name})
	in.timer = s.q.AfterID(s.m.ControlPlane.UpgradeInstanceTime.Duration, s.hid, pack(apiEvReplaced, in.idx))
	s.cl.touch()
}

// step advances an instance after its timer: a started process begins its hooks, a crashed one
// restarts.
func (s *apiServers) step(i int) {
	in := s.insts[i]
	switch in.state {
	case instStarting:
		in.state = instHook
		in.hookStart = s.q.Now()
		if s.m.ControlPlane.ClientCAWriter == ClientCAController {
			// the write is the background controller's: the hooks complete at once
			in.hookOK = true
			s.hookDone(i)
			return
		}
		in.timer = s.q.AfterID(s.m.ControlPlane.HookPollInterval.Duration, s.hid, pack(apiEvHookTry, i))
	case instCrashed:
		s.start(in)
	}
}

// hookTry is one try of the client-CA hook's write, through this instance's admission chain.
func (s *apiServers) hookTry(i int) {
	in := s.insts[i]
	if in.state != instHook {
		return
	}
	now := s.q.Now()
	cfg := &s.m.ControlPlane
	d := s.adm.admit(s.hook.matched)
	o := d[0]
	if len(d) > 1 {
		u := s.rng.Float64()
		for _, c := range d {
			o = c
			if u < c.p {
				break
			}
			u -= c.p
		}
	}
	end := now + o.latency
	if o.allowed {
		in.hookOK = true
		in.timer = s.q.AtID(end, s.hid, pack(apiEvHookDone, i))
		return
	}
	deadline := in.hookStart + cfg.HookTimeout.Duration
	next := max(end, now+cfg.HookPollInterval.Duration)
	if next >= deadline {
		in.hookOK = false
		in.timer = s.q.AtID(max(end, deadline), s.hid, pack(apiEvHookDone, i))
		return
	}
	in.timer = s.q.AtID(next, s.hid, pack(apiEvHookTry, i))
}

func (s *apiServers) hookDone(i int) {
	in := s.insts[i]
	if in.state != instHook {
		return
	}
	if in.hookOK {
		in.state = instReady
		in.restarts = 0
		envEmit(s.env, trace.APIServerReady{Instance: in.name, Version: in.version})
		s.cl.touch()
		s.up.instanceReady(i)
		return
	}
	s.exits++
	in.restarts++
	cfg := &s.m.ControlPlane
	back := cfg.RestartBackoffBase.Duration
	for k := 1; k < in.restarts && back < cfg.RestartBackoffMax.Duration; k++ {
		back *= 2
	}
	back = min(back, cfg.RestartBackoffMax.Duration)
	in.state = instCrashed
	in.timer = s.q.AfterID(back, s.hid, pack(apiEvStep, i))
	envEmit(s.env, trace.APIServerExited{Instance: in.name, Reason: clientCAExit, RestartIn: back})
	s.exitObs = append(s.exitObs, measure.APIServerExit{At: s.q.Now(), Instance: in.name, Reason: clientCAExit})
	s.cl.touch()
}

// ready counts the instances that serve.
func (s *apiServers) ready() int {
	n := 0
	for _, in := range s.insts {
		if in.state == instReady {
			n++
		}
	}
	return n
}
