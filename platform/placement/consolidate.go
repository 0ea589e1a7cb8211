package placement

import (
	"context"
	"fmt"
	"slices"
	"strings"

	appsv1 "k8s.io/api/apps/v1"
	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/utils/ptr"
)

// Annotations and labels of apps.
const (
	// AnnRuntime is an app's runtime requirement (e.g. php-8.2.10), on the app's workload and on
	// CronJobs bound to the app (platform.faultline.dev/app).
	AnnRuntime = "platform.faultline.dev/runtime"
	// LabelApp names the app a workload runs.
	LabelApp = "platform.faultline.dev/app"
	// LabelSharedRuntime marks the shared Deployment of a runtime; AnnApps lists its apps.
	LabelSharedRuntime = "platform.faultline.dev/shared-runtime"
	AnnApps            = "platform.faultline.dev/apps"
)

// App is one hosted app: its name, its runtime requirement and the image of its own pods.
type App struct {
	Namespace, Name string
	Runtime         string
	Image           string
}

// Group is a set of apps with compatible runtime requirements that share pods.
type Group struct {
	Runtime string
	Image   string
	Apps    []string // namespace/name, sorted
}

// Plan is the result of a consolidation: the shared groups, and each app's image.
type Plan struct {
	Groups []Group
	image  map[string]string // namespace/name → image
}

// Consolidate groups apps by runtime: every runtime with a shared image in c.Images becomes one
// Group (compatible = the same runtime requirement, as mittwald's PHP 8.2.10 apps); other apps
// keep their own pods and image. The result does not depend on the order of apps.
func (c ConsolidationConfig) Consolidate(apps []App) Plan {
	p := Plan{image: make(map[string]string, len(apps))}
	groups := map[string]*Group{}
	for _, a := range apps {
		key := a.Namespace + "/" + a.Name
		img, ok := c.Images[a.Runtime]
		if !ok {
			p.image[key] = a.Image
			continue
		}
		p.image[key] = img
		g := groups[a.Runtime]
		if g == nil {
			g = &Group{Runtime: a.Runtime, Image: img}
			groups[a.Runtime] = g
		}
		g.Apps = append(g.Apps, key)
	}
	for _, g := range groups {
		slices.Sort(g.Apps)
		p.Groups = append(p.Groups, *g)
	}
	slices.SortFunc(p.Groups, func(a, b Group) int { return strings.Compare(a.Runtime, b.Runtime) })
	return p
}

// Image is the image app namespace/name runs under the plan.
func (p Plan) Image(namespace, name string) (string, bool) {
	img, ok := p.image[namespace+"/"+name]
	return img, ok
}

// Deployment is the shared workload of the group in namespace: one Deployment per runtime, its
// pods serving every app of the group.
func (g Group) Deployment(namespace string, replicas int32) *appsv1.Deployment {
	name := "shared-" + sanitize(g.Runtime)
	lbl := map[string]string{LabelSharedRuntime: sanitize(g.Runtime)}
	return &appsv1.Deployment{
		TypeMeta: metav1.TypeMeta{APIVersion: "apps/v1", Kind: "Deployment"},
		ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: namespace, Labels: lbl,
			Annotations: map[string]string{AnnRuntime: g.Runtime, AnnApps: strings.Join(g.Apps, ",")}},
		Spec: appsv1.DeploymentSpec{
			Replicas: ptr.To(replicas),
			Selector: &metav1.LabelSelector{MatchLabels: lbl},
			Template: corev1.PodTemplateSpec{
				ObjectMeta: metav1.ObjectMeta{Labels: lbl},
				Spec:       corev1.PodSpec{Containers: []corev1.Container{{Name: "runtime", Image: g.Image}}},
			},
		},
	}
}

func sanitize(s string) string {
	b := []byte(strings.ToLower(s))
	for i, c := range b {
		if (c < 'a' || c > 'z') && (c < '0' || c > '9') && c != '-' {
			b[i] = '-'
		}
	}
	return string(b)
}

// AppFromDeployment reads an app from its workload: a Deployment labelled LabelApp (the app's
// name) with the AnnRuntime annotation; ok is false for other Deployments.
func AppFromDeployment(d *appsv1.Deployment) (App, bool) {
	name, rt := d.Labels[LabelApp], d.Annotations[AnnRuntime]
	if name == "" || rt == "" || len(d.Spec.Template.Spec.Containers) == 0 {
		return App{}, false
	}
	return App{Namespace: d.Namespace, Name: name, Runtime: rt, Image: d.Spec.Template.Spec.Containers[0].Image}, true
}

// SharedDeployments are the shared workloads of the plan for the apps of one namespace, one per
// consolidated runtime, in runtime order. The per-app Deployments are left as they are: retiring
// them (and their images) is the operator's step once the shared pods serve.
func (c ConsolidationConfig) SharedDeployments(namespace string, apps []App) []*appsv1.Deployment {
	replicas := c.SharedReplicas
	if replicas == 0 {
		replicas = 2
	}
	var out []*appsv1.Deployment
	for _, g := range c.Consolidate(apps).Groups {
		out = append(out, g.Deployment(namespace, replicas))
	}
	return out
}

// AppSource finds an app by name.
type AppSource interface {
	// App returns the app namespace/name; cj is the CronJob asking (its annotations may describe
	// the app when no workload of the app exists).
	App(ctx context.Context, cj *batchv1.CronJob, namespace, name string) (App, error)
}

// CronJobApps is the AppSource of last resort: the app as the CronJob bound to it describes it
// (AnnRuntime on the CronJob, the CronJob's container image as the app's own image).
type CronJobApps struct{}

// App implements AppSource.
func (CronJobApps) App(_ context.Context, cj *batchv1.CronJob, namespace, name string) (App, error) {
	a := App{Namespace: namespace, Name: name, Runtime: cj.Annotations[AnnRuntime]}
	if cs := cj.Spec.JobTemplate.Spec.Template.Spec.Containers; len(cs) > 0 {
		a.Image = cs[0].Image
	}
	if a.Runtime == "" {
		return a, fmt.Errorf("app %s/%s: no %s annotation", namespace, name, AnnRuntime)
	}
	return a, nil
}

// Resolver resolves a CronJob's app to the image the app runs now: the shared image of its
// runtime when the runtime is consolidated, the app's own image otherwise. It implements
// cron.ImageResolver; it is asked when each Job is created, never at deploy time.
type Resolver struct {
	Config ConsolidationConfig
	Apps   AppSource
}

// Image implements cron.ImageResolver.
func (r Resolver) Image(ctx context.Context, cj *batchv1.CronJob, app string) (string, error) {
	src := r.Apps
	if src == nil {
		src = CronJobApps{}
	}
	a, err := src.App(ctx, cj, cj.Namespace, app)
	if err != nil {
		return "", err
	}
	img, ok := r.Config.Consolidate([]App{a}).Image(a.Namespace, a.Name)
	if !ok || img == "" {
		return "", fmt.Errorf("app %s/%s has no image", a.Namespace, a.Name)
	}
	return img, nil
}
