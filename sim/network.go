package sim

import (
	"math/rand/v2"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/validation/field"

	"github.com/faultline-dev/faultline/sim/cluster"
	"github.com/faultline-dev/faultline/sim/engine"
	"github.com/faultline-dev/faultline/sim/trace"
)

// Readiness modes of a Load (app behaviour: what the readiness endpoint checks).
const (
	ReadinessShallow = "shallow"
	ReadinessDeep    = "deep"
)

// SIGTERM policies of a Load (app behaviour: what the process does on SIGTERM).
const (
	SIGTERMExit            = "exit"
	SIGTERMKeepServing     = "keep-serving"
	SIGTERMConnectionClose = "connection-close"
)

// Retry is a caller's retry policy for its dependency calls: up to Attempts tries per call (the
// first included), waiting Backoff before the first retry and doubling up to MaxBackoff.
//
// Model: each attempt picks an endpoint afresh, so an attempt succeeds with the dependency's
// success ratio at that instant, independently of the others; a dependency with no endpoints
// (or whose own dependencies are down) fails every attempt. The back-off waits are short against
// the model's state changes: they add latency (retry-wait-seconds) but do not carry a request
// across a recovery. Left out: retry budgets, jitter, the extra CPU of retries.
type Retry struct {
	Attempts   int             `json:"attempts"`
	Backoff    metav1.Duration `json:"backoff,omitempty"`
	MaxBackoff metav1.Duration `json:"maxBackoff,omitempty"`
}

// Network holds the data planes' endpoint-propagation lags.
type Network struct {
	// KubeProxyLag is from an EndpointSlice change to kube-proxy's rules on every node (Service
	// traffic inside the cluster). Faultline choice from upstream defaults: the EndpointSlice
	// controller batches nothing (--endpointslice-updates-batch-period 0) and kube-proxy syncs at
	// most once per iptables minSyncPeriod (1 s since k/k #92836), so a change takes effect on
	// every node within about a second or two: 0.5 s to 2 s.
	KubeProxyLag Lag `json:"kubeProxyLag"`
	// IngressLag is from an EndpointSlice change to the ingress load balancer routing by it (GKE:
	// the NEG controller attaching or detaching the endpoint). No official figure (docs/upstream.md
	// "Probes, endpoints, shutdown"); Google's support note on 502s during rollouts
	// (cloud.google.com/knowledge/kb/502-503-errors-on-external-http-s-load-balancer-000006416)
	// suggests a preStop sleep of about 40 s to cover it. Faultline choice: 10 s to 40 s.
	IngressLag Lag `json:"ingressLag"`
	// DeepCheckBelow: a deep readiness check fails while a checked dependency answers less than
	// this share of calls (the check is one call per period; faultline choice 0.5).
	DeepCheckBelow float64 `json:"deepCheckBelow"`
}

// Lag is a propagation delay drawn uniformly between Min and Max for every endpoint change and
// data plane (Min == Max: fixed). A bounded distribution, so a preStop sleep of Max or more
// covers every change.
type Lag struct {
	Min metav1.Duration `json:"min"`
	Max metav1.Duration `json:"max"`
}

func (l Lag) draw(rng *rand.Rand) time.Duration {
	span := l.Max.Duration - l.Min.Duration
	if span <= 0 {
		return l.Min.Duration
	}
	return l.Min.Duration + time.Duration(rng.Int64N(int64(span)+1))
}

func defaultNetwork() Network {
	return Network{
		KubeProxyLag:   Lag{Min: metav1.Duration{Duration: 500 * time.Millisecond}, Max: metav1.Duration{Duration: 2 * time.Second}},
		IngressLag:     Lag{Min: metav1.Duration{Duration: 10 * time.Second}, Max: metav1.Duration{Duration: 40 * time.Second}},
		DeepCheckBelow: 0.5,
	}
}

func (n Network) validate(p *field.Path) field.ErrorList {
	var errs field.ErrorList
	for _, l := range []struct {
		name string
		lag  Lag
	}{{"kubeProxyLag", n.KubeProxyLag}, {"ingressLag", n.IngressLag}} {
		if l.lag.Min.Duration < 0 || l.lag.Max.Duration < l.lag.Min.Duration {
			errs = append(errs, invalid(p.Child(l.name), "min %v, max %v; expected 0 <= min <= max", l.lag.Min.Duration, l.lag.Max.Duration))
		}
	}
	if n.DeepCheckBelow <= 0 || n.DeepCheckBelow > 1 {
		errs = append(errs, invalid(p.Child("deepCheckBelow"), "%v is out of range; expected a fraction in (0, 1]", n.DeepCheckBelow))
	}
	return errs
}

// netBehaviour reports whether the load sets any network-path app behaviour.
func (l *Load) netBehaviour() bool {
	return l.Readiness != "" || len(l.ReadinessChecks) > 0 || l.OnSIGTERM != "" || l.Retry != nil
}

// netEnv is what the network-path models (netWorld in endpoints.go with its probes, termination
// and traffic; rollouts in rollout.go; unreachable in unreachable.go) share, as package
// scheduler's plugins share its cycle state: the event queue with its virtual clock, the trace
// sink, the model parameters, the cluster state and the pods' states to read, and the rest of the
// world to act on behind netCluster. Each model owns its own state and registers its own event
// handler on q. (The World builds it in New over its own env.)
type netEnv struct {
	*env // the queue, trace sink and model parameters every model shares (env.go)
	st   *cluster.State
	pods *[]*podState // the world's pod states by pod index (World.pods, which grows)
	cl   netCluster
}

// pod is the state of pod pi.
func (e *netEnv) pod(pi int) *podState { return (*e.pods)[pi] }

// netCluster is what the network models need to ask of the rest of the world: the ReplicaSet
// controller's pod creation and deletion, the scheduling queue, the world's pod events and the
// recomputation of rates. World implements it.
type netCluster interface {
	// touch asks for a recomputation of rates at the current instant (World.touch).
	touch()
	// reconcileSoon asks for a sync of wl's controller at the current instant.
	reconcileSoon(wl *workload)
	// moveUnschedulable retries the parked pods after resources were freed.
	moveUnschedulable()
	deletePod(pi int, reason string)
	createWorkloadPod(wl *workload) *cluster.Pod
	// podAfter and podCancel schedule and cancel the world's pod events (workloads.go).
	podAfter(d time.Duration, kind uint32, pi int) engine.Timer
	podCancel(ps *podState, t *engine.Timer)
}

// emitNet sends e to the trace sink stamped with the virtual time, as emit does for the World.
func emitNet[E trace.Event](ne *netEnv, e E) { envEmit(ne.env, e) }

// podStates are the pods' states by pod index (podReader).
func (w *World) podStates() []*podState { return w.pods }
