package record

// The recording's own indicators: the trace becomes package measure's observation record, and
// measure.Compute (and measure.SummarisePodStarts for the workloads' pod start-up) turn it into
// figures, as they do for the simulator and for faultline's real runs.

import (
	"slices"
	"strings"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"

	"github.com/faultline-dev/faultline/measure"
)

// RecordedWorld is the column of the indicator registry a recording is read as: a cluster of
// real kubelets, without faultline's load generator (what it measures, a recording measures).
const RecordedWorld = measure.Kind

// Recorded is what the recording measured.
type Recorded struct {
	// Startup is the start-up of the Deployments' pods created during the recording.
	Startup measure.PodStartup
	// Indicators are measure.Compute's figures over the recording (Job start delays and their
	// steps, failed runs, evictions, pods lost with deleted nodes, replicas per node).
	Indicators []measure.Indicator
}

// scheduledAnnotation is where the CronJob controller writes a Job's scheduled time.
const scheduledAnnotation = "batch.kubernetes.io/cronjob-scheduled-timestamp"

// Observe reads a trace as observations: offsets from the sync, the window up to the end. Pod
// starts are those of the Deployments' (and StatefulSets') pods first seen after the sync.
func Observe(t *Trace) (*measure.Observations, measure.Window, []measure.PodStart) {
	return observe(t, t.Events)
}

