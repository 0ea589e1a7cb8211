// Package kube runs the platform against a real API server with client-go: the cron scheduler
// (informers on CronJobs, the platform's Jobs and their pods feed a rate-limited work queue;
// Controller.Sync's requeue delay becomes AddAfter), /metrics and /healthz over HTTP, and the
// placement spreading webhook over TLS. `faultline platform run` is its binary; the manifests in
// platform/deploy run that binary as a Deployment with RBAC and the webhook configuration.
//
// Client implements cron.Client with direct API reads (GET and LIST, no cache), so that a
// decision always sees the Jobs the previous one created; the informers only trigger syncs.
// At the scale of a platform team's CronJobs (hundreds) this is a LIST per sync, within the
// client's rate limits.
package kube
