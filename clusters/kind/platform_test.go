package kind_test

import (
	"crypto/x509"
	"encoding/pem"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	admissionregistrationv1 "k8s.io/api/admissionregistration/v1"
	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"

	"github.com/faultline-dev/faultline/clusters/kind"
)

func TestPlatformObjects(t *testing.T) {
	objs, err := kind.PlatformObjects("example/faultline:test")
	require.NoError(t, err)
	require.NotEmpty(t, objs)
	_, first := objs[0].(*corev1.Namespace)
	assert.True(t, first, "the Namespace comes first, got %T", objs[0])

	var dep *appsv1.Deployment
	var secret *corev1.Secret
	var hooks []*admissionregistrationv1.MutatingWebhookConfiguration
	secretAt, depAt := -1, -1
	for i, o := range objs {
		switch o := o.(type) {
		case *appsv1.Deployment:
			dep, depAt = o, i
		case *corev1.Secret:
			secret, secretAt = o, i
		case *admissionregistrationv1.MutatingWebhookConfiguration:
			hooks = append(hooks, o)
		}
	}
	require.NotNil(t, dep)
	require.NotNil(t, secret)
	require.NotEmpty(t, hooks)

	t.Run("the container runs the loaded image, never pulled", func(t *testing.T) {
		assert.Equal(t, kind.PlatformNamespace, dep.Namespace)
		for _, c := range dep.Spec.Template.Spec.Containers {
			assert.Equal(t, "example/faultline:test", c.Image)
			assert.Equal(t, corev1.PullNever, c.ImagePullPolicy)
		}
	})
	t.Run("the Deployment mounts the Secret, created before it", func(t *testing.T) {
		assert.Less(t, secretAt, depAt)
		var mounted []string
		for _, v := range dep.Spec.Template.Spec.Volumes {
			if v.Secret != nil {
				mounted = append(mounted, v.Secret.SecretName)
			}
		}
		assert.Contains(t, mounted, secret.Name)
		assert.Equal(t, kind.PlatformNamespace, secret.Namespace)
	})
	t.Run("the webhook's caBundle verifies the Secret's certificate for the Service name", func(t *testing.T) {
		blk, _ := pem.Decode(secret.Data[corev1.TLSCertKey])
		require.NotNil(t, blk)
		leaf, err := x509.ParseCertificate(blk.Bytes)
		require.NoError(t, err)
		for _, h := range hooks {
			for _, w := range h.Webhooks {
				require.NotNil(t, w.ClientConfig.Service, w.Name)
				pool := x509.NewCertPool()
				require.True(t, pool.AppendCertsFromPEM(w.ClientConfig.CABundle), w.Name)
				host := w.ClientConfig.Service.Name + "." + w.ClientConfig.Service.Namespace + ".svc"
				_, err := leaf.Verify(x509.VerifyOptions{Roots: pool, DNSName: host})
				assert.NoError(t, err, "%s: certificate for %s", w.Name, host)
			}
		}
	})
}
