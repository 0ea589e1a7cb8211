package realrun

import (
	"encoding/json"
	"fmt"
	"slices"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	networkingv1 "k8s.io/api/networking/v1"
	rbacv1 "k8s.io/api/rbac/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/util/intstr"

	"github.com/faultline-dev/faultline/clusters/ingressfeed"
	"github.com/faultline-dev/faultline/clusters/loadgen"
	"github.com/faultline-dev/faultline/sim"
)

// The ingress proxy of real runs (kind): the scenario's Ingresses are served by nginx, Debian's
// package unchanged, on the control-plane node (outside the pools, as a cloud load balancer is
// outside the nodes), fed by faultline-ingress from the EndpointSlices of the Services they route
// to (package ingressfeed). Loads whose Service an Ingress routes to send their traffic through
// it, with the rule's host and path. Real: the proxying and its answers (502 when the endpoint
// refuses or resets, 504 when it does not answer, 503 configured for no endpoint). Set: the cloud
// load balancer's lag, models.network.ingressLag, drawn per endpoint change as the simulator does,
// because kind has no cloud load balancer and nginx has no such setting.

// ingressName names the proxy's objects.
const ingressName = "faultline-ingress"

// ingressPort is where nginx listens in its pod.
const ingressPort = 8080

// negGate is the readiness gate GKE's NEG controller sets; nothing sets it on kind.
const negGate = "cloud.google.com/load-balancer-neg-ready"

// planIngress routes the loads an Ingress serves through the proxy; nil without Ingresses.
func (p *netPlan) planIngress(ingresses []*networkingv1.Ingress, m sim.Network, seed uint64) (*ingressfeed.Config, error) {
	if len(ingresses) == 0 {
		return nil, nil
	}
	cfg := &ingressfeed.Config{Port: ingressPort, Lag: ingressfeed.Lag{Min: m.IngressLag.Min.Duration, Max: m.IngressLag.Max.Duration}, Seed: seed}
	add := func(host, path, ns string, b *networkingv1.IngressBackend) {
		if b == nil || b.Service == nil {
			return
		}
		r := ingressfeed.Route{Host: host, Path: path, Service: ns + "/" + b.Service.Name}
		if !slices.Contains(cfg.Routes, r) {
			cfg.Routes = append(cfg.Routes, r)
		}
	}
	for _, ing := range ingresses {
		ns := namespaceOr(ing.Namespace)
		for _, r := range ing.Spec.Rules {
			if r.HTTP == nil {
				continue
			}
			for i := range r.HTTP.Paths {
				path := r.HTTP.Paths[i].Path
				if path == "" {
					path = "/"
				}
				add(r.Host, path, ns, &r.HTTP.Paths[i].Backend)
			}
		}
		add("", "/", ns, ing.Spec.DefaultBackend)
	}
	if err := cfg.Validate(); err != nil {
		return nil, fmt.Errorf("objects: the Ingresses' routes: %w", err)
	}
	url := fmt.Sprintf("http://%s.%s.svc.cluster.local.:80", ingressName, loadNamespace)
	for i, l := range p.loads {
		for _, r := range cfg.Routes {
			if r.Service == l.svc {
				p.streams[i].URL, p.streams[i].Host, p.streams[i].Via = url+r.Path, r.Host, loadgen.ViaIngress
				break
			}
		}
	}
	p.notes = append(p.notes, fmt.Sprintf("ingress: nginx (Debian's package) on the control-plane node serves the Ingresses' routes; it learns each endpoint change of their Services after a lag drawn between %v and %v (models.network.ingressLag, set: kind has no cloud load balancer); its 502/503/504 answers are real",
		cfg.Lag.Min, cfg.Lag.Max))
	return cfg, nil
}

