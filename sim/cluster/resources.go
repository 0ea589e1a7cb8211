package cluster

import (
	corev1 "k8s.io/api/core/v1"
)

// Scoring defaults for containers that request nothing, as the scheduler's
// pkg/scheduler/util.GetNonzeroRequests: 100 millicores and 200 MB.
const (
	DefaultMilliCPURequest int64 = 100
	DefaultMemoryRequest   int64 = 200 * 1024 * 1024
)

// PodRequests computes a spec's effective requests as upstream's resource helpers do: the sum over
// regular containers, raised to the largest init container, plus pod overhead. nonZero applies the
// scoring defaults per container. limitCPU is the sum of CPU limits, or 0 when any container is
// unlimited (then the pod can use the whole node). Sidecar (restartable init) containers are added
// to the sum as upstream does since 1.29.
func PodRequests(spec *corev1.PodSpec) (req, nonZero Resources, limitCPU int64) {
	limited := true
	for i := range spec.Containers {
		c := &spec.Containers[i]
		r := containerRequests(c)
		req = req.Add(r)
		nonZero = nonZero.Add(withDefaults(r, c))
		if l, ok := c.Resources.Limits[corev1.ResourceCPU]; ok && !l.IsZero() {
			limitCPU += l.MilliValue()
		} else {
			limited = false
		}
	}
	var sidecars Resources
	for i := range spec.InitContainers {
		c := &spec.InitContainers[i]
		r := containerRequests(c)
		if c.RestartPolicy != nil && *c.RestartPolicy == corev1.ContainerRestartPolicyAlways {
			sidecars = sidecars.Add(r)
			req = req.Add(r)
			nonZero = nonZero.Add(withDefaults(r, c))
			continue
		}
		// a regular init container runs alone (with the sidecars started before it)
		r = r.Add(sidecars)
		req = maxRes(req, r)
		nonZero = maxRes(nonZero, withDefaults(r, c))
	}
	if spec.Overhead != nil {
		o := Resources{MilliCPU: spec.Overhead.Cpu().MilliValue(), Memory: spec.Overhead.Memory().Value()}
		req = req.Add(o)
		nonZero = nonZero.Add(o)
	}
	if !limited {
		limitCPU = 0
	}
	return req, nonZero, limitCPU
}

func containerRequests(c *corev1.Container) Resources {
	var r Resources
	if q, ok := c.Resources.Requests[corev1.ResourceCPU]; ok {
		r.MilliCPU = q.MilliValue()
	} else if q, ok := c.Resources.Limits[corev1.ResourceCPU]; ok {
		r.MilliCPU = q.MilliValue() // requests default to limits
	}
	if q, ok := c.Resources.Requests[corev1.ResourceMemory]; ok {
		r.Memory = q.Value()
	} else if q, ok := c.Resources.Limits[corev1.ResourceMemory]; ok {
		r.Memory = q.Value()
	}
	return r
}

func withDefaults(r Resources, _ *corev1.Container) Resources {
	if r.MilliCPU == 0 {
		r.MilliCPU = DefaultMilliCPURequest
	}
	if r.Memory == 0 {
		r.Memory = DefaultMemoryRequest
	}
	return r
}

func maxRes(a, b Resources) Resources {
	if b.MilliCPU > a.MilliCPU {
		a.MilliCPU = b.MilliCPU
	}
	if b.Memory > a.Memory {
		a.Memory = b.Memory
	}
	return a
}
