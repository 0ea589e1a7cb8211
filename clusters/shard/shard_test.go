package shard_test

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/client-go/kubernetes/fake"
	k8stesting "k8s.io/client-go/testing"
	"k8s.io/utils/ptr"

	"github.com/faultline-dev/faultline/clusters/shard"
	"github.com/faultline-dev/faultline/results"
)

func TestPlan(t *testing.T) {
	tests := []struct {
		name          string
		first         uint64
		count, shards int
		want          []shard.Range
		err           string
	}{
		{"even", 1, 8, 4, []shard.Range{{1, 2}, {3, 2}, {5, 2}, {7, 2}}, ""},
		{"the first shards take the remainder", 10, 10, 4, []shard.Range{{10, 3}, {13, 3}, {16, 2}, {18, 2}}, ""},
		{"one shard", 5, 3, 1, []shard.Range{{5, 3}}, ""},
		{"one seed each", 1, 3, 3, []shard.Range{{1, 1}, {2, 1}, {3, 1}}, ""},
		{"more shards than seeds", 1, 3, 4, nil, "4 shards for 3 seeds"},
		{"no shard", 1, 3, 0, nil, "expected 1 to 3 shards"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got, err := shard.Plan(tc.first, tc.count, tc.shards)
			if tc.err != "" {
				assert.ErrorContains(t, err, tc.err)
				return
			}
			require.NoError(t, err)
			assert.Equal(t, tc.want, got)
		})
	}
}

func TestNewJobIsAnIndexedJobThatRetriesDisruptions(t *testing.T) {
	j := shard.NewJob(shard.JobConfig{
		Namespace: "lab", Scenario: "kernel-panic-stacking", Image: "registry.example/faultline:v1",
		Args: []string{"run", "kernel-panic-stacking", "--shard-worker"}, Shards: 8, Parallelism: 3,
		BackoffLimitPerIndex: 2, CPU: resource.MustParse("1"), Memory: resource.MustParse("512Mi"), TTL: 600,
	})
	assert.Equal(t, "lab", j.Namespace)
	assert.Equal(t, "faultline-shards-kernel-panic-stacking-", j.GenerateName)
	s := j.Spec
	assert.Equal(t, batchv1.IndexedCompletion, *s.CompletionMode)
	assert.Equal(t, int32(8), *s.Completions)
	assert.Equal(t, int32(3), *s.Parallelism)
	assert.Equal(t, int32(2), *s.BackoffLimitPerIndex)
	assert.Equal(t, int32(600), *s.TTLSecondsAfterFinished)
	require.Len(t, s.PodFailurePolicy.Rules, 2)
	ignore := s.PodFailurePolicy.Rules[0]
	assert.Equal(t, batchv1.PodFailurePolicyActionIgnore, ignore.Action)
	assert.Equal(t, []batchv1.PodFailurePolicyOnPodConditionsPattern{{Type: corev1.DisruptionTarget, Status: corev1.ConditionTrue}}, ignore.OnPodConditions)
	failIndex := s.PodFailurePolicy.Rules[1]
	assert.Equal(t, batchv1.PodFailurePolicyActionFailIndex, failIndex.Action)
	assert.Equal(t, []int32{2}, failIndex.OnExitCodes.Values)

	p := s.Template.Spec
	assert.Equal(t, corev1.RestartPolicyNever, p.RestartPolicy, "a pod failure policy requires restartPolicy Never")
	assert.False(t, *p.AutomountServiceAccountToken)
	assert.True(t, *p.SecurityContext.RunAsNonRoot)
	require.Len(t, p.Containers, 1)
	c := p.Containers[0]
	assert.Equal(t, "registry.example/faultline:v1", c.Image)
	assert.Equal(t, []string{"run", "kernel-panic-stacking", "--shard-worker"}, c.Args)
	assert.True(t, *c.SecurityContext.ReadOnlyRootFilesystem)
	assert.Equal(t, "1", c.Resources.Requests.Cpu().String())
	assert.Equal(t, "512Mi", c.Resources.Limits.Memory().String())
	assert.Equal(t, "/tmp", c.VolumeMounts[0].MountPath, "the run directory goes to a writable emptyDir")

	long := shard.NewJob(shard.JobConfig{Scenario: strings.Repeat("x", 80) + "-y", Shards: 2})
	// the API server appends 5 characters; pods' hostnames append -<index>; both within 63
	assert.LessOrEqual(t, len(long.GenerateName)+5+len("-99999"), 63)
	assert.Equal(t, int32(2), *long.Spec.Parallelism, "parallelism defaults to every shard")
}

