package importer_test

import (
	"fmt"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"sync"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/serializer/protobuf"
	"k8s.io/client-go/kubernetes/scheme"
	"k8s.io/client-go/rest"

	"github.com/faultline-dev/faultline/clusters/importer"
)

// fakeAPI serves list requests for nodes, pods and deployments, two objects a page whatever
// the limit asked (so that continuing is exercised), in protobuf when the client accepts it;
// every other resource is not found. It records each request's path, content type and limit.
type fakeAPI struct {
	mu   sync.Mutex
	seen []string
}

func (f *fakeAPI) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	var all []runtime.Object
	var gv = corev1.SchemeGroupVersion
	switch r.URL.Path {
	case "/api/v1/nodes":
		for i := range 3 {
			all = append(all, &corev1.Node{ObjectMeta: metav1.ObjectMeta{Name: fmt.Sprintf("n%d", i), ManagedFields: []metav1.ManagedFieldsEntry{{Manager: "kubelet"}}}})
		}
	case "/api/v1/pods":
		for i := range 5 {
			all = append(all, &corev1.Pod{ObjectMeta: metav1.ObjectMeta{Name: fmt.Sprintf("p%d", i), Namespace: "shop", ManagedFields: []metav1.ManagedFieldsEntry{{Manager: "kubelet"}}},
				Spec: corev1.PodSpec{NodeName: "n0"}})
		}
	case "/apis/apps/v1/deployments":
		gv = appsv1.SchemeGroupVersion
		for i := range 3 {
			all = append(all, &appsv1.Deployment{ObjectMeta: metav1.ObjectMeta{Name: fmt.Sprintf("d%d", i), Namespace: "shop"}})
		}
	default:
		http.NotFound(w, r)
		return
	}
	proto := strings.Contains(r.Header.Get("Accept"), runtime.ContentTypeProtobuf)
	f.mu.Lock()
	f.seen = append(f.seen, fmt.Sprintf("%s proto=%v limit=%s", r.URL.Path, proto, r.URL.Query().Get("limit")))
	f.mu.Unlock()
	from, _ := strconv.Atoi(r.URL.Query().Get("continue"))
	to := min(from+2, len(all))
	var list runtime.Object
	switch gv {
	case corev1.SchemeGroupVersion:
		if strings.HasSuffix(r.URL.Path, "nodes") {
			l := &corev1.NodeList{}
			for _, o := range all[from:to] {
				l.Items = append(l.Items, *o.(*corev1.Node))
			}
			list = l
		} else {
			l := &corev1.PodList{}
			for _, o := range all[from:to] {
				l.Items = append(l.Items, *o.(*corev1.Pod))
			}
			list = l
		}
	default:
		l := &appsv1.DeploymentList{}
		for _, o := range all[from:to] {
			l.Items = append(l.Items, *o.(*appsv1.Deployment))
		}
		list = l
	}
	if to < len(all) {
		list.(metav1.ListInterface).SetContinue(strconv.Itoa(to))
	}
	var enc runtime.Encoder = scheme.Codecs.LegacyCodec(gv)
	ct := runtime.ContentTypeJSON
	if proto {
		enc, ct = scheme.Codecs.EncoderForVersion(protobuf.NewSerializer(scheme.Scheme, scheme.Scheme), gv), runtime.ContentTypeProtobuf
	}
	b, err := runtime.Encode(enc, list)
	if err != nil {
		http.Error(w, err.Error(), http.StatusInternalServerError)
		return
	}
	w.Header().Set("Content-Type", ct)
	_, _ = w.Write(b)
}

func TestReadClusterListsEveryPageNodesAndPodsInProtobuf(t *testing.T) {
	api := &fakeAPI{}
	srv := httptest.NewServer(api)
	defer srv.Close()
	s, err := importer.ReadCluster(t.Context(), &rest.Config{Host: srv.URL}, "fake", importer.Filter{})
	require.NoError(t, err)

	var names []string
	for _, n := range s.Nodes {
		names = append(names, n.Name)
		assert.Nil(t, n.ManagedFields, "managed fields are dropped")
	}
	for _, p := range s.Pods {
		names = append(names, p.Namespace+"/"+p.Name)
		assert.Nil(t, p.ManagedFields, "managed fields are dropped")
	}
	for _, u := range s.Objects {
		names = append(names, u.GetKind()+" "+u.GetAPIVersion()+" "+u.GetName())
	}
	assert.Equal(t, []string{"n0", "n1", "n2", "shop/p0", "shop/p1", "shop/p2", "shop/p3", "shop/p4",
		"Deployment apps/v1 d0", "Deployment apps/v1 d1", "Deployment apps/v1 d2"}, names, "every page, in list order")
	assert.Contains(t, s.Notes, "services: not served by this cluster")
	assert.Contains(t, s.Notes[len(s.Notes)-1], "metrics.k8s.io is not served")
	assert.Nil(t, s.CPUUse)

	api.mu.Lock()
	defer api.mu.Unlock()
	assert.Contains(t, api.seen, "/api/v1/pods proto=true limit=5000", "pods are listed in protobuf, in large pages")
	assert.Contains(t, api.seen, "/api/v1/nodes proto=true limit=5000")
	assert.Contains(t, api.seen, "/apis/apps/v1/deployments proto=false limit=5000", "the dynamic client reads JSON")
	pods := 0
	for _, s := range api.seen {
		if strings.HasPrefix(s, "/api/v1/pods") {
			pods++
		}
	}
	assert.Equal(t, 3, pods, "five pods, two a page: three requests")
}
