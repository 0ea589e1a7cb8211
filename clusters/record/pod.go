package record

import (
	"encoding/json"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// PodFields are the fields of a pod ReadTrace decodes (JSON paths): what import (package
// importer's Build: owner, placement, requests, phase) and Observe (binding, start-up, runs,
// evictions) read. A pod with no controller (played as a bare Pod, whole) is decoded whole.
var PodFields = []string{"metadata.name", "metadata.namespace", "metadata.labels", "metadata.annotations",
	"metadata.ownerReferences", "metadata.deletionTimestamp", "spec.nodeName", "spec.containers[].resources.requests",
	"spec.initContainers[].resources.requests", "status.phase", "status.conditions", "status.containerStatuses[].state"}

// podJSON is a pod's PodFields. The labels, owners and containers of a workload's pods are the
// same JSON from pod to pod (replicas of one template, of one ReplicaSet): decoded once, their
// values are shared by the pods whose JSON they were (read them, don't change them).
type podJSON struct {
	Metadata struct {
		Name              string                          `json:"name"`
		Namespace         string                          `json:"namespace"`
		Labels            cached[map[string]string]       `json:"labels"`
		Annotations       map[string]string               `json:"annotations"`
		OwnerReferences   cached[[]metav1.OwnerReference] `json:"ownerReferences"`
		DeletionTimestamp *metav1.Time                    `json:"deletionTimestamp"`
	} `json:"metadata"`
	Spec struct {
		NodeName       string                     `json:"nodeName"`
		Containers     cached[[]corev1.Container] `json:"containers"`
		InitContainers cached[[]corev1.Container] `json:"initContainers"`
	} `json:"spec"`
	Status struct {
		Phase             corev1.PodPhase       `json:"phase"`
		Conditions        []corev1.PodCondition `json:"conditions"`
		ContainerStatuses []struct {
			State struct {
				Running    *struct{} `json:"running"`
				Terminated *struct{} `json:"terminated"`
			} `json:"state"`
		} `json:"containerStatuses"`
	} `json:"status"`
}

// podCache holds the values decoded of one decoder's pods, by their JSON.
type podCache struct {
	labels     map[string]map[string]string
	owners     map[string][]metav1.OwnerReference
	containers map[string][]corev1.Container
}

func newPodCache() *podCache {
	return &podCache{labels: map[string]map[string]string{}, owners: map[string][]metav1.OwnerReference{},
		containers: map[string][]corev1.Container{}}
}

// maxCached bounds each of a podCache's maps: past it, a JSON not seen yet is decoded each time.
const maxCached = 4096

// cached is a value decoded through a cache of the values of the same JSON.
type cached[T any] struct {
	cache  map[string]T
	decode func([]byte) (T, error)
	v      T
}

func (c *cached[T]) UnmarshalJSON(b []byte) error {
	if v, ok := c.cache[string(b)]; ok {
		c.v = v
		return nil
	}
	v, err := c.decode(b)
	if err != nil {
		return err
	}
	if len(c.cache) < maxCached {
		c.cache[string(b)] = v
	}
	c.v = v
	return nil
}

func decodeJSON[T any](b []byte) (T, error) {
	var v T
	err := json.Unmarshal(b, &v)
	return v, err
}

// decodeContainers keeps of each container its resource requests.
func decodeContainers(b []byte) ([]corev1.Container, error) {
	var in []struct {
		Resources struct {
			Requests corev1.ResourceList `json:"requests"`
		} `json:"resources"`
	}
	if err := json.Unmarshal(b, &in); err != nil || in == nil {
		return nil, err
	}
	out := make([]corev1.Container, len(in))
	for i, c := range in {
		out[i].Resources.Requests = c.Resources.Requests
	}
	return out, nil
}

// decodePod decodes a pod's JSON: its PodFields, or the whole pod when it has no controller.
func decodePod(b []byte, c *podCache) (*corev1.Pod, error) {
	var in podJSON
	in.Metadata.Labels = cached[map[string]string]{cache: c.labels, decode: decodeJSON[map[string]string]}
	in.Metadata.OwnerReferences = cached[[]metav1.OwnerReference]{cache: c.owners, decode: decodeJSON[[]metav1.OwnerReference]}
	in.Spec.Containers = cached[[]corev1.Container]{cache: c.containers, decode: decodeContainers}
	in.Spec.InitContainers = in.Spec.Containers
	if err := json.Unmarshal(b, &in); err != nil {
		return nil, err
	}
	p := &corev1.Pod{}
	p.APIVersion, p.Kind = "v1", "Pod"
	md := &in.Metadata
	p.Name, p.Namespace, p.Labels, p.Annotations = md.Name, md.Namespace, md.Labels.v, md.Annotations
	p.OwnerReferences, p.DeletionTimestamp = md.OwnerReferences.v, md.DeletionTimestamp
	if metav1.GetControllerOfNoCopy(p) == nil {
		p := &corev1.Pod{}
		return p, json.Unmarshal(b, p)
	}
	p.Spec.NodeName, p.Spec.Containers, p.Spec.InitContainers = in.Spec.NodeName, in.Spec.Containers.v, in.Spec.InitContainers.v
	p.Status.Phase, p.Status.Conditions = in.Status.Phase, in.Status.Conditions
	if cs := in.Status.ContainerStatuses; cs != nil {
		p.Status.ContainerStatuses = make([]corev1.ContainerStatus, len(cs))
		for i, c := range cs {
			if c.State.Running != nil {
				p.Status.ContainerStatuses[i].State.Running = &corev1.ContainerStateRunning{}
			}
			if c.State.Terminated != nil {
				p.Status.ContainerStatuses[i].State.Terminated = &corev1.ContainerStateTerminated{}
			}
		}
	}
	return p, nil
}
