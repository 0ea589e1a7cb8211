package shard

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"time"

	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"
	"k8s.io/utils/ptr"

	"github.com/faultline-dev/faultline/results"
)

// Progress is the state of a shard Job, from its status and the shards collected so far.
type Progress struct {
	Job                          string
	Shards, Active, Failed, Done int // Failed counts failed pods (retried unless the index gave up)
	Collected                    int
}

// Runner creates a shard Job, follows it and brings every index's shard back.
type Runner struct {
	Client kubernetes.Interface
	// Logs opens a pod's log (default: the API's pods/log of container "faultline").
	Logs func(ctx context.Context, namespace, pod string) (io.ReadCloser, error)
	// Poll is how often the Job and its pods are read (default 2 s).
	Poll     time.Duration
	Progress func(Progress)
}

// Run creates job, waits for its indexes, and decodes each succeeded pod's shard into
// dir/shard-<index> as soon as the pod succeeds (a pod's log lives as long as the pod). A shard
// must hold exactly the seeds plan gives its index. It returns the shard directories in index
// order. Whatever happens (success, a failed index, ctx cancelled by Ctrl-C) the Job is deleted
// before Run returns, with background propagation so that the garbage collector removes its pods.
func (r *Runner) Run(ctx context.Context, job *batchv1.Job, plan []Range, dir string) ([]string, error) {
	jobs := r.Client.BatchV1().Jobs(job.Namespace)
	created, err := jobs.Create(ctx, job, metav1.CreateOptions{})
	if err != nil {
		return nil, fmt.Errorf("create the shard Job in namespace %s: %w", job.Namespace, err)
	}
	name := created.Name
	defer func() {
		// a fresh context: Ctrl-C cancelled ctx, and the Job must still go
		dctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 30*time.Second)
		defer cancel()
		_ = jobs.Delete(dctx, name, metav1.DeleteOptions{PropagationPolicy: ptr.To(metav1.DeletePropagationBackground)})
	}()
	poll := r.Poll
	if poll <= 0 {
		poll = 2 * time.Second
	}
	dirs := make([]string, len(plan))
	collected, lostPolls := 0, 0
	tick := time.NewTicker(poll)
	defer tick.Stop()
	for {
		j, err := jobs.Get(ctx, name, metav1.GetOptions{})
		if err != nil {
			if ctx.Err() != nil {
				return nil, ctx.Err()
			}
			return nil, fmt.Errorf("read Job %s/%s: %w", job.Namespace, name, err)
		}
		pods, err := r.Client.CoreV1().Pods(job.Namespace).List(ctx, metav1.ListOptions{LabelSelector: batchv1.JobNameLabel + "=" + name})
		if err != nil {
			if ctx.Err() != nil {
				return nil, ctx.Err()
			}
			return nil, fmt.Errorf("list the pods of Job %s/%s: %w", job.Namespace, name, err)
		}
		slices.SortFunc(pods.Items, func(a, b corev1.Pod) int { return a.CreationTimestamp.Compare(b.CreationTimestamp.Time) })
		for i := range pods.Items {
			p := &pods.Items[i]
			idx, ok := PodIndex(p)
			if !ok || idx >= len(plan) || dirs[idx] != "" || p.Status.Phase != corev1.PodSucceeded {
				continue
			}
			d := filepath.Join(dir, fmt.Sprintf("shard-%04d", idx))
			if err := r.collect(ctx, p, idx, plan[idx], d); err != nil {
				return nil, err
			}
			dirs[idx] = d
			collected++
		}
		if r.Progress != nil {
			r.Progress(Progress{Job: name, Shards: len(plan), Active: int(j.Status.Active), Failed: int(j.Status.Failed), Done: int(j.Status.Succeeded), Collected: collected})
		}
		if collected == len(plan) {
			return dirs, nil
		}
		if condition(j, batchv1.JobComplete) != nil {
			// every index succeeded, yet some pod is gone before its log was read (evicted or
			// deleted right as it finished): its results cannot come back. Pod lists may lag the
			// Job by a moment, so this is only concluded after a few more reads.
			if lostPolls++; lostPolls > 3 {
				return nil, lostShards(job.Namespace, name, plan, dirs, dir)
			}
		}
		if c := condition(j, batchv1.JobFailed); c != nil {
			return nil, fmt.Errorf("Job %s/%s failed (%s: %s); failed indexes %s%s; %d of %d shards were collected into %s", job.Namespace, name, c.Reason, c.Message, ptr.Deref(j.Status.FailedIndexes, "none"), lastWords(pods.Items), collected, len(plan), dir)
		}
		select {
		case <-ctx.Done():
			return nil, ctx.Err()
		case <-tick.C:
		}
	}
}

