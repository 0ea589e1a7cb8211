package sim

import (
	"slices"
	"sort"
	"time"

	admissionregistrationv1 "k8s.io/api/admissionregistration/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"

	"github.com/faultline-dev/faultline/measure"
	"github.com/faultline-dev/faultline/sim/cluster"
)

// APIRequest is one kind of request to the API server, described by what admission sees: the
// operation, the resource (group, version, resource, subresource), the namespace and the
// object's labels. A scenario lists the requests its clients make in models.controlPlane.requests
// with a rate; the kubelets' heartbeats and the apiserver's own post-start write are built in.
type APIRequest struct {
	Name string `json:"name"`
	// Operation is CREATE, UPDATE, DELETE or CONNECT (admitted), or GET for every read (GET,
	// LIST, WATCH), which admission never sees.
	Operation   string `json:"operation"`
	APIGroup    string `json:"apiGroup,omitempty"`
	APIVersion  string `json:"apiVersion"`
	Resource    string `json:"resource"`
	Subresource string `json:"subresource,omitempty"`
	// Namespace is empty for cluster-scoped resources.
	Namespace string            `json:"namespace,omitempty"`
	Labels    map[string]string `json:"labels,omitempty"`
	// RatePerSecond is how many such requests all clients together make.
	RatePerSecond float64 `json:"ratePerSecond"`
}

// admitted reports whether admission webhooks see the request (reads never do).
func (r *APIRequest) admitted() bool {
	switch r.Operation {
	case "CREATE", "UPDATE", "DELETE", "CONNECT":
		return true
	}
	return false
}

// mutating reports whether the request writes (what the apiserver latency alert watches).
func (r *APIRequest) mutating() bool { return measure.Mutating(r.Operation) }

// webhook is one validating webhook of a ValidatingWebhookConfiguration, compiled.
//
// Model: the apiserver's generic webhook dispatcher (k8s.io/apiserver/pkg/admission/plugin/
// webhook): a request is sent to a webhook when any rule matches it (rules.Matcher: operation,
// apiGroup, apiVersion, resource with "*", "*/*", "res/*" and "*/sub" forms, scope), when its
// namespaceSelector matches the namespace's labels (a cluster-scoped object other than a Namespace
// is never exempted; a Namespace is matched on its own labels) and when its objectSelector
// matches the object's labels. Validating webhooks are called in parallel: the request waits for
// the slowest and is rejected if any rejects. A call to a backend Service with no ready endpoint
// is refused at once; a call that reaches an endpoint that does not answer (a hung process, a
// dead node, dropped packets) waits timeoutSeconds. failurePolicy Fail rejects the request on a
// failed call, Ignore admits it.
// The backend's endpoints are what the EndpointSlice controller last wrote: its UPDATE of the
// Service's EndpointSlice goes through admission too, so while every such write fails (an
// unscoped Fail-policy webhook whose own backend is dead) the endpoints stay as they were, a dead
// pod included, and callers keep waiting for the time-out instead of being refused.
// Left out: matchPolicy Equivalent (requests are matched as sent), matchConditions (CEL), the
// webhook's own verdict (a reachable backend admits), mutating webhooks and reinvocation, the
// service port and path, TLS. A webhook with clientConfig.url always answers.
type webhook struct {
	name    string // configuration/webhook
	rules   []admissionregistrationv1.RuleWithOperations
	nsSel   labels.Selector
	objSel  labels.Selector
	fail    bool
	timeout time.Duration
	svc     string          // namespace/name of the backend Service, "" for a URL
	backend labels.Selector // the Service's selector
	svcNS   string
	// backend state, refreshed at every recomputation
	eps            []int // pod indices in the Service's endpoints, as last written
	epsSet         bool
	epWrite        []int // webhooks matching the EndpointSlice controller's write for the Service
	ready, serving int
}

// admissionChain is the apiserver's validating admission (controlplane.go's model): the
// webhooks every request is matched against, their backends' endpoints as the EndpointSlice
// controller last wrote them, and the distribution of a request's fate through them. It has no
// events: its state is rederived at every recomputation.
type admissionChain struct {
	*cpEnv
	hooks    []*webhook
	nsLabels map[string]map[string]string
}

// newAdmissionChain compiles every ValidatingWebhookConfiguration of the input.
func newAdmissionChain(e *cpEnv) *admissionChain {
	a := &admissionChain{cpEnv: e}
	a.hooks, a.nsLabels = compileWebhooks(e.in)
	return a
}

// match lists the webhooks (indices into hooks) called for r.
func (a *admissionChain) match(r *APIRequest) []int {
	var out []int
	for i, wh := range a.hooks {
		if wh.matches(r, a.nsLabels) {
			out = append(out, i)
		}
	}
	return out
}