// writeShard writes a shard run directory for seeds [first, first+count): two variants, one
// objective, values a function of the seed.
func writeShard(t *testing.T, dir string, first uint64, count int) {
	t.Helper()
	target := 0.99
	in := results.Input{
		Scenario: "tiny", Digest: "sha256:feed", Version: "test", Baseline: "baseline",
		Variants: []string{"baseline", "fix"}, Indicators: []string{"success", "panics"},
		Objectives: []results.Objective{{Name: "availability", Indicator: "success", TargetOp: ">=", TargetValue: &target, HigherIsBetter: true, Weight: 1}},
	}
	for i := range count {
		in.Seeds = append(in.Seeds, first+uint64(i))
	}
	for v := range in.Variants {
		var vals [][]float64
		var done []bool
		for _, seed := range in.Seeds {
			vals = append(vals, []float64{0.9 + float64(v)/20 + float64(seed%7)/1000, float64(seed % 3)})
			done = append(done, true)
		}
		in.Values, in.Done = append(in.Values, vals), append(in.Done, done)
	}
	s, err := results.Summarize(in)
	require.NoError(t, err)
	require.NoError(t, results.WriteDir(dir, in, s, nil))
	require.NoError(t, results.WriteRunInfo(dir, results.RunInfo{Source: "tiny"}))
}

func frame(t *testing.T, index int, first uint64, count int) string {
	t.Helper()
	dir := t.TempDir()
	writeShard(t, dir, first, count)
	var b bytes.Buffer
	require.NoError(t, shard.Encode(&b, index, dir))
	return b.String()
}

func TestFrameRoundTripAndDamage(t *testing.T) {
	f := frame(t, 3, 7, 5)
	// a log holds other lines around the frame
	log := "progress: 5/10 replays\n" + f + "bye\n"
	dir := t.TempDir()
	idx, err := shard.Decode(strings.NewReader(log), dir)
	require.NoError(t, err)
	assert.Equal(t, 3, idx)
	sh, err := results.ReadShard(dir)
	require.NoError(t, err)
	assert.Equal(t, []uint64{7, 8, 9, 10, 11}, sh.Summary.Seeds)

	lines := strings.Split(f, "\n")
	require.Greater(t, len(lines), 4)
	altered := append([]string(nil), lines...)
	b := []byte(altered[2])
	b[10] ^= 1 // one flipped bit of base64
	if b[10] == '\n' || b[10] == '=' {
		b[10] = 'A'
	}
	altered[2] = string(b)

	for _, tc := range []struct {
		name, log, want string
	}{
		{"cut before the end line", strings.Join(lines[:len(lines)-2], "\n"), "no complete shard frame"},
		{"a line lost (log rotation)", strings.Join(append(append([]string(nil), lines[:2]...), lines[3:]...), "\n"), "the log was cut or altered"},
		{"a changed byte", strings.Join(altered, "\n"), "shard frame"},
		{"nothing but noise", "hello\nworld\n", "no complete shard frame"},
		{"a bad begin line", "faultline-shard/v1 index=x\n", "begin line"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := shard.Decode(strings.NewReader(tc.log), t.TempDir())
			require.Error(t, err)
			assert.Contains(t, err.Error(), tc.want)
		})
	}
}

