package kind

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"net"
	"sort"

	admissionregistrationv1 "k8s.io/api/admissionregistration/v1"
	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	rbacv1 "k8s.io/api/rbac/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	utilyaml "k8s.io/apimachinery/pkg/util/yaml"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/kubernetes/scheme"
	"k8s.io/client-go/util/cert"

	"github.com/faultline-dev/faultline/platform/deploy"
)

// PlatformImage is the tag InstallPlatform gives the faultline image it builds and loads.
const PlatformImage = "faultline/faultline:kind"

// PlatformPackage is the Go main package of the platform image (`faultline platform run`).
const PlatformPackage = "github.com/faultline-dev/faultline/cmd/faultline"

// The names platform/deploy's manifests use for the platform's Deployment, Service and webhook
// certificate Secret.
const (
	PlatformNamespace  = "faultline-platform"
	PlatformDeployment = "faultline-platform"
	platformService    = "faultline-platform"
	platformTLSSecret  = "faultline-platform-webhook-tls"
)

// PlatformObjects reads platform/deploy's manifests (the files users apply) and returns their
// objects ready for a cluster without a registry or cert-manager: the platform container's image
// set to image with pull policy Never (LoadImage put it on the nodes), a Secret holding a
// self-signed serving certificate for the webhook Service, and every webhook's caBundle set to
// it. The manifests themselves are not changed.
func PlatformObjects(image string) ([]runtime.Object, error) {
	crt, key, err := cert.GenerateSelfSignedCertKey(platformService+"."+PlatformNamespace+".svc", []net.IP{net.ParseIP("127.0.0.1")},
		[]string{platformService, platformService + "." + PlatformNamespace, platformService + "." + PlatformNamespace + ".svc.cluster.local"})
	if err != nil {
		return nil, fmt.Errorf("webhook certificate: %w", err)
	}
	files, err := fs.Glob(deploy.Manifests, "*.yaml")
	if err != nil {
		return nil, err
	}
	sort.Strings(files)
	var objs []runtime.Object
	containers := 0
	for _, f := range files {
		data, err := deploy.Manifests.ReadFile(f)
		if err != nil {
			return nil, err
		}
		r := utilyaml.NewYAMLReader(bufio.NewReader(bytes.NewReader(data)))
		for i := 1; ; i++ {
			doc, err := r.Read()
			if errors.Is(err, io.EOF) {
				break
			}
			if err != nil {
				return nil, fmt.Errorf("platform/deploy/%s: document %d: %w", f, i, err)
			}
			if len(bytes.TrimSpace(doc)) == 0 {
				continue
			}
			obj, _, err := scheme.Codecs.UniversalDeserializer().Decode(doc, nil, nil)
			if err != nil {
				return nil, fmt.Errorf("platform/deploy/%s: document %d: %w", f, i, err)
			}
			switch o := obj.(type) {
			case *appsv1.Deployment:
				if o.Name == PlatformDeployment {
					for j := range o.Spec.Template.Spec.Containers {
						o.Spec.Template.Spec.Containers[j].Image = image
						o.Spec.Template.Spec.Containers[j].ImagePullPolicy = corev1.PullNever
						containers++
					}
				}
			case *admissionregistrationv1.MutatingWebhookConfiguration:
				for j := range o.Webhooks {
					o.Webhooks[j].ClientConfig.CABundle = crt
				}
			case *admissionregistrationv1.ValidatingWebhookConfiguration:
				for j := range o.Webhooks {
					o.Webhooks[j].ClientConfig.CABundle = crt
				}
			}
			objs = append(objs, obj)
		}
	}
	if containers == 0 {
		return nil, fmt.Errorf("platform/deploy: no Deployment %s/%s with a container; expected the platform's", PlatformNamespace, PlatformDeployment)
	}
	secret := &corev1.Secret{
		TypeMeta:   metav1.TypeMeta{APIVersion: "v1", Kind: "Secret"},
		ObjectMeta: metav1.ObjectMeta{Name: platformTLSSecret, Namespace: PlatformNamespace},
		Type:       corev1.SecretTypeTLS,
		Data:       map[string][]byte{corev1.TLSCertKey: crt, corev1.TLSPrivateKeyKey: key},
	}
	// after the Namespace (the first object), before the Deployment that mounts it
	return append(objs[:1:1], append([]runtime.Object{secret}, objs[1:]...)...), nil
}

