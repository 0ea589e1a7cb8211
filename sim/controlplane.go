package sim

import (
	"fmt"
	"math"
	"math/rand/v2"
	"sort"
	"time"

	"github.com/faultline-dev/faultline/measure"
	"github.com/faultline-dev/faultline/sim/engine"
	"github.com/faultline-dev/faultline/sim/trace"
)

// The control plane: several kube-apiserver instances behind a load balancer, each running the
// client-CA post-start hook when it starts; a managed rolling upgrade; the requests of clients and
// kubelets going through the admission webhooks; API availability, request latency and an alert.
//
// Model:
//   - An instance serves requests once its post-start hooks have completed (its readiness, which
//     the load balancer follows at once). Requests go to any ready instance; with none, every
//     request fails.
//   - With ClientCAWriter "hook" (Kubernetes up to 1.16), the client-CA hook
//     (pkg/controlplane/client_ca_hook.go) writes ConfigMap
//     kube-system/extension-apiserver-authentication with wait.Poll(1s, 30s): the first try one
//     interval after the start, the next one interval later or when the previous try returns,
//     whichever is later. The write is an UPDATE that goes through the instance's own admission
//     chain, so a Fail-policy webhook matching it with a dead backend fails every try; after the
//     timeout the apiserver exits ("unable to initialize client CA configmap") and the kubelet
//     restarts its static pod after the CrashLoopBackOff (10 s doubling to 5 min). With
//     "controller" (1.17 on) a background controller retries the write and the instance is
//     ready once started, whatever the webhooks do.
//   - A managed upgrade replaces one instance at a time: out of the load balancer, replaced for
//     UpgradeInstanceTime, then the new process starts and must pass its hooks; the next instance
//     follows once it is ready. The client reports the upgrade failed when it is not complete
//     after its time-out; the provider's operation goes on (a crash-looping instance keeps
//     restarting and the upgrade resumes if it ever becomes ready).
//   - Kubelets renew their Lease (UPDATE coordination.k8s.io leases in kube-node-lease) every
//     nodeStatusUpdateFrequency through the heartbeat client, whose timeout is HeartbeatTimeout.
//     A renewal fails when admission rejects it or when it takes longer than the client's
//     timeout (a webhook timing out after 10 s with failurePolicy Ignore still fails a
//     heartbeat); the kubelet retries a failed renewal 5 times at once. Without renewals the
//     node lifecycle controller marks the node NotReady after the grace period (nodes.go). With
//     no instance ready at all the renewals fail too, but the controller is as blind as the
//     kubelets and marks nothing.
//   - API availability is the rate-weighted share of the clients' requests (and lease renewals)
//     that succeed; the apiserver records every request it answers, rejected ones with the time
//     they waited, in apiserver_request_duration_seconds (cpmetrics.go), and the latency alert
//     watches the quantile of mutating requests.
//
// Left out: an instance's capacity and latency under load, API Priority and Fairness, the load
// balancer's health-check delay, etcd, the controllers' own writes (ReplicaSet pod creations,
// leader-election renewals are requests of the mix but losing them stops nothing), the 5-minute
// node status reports beside the lease, the node lifecycle controller's own taint writes (which a
// matching webhook would also block), node registration of a recreated node (the Node object is
// kept), webhook verdicts (a reachable backend admits), and a window over which the latency
// quantile is computed (it is the quantile of the requests in flight at each instant).
type controlPlane struct {
	hooks    []*webhook
	nsLabels map[string]map[string]string
	rng      *rand.Rand
	insts    []*apiInstance
	up       *upgradeRun
	classes  []*apiClass
	lease    *apiClass // the kubelets' lease renewals
	hook     apiClass  // the post-start write (not counted in availability)
	hb       []hbState // per node
	hbPath   float64   // chance that a lease renewal gets through admission in time
	last     time.Duration

	anyReady   bool
	p99        time.Duration
	maxP99     time.Duration
	impaired   bool          // some request fails or the quantile is above the threshold
	undetected time.Duration // impaired time before the alert first fired
	alertOn    bool          // condition true
	alertTimer engine.Timer
	firing     bool
	firstFire  time.Duration
	fired      bool
	exits      int
	repairs    int
	lastRepair []time.Duration // per node, -1 none
	repairT    []engine.Timer
}

