package sim

import (
	"fmt"
	"slices"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	admissionregistrationv1 "k8s.io/api/admissionregistration/v1"
	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
)

// webhookObjects is the OPA setup of scenarios/webhook-blocked-upgrade/README.md: a one-replica backend Deployment in
// namespace opa, its Service, and a ValidatingWebhookConfiguration (unscoped and Fail unless mut
// changes it).
func webhookObjects(mut ...func(*admissionregistrationv1.ValidatingWebhook)) []runtime.Object {
	opa := deployment("opa", 1, "100m")
	opa.Namespace = "opa"
	svc := &corev1.Service{
		ObjectMeta: metav1.ObjectMeta{Name: "opa", Namespace: "opa"},
		Spec:       corev1.ServiceSpec{Selector: map[string]string{"app": "opa"}},
	}
	fail := admissionregistrationv1.Fail
	h := admissionregistrationv1.ValidatingWebhook{
		Name: "validating-webhook.openpolicyagent.org",
		Rules: []admissionregistrationv1.RuleWithOperations{{
			Operations: []admissionregistrationv1.OperationType{admissionregistrationv1.Create, admissionregistrationv1.Update},
			Rule:       admissionregistrationv1.Rule{APIGroups: []string{"*"}, APIVersions: []string{"*"}, Resources: []string{"*"}},
		}},
		ClientConfig:  admissionregistrationv1.WebhookClientConfig{Service: &admissionregistrationv1.ServiceReference{Namespace: "opa", Name: "opa"}},
		FailurePolicy: &fail,
	}
	for _, m := range mut {
		m(&h)
	}
	vwc := &admissionregistrationv1.ValidatingWebhookConfiguration{
		ObjectMeta: metav1.ObjectMeta{Name: "opa"},
		Webhooks:   []admissionregistrationv1.ValidatingWebhook{h},
	}
	apps := &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: "apps", Labels: map[string]string{"policy": "enforce"}}}
	return []runtime.Object{opa, svc, vwc, apps}
}

func scope(s admissionregistrationv1.ScopeType) *admissionregistrationv1.ScopeType { return &s }

