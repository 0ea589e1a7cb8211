package cron

import (
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"
)

func kubernetesClient(rc *rest.Config) (kubernetes.Interface, error) {
	return kubernetes.NewForConfig(rc)
}
