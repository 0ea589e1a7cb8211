package sim

import (
	"math"
	"time"

	"github.com/faultline-dev/faultline/sim/cluster"
	"github.com/faultline-dev/faultline/sim/trace"
)

// cpuModel is the nodes' CPU: demand, contention and saturation, which arms kernel panics
// (machines.armPanic). The world's recomputation (nodes.go recompute) runs it on the nodes whose
// inputs changed.
//
// Model: a node's CPU is shared by its running pods. Real use comes from the scenario's Load (not
// from requests: requests only drive placement). A CPU limit caps a pod's use (CFS quota). When
// the sum exceeds allocatable CPU, the node grants CPU in proportion to requests (cpu.shares,
// which the kubelet sets from requests; at least 2 shares), redistributing what capped pods do
// not use (water-filling), and a pod serves the fraction of its demand it gets.
// Left out: the 100 ms CFS period effects (throttling bursts), system-reserved use, memory
// pressure and OOM, hyper-threading.
type cpuModel struct {
	*nodeEnv
	mach *machines
}

// podDemand is the real CPU a pod wants now, in cores, before contention.
func (c *cpuModel) podDemand(ps *podState) float64 {
	p := ps.p
	if p.Phase != cluster.PodRunning || ps.dead || ps.failed || p.Node == nil || !p.Node.Up {
		return 0
	}
	d := ps.stress
	if ps.wl != nil && ps.wl.load != nil {
		d += ps.wl.load.podCPU(p)
	}
	if p.LimitCPU > 0 {
		d = math.Min(d, float64(p.LimitCPU)/1000)
	}
	return d
}

// node recomputes a node's CPU demand, its pods' served fractions and its saturation, arming or
// disarming its kernel panic.
func (c *cpuModel) node(ns *nodeState) {
	pods := *c.pods
	n := ns.n
	capacity := float64(n.Allocatable.MilliCPU) / 1000
	total := 0.0
	for _, p := range n.Pods {
		ps := pods[p.Index]
		ps.demand = c.podDemand(ps)
		total += ps.demand
	}
	ns.demand = total
	if total <= capacity || total == 0 {
		for _, p := range n.Pods {
			pods[p.Index].served = 1
		}
	} else {
		c.waterFill(n, capacity)
	}
	for _, p := range n.Pods {
		// what the pod adds to its load's own share (loadState.ownShare): when that changed,
		// the load serves again
		ps := pods[p.Index]
		if ps.wl == nil || ps.wl.load == nil {
			continue
		}
		share := 0.0
		if p.Ready && p.Phase == cluster.PodRunning && !ps.dead && !ps.failed && p.Node.Up {
			share = ps.served
		}
		if math.Float64bits(share) != math.Float64bits(ps.share) {
			ps.share = share
			ps.wl.load.stale = true
		}
	}
	sat := n.Up && total/capacity >= c.m.KernelPanic.SaturationAbove
	switch {
	case sat && !ns.saturated:
		ns.saturated = true
		c.acct.saturations++
		envEmit(c.env, trace.NodeSaturated{Node: n.Name, Demand: total, Allocatable: capacity})
		if c.m.KernelPanic.On() {
			// cumulative Weibull hazard (t/λ)^k crosses a unit exponential E at t = λ·E^(1/k)
			e := ns.rng.ExpFloat64()
			k := c.m.KernelPanic.Shape
			t := weibullScale(c.m.KernelPanic.MeanTimeToPanic.Duration, k) * math.Pow(e, 1/k)
			c.mach.armPanic(ns, time.Duration(t))
		}
	case !sat && ns.saturated:
		ns.saturated = false
		c.q.Cancel(ns.panicAt)
		envEmit(c.env, trace.NodeSaturationOver{Node: n.Name, Demand: total})
	}
}

// waterFill grants capacity in proportion to CPU requests (shares), capping each pod at its demand.
func (c *cpuModel) waterFill(n *cluster.Node, capacity float64) {
	pods := *c.pods
	left := capacity
	open := 0
	for _, p := range n.Pods {
		ps := pods[p.Index]
		ps.served = -1 // not yet settled
		if ps.demand > 0 {
			open++
		} else {
			ps.served = 1
		}
	}
	for open > 0 && left > 1e-12 {
		shares := 0.0
		for _, p := range n.Pods {
			if pods[p.Index].served < 0 {
				shares += podShares(p)
			}
		}
		settled := false
		for _, p := range n.Pods {
			ps := pods[p.Index]
			if ps.served >= 0 {
				continue
			}
			if grant := left * podShares(p) / shares; grant >= ps.demand {
				ps.served = 1
				left -= ps.demand
				open--
				settled = true
			}
		}
		if !settled {
			for _, p := range n.Pods {
				ps := pods[p.Index]
				if ps.served < 0 {
					ps.served = left * podShares(p) / shares / ps.demand
				}
			}
			return
		}
	}
	for _, p := range n.Pods {
		if ps := pods[p.Index]; ps.served < 0 {
			ps.served = 0
		}
	}
}

func podShares(p *cluster.Pod) float64 { return math.Max(float64(p.Requests.MilliCPU), 2) }
