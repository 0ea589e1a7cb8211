package sim

import (
	"fmt"
	"time"

	"github.com/faultline-dev/faultline/measure"
	"github.com/faultline-dev/faultline/sim/cluster"
	"github.com/faultline-dev/faultline/sim/engine"
)

// The control plane: several kube-apiserver instances behind a load balancer, each running the
// client-CA post-start hook when it starts; a managed rolling upgrade; the requests of clients and
// kubelets going through the admission webhooks; API availability, request latency and an alert;
// node auto-repair.
//
// It is split as upstream splits it, each part a model type that owns its state and registers
// its own engine handler for its own event kinds, sharing the cpEnv and reaching the rest of the
// world through the narrow cpCluster interface rather than World:
//   - admissionChain (admission.go): the validating webhooks, their backends' endpoints and the
//     fate of a request through them (k8s.io/apiserver's webhook dispatcher); no events;
//   - apiServers (controlplane_apiserver.go): the kube-apiserver instances, their start, the
//     client-CA post-start hook and the kubelet's restarts of a crashed one;
//   - upgrader (controlplane_upgrade.go): the managed rolling upgrade and its client time-out;
//   - apiTraffic and latencyAlert (controlplane_traffic.go): the clients' requests and their
//     fate, integrated; the latency quantile of mutating requests and the Prometheus alert on it;
//   - leaseHeartbeats (controlplane_heartbeat.go): the kubelets' lease renewals through the API;
//   - autoRepairer (autorepair.go): GKE's node auto-repair.
//
// What they observe goes into the typed record (measure.ControlPlaneObservations, with the node
// transitions and apiserver exits); measure.ControlPlaneIndicators derives the indicators from it
// for both worlds.
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
//     node lifecycle controller marks the node NotReady after the grace period (node_lifecycle.go). With
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
//
// controlPlane groups the models (each built, started and recomputed from here); embedding
// promotes their fields, which the Prometheus recorder and the invariant checker read
// (cp.last, cp.anyReady, cp.exits, cp.repairs, cp.lastRepair).
type controlPlane struct {
	*cpEnv
	*admissionChain
	*apiServers
	*upgrader
	*apiTraffic
	*latencyAlert
	*leaseHeartbeats
	*autoRepairer
}

// cpEnv is what the control-plane models share: the env (queue, trace sink, parameters), the
// cluster state and the pods' and nodes' states to read, and the rest of the world to act on.
type cpEnv struct {
	*env
	st    *cluster.State
	pods  *[]*podState  // the world's pod states by pod index (World.pods, which grows)
	nodes *[]*nodeState // the world's node states by node index
	cl    cpCluster
}

// cpCluster is what the control-plane models need to ask of the rest of the world: the node
// lifecycle controller and the machines (node_models.go), pod deletion and the recomputation of rates.
// World implements it.
type cpCluster interface {
	// touch asks for a recomputation of rates at the current instant (World.touch).
	touch()
	// armNotReady has the node lifecycle controller find the node silent since lastBeat.
	armNotReady(ns *nodeState, lastBeat time.Duration)
	// reportReadyAt has the node's kubelet report it Ready at t.
	reportReadyAt(ns *nodeState, t time.Duration)
	// nodeDown stops the machine; nodeBoot brings it (a fresh VM) up.
	nodeDown(ns *nodeState)
	nodeBoot(i int)
	observeNode(name string, to measure.NodeState)
	deletePod(pi int, reason string)
}

func (e *cpEnv) pod(pi int) *podState { return (*e.pods)[pi] }

// reportReadyAt queues the node's Ready report (cpCluster).
func (w *World) reportReadyAt(ns *nodeState, t time.Duration) {
	w.nm.ctl.reportReadyAt(ns, t)
}

// buildControlPlane sets the control-plane models up when the scenario has webhooks, an upgrade
// or auto-repair; otherwise w.cp stays nil and none of them runs.
func (w *World) buildControlPlane() {
	if !w.prep.controlPlane {
		return // nothing to build (newControlPlane would build the admission chain to find out)
	}
	w.cp = newControlPlane(&cpEnv{env: &w.env, st: &w.st, pods: &w.pods, nodes: &w.nodes, cl: w})
}

// controlPlaneModelled reports whether in has webhooks (hooks of them), control-plane upgrades or
// auto-repair: the control-plane models then run.
func controlPlaneModelled(hooks int, in *Input) bool {
	if hooks > 0 || in.Models.AutoRepair.Enabled {
		return true
	}
	for _, f := range in.Faults {
		if f.Action == ControlPlaneUpgrade {
			return true
		}
	}
	return false
}

// newControlPlane builds the models for e's scenario; nil when it has none of the above.
func newControlPlane(e *cpEnv) *controlPlane {
	adm := newAdmissionChain(e)
	upgrades := 0
	for _, f := range e.in.Faults {
		if f.Action == ControlPlaneUpgrade {
			upgrades++
		}
	}
	if !controlPlaneModelled(len(adm.hooks), e.in) {
		return nil
	}
	srv := newAPIServers(e, adm)
	up := &upgrader{cpEnv: e, srv: srv}
	srv.up = up
	tr := newAPITraffic(e, adm)
	cp := &controlPlane{cpEnv: e, admissionChain: adm, apiServers: srv, upgrader: up, apiTraffic: tr,
		latencyAlert: &latencyAlert{cpEnv: e, t: tr}, leaseHeartbeats: newLeaseHeartbeats(e), autoRepairer: newAutoRepairer(e)}
	return cp
}

