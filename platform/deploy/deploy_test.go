package deploy

import (
	"bytes"
	"io"
	"io/fs"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	admissionregistrationv1 "k8s.io/api/admissionregistration/v1"
	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	rbacv1 "k8s.io/api/rbac/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/serializer"
	utilyaml "k8s.io/apimachinery/pkg/util/yaml"
	"k8s.io/client-go/kubernetes/scheme"
	"sigs.k8s.io/yaml"

	"github.com/faultline-dev/faultline/platform"
)

// TestManifestsDecode decodes every manifest strictly with the Kubernetes scheme and checks that
// the pieces fit: the Deployment runs `platform run` with the ServiceAccount bound to the
// ClusterRole, the ConfigMap's configuration is valid, the webhook points at the Service's port
// and the handler's path.
func TestManifestsDecode(t *testing.T) {
	codecs := serializer.NewCodecFactory(scheme.Scheme, serializer.EnableStrict)
	var objs []runtime.Object
	files, err := fs.Glob(Manifests, "*.yaml")
	require.NoError(t, err)
	for _, f := range files {
		b, err := Manifests.ReadFile(f)
		require.NoError(t, err)
		r := utilyaml.NewYAMLReader(bufioReader(b))
		for {
			doc, err := r.Read()
			if err == io.EOF {
				break
			}
			require.NoError(t, err)
			if len(bytes.TrimSpace(doc)) == 0 {
				continue
			}
			obj, _, err := codecs.UniversalDeserializer().Decode(doc, nil, nil)
			require.NoError(t, err, f)
			objs = append(objs, obj)
		}
	}
	var (
		dep  *appsv1.Deployment
		cm   *corev1.ConfigMap
		svc  *corev1.Service
		whc  *admissionregistrationv1.MutatingWebhookConfiguration
		role *rbacv1.ClusterRole
		crb  *rbacv1.ClusterRoleBinding
	)
	for _, o := range objs {
		switch o := o.(type) {
		case *appsv1.Deployment:
			dep = o
		case *corev1.ConfigMap:
			cm = o
		case *corev1.Service:
			svc = o
		case *admissionregistrationv1.MutatingWebhookConfiguration:
			whc = o
		case *rbacv1.ClusterRole:
			role = o
		case *rbacv1.ClusterRoleBinding:
			crb = o
		}
	}
	require.NotNil(t, dep)
	require.NotNil(t, cm)
	require.NotNil(t, svc)
	require.NotNil(t, whc)
	require.NotNil(t, role)
	require.NotNil(t, crb)
	assert.Equal(t, []string{"platform", "run"}, dep.Spec.Template.Spec.Containers[0].Args[:2])
	assert.Equal(t, crb.Subjects[0].Name, dep.Spec.Template.Spec.ServiceAccountName)
	assert.Equal(t, role.Name, crb.RoleRef.Name)
	var cfg platform.Config
	require.NoError(t, yaml.UnmarshalStrict([]byte(cm.Data["platform.yaml"]), &cfg))
	require.NoError(t, cfg.Validate())
	assert.True(t, cfg.Enabled())
	wh := whc.Webhooks[0]
	assert.Equal(t, "/mutate-spread", *wh.ClientConfig.Service.Path)
	assert.Equal(t, svc.Name, wh.ClientConfig.Service.Name)
	assert.Equal(t, admissionregistrationv1.Ignore, *wh.FailurePolicy)
}
