package importer

import (
	"context"
	"fmt"
	"slices"
	"sync"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/client-go/dynamic"
	"k8s.io/client-go/kubernetes"
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

// Listing a large cluster (issue 16: 5,000 nodes, 150,000 pods in about a minute).
//
//   - Nodes and pods, nearly all of what is read, are listed with the typed client in protobuf
//     (application/vnd.kubernetes.protobuf): the API server encodes, and the client decodes,
//     protobuf several times faster than JSON, and the objects arrive as corev1 types instead of
//     JSON maps converted by reflection. The other kinds (a few thousand objects at most) keep
//     the dynamic client: they stay unstructured in the snapshot.
//   - Pages of listPageSize objects: 150,000 pods are 30 requests instead of 300, each a
//     consistent read the API server serves (from its watch cache where it can).
//   - The resources are listed at the same time, listParallel at once.
//   - The client's rate limit is raised to listQPS (client-go's default is 5 requests a second,
//     burst 10, which at 500 objects a page is a minute of waiting on the limiter alone for
//     150,000 pods): the import only lists, a few dozen requests in all, read-only, and the API
//     server's own priority and fairness still bounds what it serves.
const (
	listPageSize = 5000
	listParallel = 4
	listQPS      = 50
	listBurst    = 100
)

// ReadCluster lists the Resources of a live cluster (read-only: list requests only), and the
// pods' CPU use from metrics.k8s.io where it is served.
func ReadCluster(ctx context.Context, cfg *rest.Config, source string, f Filter) (*Snapshot, error) {
	cfg = rest.CopyConfig(cfg)
	if cfg.QPS < listQPS {
		cfg.QPS, cfg.Burst = listQPS, listBurst
	}
	dc, err := dynamic.NewForConfig(cfg)
	if err != nil {
		return nil, err
	}
	pcfg := rest.CopyConfig(cfg)
	pcfg.ContentType = runtime.ContentTypeProtobuf
	pcfg.AcceptContentTypes = runtime.ContentTypeProtobuf + "," + runtime.ContentTypeJSON
	cs, err := kubernetes.NewForConfig(pcfg)
	if err != nil {
		return nil, err
	}
	// one slot per resource, filled concurrently and taken in Resources order
	type listed struct {
		nodes []corev1.Node
		pods  []*corev1.Pod
		items []*unstructured.Unstructured
		err   error
	}
	all := append(slices.Clone(Resources), Resource{podMetrics, "PodMetrics"})
	out := make([]listed, len(all))
	sem := make(chan struct{}, listParallel)
	var wg sync.WaitGroup
	for i, r := range all {
		wg.Add(1)
		go func() {
			defer wg.Done()
			sem <- struct{}{}
			defer func() { <-sem }()
			l := &out[i]
			switch r.Kind {
			case "Node":
				l.nodes, l.err = listNodes(ctx, cs)
			case "Pod":
				l.pods, l.err = listPods(ctx, cs)
			default:
				l.items, l.err = listAll(ctx, dc.Resource(r.GVR))
			}
		}()
	}
	wg.Wait()
	s := &Snapshot{Source: source, Filter: f}
	for i, r := range all {
		l := &out[i]
		switch {
		case r.Kind == "PodMetrics" && l.err != nil:
			s.Notes = append(s.Notes, fmt.Sprintf("metrics.k8s.io is not served (%v): load is the pods' CPU requests", shortErr(l.err)))
			continue
		case apierrors.IsNotFound(l.err):
			s.Notes = append(s.Notes, fmt.Sprintf("%s: not served by this cluster", r.GVR.Resource))
			continue
		case l.err != nil:
			return nil, fmt.Errorf("list %s: %w", r.GVR.Resource, l.err)
		}
		switch r.Kind {
		case "Node":
			s.Nodes = l.nodes
		case "Pod":
			s.Pods = l.pods // every pod is kept: those of namespaces not imported still hold their nodes' capacity
		}
		for _, u := range l.items {
			u.SetAPIVersion(r.GVR.GroupVersion().String())
			u.SetKind(r.Kind)
			if err := s.addObject(u, f); err != nil {
				return nil, fmt.Errorf("%s %s/%s: %w", r.Kind, u.GetNamespace(), u.GetName(), err)
			}
		}
		if r.Kind == "PodMetrics" && s.CPUUse == nil {
			s.CPUUse = map[string]resource.Quantity{}
		}
	}
	return s, nil
}

// pages lists every object of one resource, listPageSize at a time.
func pages[T any](ctx context.Context, list func(context.Context, metav1.ListOptions) ([]T, string, error)) ([]T, error) {
	var out []T
	opts := metav1.ListOptions{Limit: listPageSize}
	for {
		items, cont, err := list(ctx, opts)
		if err != nil {
			return nil, err
		}
		out = append(out, items...)
		if opts.Continue = cont; cont == "" {
			return out, nil
		}
	}
}

// listNodes lists every node, without its managed fields.
func listNodes(ctx context.Context, cs kubernetes.Interface) ([]corev1.Node, error) {
	return pages(ctx, func(ctx context.Context, o metav1.ListOptions) ([]corev1.Node, string, error) {
		l, err := cs.CoreV1().Nodes().List(ctx, o)
		if err != nil {
			return nil, "", err
		}
		for i := range l.Items {
			l.Items[i].ManagedFields = nil
		}
		return l.Items, l.Continue, nil
	})
}

// listPods lists every pod of every namespace without its managed fields (kept, they would be
// a large share of a big cluster's import in memory).
func listPods(ctx context.Context, cs kubernetes.Interface) ([]*corev1.Pod, error) {
	return pages(ctx, func(ctx context.Context, o metav1.ListOptions) ([]*corev1.Pod, string, error) {
		l, err := cs.CoreV1().Pods("").List(ctx, o)
		if err != nil {
			return nil, "", err
		}
		out := make([]*corev1.Pod, len(l.Items))
		for i := range l.Items {
			l.Items[i].ManagedFields = nil
			out[i] = &l.Items[i]
		}
		return out, l.Continue, nil
	})
}

// listAll lists every object of one resource through the dynamic client.
func listAll(ctx context.Context, ri dynamic.ResourceInterface) ([]*unstructured.Unstructured, error) {
	return pages(ctx, func(ctx context.Context, o metav1.ListOptions) ([]*unstructured.Unstructured, string, error) {
		l, err := ri.List(ctx, o)
		if err != nil {
			return nil, "", err
		}
		out := make([]*unstructured.Unstructured, len(l.Items))
		for i := range l.Items {
			out[i] = &l.Items[i]
		}
		return out, l.GetContinue(), nil
	})
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