// compileWebhooks compiles in's webhooks, with the labels of the namespaces it declares.
func compileWebhooks(in *Input) ([]*webhook, map[string]map[string]string) {
	services := map[string]*corev1.Service{}
	nsLabels := map[string]map[string]string{}
	var configs []*admissionregistrationv1.ValidatingWebhookConfiguration
	for _, obj := range in.Objects {
		switch o := obj.(type) {
		case *corev1.Service:
			services[namespaceOr(o.Namespace)+"/"+o.Name] = o
		case *corev1.Namespace:
			l := map[string]string{}
			for k, v := range o.Labels {
				l[k] = v
			}
			l[corev1.LabelMetadataName] = o.Name
			nsLabels[o.Name] = l
		case *admissionregistrationv1.ValidatingWebhookConfiguration:
			configs = append(configs, o)
		}
	}
	var out []*webhook
	epWrite := APIRequest{Operation: "UPDATE", APIGroup: "discovery.k8s.io", APIVersion: "v1", Resource: "endpointslices"}
	for _, c := range configs {
		for i := range c.Webhooks {
			h := &c.Webhooks[i]
			// Validate checked the policy, the timeout, the selectors and the backend Service
			wh := &webhook{name: c.Name + "/" + h.Name, rules: h.Rules, fail: true, timeout: 10 * time.Second}
			if h.FailurePolicy != nil && *h.FailurePolicy == admissionregistrationv1.Ignore {
				wh.fail = false
			}
			if h.TimeoutSeconds != nil {
				wh.timeout = time.Duration(*h.TimeoutSeconds) * time.Second
			}
			wh.nsSel, _ = selectorOrEverything(h.NamespaceSelector)
			wh.objSel, _ = selectorOrEverything(h.ObjectSelector)
			if ref := h.ClientConfig.Service; ref != nil {
				key := ref.Namespace + "/" + ref.Name
				wh.svc, wh.svcNS, wh.backend = key, ref.Namespace, labels.SelectorFromSet(services[key].Spec.Selector)
			}
			out = append(out, wh)
		}
	}
	// the EndpointSlice controller's write of each backend's endpoints goes through them all
	for _, wh := range out {
		if wh.backend != nil {
			r := epWrite
			r.Namespace = wh.svcNS
			for i, other := range out {
				if other.matches(&r, nsLabels) {
					wh.epWrite = append(wh.epWrite, i)
				}
			}
		}
	}
	return out, nsLabels
}

// selectorOrEverything converts a webhook selector: nil and {} select everything.
func selectorOrEverything(s *metav1.LabelSelector) (labels.Selector, error) {
	if s == nil {
		return labels.Everything(), nil
	}
	return metav1.LabelSelectorAsSelector(s)
}

// matches reports whether the webhook is called for r, with nsLabels the labels of the
// namespaces the scenario declares (others carry only kubernetes.io/metadata.name).
func (wh *webhook) matches(r *APIRequest, nsLabels map[string]map[string]string) bool {
	if !r.admitted() {
		return false
	}
	ruled := false
	for i := range wh.rules {
		if ruleMatches(&wh.rules[i], r) {
			ruled = true
			break
		}
	}
	if !ruled {
		return false
	}
	isNamespace := r.APIGroup == "" && r.Resource == "namespaces"
	switch {
	case r.Namespace == "" && !isNamespace:
		// a cluster-scoped object other than a Namespace is never exempted by namespaceSelector
	case isNamespace:
		if !wh.nsSel.Matches(labels.Set(r.Labels)) {
			return false
		}
	default:
		l := nsLabels[r.Namespace]
		if l == nil {
			l = map[string]string{corev1.LabelMetadataName: r.Namespace}
		}
		if !wh.nsSel.Matches(labels.Set(l)) {
			return false
		}
	}
	return wh.objSel.Matches(labels.Set(r.Labels))
}

// ruleMatches follows k8s.io/apiserver's rules.Matcher.
func ruleMatches(rule *admissionregistrationv1.RuleWithOperations, r *APIRequest) bool {
	opOK := false
	for _, op := range rule.Operations {
		if op == admissionregistrationv1.OperationAll || string(op) == r.Operation {
			opOK = true
			break
		}
	}
	if !opOK || !anyOf(rule.APIGroups, r.APIGroup) || !anyOf(rule.APIVersions, r.APIVersion) {
		return false
	}
	resOK := false
	for _, res := range rule.Resources {
		name, sub, _ := cutSlash(res)
		if (name == "*" || name == r.Resource) && (sub == "*" || sub == r.Subresource) {
			resOK = true
			break
		}
	}
	if !resOK {
		return false
	}
	isNamespace := r.APIGroup == "" && r.Resource == "namespaces"
	if rule.Scope == nil {
		return true
	}
	switch *rule.Scope {
	case admissionregistrationv1.NamespacedScope:
		return !isNamespace && r.Namespace != ""
	case admissionregistrationv1.ClusterScope:
		return isNamespace || r.Namespace == ""
	}
	return true // "*"
}