// InstallPlatform builds faultline as a static program in a minimal image (BuildGoImage), loads
// it into the nodes of cluster name, and creates PlatformObjects(PlatformImage) with cs. Objects
// that already exist are left as they are. It does not wait for the Deployment to be Ready.
func (p *Provider) InstallPlatform(ctx context.Context, name string, cs kubernetes.Interface) error {
	if err := p.BuildGoImage(ctx, PlatformPackage, PlatformImage); err != nil {
		return err
	}
	if err := p.LoadImage(ctx, name, PlatformImage); err != nil {
		return err
	}
	objs, err := PlatformObjects(PlatformImage)
	if err != nil {
		return err
	}
	for _, obj := range objs {
		if err := create(ctx, cs, obj); err != nil && !apierrors.IsAlreadyExists(err) {
			return err
		}
	}
	return nil
}

// create creates obj, one of the kinds platform/deploy's manifests hold.
func create(ctx context.Context, cs kubernetes.Interface, obj runtime.Object) error {
	co := metav1.CreateOptions{FieldManager: "faultline"}
	var err error
	var what string
	switch o := obj.(type) {
	case *corev1.Namespace:
		what = "Namespace " + o.Name
		_, err = cs.CoreV1().Namespaces().Create(ctx, o, co)
	case *corev1.ServiceAccount:
		what = "ServiceAccount " + o.Namespace + "/" + o.Name
		_, err = cs.CoreV1().ServiceAccounts(o.Namespace).Create(ctx, o, co)
	case *corev1.ConfigMap:
		what = "ConfigMap " + o.Namespace + "/" + o.Name
		_, err = cs.CoreV1().ConfigMaps(o.Namespace).Create(ctx, o, co)
	case *corev1.Secret:
		what = "Secret " + o.Namespace + "/" + o.Name
		_, err = cs.CoreV1().Secrets(o.Namespace).Create(ctx, o, co)
	case *corev1.Service:
		what = "Service " + o.Namespace + "/" + o.Name
		_, err = cs.CoreV1().Services(o.Namespace).Create(ctx, o, co)
	case *appsv1.Deployment:
		what = "Deployment " + o.Namespace + "/" + o.Name
		_, err = cs.AppsV1().Deployments(o.Namespace).Create(ctx, o, co)
	case *rbacv1.ClusterRole:
		what = "ClusterRole " + o.Name
		_, err = cs.RbacV1().ClusterRoles().Create(ctx, o, co)
	case *rbacv1.ClusterRoleBinding:
		what = "ClusterRoleBinding " + o.Name
		_, err = cs.RbacV1().ClusterRoleBindings().Create(ctx, o, co)
	case *rbacv1.Role:
		what = "Role " + o.Namespace + "/" + o.Name
		_, err = cs.RbacV1().Roles(o.Namespace).Create(ctx, o, co)
	case *rbacv1.RoleBinding:
		what = "RoleBinding " + o.Namespace + "/" + o.Name
		_, err = cs.RbacV1().RoleBindings(o.Namespace).Create(ctx, o, co)
	case *admissionregistrationv1.MutatingWebhookConfiguration:
		what = "MutatingWebhookConfiguration " + o.Name
		_, err = cs.AdmissionregistrationV1().MutatingWebhookConfigurations().Create(ctx, o, co)
	case *admissionregistrationv1.ValidatingWebhookConfiguration:
		what = "ValidatingWebhookConfiguration " + o.Name
		_, err = cs.AdmissionregistrationV1().ValidatingWebhookConfigurations().Create(ctx, o, co)
	default:
		return fmt.Errorf("platform/deploy: %T: expected a Namespace, ServiceAccount, ConfigMap, Secret, Service, Deployment, RBAC or webhook configuration", obj)
	}
	if err != nil && !apierrors.IsAlreadyExists(err) {
		return fmt.Errorf("create %s: %w", what, err)
	}
	return err
}