func TestWebhookMatching(t *testing.T) {
	lease := leaseRenewal
	hook := clientCAWrite
	nodeStatus := APIRequest{Operation: "UPDATE", APIVersion: "v1", Resource: "nodes", Subresource: "status"}
	node := APIRequest{Operation: "CREATE", APIVersion: "v1", Resource: "nodes"}
	nsObj := APIRequest{Operation: "UPDATE", APIVersion: "v1", Resource: "namespaces", Labels: map[string]string{"kubernetes.io/metadata.name": "kube-system"}}
	ingress := APIRequest{Operation: "UPDATE", APIGroup: "networking.k8s.io", APIVersion: "v1", Resource: "ingresses", Namespace: "apps"}
	deploy := APIRequest{Operation: "UPDATE", APIGroup: "apps", APIVersion: "v1", Resource: "deployments", Namespace: "apps", Labels: map[string]string{"app": "web"}}
	podStatus := APIRequest{Operation: "UPDATE", APIVersion: "v1", Resource: "pods", Subresource: "status", Namespace: "apps"}
	read := APIRequest{Operation: "GET", APIVersion: "v1", Resource: "configmaps", Namespace: "kube-system"}
	other := APIRequest{Operation: "CREATE", APIVersion: "v1", Resource: "pods", Namespace: "team-b"}

	rules := func(ops []admissionregistrationv1.OperationType, groups, res []string, sc *admissionregistrationv1.ScopeType) func(*admissionregistrationv1.ValidatingWebhook) {
		return func(h *admissionregistrationv1.ValidatingWebhook) {
			h.Rules = []admissionregistrationv1.RuleWithOperations{{Operations: ops,
				Rule: admissionregistrationv1.Rule{APIGroups: groups, APIVersions: []string{"*"}, Resources: res, Scope: sc}}}
		}
	}
	nsSel := func(s *metav1.LabelSelector) func(*admissionregistrationv1.ValidatingWebhook) {
		return func(h *admissionregistrationv1.ValidatingWebhook) { h.NamespaceSelector = s }
	}
	notKubeSystem := &metav1.LabelSelector{MatchExpressions: []metav1.LabelSelectorRequirement{
		{Key: corev1.LabelMetadataName, Operator: metav1.LabelSelectorOpNotIn, Values: []string{"kube-system"}}}}
	cu := []admissionregistrationv1.OperationType{admissionregistrationv1.Create, admissionregistrationv1.Update}
	for _, tc := range []struct {
		name string
		mut  func(*admissionregistrationv1.ValidatingWebhook)
		req  APIRequest
		want bool
	}{
		{"unscoped: the post-start write", nil, hook, true},
		{"unscoped: a lease renewal", nil, lease, true},
		{"unscoped: * leaves subresources alone", nil, nodeStatus, false},
		{"unscoped: cluster-scoped node", nil, node, true},
		{"reads are never admitted", nil, read, false},
		{"*/* takes subresources", rules(cu, []string{"*"}, []string{"*/*"}, nil), nodeStatus, true},
		{"*/status takes status only", rules(cu, []string{"*"}, []string{"*/status"}, nil), podStatus, true},
		{"*/status is not the resource", rules(cu, []string{"*"}, []string{"*/status"}, nil), deploy, false},
		{"operation not in the rule", rules([]admissionregistrationv1.OperationType{admissionregistrationv1.Create}, []string{"*"}, []string{"*"}, nil), lease, false},
		{"operation *", rules([]admissionregistrationv1.OperationType{admissionregistrationv1.OperationAll}, []string{"*"}, []string{"*"}, nil), lease, true},
		{"ingress rule: ingress", rules(cu, []string{"networking.k8s.io"}, []string{"ingresses"}, nil), ingress, true},
		{"ingress rule: deployment", rules(cu, []string{"networking.k8s.io"}, []string{"ingresses"}, nil), deploy, false},
		{"ingress rule: the post-start write", rules(cu, []string{"networking.k8s.io"}, []string{"ingresses"}, nil), hook, false},
		{"Namespaced scope: cluster-scoped node", rules(cu, []string{"*"}, []string{"*"}, scope(admissionregistrationv1.NamespacedScope)), node, false},
		{"Namespaced scope: a Namespace object", rules(cu, []string{"*"}, []string{"*"}, scope(admissionregistrationv1.NamespacedScope)), nsObj, false},
		{"Namespaced scope: lease", rules(cu, []string{"*"}, []string{"*"}, scope(admissionregistrationv1.NamespacedScope)), lease, true},
		{"Cluster scope: a Namespace object", rules(cu, []string{"*"}, []string{"*"}, scope(admissionregistrationv1.ClusterScope)), nsObj, true},
		{"Cluster scope: lease", rules(cu, []string{"*"}, []string{"*"}, scope(admissionregistrationv1.ClusterScope)), lease, false},
		{"not kube-system: the post-start write", nsSel(notKubeSystem), hook, false},
		{"not kube-system: lease in kube-node-lease", nsSel(notKubeSystem), lease, true},
		{"not kube-system: cluster-scoped objects are never exempted", nsSel(notKubeSystem), node, true},
		{"not kube-system: the kube-system Namespace on its own labels", nsSel(notKubeSystem), nsObj, false},
		{"opted-in namespaces: apps", nsSel(&metav1.LabelSelector{MatchLabels: map[string]string{"policy": "enforce"}}), ingress, true},
		{"opted-in namespaces: undeclared namespace", nsSel(&metav1.LabelSelector{MatchLabels: map[string]string{"policy": "enforce"}}), other, false},
		{"opted-in namespaces: lease", nsSel(&metav1.LabelSelector{MatchLabels: map[string]string{"policy": "enforce"}}), lease, false},
		{"empty selector matches everything", nsSel(&metav1.LabelSelector{}), hook, true},
		{"objectSelector: labels match", func(h *admissionregistrationv1.ValidatingWebhook) {
			h.ObjectSelector = &metav1.LabelSelector{MatchLabels: map[string]string{"app": "web"}}
		}, deploy, true},
		{"objectSelector: no labels", func(h *admissionregistrationv1.ValidatingWebhook) {
			h.ObjectSelector = &metav1.LabelSelector{MatchLabels: map[string]string{"app": "web"}}
		}, lease, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var muts []func(*admissionregistrationv1.ValidatingWebhook)
			if tc.mut != nil {
				muts = append(muts, tc.mut)
			}
			w, err := New(input(1, webhookObjects(muts...)...), 1, Options{})
			require.NoError(t, err)
			require.NotNil(t, w.cp)
			require.Len(t, w.cp.hooks, 1)
			assert.Equal(t, tc.want, w.cp.hooks[0].matches(&tc.req, w.cp.nsLabels))
		})
	}
}