// cluster is a fake API server with a stand-in for the Job controller and the kubelets: the
// test makes pods and statuses appear, Logs serves each pod's log.
type cluster struct {
	cs   *fake.Clientset
	mu   sync.Mutex
	logs map[string]string
}

func newCluster() *cluster {
	c := &cluster{cs: fake.NewClientset(), logs: map[string]string{}}
	// the fake API server does not generate names
	c.cs.PrependReactor("create", "jobs", func(a k8stesting.Action) (bool, runtime.Object, error) {
		j := a.(k8stesting.CreateAction).GetObject().(*batchv1.Job)
		if j.Name == "" {
			j.Name = j.GenerateName + "x7k2q"
		}
		return false, nil, nil
	})
	return c
}

func (c *cluster) logFn(_ context.Context, ns, pod string) (io.ReadCloser, error) {
	c.mu.Lock()
	l, ok := c.logs[ns+"/"+pod]
	c.mu.Unlock()
	if !ok {
		return nil, fmt.Errorf("pod %s/%s has no log", ns, pod)
	}
	return io.NopCloser(strings.NewReader(l)), nil
}

func (c *cluster) pod(t *testing.T, job *batchv1.Job, index, try int, phase corev1.PodPhase, log string, conds ...corev1.PodCondition) {
	t.Helper()
	p := &corev1.Pod{
		ObjectMeta: metav1.ObjectMeta{
			Name: fmt.Sprintf("%s-%d-%d", job.Name, index, try), Namespace: job.Namespace,
			Labels:            map[string]string{batchv1.JobNameLabel: job.Name},
			Annotations:       map[string]string{batchv1.JobCompletionIndexAnnotation: fmt.Sprint(index)},
			CreationTimestamp: metav1.NewTime(time.Unix(int64(1000+10*index+try), 0)),
		},
		Status: corev1.PodStatus{Phase: phase, Conditions: conds},
	}
	c.mu.Lock()
	c.logs[job.Namespace+"/"+p.Name] = log // before the pod exists, as a kubelet's log is
	c.mu.Unlock()
	_, err := c.cs.CoreV1().Pods(job.Namespace).Create(context.Background(), p, metav1.CreateOptions{})
	require.NoError(t, err)
}

// waitJob returns the Job once Runner.Run created it.
func (c *cluster) waitJob(t *testing.T, ns string) *batchv1.Job {
	t.Helper()
	for range 500 {
		l, err := c.cs.BatchV1().Jobs(ns).List(context.Background(), metav1.ListOptions{})
		require.NoError(t, err)
		if len(l.Items) == 1 {
			return &l.Items[0]
		}
		time.Sleep(2 * time.Millisecond)
	}
	t.Fatal("no Job was created")
	return nil
}

func (c *cluster) setStatus(t *testing.T, j *batchv1.Job, st batchv1.JobStatus) {
	t.Helper()
	cur, err := c.cs.BatchV1().Jobs(j.Namespace).Get(context.Background(), j.Name, metav1.GetOptions{})
	require.NoError(t, err)
	cur.Status = st
	_, err = c.cs.BatchV1().Jobs(j.Namespace).UpdateStatus(context.Background(), cur, metav1.UpdateOptions{})
	require.NoError(t, err)
}

// assertJobDeleted checks that the Job is gone and was deleted so that its pods go too.
func (c *cluster) assertJobDeleted(t *testing.T, j *batchv1.Job) {
	t.Helper()
	_, err := c.cs.BatchV1().Jobs(j.Namespace).Get(context.Background(), j.Name, metav1.GetOptions{})
	assert.True(t, apierrors.IsNotFound(err), "the Job is deleted: %v", err)
	found := false
	for _, a := range c.cs.Actions() {
		if d, ok := a.(k8stesting.DeleteAction); ok && a.GetResource().Resource == "jobs" {
			found = true
			assert.Equal(t, j.Name, d.GetName())
			require.NotNil(t, d.GetDeleteOptions().PropagationPolicy)
			assert.Equal(t, metav1.DeletePropagationBackground, *d.GetDeleteOptions().PropagationPolicy, "the garbage collector removes the pods")
		}
	}
	assert.True(t, found, "a delete of the Job was sent")
}