func anyOf(list []string, v string) bool {
	return slices.Contains(list, "*") || slices.Contains(list, v)
}

func cutSlash(s string) (string, string, bool) {
	for i := 0; i < len(s); i++ {
		if s[i] == '/' {
			return s[:i], s[i+1:], true
		}
	}
	return s, "", false
}

// outcome is one possible fate of a request: with probability p it takes latency and is admitted
// (allowed) or rejected.
type outcome struct {
	p       float64
	latency time.Duration
	allowed bool
}

// refreshBackends updates every backend's endpoints, then counts them. The EndpointSlice
// controller writes through the API as it is before this update, and only while some apiserver
// is ready (anyReady).
func (a *admissionChain) refreshBackends(anyReady bool) {
	writable := make([]bool, len(a.hooks))
	for i, wh := range a.hooks {
		if anyReady {
			for _, o := range a.admit(wh.epWrite) {
				writable[i] = writable[i] || o.allowed
			}
		}
	}
	for i, wh := range a.hooks {
		a.refreshBackend(wh, writable[i])
	}
}

// refreshBackend updates the backend's endpoints when the EndpointSlice controller's write gets
// through (writable), then counts them: ready (in the endpoints) and serving (really answering).
func (a *admissionChain) refreshBackend(wh *webhook, writable bool) {
	wh.ready, wh.serving = 0, 0
	if wh.backend == nil {
		return
	}
	if writable || !wh.epsSet {
		wh.eps, wh.epsSet = wh.eps[:0], true
		for _, p := range a.st.Pods {
			if p.Phase == cluster.PodGone || p.Phase == cluster.PodTerminating || p.Namespace != wh.svcNS || !p.Ready || !wh.backend.Matches(labels.Set(p.Labels)) {
				continue
			}
			wh.eps = append(wh.eps, p.Index)
		}
	}
	for _, pi := range wh.eps {
		p := a.st.Pods[pi]
		ps := a.pod(pi)
		wh.ready++
		if p.Phase == cluster.PodRunning && !ps.dead && !ps.failed && p.Node != nil && p.Node.Up {
			wh.serving++
		}
	}
}

// call is the distribution of one call to the webhook's backend.
func (a *admissionChain) call(wh *webhook) []outcome {
	cp := &a.m.ControlPlane
	switch {
	case wh.backend == nil:
		return []outcome{{1, cp.WebhookLatency.Duration, true}}
	case wh.ready == 0:
		return []outcome{{1, cp.RefusedLatency.Duration, !wh.fail}}
	}
	ok := float64(wh.serving) / float64(wh.ready)
	var out []outcome
	if ok > 0 {
		out = append(out, outcome{ok, cp.WebhookLatency.Duration, true})
	}
	if ok < 1 {
		out = append(out, outcome{1 - ok, wh.timeout, !wh.fail})
	}
	return out
}

// admit is the distribution of a request's fate through the webhooks that match it (indices
// into hooks), on top of the apiserver's own latency.
func (a *admissionChain) admit(matched []int) []outcome {
	d := []outcome{{1, 0, true}}
	for _, i := range matched {
		var next []outcome
		for _, x := range d {
			for _, y := range a.call(a.hooks[i]) {
				next = append(next, outcome{x.p * y.p, max(x.latency, y.latency), x.allowed && y.allowed})
			}
		}
		d = mergeOutcomes(next)
	}
	// the slowest webhook decides the wait; the apiserver's own time comes on top
	for i := range d {
		d[i].latency += a.m.APIServer.RequestLatency.Duration
	}
	return d
}

// mergeOutcomes sums the probabilities of equal (latency, allowed) outcomes, in a fixed order.
func mergeOutcomes(d []outcome) []outcome {
	sort.SliceStable(d, func(i, j int) bool {
		if d[i].latency != d[j].latency {
			return d[i].latency < d[j].latency
		}
		return !d[i].allowed && d[j].allowed
	})
	out := d[:0]
	for _, o := range d {
		if n := len(out); n > 0 && out[n-1].latency == o.latency && out[n-1].allowed == o.allowed {
			out[n-1].p += o.p
			continue
		}
		out = append(out, o)
	}
	return out
}