// observe is Observe of the trace's events as podEvents gives them, or as they are.
func observe(t *Trace, events []Event) (*measure.Observations, measure.Window, []measure.PodStart) {
	win := measure.Window{Start: t.Synced, Length: max(0, t.End.Sub(t.Synced))}
	o := &measure.Observations{World: RecordedWorld,
		Omit: measure.OmitTraffic(nil, "a recording watches objects; it sends no requests")}
	off := func(at time.Time) time.Duration { return at.Sub(t.Synced) }

	type podSeen struct {
		start   int // index in starts, -1: not a start observed from its creation
		run     int // index in cron runs, -1: not a Job's pod
		node    string
		active  bool // bound, not deleted, not finished
		running bool
		evicted bool
		owner   string // namespace/deployment of a ReplicaSet's pod
	}
	pods := map[string]*podSeen{}
	var starts []measure.PodStart
	cron := &measure.CronObservations{}
	runOf := map[string]int{} // namespace/job → index in cron.Runs
	failedJobs := map[string]bool{}
	cronJobs := map[string]int{}          // namespace/name → index in cron.CronJobs
	want := map[string]int64{}            // replicas per Deployment
	onNode := map[string]map[string]int{} // deployment → node → active pods
	colocate := func(dep string) {
		if want[dep] < 2 {
			return
		}
		for _, c := range onNode[dep] {
			o.MaxColocated = max(o.MaxColocated, c)
		}
	}
	place := func(s *podSeen, node string, active bool) {
		if s.owner == "" {
			return
		}
		m := onNode[s.owner]
		if m == nil {
			m = map[string]int{}
			onNode[s.owner] = m
		}
		if s.node != "" && s.active {
			m[s.node]--
		}
		if active && node != "" {
			m[node]++
		}
		colocate(s.owner)
	}
	duringRecording := func(e Event) bool { return !e.Initial && e.Time.After(t.Synced) }
	// the Jobs created during the recording, by their first event, so that a pod seen before its
	// Job still counts for the Job's run
	jobAdds := map[string]Event{}
	for _, e := range events {
		if e.Kind() != "Job" || e.Op != OpAdd || !duringRecording(e) {
			continue
		}
		key := e.Object.GetNamespace() + "/" + e.Object.GetName()
		if _, ok := jobAdds[key]; !ok {
			jobAdds[key] = e
		}
	}
	newRun := func(key string, e Event) int {
		u := e.Object
		run := measure.CronRun{JobCreated: off(e.Time), Seen: measure.JobCreated, Scheduled: off(e.Time)}
		if owner(u) == "CronJob" {
			for _, ref := range u.GetOwnerReferences() {
				if ref.Kind == "CronJob" {
					run.CronJob = u.GetNamespace() + "/" + ref.Name
				}
			}
			if ts, err := time.Parse(time.RFC3339, u.GetAnnotations()[scheduledAnnotation]); err == nil {
				run.Scheduled = off(ts)
			}
		}
		runOf[key] = len(cron.Runs)
		cron.Runs = append(cron.Runs, run)
		return len(cron.Runs) - 1
	}
	for _, e := range events {
		u := e.Object
		ns, name := e.Namespace(), e.Name()
		after := duringRecording(e)
		switch e.Kind() {
		case "Deployment", "StatefulSet":
			dep := ns + "/" + name
			if e.Op == OpDelete {
				want[dep] = 0
			} else {
				want[dep] = replicas(u)
			}
			colocate(dep)
		case "CronJob":
			key := ns + "/" + name
			if _, ok := cronJobs[key]; ok || e.Op == OpDelete {
				continue
			}
			obs := measure.CronJobObservation{Key: key}
			schedule, _, _ := unstructured.NestedString(u.Object, "spec", "schedule")
			tz, _, _ := unstructured.NestedString(u.Object, "spec", "timeZone")
			suspended, _, _ := unstructured.NestedBool(u.Object, "spec", "suspend")
			if s, err := measure.ParseSchedule(schedule, &tz); err == nil && !suspended {
				obs.Next = s.Next
			}
			if after {
				obs.DueFrom = off(e.Time)
			}
			cronJobs[key] = len(cron.CronJobs)
			cron.CronJobs = append(cron.CronJobs, obs)
		case "Job":
			key := ns + "/" + name
			if _, ok := runOf[key]; !ok {
				if !after || e.Op != OpAdd {
					continue // a run from before the recording
				}
				newRun(key, e)
			}
			if jobFailed(u) && !failedJobs[key] {
				failedJobs[key] = true
				cron.FailedRuns++
			}
		case "Pod":
			p := e.pod()
			key := ns + "/" + name
			s := pods[key]
			if s == nil {
				s = &podSeen{start: -1, run: -1}
				pods[key] = s
				switch ref := podControllerRef(p); {
				case ref.Kind == "Job":
					job := ns + "/" + ref.Name
					i, ok := runOf[job]
					if !ok {
						// the pod's event came first: the informers of Jobs and pods deliver
						// independently, and on a loaded machine the Job's ADD can trail its pod's
						if je, created := jobAdds[job]; created {
							i, ok = newRun(job, je), true
						}
					}
					if ok {
						s.run = i
					}
				case ref.Kind == "ReplicaSet" || ref.Kind == "StatefulSet":
					dep := ref.Name
					if ref.Kind == "ReplicaSet" {
						if j := strings.LastIndexByte(dep, '-'); j > 0 {
							dep = dep[:j]
						}
					}
					s.owner = ns + "/" + dep
					if after && e.Op == OpAdd {
						s.start = len(starts)
						starts = append(starts, measure.PodStart{Created: off(e.Time), Seen: measure.PodCreated})
					}
				}
				if s.run >= 0 {
					r := &cron.Runs[s.run]
					if r.Seen&measure.PodCreated == 0 {
						// not before its Job: the order of the two watches is not the order of
						// the writes, and the pod cannot exist before the Job that made it
						r.PodCreated, r.Seen = max(off(e.Time), r.JobCreated), r.Seen|measure.PodCreated
					}
				}
			}
			node, phase := p.Spec.NodeName, string(p.Status.Phase)
			deleting := p.DeletionTimestamp != nil || e.Op == OpDelete
			if s.start >= 0 {
				ps := &starts[s.start]
				if node != "" && ps.Seen&measure.PodBound == 0 {
					ps.Bound, ps.Seen = off(e.Time), ps.Seen|measure.PodBound
				}
				if phase == "Running" && ps.Seen&measure.PodBound != 0 && ps.Seen&measure.AppRunning == 0 {
					ps.Running, ps.Seen = off(e.Time), ps.Seen|measure.AppRunning
				}
			}
			if s.run >= 0 {
				r := &cron.Runs[s.run]
				if node != "" && r.Seen&measure.PodBound == 0 {
					r.PodBound, r.Seen = off(e.Time), r.Seen|measure.PodBound
				}
				if (phase == "Running" || phase == "Succeeded" || phase == "Failed" && appStarted(p)) && r.Seen&measure.AppRunning == 0 {
					r.AppRunning, r.Seen = off(e.Time), r.Seen|measure.AppRunning
				}
				if phase == "Failed" && e.Op != OpDelete {
					cron.FailedAttempts++
				}
			}
			if deleting && !s.evicted && evictedByTaint(p) {
				s.evicted = true
				o.Evictions++
			}
			running := !deleting && node != "" && phase == "Running"
			active := !deleting && node != "" && phase != "Succeeded" && phase != "Failed"
			place(s, node, active)
			s.node, s.active, s.running = node, active, running
			if e.Op == OpDelete {
				delete(pods, key)
			}
		case "Node":
			if e.Op != OpDelete || !after {
				continue
			}
			for _, s := range pods {
				if s.node == name && s.running {
					o.PodsLost++
				}
			}
		}
	}
	if len(cron.CronJobs) > 0 || len(cron.Runs) > 0 {
		o.Scopes |= measure.Cron
		o.Cron = cron
	}
	return o, win, starts
}

