// Package webhook is a real admission webhook backend for real-world runs: an HTTPS server on
// 127.0.0.1 with a certificate from its own self-signed CA (generated in memory per server), that
// answers admission.k8s.io/v1 AdmissionReviews. A switch makes it misbehave the way the webhook
// incident's backend did (scenarios/webhook-blocked-upgrade/README.md): Hang holds every request until the API server gives
// up (timeoutSeconds), Fail answers 500, Deny rejects. A ValidatingWebhookConfiguration points at
// it through clientConfig.url and clientConfig.caBundle (see Server.ClientConfig).
//
// The server runs as goroutines of the calling process; Close stops it cleanly, releasing any
// request it holds.
package webhook
