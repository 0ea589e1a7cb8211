package kube

import (
	"context"
	"encoding/json"
	"fmt"
	"time"

	batchv1 "k8s.io/api/batch/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/tools/record"
	"k8s.io/client-go/util/retry"

	"github.com/faultline-dev/faultline/platform/cron"
)

// Client implements cron.Client with client-go.
type Client struct {
	CS       kubernetes.Interface
	Recorder record.EventRecorder // nil: Events are not recorded
}

var _ cron.Client = (*Client)(nil)

func notFound(err error) error {
	if apierrors.IsNotFound(err) {
		return fmt.Errorf("%w: %v", cron.ErrNotFound, err)
	}
	return err
}

// GetCronJob implements cron.Client.
func (c *Client) GetCronJob(ctx context.Context, ns, name string) (*batchv1.CronJob, error) {
	cj, err := c.CS.BatchV1().CronJobs(ns).Get(ctx, name, metav1.GetOptions{})
	return cj, notFound(err)
}

// ListJobs implements cron.Client.
func (c *Client) ListJobs(ctx context.Context, ns, cronJob string) ([]*batchv1.Job, error) {
	l, err := c.CS.BatchV1().Jobs(ns).List(ctx, metav1.ListOptions{LabelSelector: cron.LabelCronJob + "=" + cronJob})
	if err != nil {
		return nil, err
	}
	out := make([]*batchv1.Job, 0, len(l.Items))
	for i := range l.Items {
		if l.Items[i].DeletionTimestamp == nil {
			out = append(out, &l.Items[i])
		}
	}
	return out, nil
}

// CreateJob implements cron.Client.
func (c *Client) CreateJob(ctx context.Context, job *batchv1.Job) (*batchv1.Job, error) {
	return c.CS.BatchV1().Jobs(job.Namespace).Create(ctx, job, metav1.CreateOptions{})
}

// DeleteJob implements cron.Client.
func (c *Client) DeleteJob(ctx context.Context, ns, name string) error {
	bg := metav1.DeletePropagationBackground
	return notFound(c.CS.BatchV1().Jobs(ns).Delete(ctx, name, metav1.DeleteOptions{PropagationPolicy: &bg}))
}

// AnnotateCronJob implements cron.Client with a merge patch.
func (c *Client) AnnotateCronJob(ctx context.Context, ns, name string, ann map[string]string) error {
	patch, err := json.Marshal(map[string]any{"metadata": map[string]any{"annotations": ann}})
	if err != nil {
		return err
	}
	_, err = c.CS.BatchV1().CronJobs(ns).Patch(ctx, name, types.MergePatchType, patch, metav1.PatchOptions{})
	return notFound(err)
}

// AnnotateJobOnce implements cron.Client: GET, and UPDATE with the resourceVersion read, so that
// of two writers only one sets the annotation (the other gets a conflict, reads again and sees it).
func (c *Client) AnnotateJobOnce(ctx context.Context, ns, name, key, value string) (bool, error) {
	set := false
	err := retry.RetryOnConflict(retry.DefaultRetry, func() error {
		j, err := c.CS.BatchV1().Jobs(ns).Get(ctx, name, metav1.GetOptions{})
		if err != nil {
			return err
		}
		if j.Annotations[key] != "" {
			set = false
			return nil
		}
		if j.Annotations == nil {
			j.Annotations = map[string]string{}
		}
		j.Annotations[key] = value
		_, err = c.CS.BatchV1().Jobs(ns).Update(ctx, j, metav1.UpdateOptions{})
		set = err == nil
		return err
	})
	return set, notFound(err)
}

// Event implements cron.Client.
func (c *Client) Event(_ context.Context, cj *batchv1.CronJob, eventType, reason string, scheduled time.Time, count int, message string) {
	if c.Recorder == nil {
		return
	}
	if count > 1 {
		message = fmt.Sprintf("%s (%d)", message, count)
	}
	c.Recorder.AnnotatedEventf(cj, map[string]string{cron.AnnScheduled: scheduled.UTC().Format(time.RFC3339Nano)}, eventType, reason, "%s", message)
}
