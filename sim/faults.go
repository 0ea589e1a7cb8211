package sim

import (
	"cmp"
	"fmt"
	"math/rand/v2"
	"slices"
	"strconv"
	"strings"
	"time"

	"k8s.io/apimachinery/pkg/labels"

	"github.com/faultline-dev/faultline/sim/cluster"
	"github.com/faultline-dev/faultline/sim/trace"
)

// faultState is a Fault with its random stream and the pods or nodes it acted on.
type faultState struct {
	f     *Fault
	rng   *rand.Rand
	pods  []int
	nodes []*nodeState
}

func (w *World) buildFaults() {
	for i := range w.in.Faults {
		f := &w.in.Faults[i]
		fs := w.slab.faults.take() // as the last world left it: keep its lists' backing arrays
		*fs = faultState{pods: clearSlice(fs.pods), nodes: clearSlice(fs.nodes)}
		fs.f, fs.rng = f, w.stream(w.prep.faultStreams[i])
		if f.Action == NodeStop || f.Action == NodeReset {
			for _, name := range f.Nodes {
				fs.nodes = append(fs.nodes, w.nodeByName(name))
			}
		}
		w.faults = append(w.faults, fs)
	}
}

// selectCount is how many of n candidates a Chaos Mesh mode picks.
func selectCount(mode SelectMode, value string, n int, rng *rand.Rand) (int, error) {
	num := func() (float64, error) {
		v, err := strconv.ParseFloat(value, 64)
		if err != nil || v < 0 {
			return 0, fmt.Errorf("mode %s needs a non-negative number in value, got %q", mode, value)
		}
		return v, nil
	}
	switch mode {
	case "", ModeAll:
		return n, nil
	case ModeOne:
		return min(1, n), nil
	case ModeFixed:
		v, err := num()
		return min(int(v), n), err
	case ModeFixedPercent:
		v, err := num()
		if v > 100 {
			err = fmt.Errorf("mode %s: value %q is over 100", mode, value)
		}
		return int(float64(n) * v / 100), err
	case ModeRandomMaxPercent:
		v, err := num()
		if v > 100 {
			err = fmt.Errorf("mode %s: value %q is over 100", mode, value)
		}
		maxN := int(float64(n) * v / 100)
		if rng == nil || err != nil {
			return maxN, err
		}
		return rng.IntN(maxN + 1), nil
	}
	return 0, fmt.Errorf("unknown selector mode %q; expected one, all, fixed, fixed-percent or random-max-percent", mode)
}

// selectPods applies the selector to the live pods, in creation order, then the mode.
// creationOrder sorts pod indices in the order the pods were created: their indices' order until
// a Job pod's slot is reused (newJobPod).
func (w *World) creationOrder(pis []int) {
	if !w.jobPods.reuse {
		slices.Sort(pis)
		return
	}
	slices.SortFunc(pis, func(a, b int) int { return cmp.Compare(w.pods[a].seq, w.pods[b].seq) })
}

func (w *World) selectPods(fs *faultState) []int {
	sel := fs.f.Pods
	var cand []int
	for _, p := range w.st.Pods {
		if p.Phase == cluster.PodGone || p.Phase == cluster.PodTerminating {
			continue
		}
		if len(sel.Namespaces) > 0 && !slices.Contains(sel.Namespaces, p.Namespace) {
			continue
		}
		if sel.Labels != nil && !sel.Labels.Matches(labels.Set(p.Labels)) {
			continue
		}
		if len(sel.Nodes) > 0 && (p.Node == nil || !slices.Contains(sel.Nodes, p.Node.Name)) {
			continue
		}
		cand = append(cand, p.Index)
	}
	w.creationOrder(cand)
	k, _ := selectCount(sel.Mode, sel.Value, len(cand), fs.rng)
	if k < len(cand) {
		fs.rng.Shuffle(len(cand), func(i, j int) { cand[i], cand[j] = cand[j], cand[i] })
		cand = cand[:k]
		w.creationOrder(cand)
	}
	return cand
}

