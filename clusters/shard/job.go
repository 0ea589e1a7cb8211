package shard

import (
	"fmt"
	"strconv"

	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/utils/ptr"
)

// Range is the seeds one shard plays: First, First+1, ..., First+Count-1.
type Range struct {
	First uint64
	Count int
}

// Plan splits count seeds from first into shards contiguous ranges in index order, the first
// count%shards of them one seed longer, so that shard sizes differ by one at most.
func Plan(first uint64, count, shards int) ([]Range, error) {
	if shards < 1 || count < shards {
		return nil, fmt.Errorf("%d shards for %d seeds: expected 1 to %d shards (every shard plays one seed at least)", shards, count, count)
	}
	out := make([]Range, shards)
	next := first
	for i := range out {
		n := count / shards
		if i < count%shards {
			n++
		}
		out[i] = Range{First: next, Count: n}
		next += uint64(n)
	}
	return out, nil
}

// IndexEnv is the variable the Job controller sets in an Indexed Job's pods to the pod's index.
const IndexEnv = "JOB_COMPLETION_INDEX"

// Label marks every Job faultline creates for shards (its value is the scenario's name).
const Label = "faultline.dev/shards"

// JobConfig describes the Indexed Job that plays a run's shards.
type JobConfig struct {
	// Namespace and Scenario: the Job is created as faultline-shards-<scenario>-<random> in
	// Namespace.
	Namespace string
	Scenario  string
	// Image is faultline's own image (entrypoint: the faultline program); Args are the
	// arguments each pod gives it, and the pod finds its shard from IndexEnv.
	Image string
	Args  []string
	// Shards is the number of indexes; Parallelism how many run at once (0: all).
	Shards      int
	Parallelism int
	// BackoffLimitPerIndex is how many times an index is retried after a failure that is not
	// a disruption (disruptions are retried without counting).
	BackoffLimitPerIndex int32
	// CPU and Memory are each pod's requests, and the memory limit.
	CPU, Memory resource.Quantity
	// TTL removes a finished Job that nobody deleted (the client died), after this many seconds.
	TTL int32
}

// NewJob builds the Indexed Job: one completion per index, each index retried on its own
// (backoffLimitPerIndex) so that one bad node does not fail the run, and a pod failure policy
// under which a pod lost to a disruption (eviction, preemption, node drain: the DisruptionTarget
// condition) is retried without counting against the index's limit, while exit status 2 (bad
// input, the same on every retry) fails the index at once. Pods run as non-root with a read-only
// root file system, no service account token and no privilege: a shard only computes and prints.
func NewJob(cfg JobConfig) *batchv1.Job {
	par := cfg.Parallelism
	if par <= 0 || par > cfg.Shards {
		par = cfg.Shards
	}
	res := corev1.ResourceList{}
	lim := corev1.ResourceList{}
	if !cfg.CPU.IsZero() {
		res[corev1.ResourceCPU] = cfg.CPU
	}
	if !cfg.Memory.IsZero() {
		res[corev1.ResourceMemory] = cfg.Memory
		lim[corev1.ResourceMemory] = cfg.Memory
	}
	labels := map[string]string{Label: cfg.Scenario, "app.kubernetes.io/managed-by": "faultline"}
	return &batchv1.Job{
		ObjectMeta: metav1.ObjectMeta{
			GenerateName: "faultline-shards-" + trimName(cfg.Scenario) + "-",
			Namespace:    cfg.Namespace,
			Labels:       labels,
		},
		Spec: batchv1.JobSpec{
			CompletionMode:          ptr.To(batchv1.IndexedCompletion),
			Completions:             ptr.To(int32(cfg.Shards)),
			Parallelism:             ptr.To(int32(par)),
			BackoffLimitPerIndex:    ptr.To(cfg.BackoffLimitPerIndex),
			TTLSecondsAfterFinished: ptr.To(cfg.TTL),
			PodFailurePolicy: &batchv1.PodFailurePolicy{Rules: []batchv1.PodFailurePolicyRule{
				{
					Action:          batchv1.PodFailurePolicyActionIgnore,
					OnPodConditions: []batchv1.PodFailurePolicyOnPodConditionsPattern{{Type: corev1.DisruptionTarget, Status: corev1.ConditionTrue}},
				},
				{
					Action:      batchv1.PodFailurePolicyActionFailIndex,
					OnExitCodes: &batchv1.PodFailurePolicyOnExitCodesRequirement{Operator: batchv1.PodFailurePolicyOnExitCodesOpIn, Values: []int32{2}},
				},
			}},
			Template: corev1.PodTemplateSpec{
				ObjectMeta: metav1.ObjectMeta{Labels: labels},
				Spec: corev1.PodSpec{
					RestartPolicy:                corev1.RestartPolicyNever, // required by the pod failure policy
					AutomountServiceAccountToken: ptr.To(false),
					EnableServiceLinks:           ptr.To(false),
					SecurityContext: &corev1.PodSecurityContext{
						RunAsNonRoot:   ptr.To(true),
						RunAsUser:      ptr.To(int64(65532)),
						SeccompProfile: &corev1.SeccompProfile{Type: corev1.SeccompProfileTypeRuntimeDefault},
					},
					Containers: []corev1.Container{{
						Name:                     "faultline",
						Image:                    cfg.Image,
						Args:                     cfg.Args,
						Env:                      []corev1.EnvVar{{Name: "TMPDIR", Value: "/tmp"}},
						Resources:                corev1.ResourceRequirements{Requests: res, Limits: lim},
						TerminationMessagePolicy: corev1.TerminationMessageFallbackToLogsOnError,
						SecurityContext: &corev1.SecurityContext{
							AllowPrivilegeEscalation: ptr.To(false),
							ReadOnlyRootFilesystem:   ptr.To(true),
							Capabilities:             &corev1.Capabilities{Drop: []corev1.Capability{"ALL"}},
						},
						VolumeMounts: []corev1.VolumeMount{{Name: "tmp", MountPath: "/tmp"}},
					}},
					Volumes: []corev1.Volume{{Name: "tmp", VolumeSource: corev1.VolumeSource{EmptyDir: &corev1.EmptyDirVolumeSource{}}}},
				},
			},
		},
	}
}

// trimName keeps a generated Job name within the 63 characters its pods' job-name label allows
// (the Job controller appends -<index>-<random> to pod names).
func trimName(s string) string {
	const max = 30
	if len(s) > max {
		s = s[:max]
	}
	for len(s) > 0 && s[len(s)-1] == '-' {
		s = s[:len(s)-1]
	}
	return s
}

// PodIndex is the completion index of a pod of an Indexed Job, from its annotation.
func PodIndex(p *corev1.Pod) (int, bool) {
	v, ok := p.Annotations[batchv1.JobCompletionIndexAnnotation]
	if !ok {
		return 0, false
	}
	i, err := strconv.Atoi(v)
	return i, err == nil && i >= 0
}
