package kube

import (
	"context"
	"fmt"
	"log/slog"
	"sync"

	appsv1 "k8s.io/api/apps/v1"
	batchv1 "k8s.io/api/batch/v1"
	"k8s.io/apimachinery/pkg/api/equality"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/client-go/informers"
	"k8s.io/client-go/kubernetes"
	appslisters "k8s.io/client-go/listers/apps/v1"
	"k8s.io/client-go/tools/cache"
	"k8s.io/client-go/util/workqueue"

	"github.com/faultline-dev/faultline/platform/placement"
)

// deploymentApps is the AppSource of a real cluster: the app's Deployment (label
// platform.faultline.dev/app), else what the CronJob says of its app.
type deploymentApps struct{ lister appslisters.DeploymentLister }

func (d deploymentApps) App(ctx context.Context, cj *batchv1.CronJob, ns, name string) (placement.App, error) {
	sel := labels.SelectorFromSet(labels.Set{placement.LabelApp: name})
	ds, err := d.lister.Deployments(ns).List(sel)
	if err == nil {
		for _, dep := range ds {
			if a, ok := placement.AppFromDeployment(dep); ok {
				return a, nil
			}
		}
	}
	return placement.CronJobApps{}.App(ctx, cj, ns, name)
}

// startConsolidation keeps, per namespace, one shared Deployment per consolidated runtime of the
// apps (Deployments labelled platform.faultline.dev/app) in step with the plan. It returns the
// AppSource for the cron scheduler's image resolution.
func startConsolidation(ctx context.Context, wg *sync.WaitGroup, cs kubernetes.Interface, cfg placement.ConsolidationConfig, log *slog.Logger) (placement.AppSource, error) {
	f := informers.NewSharedInformerFactoryWithOptions(cs, 0, informers.WithTweakListOptions(func(o *metav1.ListOptions) {
		o.LabelSelector = placement.LabelApp
	}))
	inf := f.Apps().V1().Deployments()
	q := workqueue.NewTypedRateLimitingQueueWithConfig(workqueue.DefaultTypedControllerRateLimiter[string](),
		workqueue.TypedRateLimitingQueueConfig[string]{Name: "faultline-platform-consolidation"})
	enqueue := func(obj any) {
		if tomb, ok := obj.(cache.DeletedFinalStateUnknown); ok {
			obj = tomb.Obj
		}
		if d, ok := obj.(*appsv1.Deployment); ok {
			q.Add(d.Namespace)
		}
	}
	if _, err := inf.Informer().AddEventHandler(cache.ResourceEventHandlerFuncs{
		AddFunc: enqueue, UpdateFunc: func(_, n any) { enqueue(n) }, DeleteFunc: enqueue,
	}); err != nil {
		return nil, err
	}
	f.Start(ctx.Done())
	for typ, ok := range f.WaitForCacheSync(ctx.Done()) {
		if !ok {
			return nil, fmt.Errorf("informer %v did not sync", typ)
		}
	}
	lister := inf.Lister()
	wg.Add(2)
	go func() {
		defer wg.Done()
		for {
			ns, quit := q.Get()
			if quit {
				return
			}
			if err := consolidate(ctx, cs, lister, cfg, ns, log); err != nil {
				log.Warn("consolidation failed; retrying", "namespace", ns, "err", err)
				q.AddRateLimited(ns)
			} else {
				q.Forget(ns)
			}
			q.Done(ns)
		}
	}()
	go func() {
		defer wg.Done()
		<-ctx.Done()
		q.ShutDown()
		f.Shutdown()
	}()
	return deploymentApps{lister: lister}, nil
}

func consolidate(ctx context.Context, cs kubernetes.Interface, lister appslisters.DeploymentLister, cfg placement.ConsolidationConfig, ns string, log *slog.Logger) error {
	ds, err := lister.Deployments(ns).List(labels.Everything())
	if err != nil {
		return err
	}
	var apps []placement.App
	for _, d := range ds {
		if a, ok := placement.AppFromDeployment(d); ok {
			apps = append(apps, a)
		}
	}
	for _, want := range cfg.SharedDeployments(ns, apps) {
		cur, err := cs.AppsV1().Deployments(ns).Get(ctx, want.Name, metav1.GetOptions{})
		switch {
		case apierrors.IsNotFound(err):
			if _, err := cs.AppsV1().Deployments(ns).Create(ctx, want, metav1.CreateOptions{}); err != nil {
				return fmt.Errorf("create %s/%s: %w", ns, want.Name, err)
			}
			log.Info("shared pods created", "deployment", ns+"/"+want.Name, "apps", want.Annotations[placement.AnnApps])
		case err != nil:
			return err
		case !equality.Semantic.DeepEqual(cur.Annotations, want.Annotations) || *cur.Spec.Replicas != *want.Spec.Replicas ||
			cur.Spec.Template.Spec.Containers[0].Image != want.Spec.Template.Spec.Containers[0].Image:
			cur.Annotations = want.Annotations
			cur.Spec.Replicas = want.Spec.Replicas
			cur.Spec.Template.Spec.Containers = want.Spec.Template.Spec.Containers
			if _, err := cs.AppsV1().Deployments(ns).Update(ctx, cur, metav1.UpdateOptions{}); err != nil {
				return fmt.Errorf("update %s/%s: %w", ns, want.Name, err)
			}
		}
	}
	return nil
}