// start runs at time 0, after settling: the models register their handlers on the run's queue
// and every instance is serving.
func (cp *controlPlane) start() {
	for _, h := range cp.handlers() {
		*h.hid = cp.q.Register(h.h)
	}
	for i, ns := range *cp.nodes {
		if !ns.n.Up {
			cp.hb[i].reporting = false
		}
	}
	cp.recompute(0)
}

// recompute integrates the API counters up to now, then derives the backends' state, every
// request class's fate, the latency quantile, the alert condition and the heartbeat paths. It
// runs with every recomputation of the world (nodes.go recompute).
func (cp *controlPlane) recompute(now time.Duration) {
	cp.integrate(now)
	anyReady := cp.serving()
	cp.refreshBackends(anyReady)
	alert := cp.apiTraffic.derive(anyReady, now)
	cp.latencyAlert.set(alert, now)
	cp.leaseHeartbeats.refresh(cp.hbPath, now)
}

// observe is the control plane's part of the run's record, with the counters integrated to the
// end of the scenario.
func (cp *controlPlane) observe() *measure.ControlPlaneObservations {
	cp.integrate(cp.in.Duration)
	o := &measure.ControlPlaneObservations{LatencyQuantile: cp.quantiles, Impaired: cp.impairedSpans,
		AlertFirings: cp.firings, Upgrade: cp.upgrader.observe()}
	for _, c := range cp.all {
		o.Requests = append(o.Requests, measure.APIRequests{Kind: c.r.Name, Operation: c.r.Operation,
			Offered: c.total, Succeeded: c.ok, Rejected: c.hist.bad})
	}
	return o
}

// cpEvent is one event kind of a control-plane model M: its name (in the invariant checker's
// violations) and what it does, given the index packed with the kind (pack).
type cpEvent[M any] struct {
	name string
	do   func(m M, i int)
}

// fireEvent runs event arg of model m from the table of its kinds.
func fireEvent[M any](m M, kinds []cpEvent[M], arg uint32) {
	kind, i := unpack(arg)
	if int(kind) >= len(kinds) || kinds[kind].do == nil {
		panic(fmt.Sprintf("sim: unknown %T event kind %d", m, kind))
	}
	kinds[kind].do(m, i)
}

func kindNames[M any](kinds []cpEvent[M]) []string {
	names := make([]string, len(kinds))
	for k, e := range kinds {
		names[k] = e.name
	}
	return names
}

// cpHandler is a control-plane model with events of its own: its engine handler, where its
// registration goes and its event kinds' names.
type cpHandler struct {
	h     engine.Handler
	hid   *engine.HandlerID
	names func() []string
}

func (cp *controlPlane) handlers() []cpHandler {
	return []cpHandler{
		{cp.apiServers, &cp.apiServers.hid, func() []string { return kindNames(apiServerEvents[:]) }},
		{cp.upgrader, &cp.upgrader.hid, func() []string { return kindNames(upgradeEvents[:]) }},
		{cp.latencyAlert, &cp.latencyAlert.hid, func() []string { return kindNames(alertEvents[:]) }},
		{cp.leaseHeartbeats, &cp.leaseHeartbeats.hid, func() []string { return kindNames(heartbeatEvents[:]) }},
		{cp.autoRepairer, &cp.autoRepairer.hid, func() []string { return kindNames(repairEvents[:]) }},
	}
}

// eventNames names the event kinds of the control-plane model registered as hid (for the
// invariant checker's violations); nil for another handler.
func (cp *controlPlane) eventNames(hid engine.HandlerID) []string {
	for _, h := range cp.handlers() {
		if *h.hid == hid {
			return h.names()
		}
	}
	return nil
}

// The World's hooks into the control plane, for the node lifecycle (node_models.go) and the faults
// (faults.go); each is a no-op without the control-plane models.

// startControlPlane runs at time 0, after settling.
func (w *World) startControlPlane() {
	if w.cp != nil {
		w.cp.start()
	}
}

// controlPlaneRecompute runs with every recomputation of the world.
func (w *World) controlPlaneRecompute(now time.Duration) {
	if w.cp != nil {
		w.cp.recompute(now)
	}
}

// apiReporting reports whether a node's lease renewals get through the API; always true without
// the control-plane model.
func (w *World) apiReporting(ns *nodeState) bool {
	return w.cp == nil || w.cp.hb[ns.n.Index].reporting
}

// repairArm starts a node's repair clock when it goes NotReady (node_lifecycle.go notReady).
func (w *World) repairArm(ns *nodeState) {
	if w.cp != nil {
		w.cp.autoRepairer.arm(ns.n.Index)
	}
}

// repairCancel stops it when the node is Ready again (node_lifecycle.go readyReport).
func (w *World) repairCancel(ns *nodeState) {
	if w.cp != nil {
		w.cp.autoRepairer.cancel(ns.n.Index)
	}
}

// upgradeStart starts a ControlPlaneUpgrade fault (faults.go); the fault makes w.cp non-nil.
func (w *World) upgradeStart(f *Fault) { w.cp.upgrader.start(f) }