// The fate of a matched request: an answering backend costs a call; a backend that is in the
// endpoints but does not answer costs timeoutSeconds; no endpoint at all is refused at once.
// Fail rejects a failed call, Ignore admits it; a kubelet lease renewal that waits for the
// full 10 s time-out fails anyway at the heartbeat client's own 10 s time-out.
func TestFailurePolicyAndTimeouts(t *testing.T) {
	m := DefaultModels()
	base := m.APIServer.RequestLatency.Duration
	ignore := func(h *admissionregistrationv1.ValidatingWebhook) {
		p := admissionregistrationv1.Ignore
		h.FailurePolicy = &p
	}
	timeout := func(s int32) func(*admissionregistrationv1.ValidatingWebhook) {
		return func(h *admissionregistrationv1.ValidatingWebhook) { h.TimeoutSeconds = &s }
	}
	noDefault := func(h *admissionregistrationv1.ValidatingWebhook) { h.FailurePolicy = nil }
	for _, tc := range []struct {
		name         string
		muts         []func(*admissionregistrationv1.ValidatingWebhook)
		backend      string // up, hung, gone
		latency      time.Duration
		allowed      bool
		leaseThrough bool
	}{
		{"answering backend", nil, "up", m.ControlPlane.WebhookLatency.Duration + base, true, true},
		{"hung backend, Fail", nil, "hung", 10*time.Second + base, false, false},
		{"hung backend, default policy is Fail", []func(*admissionregistrationv1.ValidatingWebhook){noDefault}, "hung", 10*time.Second + base, false, false},
		{"hung backend, Ignore: admitted after the time-out", []func(*admissionregistrationv1.ValidatingWebhook){ignore}, "hung", 10*time.Second + base, true, false},
		{"hung backend, Ignore, 5 s time-out: heartbeats get through", []func(*admissionregistrationv1.ValidatingWebhook){ignore, timeout(5)}, "hung", 5*time.Second + base, true, true},
		{"hung backend, Fail, 3 s time-out", []func(*admissionregistrationv1.ValidatingWebhook){timeout(3)}, "hung", 3*time.Second + base, false, false},
		{"no endpoints, Fail: refused", nil, "gone", m.ControlPlane.RefusedLatency.Duration + base, false, false},
		{"no endpoints, Ignore: refused and admitted", []func(*admissionregistrationv1.ValidatingWebhook){ignore}, "gone", m.ControlPlane.RefusedLatency.Duration + base, true, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			w, err := New(input(1, webhookObjects(tc.muts...)...), 1, Options{})
			require.NoError(t, err)
			w.settle()
			wh := w.cp.hooks[0]
			var opa int
			for _, p := range w.st.Pods {
				if p.Namespace == "opa" {
					opa = p.Index
				}
			}
			switch tc.backend {
			case "hung":
				w.pods[opa].failed = true // running and Ready, answering nothing
			case "gone":
				w.st.Pods[opa].Ready = false
			}
			w.cp.refreshBackend(wh, true)
			d := w.cp.admit(w.cp.hook.matched)
			require.Len(t, d, 1)
			assert.Equal(t, tc.latency, d[0].latency)
			assert.Equal(t, tc.allowed, d[0].allowed)
			w.controlPlaneRecompute(0)
			assert.Equal(t, tc.leaseThrough, w.cp.lease.success == 1, "lease renewal success %v", w.cp.lease.success)
		})
	}
}

// Half the endpoints hung: half the calls time out.
func TestWebhookPartialBackend(t *testing.T) {
	objs := webhookObjects()
	two := int32(2)
	objs[0].(*appsv1.Deployment).Spec.Replicas = &two
	w, err := New(input(2, objs...), 1, Options{})
	require.NoError(t, err)
	w.settle()
	for _, p := range w.st.Pods {
		if p.Namespace == "opa" {
			w.pods[p.Index].failed = true
			break
		}
	}
	w.cp.refreshBackend(w.cp.hooks[0], true)
	d := w.cp.admit(w.cp.hook.matched)
	require.Len(t, d, 2)
	assert.InDelta(t, 0.5, d[0].p, 1e-12)
	assert.True(t, d[0].allowed)
	assert.InDelta(t, 0.5, d[1].p, 1e-12)
	assert.False(t, d[1].allowed)
	assert.Equal(t, 10*time.Second+w.m.APIServer.RequestLatency.Duration, d[1].latency)
}

func TestWebhookInputErrors(t *testing.T) {
	for _, tc := range []struct {
		name        string
		mut         func(*admissionregistrationv1.ValidatingWebhook)
		field, want string
	}{
		{"missing service", func(h *admissionregistrationv1.ValidatingWebhook) { h.ClientConfig.Service.Name = "nope" }, "clientConfig.service", "service opa/nope is not among the objects"},
		{"bad policy", func(h *admissionregistrationv1.ValidatingWebhook) {
			p := admissionregistrationv1.FailurePolicyType("Maybe")
			h.FailurePolicy = &p
		}, "failurePolicy", `"Maybe"; expected Fail or Ignore`},
		{"bad timeout", func(h *admissionregistrationv1.ValidatingWebhook) {
			s := int32(31)
			h.TimeoutSeconds = &s
		}, "timeoutSeconds", "31; expected 1..30"},
		{"no client config", func(h *admissionregistrationv1.ValidatingWebhook) { h.ClientConfig.Service = nil }, "clientConfig", "expected service or url"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			objs := webhookObjects(tc.mut)
			_, err := New(input(1, objs...), 1, Options{})
			errs := inputErrors(t, err)
			require.Len(t, errs, 1)
			k := slices.IndexFunc(objs, func(o runtime.Object) bool {
				_, ok := o.(*admissionregistrationv1.ValidatingWebhookConfiguration)
				return ok
			})
			assert.Equal(t, fmt.Sprintf("objects[%d].webhooks[0].%s", k, tc.field), errs[0].Field)
			assert.Contains(t, errs[0].Detail, tc.want)
		})
	}
}