func newJob(shards int) *batchv1.Job {
	return shard.NewJob(shard.JobConfig{Namespace: "lab", Scenario: "tiny", Image: "faultline:test", Shards: shards})
}

func TestRunnerCollectsEveryIndexRetriesEvictionsAndDeletesTheJob(t *testing.T) {
	c := newCluster()
	plan, err := shard.Plan(1, 10, 3)
	require.NoError(t, err)
	var seen []shard.Progress
	r := &shard.Runner{Client: c.cs, Logs: c.logFn, Poll: time.Millisecond, Progress: func(p shard.Progress) { seen = append(seen, p) }}
	type result struct {
		dirs []string
		err  error
	}
	done := make(chan result, 1)
	out := t.TempDir()
	go func() {
		dirs, err := r.Run(context.Background(), newJob(3), plan, out)
		done <- result{dirs, err}
	}()
	j := c.waitJob(t, "lab")
	// index 1's first pod is evicted (its log has half a frame); its retry succeeds
	f1 := frame(t, 1, plan[1].First, plan[1].Count)
	c.pod(t, j, 1, 0, corev1.PodFailed, f1[:len(f1)/2], corev1.PodCondition{Type: corev1.DisruptionTarget, Status: corev1.ConditionTrue, Reason: "EvictionByEvictionAPI"})
	c.setStatus(t, j, batchv1.JobStatus{Active: 3, Failed: 1})
	c.setStatus(t, j, batchv1.JobStatus{Succeeded: 3, Failed: 1, CompletedIndexes: "0-2"})
	for i := range plan {
		c.pod(t, j, i, 1, corev1.PodSucceeded, frame(t, i, plan[i].First, plan[i].Count))
	}
	var res result
	select {
	case res = <-done:
	case <-time.After(10 * time.Second):
		t.Fatal("Run did not return")
	}
	require.NoError(t, res.err)
	require.Len(t, res.dirs, 3)
	var shards []*results.Shard
	for i, d := range res.dirs {
		assert.Equal(t, filepath.Join(out, fmt.Sprintf("shard-%04d", i)), d)
		sh, err := results.ReadShard(d)
		require.NoError(t, err)
		shards = append(shards, sh)
	}
	in, _, err := results.Merge(shards, results.MergeOptions{})
	require.NoError(t, err)
	assert.Equal(t, []uint64{1, 2, 3, 4, 5, 6, 7, 8, 9, 10}, in.Seeds)
	c.assertJobDeleted(t, j)
	require.NotEmpty(t, seen)
	assert.Equal(t, 3, seen[len(seen)-1].Collected)
	assert.Equal(t, j.Name, seen[0].Job)
}