func (w *World) faultStart(i int) {
	fs := w.faults[i]
	f := fs.f
	emit(w, trace.FaultStarted{Fault: f.Name, Action: string(f.Action)})
	switch f.Action {
	case NodeStop:
		for _, ns := range fs.nodes {
			if ns.n.Up {
				ns.stopped = true
				w.nodeDown(ns)
			}
		}
		if f.Duration > 0 {
			w.q.AfterID(f.Duration, w.hid, pack(evFaultEnd, i))
		}
	case NodeReset:
		for _, ns := range fs.nodes {
			if ns.n.Up {
				w.nodeDown(ns)
				w.q.AfterID(w.m.KernelPanic.RebootTime.Duration, w.hid, pack(evNodeBoot, ns.n.Index))
			}
		}
	case PodKill:
		for _, pi := range w.selectPods(fs) {
			w.deletePod(pi, "fault "+f.Name)
		}
	case PodFailure:
		fs.pods = w.selectPods(fs)
		for _, pi := range fs.pods {
			w.pods[pi].failed = true
			w.st.Pods[pi].Ready = false
			podChanged(w.st.Pods[pi])
		}
		if f.Duration > 0 {
			w.q.AfterID(f.Duration, w.hid, pack(evFaultEnd, i))
		}
	case CPUStress:
		fs.pods = w.selectPods(fs)
		for _, pi := range fs.pods {
			w.pods[pi].stress += f.CPU
			podChanged(w.st.Pods[pi])
		}
		if f.Duration > 0 {
			w.q.AfterID(f.Duration, w.hid, pack(evFaultEnd, i))
		}
	case ControllerManagerDown:
		w.cron.controllerManagerDown()
		d := f.Duration
		if d == 0 {
			d = controllerManagerRestart
		}
		w.q.AfterID(d, w.hid, pack(evCMUp, 0))
	case PodUnreachable:
		fs.pods = w.selectPods(fs)
		w.unreach.start(i, fs)
		if f.Duration > 0 {
			w.q.AfterID(f.Duration, w.hid, pack(evFaultEnd, i))
		}
	case ControlPlaneUpgrade:
		w.upgradeStart(f)
	}
	w.acct.faults++
	w.touch()
}

func (w *World) faultEnd(i int) {
	fs := w.faults[i]
	f := fs.f
	emit(w, trace.FaultEnded{Fault: f.Name, Action: string(f.Action)})
	switch f.Action {
	case NodeStop:
		for _, ns := range fs.nodes {
			if f.At == 0 {
				w.st.SetUnschedulable(ns.n, false) // joined (holdJoiningNodes)
			}
			if ns.stopped {
				w.nodeBoot(ns.n.Index)
			}
		}
	case PodFailure:
		for _, pi := range fs.pods {
			ps := w.pods[pi]
			ps.failed = false
			p := ps.p
			podChanged(p)
			if p.Phase == cluster.PodRunning && !ps.dead {
				w.podCancel(ps, &ps.ready)
				ps.ready = w.podAfter(ps.readyWait, evPodReady, pi)
			}
		}
	case CPUStress:
		for _, pi := range fs.pods {
			w.pods[pi].stress -= f.CPU
			podChanged(w.st.Pods[pi])
		}
	case PodUnreachable:
		w.unreach.end(i, fs.pods)
	}
	w.touch()
}

// holdJoiningNodes keeps the nodes of a node-stop fault that starts at 0 out of the cluster's
// settling: such a node is not there at the start (an imported recording's node that joins
// later, at the fault's end), so nothing is placed on it before it stops. It stays unschedulable
// until the fault ends.
func (w *World) holdJoiningNodes() {
	for _, fs := range w.faults {
		if fs.f.Action == NodeStop && fs.f.At == 0 {
			for _, ns := range fs.nodes {
				w.st.SetUnschedulable(ns.n, true)
			}
		}
	}
}

// controllerManagerRestart is how long kube-controller-manager is gone when its pod is killed
// rather than failed for a duration: a restart and leader election (faultline choice).
const controllerManagerRestart = 30 * time.Second

// String names a fault for traces.
func (f Fault) String() string {
	return f.Name + " " + string(f.Action) + " " + strings.Join(f.Nodes, ",")
}