// lostShards is the error of a Job that completed without every index's results: which seeds
// were lost, and how to play them again and merge them with what was collected.
func lostShards(namespace, job string, plan []Range, dirs []string, dir string) error {
	var lost []string
	for i, d := range dirs {
		if d == "" {
			lost = append(lost, fmt.Sprintf("index %d (--seed %d --seeds %d)", i, plan[i].First, plan[i].Count))
		}
	}
	return fmt.Errorf("Job %s/%s completed, but the pods of %s were deleted after they succeeded and before their logs were read (an eviction or a deletion as they finished), so their results are lost; %d of %d shards were collected into %s: play the lost seeds with 'faultline run' and put everything together with 'faultline report merge'",
		namespace, job, strings.Join(lost, ", "), len(plan)-len(lost), len(plan), dir)
}

// lastWords is what the last failed pod said as it ended (its termination message, which falls
// back to the log's tail), for the error that reports a failed Job.
func lastWords(pods []corev1.Pod) string {
	for i := len(pods) - 1; i >= 0; i-- {
		p := &pods[i]
		if p.Status.Phase != corev1.PodFailed {
			continue
		}
		for _, cs := range p.Status.ContainerStatuses {
			if t := cs.State.Terminated; t != nil && t.Message != "" {
				msg := t.Message
				if len(msg) > 400 {
					msg = "..." + msg[len(msg)-400:]
				}
				return fmt.Sprintf("; pod %s exited %d: %s", p.Name, t.ExitCode, strings.TrimSpace(msg))
			}
		}
	}
	return ""
}

func condition(j *batchv1.Job, t batchv1.JobConditionType) *batchv1.JobCondition {
	for i := range j.Status.Conditions {
		if c := &j.Status.Conditions[i]; c.Type == t && c.Status == corev1.ConditionTrue {
			return c
		}
	}
	return nil
}

// collect reads pod p's log, decodes its shard into d and checks that it is index idx's and holds
// exactly rg's seeds.
func (r *Runner) collect(ctx context.Context, p *corev1.Pod, idx int, rg Range, d string) error {
	logs := r.Logs
	if logs == nil {
		logs = func(ctx context.Context, ns, pod string) (io.ReadCloser, error) {
			return r.Client.CoreV1().Pods(ns).GetLogs(pod, &corev1.PodLogOptions{Container: "faultline"}).Stream(ctx)
		}
	}
	rc, err := logs(ctx, p.Namespace, p.Name)
	if err != nil {
		return fmt.Errorf("read the log of pod %s/%s (index %d): %w", p.Namespace, p.Name, idx, err)
	}
	defer rc.Close()
	got, err := Decode(rc, d)
	if err != nil {
		if errors.Is(err, ErrNoFrame) {
			return fmt.Errorf("pod %s/%s (index %d) succeeded but its log holds no complete shard: %w (is the log rotated before the pod ends? see the kubelet's containerLogMaxSize)", p.Namespace, p.Name, idx, err)
		}
		return fmt.Errorf("pod %s/%s (index %d): %w", p.Namespace, p.Name, idx, err)
	}
	if got != idx {
		return fmt.Errorf("pod %s/%s is index %d but its shard says index %d", p.Namespace, p.Name, idx, got)
	}
	sh, err := results.ReadShard(d)
	if err != nil {
		return fmt.Errorf("pod %s/%s (index %d): %w", p.Namespace, p.Name, idx, err)
	}
	want := make([]uint64, rg.Count)
	for i := range want {
		want[i] = rg.First + uint64(i)
	}
	if !slices.Equal(sh.Summary.Seeds, want) {
		return fmt.Errorf("pod %s/%s (index %d) played seeds %v, the plan gives it %d to %d", p.Namespace, p.Name, idx, seedSpan(sh.Summary.Seeds), rg.First, rg.First+uint64(rg.Count)-1)
	}
	return nil
}

func seedSpan(s []uint64) string {
	if len(s) == 0 {
		return "none"
	}
	return fmt.Sprintf("%d to %d (%d)", s[0], s[len(s)-1], len(s))
}

// Worker is what a pod of the Job does: it plays its index's seeds with play (a faultline run
// into a fresh directory) and writes the shard frame to out.
func Worker(out io.Writer, first uint64, count, shards int, play func(rg Range, dir string) error) error {
	v := os.Getenv(IndexEnv)
	var idx int
	if _, err := fmt.Sscan(v, &idx); err != nil || v == "" {
		return fmt.Errorf("%s=%q: expected the pod's completion index (the worker runs in a pod of an Indexed Job)", IndexEnv, v)
	}
	plan, err := Plan(first, count, shards)
	if err != nil {
		return err
	}
	if idx < 0 || idx >= len(plan) {
		return fmt.Errorf("%s=%d: expected 0 to %d", IndexEnv, idx, len(plan)-1)
	}
	dir, err := os.MkdirTemp("", "faultline-shard-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(dir)
	if err := play(plan[idx], dir); err != nil {
		return err
	}
	return Encode(out, idx, dir)
}