func TestRunnerFailures(t *testing.T) {
	plan, err := shard.Plan(1, 4, 2)
	require.NoError(t, err)
	tests := []struct {
		name   string
		act    func(t *testing.T, c *cluster, j *batchv1.Job, cancel func())
		want   string
		cancel bool
	}{
		{"an index gave up", func(t *testing.T, c *cluster, j *batchv1.Job, _ func()) {
			c.pod(t, j, 0, 0, corev1.PodSucceeded, frame(t, 0, 1, 2))
			c.pod(t, j, 1, 0, corev1.PodFailed, "", corev1.PodCondition{})
			p, err := c.cs.CoreV1().Pods(j.Namespace).Get(context.Background(), j.Name+"-1-0", metav1.GetOptions{})
			require.NoError(t, err)
			p.Status.ContainerStatuses = []corev1.ContainerStatus{{Name: "faultline", State: corev1.ContainerState{Terminated: &corev1.ContainerStateTerminated{ExitCode: 1, Message: "faultline: out of memory?"}}}}
			_, err = c.cs.CoreV1().Pods(j.Namespace).UpdateStatus(context.Background(), p, metav1.UpdateOptions{})
			require.NoError(t, err)
			c.setStatus(t, j, batchv1.JobStatus{Failed: 3, Succeeded: 1, FailedIndexes: ptr.To("1"), Conditions: []batchv1.JobCondition{
				{Type: batchv1.JobFailed, Status: corev1.ConditionTrue, Reason: "FailedIndexes", Message: "Job has failed indexes"}}})
		}, "failed indexes 1; pod faultline-shards-tiny-x7k2q-1-0 exited 1: faultline: out of memory?; 1 of 2 shards were collected", false},
		{"a shard with the wrong seeds", func(t *testing.T, c *cluster, j *batchv1.Job, _ func()) {
			c.pod(t, j, 1, 0, corev1.PodSucceeded, frame(t, 1, 1, 2))
		}, "played seeds 1 to 2 (2), the plan gives it 3 to 4", false},
		{"a shard claiming another index", func(t *testing.T, c *cluster, j *batchv1.Job, _ func()) {
			c.pod(t, j, 0, 0, corev1.PodSucceeded, frame(t, 1, 1, 2))
		}, "is index 0 but its shard says index 1", false},
		{"a succeeded pod without a frame", func(t *testing.T, c *cluster, j *batchv1.Job, _ func()) {
			c.pod(t, j, 0, 0, corev1.PodSucceeded, "killed\n")
		}, "holds no complete shard", false},
		{"a succeeded pod deleted before its log was read", func(t *testing.T, c *cluster, j *batchv1.Job, _ func()) {
			// seen on kind: an eviction that raced the pod's own end; the Job counts the index
			// done and never replaces the pod, so without this Run waited for it forever
			c.pod(t, j, 0, 0, corev1.PodSucceeded, frame(t, 0, 1, 2))
			c.setStatus(t, j, batchv1.JobStatus{Succeeded: 2, CompletedIndexes: "0-1", Conditions: []batchv1.JobCondition{
				{Type: batchv1.JobComplete, Status: corev1.ConditionTrue}}})
		}, "the pods of index 1 (--seed 3 --seeds 2) were deleted after they succeeded", false},
		{"Ctrl-C", func(t *testing.T, c *cluster, j *batchv1.Job, cancel func()) { cancel() }, "context canceled", true},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			c := newCluster()
			ctx, cancel := context.WithCancel(context.Background())
			defer cancel()
			r := &shard.Runner{Client: c.cs, Logs: c.logFn, Poll: time.Millisecond}
			errc := make(chan error, 1)
			go func() {
				_, err := r.Run(ctx, newJob(2), plan, t.TempDir())
				errc <- err
			}()
			j := c.waitJob(t, "lab")
			tc.act(t, c, j, cancel)
			select {
			case err := <-errc:
				require.Error(t, err)
				assert.Contains(t, err.Error(), tc.want)
			case <-time.After(10 * time.Second):
				t.Fatal("Run did not return")
			}
			c.assertJobDeleted(t, j)
		})
	}
}

func TestWorkerPlaysItsIndex(t *testing.T) {
	t.Setenv(shard.IndexEnv, "2")
	var b bytes.Buffer
	var got shard.Range
	err := shard.Worker(&b, 1, 10, 4, func(rg shard.Range, dir string) error {
		got = rg
		writeShard(t, dir, rg.First, rg.Count)
		return nil
	})
	require.NoError(t, err)
	assert.Equal(t, shard.Range{First: 7, Count: 2}, got, "index 2 of 1-3, 4-6, 7-8, 9-10")
	idx, err := shard.Decode(&b, t.TempDir())
	require.NoError(t, err)
	assert.Equal(t, 2, idx)

	t.Setenv(shard.IndexEnv, "")
	err = shard.Worker(&b, 1, 10, 4, nil)
	assert.ErrorContains(t, err, "JOB_COMPLETION_INDEX")
}