// apiClass is one kind of request with its current fate and its integrated counts.
type apiClass struct {
	r         APIRequest
	matched   []int
	dist      []outcome
	success   float64 // share that succeeds now
	rate      float64 // requests per second now
	ok, total float64
	hist      apiHist
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

type upgradeRun struct {
	f        *Fault
	start    time.Duration
	next     int
	done     bool
	doneAt   time.Duration
	timedOut bool
}

// hbState is a node's heartbeat path through the API.
type hbState struct {
	reporting bool // lease renewals get through (the machine's own state aside)
	mixed     bool // renewals succeed only sometimes: drawn beat by beat
	lastOK    time.Duration
	phase     time.Duration
	timer     engine.Timer
	rng       *rand.Rand
}

var (
	clientCAWrite = APIRequest{Name: "post-start client-CA hook", Operation: "UPDATE", APIVersion: "v1", Resource: "configmaps", Namespace: "kube-system"}
	leaseRenewal  = APIRequest{Name: "kubelet lease renewal", Operation: "UPDATE", APIGroup: "coordination.k8s.io", APIVersion: "v1", Resource: "leases", Namespace: "kube-node-lease"}
)

// buildControlPlane sets the control-plane model up when the scenario has webhooks, an upgrade
// or auto-repair; otherwise w.cp stays nil and nothing of this file runs.
func (w *World) buildControlPlane() {
	hooks, nsLabels := w.buildWebhooks()
	upgrades := 0
	for _, f := range w.in.Faults {
		if f.Action == ControlPlaneUpgrade {
			upgrades++
		}
	}
	if len(hooks) == 0 && upgrades == 0 && !w.m.AutoRepair.Enabled {
		return
	}
	cp := &controlPlane{hooks: hooks, nsLabels: nsLabels, rng: w.streams.Stream("controlplane")}
	for i := range w.m.ControlPlane.APIServers {
		cp.insts = append(cp.insts, &apiInstance{idx: i, name: fmt.Sprintf("kube-apiserver-%d", i+1), version: "current"})
	}
	reqs := w.m.ControlPlane.Requests
	if len(reqs) == 0 {
		reqs = DefaultAPIRequests()
	}
	for _, r := range reqs {
		cp.classes = append(cp.classes, &apiClass{r: r, matched: cp.match(&r)})
	}
	cp.lease = &apiClass{r: leaseRenewal, matched: cp.match(&leaseRenewal)}
	cp.hook = apiClass{r: clientCAWrite, matched: cp.match(&clientCAWrite)}
	for _, wh := range hooks {
		if wh.backend != nil {
			r := APIRequest{Operation: "UPDATE", APIGroup: "discovery.k8s.io", APIVersion: "v1", Resource: "endpointslices", Namespace: wh.svcNS}
			wh.epWrite = cp.match(&r)
		}
	}
	cp.hb = make([]hbState, len(w.nodes))
	cp.lastRepair = make([]time.Duration, len(w.nodes))
	cp.repairT = make([]engine.Timer, len(w.nodes))
	for i, ns := range w.nodes {
		rng := w.streams.Stream("heartbeat/" + ns.n.Name)
		period := w.m.NodeLifecycle.StatusUpdateFrequency.Duration
		cp.hb[i] = hbState{reporting: true, rng: rng, phase: time.Duration(rng.Int64N(int64(period)))}
		cp.lastRepair[i] = -1
	}
	cp.anyReady = true
	w.cp = cp
}

func (cp *controlPlane) match(r *APIRequest) []int {
	var out []int
	for i, wh := range cp.hooks {
		if wh.matches(r, cp.nsLabels) {
			out = append(out, i)
		}
	}
	return out
}

// startControlPlane runs at time 0, after settling: every instance is serving.
func (w *World) startControlPlane() {
	if w.cp == nil {
		return
	}
	for i, ns := range w.nodes {
		if !ns.n.Up {
			w.cp.hb[i].reporting = false
		}
	}
	w.controlPlaneRecompute(0)
}

// apiReporting reports whether a node's lease renewals get through the API; always true without
// the control-plane model.
func (w *World) apiReporting(ns *nodeState) bool {
	return w.cp == nil || w.cp.hb[ns.n.Index].reporting
}

// controlPlaneRecompute integrates the API counters up to now, then derives the backends' state,
// every request class's fate, the latency quantile, the alert condition and the heartbeat paths.
// It runs with every recomputation of the world (nodes.go recompute).
func (w *World) controlPlaneRecompute(now time.Duration) {
	cp := w.cp
	if cp == nil {
		return
	}
	cp.integrate(w, now)
	anyReady := false
	for _, in := range cp.insts {
		if in.state == instReady {
			anyReady = true
		}
	}
	// the EndpointSlice controller writes through the API as it is now (before this update)
	writable := make([]bool, len(cp.hooks))
	for i, wh := range cp.hooks {
		if anyReady {
			for _, o := range w.admit(wh.epWrite, cp.hooks) {
				writable[i] = writable[i] || o.allowed
			}
		}
	}
	for i, wh := range cp.hooks {
		w.refreshBackend(wh, writable[i])
	}
	cp.anyReady = anyReady
	var lat []outcome // mutating requests' latency, weighted by rate
	bad := false
	for _, c := range append(cp.classes, cp.lease) {
		c.dist = w.admit(c.matched, cp.hooks)
		through := 0.0
		for _, o := range c.dist {
			if o.allowed && (c != cp.lease || o.latency < w.m.ControlPlane.HeartbeatTimeout.Duration) {
				through += o.p
			}
		}
		c.success = 0
		if cp.anyReady {
			c.success = through
		}
		if c == cp.lease {
			cp.hbPath = through
		}
		rate := w.classRate(c)
		c.rate = rate
		if rate > 0 && c.success < 1-1e-12 {
			bad = true
		}
		if c.r.mutating() && cp.anyReady {
			for _, o := range c.dist {
				lat = append(lat, outcome{o.p * rate, o.latency, true})
			}
		}
	}
	cp.p99 = latencyQuantile(lat, w.m.ControlPlane.LatencyAlert.Quantile)
	cp.maxP99 = max(cp.maxP99, cp.p99)
	alert := cp.p99 > w.m.ControlPlane.LatencyAlert.Threshold.Duration
	if (bad || alert) != cp.impaired {
		cp.impaired = bad || alert
		if cp.impaired {
			emit(w, trace.APIImpaired{P99: cp.p99, AnyAPIServerReady: cp.anyReady})
		} else {
			emit(w, trace.APIHealthy{})
		}
	}
	w.setAlertCondition(alert, now)
	w.refreshHeartbeats(now)
}

// classRate is the requests per second of a class now (lease renewals: one per live node per
// status period).
func (w *World) classRate(c *apiClass) float64 {
	if c != w.cp.lease {
		return c.r.RatePerSecond
	}
	up := 0
	for _, ns := range w.nodes {
		if ns.n.Up {
			up++
		}
	}
	return float64(up) / w.m.NodeLifecycle.StatusUpdateFrequency.Duration.Seconds()
}

func (cp *controlPlane) integrate(w *World, now time.Duration) {
	dt := (now - cp.last).Seconds()
	if dt <= 0 {
		return
	}
	for _, c := range append(cp.classes, cp.lease) {
		r := c.rate * dt
		c.total += r
		c.ok += r * c.success
		if cp.anyReady {
			c.hist.observe(c, dt)
		}
	}
	if cp.impaired && !cp.fired {
		cp.undetected += now - cp.last
	}
	cp.last = now
}

// latencyQuantile is the smallest latency with at least q of the weight at or below it; 0 without weight.
func latencyQuantile(d []outcome, q float64) time.Duration {
	total := 0.0
	for _, o := range d {
		total += o.p
	}
	if total == 0 {
		return 0
	}
	sort.SliceStable(d, func(i, j int) bool { return d[i].latency < d[j].latency })
	acc := 0.0
	for _, o := range d {
		acc += o.p
		if acc >= q*total-1e-12 {
			return o.latency
		}
	}
	return d[len(d)-1].latency
}

// --- the latency alert ----------------------------------------------------------------------

// setAlertCondition follows Prometheus's rule evaluation: the alert becomes pending at the first
// evaluation that sees the condition and fires at the first evaluation at least For later if the
// condition held throughout.
func (w *World) setAlertCondition(on bool, now time.Duration) {
	cp := w.cp
	if on == cp.alertOn {
		return
	}
	cp.alertOn = on
	a := w.m.ControlPlane.LatencyAlert
	iv := a.EvaluationInterval.Duration
	if on {
		pending := ceilTo(now, iv)
		cp.alertTimer = w.q.AtID(ceilTo(pending+a.For.Duration, iv), w.hid, pack(evCPAlert, 0))
		return
	}
	w.q.Cancel(cp.alertTimer)
	if cp.firing {
		cp.firing = false
		emit(w, trace.AlertResolved{Alert: "KubeAPILatencyHigh"})
	}
}

func ceilTo(t, step time.Duration) time.Duration {
	if r := t % step; r != 0 {
		return t + step - r
	}
	return t
}

func (w *World) alertFires(now time.Duration) {
	cp := w.cp
	if !cp.alertOn || cp.firing {
		return
	}
	cp.integrate(w, now)
	cp.firing = true
	if !cp.fired {
		cp.fired, cp.firstFire = true, now
	}
	emit(w, trace.AlertFiring{Alert: "KubeAPILatencyHigh", P99: cp.p99})
}

// --- apiserver instances and the post-start hook --------------------------------------------

func (w *World) instanceStart(in *apiInstance) {
	in.state = instStarting
	w.q.Cancel(in.timer)
	in.timer = w.q.AfterID(w.m.ControlPlane.StartTime.Duration, w.hid, pack(evCPInstance, in.idx))
	emit(w, trace.APIServerStarting{Instance: in.name, Version: in.version})
	w.touch()
}

// instanceStep advances an instance after its timer: a started process begins its hooks, a
// crashed one restarts.
func (w *World) instanceStep(i int) {
	in := w.cp.insts[i]
	switch in.state {
	case instStarting:
		in.state = instHook
		in.hookStart = w.q.Now()
		if w.m.ControlPlane.ClientCAWriter == ClientCAController {
			// the write is the background controller's: the hooks complete at once
			in.hookOK = true
			w.hookDone(i)
			return
		}
		in.timer = w.q.AfterID(w.m.ControlPlane.HookPollInterval.Duration, w.hid, pack(evCPHookTry, i))
	case instCrashed:
		w.instanceStart(in)
	}
}

// hookTry is one try of the client-CA hook's write, through this instance's admission chain.
func (w *World) hookTry(i int) {
	cp := w.cp
	in := cp.insts[i]
	if in.state != instHook {
		return
	}
	now := w.q.Now()
	cfg := &w.m.ControlPlane
	d := w.admit(cp.hook.matched, cp.hooks)
	o := d[0]
	if len(d) > 1 {
		u := cp.rng.Float64()
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
		in.timer = w.q.AtID(end, w.hid, pack(evCPHookDone, i))
		return
	}
	deadline := in.hookStart + cfg.HookTimeout.Duration
	next := max(end, now+cfg.HookPollInterval.Duration)
	if next >= deadline {
		in.hookOK = false
		in.timer = w.q.AtID(max(end, deadline), w.hid, pack(evCPHookDone, i))
		return
	}
	in.timer = w.q.AtID(next, w.hid, pack(evCPHookTry, i))
}

func (w *World) hookDone(i int) {
	cp := w.cp
	in := cp.insts[i]
	if in.state != instHook {
		return
	}
	if in.hookOK {
		in.state = instReady
		in.restarts = 0
		emit(w, trace.APIServerReady{Instance: in.name, Version: in.version})
		w.touch()
		if up := cp.up; up != nil && !up.done && up.next == i {
			up.next++
			w.upgradeStep()
		}
		return
	}
	cp.exits++
	in.restarts++
	back := w.m.ControlPlane.RestartBackoffBase.Duration
	for k := 1; k < in.restarts && back < w.m.ControlPlane.RestartBackoffMax.Duration; k++ {
		back *= 2
	}
	back = min(back, w.m.ControlPlane.RestartBackoffMax.Duration)
	in.state = instCrashed
	in.timer = w.q.AfterID(back, w.hid, pack(evCPInstance, i))
	emit(w, trace.APIServerExited{Instance: in.name, Reason: clientCAExit, RestartIn: back})
	w.obsExits = append(w.obsExits, measure.APIServerExit{At: w.q.Now(), Instance: in.name, Reason: clientCAExit})
	w.touch()
}

// --- the managed upgrade --------------------------------------------------------------------

func (w *World) upgradeStart(f *Fault) {
	cp := w.cp
	if cp.up != nil {
		return
	}
	cp.up = &upgradeRun{f: f, start: w.q.Now()}
	timeout := f.Timeout
	if timeout <= 0 {
		timeout = w.m.ControlPlane.UpgradeTimeout.Duration
	}
	w.q.AfterID(timeout, w.hid, pack(evCPUpgradeTimeout, 0))
	emit(w, trace.UpgradeStarted{Version: f.Version, Timeout: timeout})
	w.upgradeStep()
}

func (w *World) upgradeStep() {
	cp := w.cp
	up := cp.up
	if up.next >= len(cp.insts) {
		up.done, up.doneAt = true, w.q.Now()
		emit(w, trace.UpgradeCompleted{Version: up.f.Version, Took: up.doneAt - up.start})
		return
	}
	in := cp.insts[up.next]
	w.q.Cancel(in.timer)
	in.state = instStopped
	in.version = up.f.Version
	in.restarts = 0
	emit(w, trace.APIServerReplaced{Instance: in.name})
	in.timer = w.q.AfterID(w.m.ControlPlane.UpgradeInstanceTime.Duration, w.hid, pack(evCPReplaced, in.idx))
	w.touch()
}

func (w *World) upgradeTimeout() {
	up := w.cp.up
	if up == nil || up.done {
		return
	}
	up.timedOut = true
	emit(w, trace.UpgradeTimedOut{Upgraded: up.next, Of: len(w.cp.insts)})
}

// --- kubelet heartbeats through the API -------------------------------------------------------

// refreshHeartbeats sets each node's heartbeat path from the lease renewals' chance of getting
// through admission in time. With no apiserver ready the renewals fail too, but the node
// lifecycle controller, which reads through the same apiservers, is as blind as the kubelets and
// marks nothing NotReady (upstream restarts its grace clocks when it can observe again); so only
// admission decides here.
func (w *World) refreshHeartbeats(now time.Duration) {
	cp := w.cp
	p := cp.hbPath
	for i, ns := range w.nodes {
		hb := &cp.hb[i]
		switch {
		case p >= 1-1e-12:
			hb.mixed = false
			w.q.Cancel(hb.timer)
			w.setReporting(ns, true, now)
		case p <= 1e-12:
			hb.mixed = false
			w.q.Cancel(hb.timer)
			w.setReporting(ns, false, now)
		case !hb.mixed:
			hb.mixed = true
			if hb.reporting {
				hb.lastOK = w.lastBeat(ns, now)
			}
			hb.timer = w.q.AtID(w.nextBeat(ns, now), w.hid, pack(evHeartbeat, i))
		}
	}
}

// lastBeat is the node's last lease renewal at or before now. Renewals are a period apart on a
// phase drawn once per node: which kubelets catch a short window in which the API lets them
// through depends on it.
func (w *World) lastBeat(ns *nodeState, now time.Duration) time.Duration {
	period := w.m.NodeLifecycle.StatusUpdateFrequency.Duration
	phase := w.cp.hb[ns.n.Index].phase
	return now - ((now-phase)%period+period)%period
}

func (w *World) nextBeat(ns *nodeState, now time.Duration) time.Duration {
	return w.lastBeat(ns, now) + w.m.NodeLifecycle.StatusUpdateFrequency.Duration
}

// leaseRetries is the kubelet lease controller's maxUpdateRetries: a renewal is retried at once
// up to 5 times before the controller waits for the next interval (pkg/kubelet/nodelease).
const leaseRetries = 5

// heartbeat is one lease renewal (with its immediate retries) drawn while renewals succeed only
// sometimes. The retries' own time (a timed-out try takes the client's 10 s) is left out.
func (w *World) heartbeat(i int) {
	cp := w.cp
	hb := &cp.hb[i]
	if !hb.mixed {
		return
	}
	now := w.q.Now()
	ns := w.nodes[i]
	ok := hb.rng.Float64() < 1-math.Pow(1-cp.hbPath, leaseRetries)
	if ok {
		hb.lastOK = now
	}
	w.setReporting(ns, ok, now)
	hb.timer = w.q.AfterID(w.m.NodeLifecycle.StatusUpdateFrequency.Duration, w.hid, pack(evHeartbeat, i))
}

// setReporting changes a node's heartbeat path. Losing it arms NotReady from the last renewal
// that got through; regaining it lets the next renewal report the node Ready.
func (w *World) setReporting(ns *nodeState, ok bool, now time.Duration) {
	hb := &w.cp.hb[ns.n.Index]
	if ok == hb.reporting {
		return
	}
	hb.reporting = ok
	n := ns.n
	if !n.Up {
		return // the machine's own state drives the node (nodeDown, nodeBoot)
	}
	if !ok {
		last := w.lastBeat(ns, now)
		if hb.mixed && hb.lastOK < last {
			last = hb.lastOK
		}
		ns.downSince = now
		emit(w, trace.HeartbeatsFailing{Node: n.Name})
		w.armNotReady(ns, last)
		return
	}
	emit(w, trace.HeartbeatsThrough{Node: n.Name})
	if n.Ready {
		w.q.Cancel(ns.notReady)
		return
	}
	at := now
	if !hb.mixed {
		at = w.nextBeat(ns, now)
	}
	w.q.AtID(at, w.hid, pack(evNodeReadyReport, n.Index))
}

// --- events and indicators ------------------------------------------------------------------

func (w *World) fireControlPlane(kind uint32, i int, now time.Duration) {
	switch kind {
	case evCPInstance:
		w.instanceStep(i)
	case evCPReplaced:
		w.instanceStart(w.cp.insts[i])
	case evCPHookTry:
		w.hookTry(i)
	case evCPHookDone:
		w.hookDone(i)
	case evCPUpgradeTimeout:
		w.upgradeTimeout()
	case evCPAlert:
		w.alertFires(now)
	case evHeartbeat:
		w.heartbeat(i)
	case evNodeRepair:
		w.nodeRepair(i)
	case evNodeRecreated:
		w.nodeRecreated(i)
	}
}

func (w *World) controlPlaneIndicators() []Indicator {
	cp := w.cp
	end := w.in.Duration
	cp.integrate(w, end)
	var ok, total, wok, wtotal float64
	for _, c := range append(cp.classes, cp.lease) {
		ok += c.ok
		total += c.total
		if c.r.mutating() {
			wok += c.ok
			wtotal += c.total
		}
	}
	ratio := func(a, b float64) float64 {
		if b == 0 {
			return 1
		}
		return a / b
	}
	detect := cp.undetected.Minutes()
	completed, took := 1.0, 0.0
	if up := cp.up; up != nil {
		if !up.done || up.timedOut {
			completed = 0
		}
		if up.done {
			took = (up.doneAt - up.start).Minutes()
		} else {
			took = (end - up.start).Minutes()
		}
	}
	return []Indicator{
		{Name: "api-availability", Value: ratio(ok, total)},
		{Name: "api-write-availability", Value: ratio(wok, wtotal)},
		{Name: "api-latency-p99-max-seconds", Value: cp.maxP99.Seconds()},
		{Name: "latency-alert-detect-minutes", Value: detect},
		{Name: "apiserver-exits"}, // from the record (Observations.APIServerExits): measure.FoldNodes
		{Name: "upgrade-completed", Value: completed},
		{Name: "upgrade-minutes", Value: took},
		{Name: "nodes-recreated"},        // from the record (Observations.Nodes)
		{Name: "repair-cadence-minutes"}, // likewise
	}
}
