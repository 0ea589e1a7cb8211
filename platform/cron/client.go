package cron

import (
	"context"
	"errors"
	"time"

	batchv1 "k8s.io/api/batch/v1"
)

// ErrNotFound is returned (wrapped) by a Client for an object that does not exist.
var ErrNotFound = errors.New("not found")

// Event reasons, upstream's CronJob controller's where the meaning is the same, so that tools and
// the simulator read the platform's Events as they read kube-controller-manager's.
const (
	EventCreated          = "SuccessfulCreate"
	EventDeleted          = "SuccessfulDelete"
	EventJobAlreadyActive = "JobAlreadyActive" // skip: concurrencyPolicy Forbid
	EventMissSchedule     = "MissSchedule"     // skip: missed starts, startingDeadlineSeconds
	EventFailedCreate     = "FailedCreate"     // skip: error
	EventInvalidSchedule  = "InvalidSchedule"  // skip: error
)

// Client is what the scheduler needs from the API server. Package platform/kube implements it
// with client-go, package platform/simadapter over the simulator's object store.
type Client interface {
	// GetCronJob returns the CronJob, or an error wrapping ErrNotFound.
	GetCronJob(ctx context.Context, namespace, name string) (*batchv1.CronJob, error)
	// ListJobs returns the Jobs in namespace labelled LabelCronJob=cronJob (read-only).
	ListJobs(ctx context.Context, namespace, cronJob string) ([]*batchv1.Job, error)
	// CreateJob creates job and returns it as stored.
	CreateJob(ctx context.Context, job *batchv1.Job) (*batchv1.Job, error)
	// DeleteJob deletes a Job and its pods (background propagation).
	DeleteJob(ctx context.Context, namespace, name string) error
	// AnnotateCronJob merges annotations into the CronJob's.
	AnnotateCronJob(ctx context.Context, namespace, name string, annotations map[string]string) error
	// AnnotateJobOnce sets key=value on the Job unless key is set already, atomically (the T2
	// lock); it reports whether this call set it.
	AnnotateJobOnce(ctx context.Context, namespace, name, key, value string) (bool, error)
	// Event records an Event about cj: type Normal or Warning, a reason (Event* constants), the
	// scheduled time it concerns and how many scheduled times it stands for.
	Event(ctx context.Context, cj *batchv1.CronJob, eventType, reason string, scheduled time.Time, count int, message string)
}

// ImageResolver resolves the image of an app at the moment a Job is created (scenarios/cron-deleted-images/README.md).
type ImageResolver interface {
	// Image returns the image the app currently runs, or an error if it cannot be resolved.
	Image(ctx context.Context, cj *batchv1.CronJob, app string) (string, error)
}
