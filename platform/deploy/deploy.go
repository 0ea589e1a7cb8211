// Package deploy holds the manifests that run the platform in a cluster (platform.yaml: the
// Deployment, its RBAC, configuration and Service; webhook.yaml: the spreading webhook's
// MutatingWebhookConfiguration), embedded so that tests and tools read the files users apply.
package deploy

import "embed"

// Manifests are the YAML files of this folder.
//
//go:embed *.yaml
var Manifests embed.FS
