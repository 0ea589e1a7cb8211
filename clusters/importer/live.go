package importer

import (
	"context"
	"fmt"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/client-go/dynamic"
	"k8s.io/client-go/rest"
	"k8s.io/client-go/tools/clientcmd"
)

// Resource is one kind the importer reads from a live cluster.
type Resource struct {
	GVR  schema.GroupVersionResource
	Kind string
}

// Resources are the kinds read from a live cluster (and recorded by package record). Secrets and
// ConfigMaps are never read: a scenario needs neither, and they may hold credentials.
var Resources = []Resource{
	{schema.GroupVersionResource{Version: "v1", Resource: "nodes"}, "Node"},
	{schema.GroupVersionResource{Version: "v1", Resource: "namespaces"}, "Namespace"},
	{schema.GroupVersionResource{Version: "v1", Resource: "pods"}, "Pod"},
	{schema.GroupVersionResource{Version: "v1", Resource: "services"}, "Service"},
	{schema.GroupVersionResource{Group: "apps", Version: "v1", Resource: "deployments"}, "Deployment"},
	{schema.GroupVersionResource{Group: "apps", Version: "v1", Resource: "statefulsets"}, "StatefulSet"},
	{schema.GroupVersionResource{Group: "apps", Version: "v1", Resource: "daemonsets"}, "DaemonSet"},
	{schema.GroupVersionResource{Group: "batch", Version: "v1", Resource: "jobs"}, "Job"},
	{schema.GroupVersionResource{Group: "batch", Version: "v1", Resource: "cronjobs"}, "CronJob"},
	{schema.GroupVersionResource{Group: "policy", Version: "v1", Resource: "poddisruptionbudgets"}, "PodDisruptionBudget"},
	{schema.GroupVersionResource{Group: "scheduling.k8s.io", Version: "v1", Resource: "priorityclasses"}, "PriorityClass"},
	{schema.GroupVersionResource{Group: "networking.k8s.io", Version: "v1", Resource: "ingresses"}, "Ingress"},
	{schema.GroupVersionResource{Group: "admissionregistration.k8s.io", Version: "v1", Resource: "validatingwebhookconfigurations"}, "ValidatingWebhookConfiguration"},
	{schema.GroupVersionResource{Group: "admissionregistration.k8s.io", Version: "v1", Resource: "mutatingwebhookconfigurations"}, "MutatingWebhookConfiguration"},
}

var podMetrics = schema.GroupVersionResource{Group: "metrics.k8s.io", Version: "v1beta1", Resource: "pods"}

// pageSize is how many objects one list request asks for.
const pageSize = 500

// ReadCluster lists the Resources of a live cluster (read-only: list requests only), and the
// pods' CPU use from metrics.k8s.io where it is served.
func ReadCluster(ctx context.Context, cfg *rest.Config, source string, f Filter) (*Snapshot, error) {
	dc, err := dynamic.NewForConfig(cfg)
	if err != nil {
		return nil, err
	}
	s := &Snapshot{Source: source, Filter: f}
	for _, r := range Resources {
		items, err := listAll(ctx, dc.Resource(r.GVR))
		if apierrors.IsNotFound(err) {
			s.Notes = append(s.Notes, fmt.Sprintf("%s: not served by this cluster", r.GVR.Resource))
			continue
		}
		if err != nil {
			return nil, fmt.Errorf("list %s: %w", r.GVR.Resource, err)
		}
		for _, u := range items {
			u.SetAPIVersion(r.GVR.GroupVersion().String())
			u.SetKind(r.Kind)
			if err := s.addObject(u, f); err != nil {
				return nil, fmt.Errorf("%s %s/%s: %w", r.Kind, u.GetNamespace(), u.GetName(), err)
			}
		}
	}
	items, err := listAll(ctx, dc.Resource(podMetrics))
	if err != nil {
		s.Notes = append(s.Notes, fmt.Sprintf("metrics.k8s.io is not served (%v): load is the pods' CPU requests", shortErr(err)))
		return s, nil
	}
	for _, u := range items {
		u.SetAPIVersion(podMetrics.GroupVersion().String())
		u.SetKind("PodMetrics")
		if err := s.addObject(u, f); err != nil {
			return nil, fmt.Errorf("PodMetrics %s/%s: %w", u.GetNamespace(), u.GetName(), err)
		}
	}
	if s.CPUUse == nil {
		s.CPUUse = map[string]resource.Quantity{}
	}
	return s, nil
}

// listAll lists every object of one resource, a page at a time.
func listAll(ctx context.Context, ri dynamic.ResourceInterface) ([]*unstructured.Unstructured, error) {
	var out []*unstructured.Unstructured
	opts := metav1.ListOptions{Limit: pageSize}
	for {
		l, err := ri.List(ctx, opts)
		if err != nil {
			return nil, err
		}
		for i := range l.Items {
			out = append(out, &l.Items[i])
		}
		if opts.Continue = l.GetContinue(); opts.Continue == "" {
			return out, nil
		}
	}
}

func shortErr(err error) string {
	if s := apierrors.ReasonForError(err); s != "" {
		return string(s)
	}
	return err.Error()
}

// RESTConfig loads a kubeconfig (empty: $KUBECONFIG or ~/.kube/config) with an optional context,
// and names what was loaded ("context C of FILE") for the README and the trace header.
func RESTConfig(kubeconfig, context string) (*rest.Config, string, error) {
	rules := clientcmd.NewDefaultClientConfigLoadingRules()
	if kubeconfig != "" {
		rules.ExplicitPath = kubeconfig
	}
	cc := clientcmd.NewNonInteractiveDeferredLoadingClientConfig(rules, &clientcmd.ConfigOverrides{CurrentContext: context})
	raw, err := cc.RawConfig()
	if err != nil {
		return nil, "", err
	}
	name := context
	if name == "" {
		name = raw.CurrentContext
	}
	cfg, err := cc.ClientConfig()
	if err != nil {
		return nil, "", err
	}
	file := kubeconfig
	if file == "" {
		file = "the default kubeconfig"
	}
	return cfg, fmt.Sprintf("context %q of %s", name, file), nil
}