// measureTrace computes the recording's indicators.
func measureTrace(t *Trace, events []Event) Recorded {
	o, win, starts := observe(t, events)
	vals, _ := measure.Compute(o, win)
	return Recorded{Startup: measure.SummarisePodStarts(starts), Indicators: vals}
}

// Get returns the recorded value of an indicator.
func (r Recorded) Get(name string) (float64, bool) {
	i := slices.IndexFunc(r.Indicators, func(in measure.Indicator) bool { return in.Name == name })
	if i < 0 {
		return 0, false
	}
	return r.Indicators[i].Value, true
}

type ref struct{ Kind, Name string }

func controllerRef(u *unstructured.Unstructured) ref {
	for _, r := range u.GetOwnerReferences() {
		if r.Controller != nil && *r.Controller {
			return ref{r.Kind, r.Name}
		}
	}
	return ref{}
}

func jobFailed(u *unstructured.Unstructured) bool { return hasCondition(u, "Failed", "") }

// evictedByTaint reports the taint eviction controller's DisruptionTarget condition.
func evictedByTaint(p *corev1.Pod) bool {
	for _, c := range p.Status.Conditions {
		if c.Type == corev1.DisruptionTarget && c.Status == corev1.ConditionTrue && c.Reason == "DeletionByTaintManager" {
			return true
		}
	}
	return false
}

// hasCondition reports a true status condition of the type (and the reason, unless "").
func hasCondition(u *unstructured.Unstructured, typ, reason string) bool {
	conds, _, _ := unstructured.NestedSlice(u.Object, "status", "conditions")
	for _, c := range conds {
		m, _ := c.(map[string]any)
		if m["type"] == typ && m["status"] == "True" && (reason == "" || m["reason"] == reason) {
			return true
		}
	}
	return false
}

// appStarted reports whether a container of the pod ran (running or terminated).
func appStarted(p *corev1.Pod) bool {
	for _, c := range p.Status.ContainerStatuses {
		if c.State.Running != nil || c.State.Terminated != nil {
			return true
		}
	}
	return false
}

// podControllerRef is the pod's controller.
func podControllerRef(p *corev1.Pod) ref {
	if r := metav1.GetControllerOfNoCopy(p); r != nil {
		return ref{r.Kind, r.Name}
	}
	return ref{}
}