// stripNEGGate removes GKE's NEG readiness gate, which nothing on kind would ever set (the pods
// would never be Ready); it reports whether there was one.
func stripNEGGate(spec *corev1.PodSpec) bool {
	n := len(spec.ReadinessGates)
	spec.ReadinessGates = slices.DeleteFunc(spec.ReadinessGates, func(g corev1.PodReadinessGate) bool { return g.ConditionType == negGate })
	return len(spec.ReadinessGates) != n
}

// ingressObjects are the proxy's objects: a service account that may read EndpointSlices, the
// proxy's Deployment on the control-plane node, and its Service.
func ingressObjects(cfg *ingressfeed.Config, image, runID string) []runtime.Object {
	b, _ := json.Marshal(cfg)
	l := map[string]string{RunLabel: runID}
	sel := map[string]string{"app": ingressName}
	one := int32(1)
	return []runtime.Object{
		&corev1.ServiceAccount{TypeMeta: metav1.TypeMeta{APIVersion: "v1", Kind: "ServiceAccount"}, ObjectMeta: metav1.ObjectMeta{Name: ingressName, Namespace: loadNamespace, Labels: l}},
		&rbacv1.ClusterRole{TypeMeta: metav1.TypeMeta{APIVersion: "rbac.authorization.k8s.io/v1", Kind: "ClusterRole"}, ObjectMeta: metav1.ObjectMeta{Name: ingressName, Labels: l},
			Rules: []rbacv1.PolicyRule{{APIGroups: []string{"discovery.k8s.io"}, Resources: []string{"endpointslices"}, Verbs: []string{"get", "list", "watch"}}}},
		&rbacv1.ClusterRoleBinding{TypeMeta: metav1.TypeMeta{APIVersion: "rbac.authorization.k8s.io/v1", Kind: "ClusterRoleBinding"}, ObjectMeta: metav1.ObjectMeta{Name: ingressName, Labels: l},
			RoleRef:  rbacv1.RoleRef{APIGroup: "rbac.authorization.k8s.io", Kind: "ClusterRole", Name: ingressName},
			Subjects: []rbacv1.Subject{{Kind: "ServiceAccount", Name: ingressName, Namespace: loadNamespace}}},
		&appsv1.Deployment{TypeMeta: metav1.TypeMeta{APIVersion: "apps/v1", Kind: "Deployment"}, ObjectMeta: metav1.ObjectMeta{Name: ingressName, Namespace: loadNamespace, Labels: l},
			Spec: appsv1.DeploymentSpec{Replicas: &one, Selector: &metav1.LabelSelector{MatchLabels: sel},
				Template: corev1.PodTemplateSpec{ObjectMeta: metav1.ObjectMeta{Labels: sel}, Spec: corev1.PodSpec{
					ServiceAccountName: ingressName,
					NodeSelector:       map[string]string{"node-role.kubernetes.io/control-plane": ""},
					Tolerations:        []corev1.Toleration{{Key: "node-role.kubernetes.io/control-plane", Operator: corev1.TolerationOpExists, Effect: corev1.TaintEffectNoSchedule}},
					Containers: []corev1.Container{{
						Name: "proxy", Image: image, ImagePullPolicy: corev1.PullNever,
						Env:            []corev1.EnvVar{{Name: "FAULTLINE_INGRESS", Value: string(b)}},
						Ports:          []corev1.ContainerPort{{ContainerPort: ingressPort}},
						ReadinessProbe: &corev1.Probe{ProbeHandler: corev1.ProbeHandler{TCPSocket: &corev1.TCPSocketAction{Port: intstr.FromInt32(ingressPort)}}, PeriodSeconds: 1},
					}},
				}}}},
		&corev1.Service{TypeMeta: metav1.TypeMeta{APIVersion: "v1", Kind: "Service"}, ObjectMeta: metav1.ObjectMeta{Name: ingressName, Namespace: loadNamespace, Labels: l},
			Spec: corev1.ServiceSpec{Selector: sel, Ports: []corev1.ServicePort{{Port: 80, TargetPort: intstr.FromInt32(ingressPort)}}}},
	}
}
