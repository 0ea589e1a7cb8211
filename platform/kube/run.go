package kube

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"
	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/informers"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/kubernetes/scheme"
	typedcorev1 "k8s.io/client-go/kubernetes/typed/core/v1"
	"k8s.io/client-go/rest"
	"k8s.io/client-go/tools/cache"
	"k8s.io/client-go/tools/record"
	"k8s.io/client-go/util/workqueue"
	"k8s.io/utils/clock"

	"github.com/faultline-dev/faultline/platform"
	"github.com/faultline-dev/faultline/platform/cron"
	"github.com/faultline-dev/faultline/platform/placement"
)

// Options are the process's settings besides the platform configuration.
type Options struct {
	// MetricsAddr serves /metrics and /healthz over HTTP (e.g. 127.0.0.1:9090; ":0" picks a port).
	MetricsAddr string
	// WebhookAddr serves the webhook over TLS with CertFile and KeyFile; empty: no webhook.
	WebhookAddr       string
	CertFile, KeyFile string
	// Ready, when set, receives the bound addresses once the servers listen and the informers
	// synced.
	Ready  func(metrics, webhook string)
	Logger *slog.Logger
	// Clock drives the scheduler (default: the real clock).
	Clock clock.WithTicker
}

// Run runs the platform's components enabled in cfg against the cluster of rc until ctx ends.
func Run(ctx context.Context, cfg platform.Config, rc *rest.Config, o Options) error {
	if err := cfg.Validate(); err != nil {
		return err
	}
	log := o.Logger
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	clk := o.Clock
	if clk == nil {
		clk = clock.RealClock{}
	}
	rc = rest.CopyConfig(rc)
	cc := cron.Config{}
	if cfg.Cron != nil {
		cc = cfg.Cron.WithDefaults()
	}
	rc.QPS, rc.Burst = float32(cc.WithDefaults().QPS), cc.WithDefaults().Burst
	cs, err := kubernetes.NewForConfig(rc)
	if err != nil {
		return fmt.Errorf("client: %w", err)
	}
	reg := prometheus.NewRegistry()
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	var wg sync.WaitGroup
	errs := make(chan error, 4)

	mux := http.NewServeMux()
	mux.Handle("/metrics", promhttp.HandlerFor(reg, promhttp.HandlerOpts{EnableOpenMetrics: true}))
	mux.HandleFunc("/healthz", func(w http.ResponseWriter, _ *http.Request) { _, _ = w.Write([]byte("ok")) })
	metricsAddr, err := serve(ctx, &wg, errs, o.MetricsAddr, mux, nil)
	if err != nil {
		return fmt.Errorf("metrics server: %w", err)
	}
	webhookAddr := ""
	if o.WebhookAddr != "" && cfg.Placement != nil && cfg.Placement.Spread != nil {
		cert, err := tls.LoadX509KeyPair(o.CertFile, o.KeyFile)
		if err != nil {
			return fmt.Errorf("webhook certificate: %w", err)
		}
		wm := http.NewServeMux()
		wm.Handle(SpreadPath, SpreadHandler(*cfg.Placement.Spread, log))
		wm.HandleFunc("/healthz", func(w http.ResponseWriter, _ *http.Request) { _, _ = w.Write([]byte("ok")) })
		webhookAddr, err = serve(ctx, &wg, errs, o.WebhookAddr, wm, &tls.Config{Certificates: []tls.Certificate{cert}, MinVersion: tls.VersionTLS12})
		if err != nil {
			return fmt.Errorf("webhook server: %w", err)
		}
	}
	var apps placement.AppSource
	if p := cfg.Placement; p != nil && p.Consolidation != nil {
		if apps, err = startConsolidation(ctx, &wg, cs, *p.Consolidation, log); err != nil {
			return err
		}
	}
	if cfg.Cron != nil {
		if err := startCron(ctx, &wg, cs, cfg, cc, reg, clk, apps, log); err != nil {
			return err
		}
	}
	log.Info("platform running", "metrics", metricsAddr, "webhook", webhookAddr, "cron", cfg.Cron != nil)
	if o.Ready != nil {
		o.Ready(metricsAddr, webhookAddr)
	}
	select {
	case <-ctx.Done():
	case err = <-errs:
	}
	cancel()
	wg.Wait()
	return err
}

func serve(ctx context.Context, wg *sync.WaitGroup, errs chan<- error, addr string, h http.Handler, tc *tls.Config) (string, error) {
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return "", err
	}
	srv := &http.Server{Handler: h, ReadHeaderTimeout: 10 * time.Second, TLSConfig: tc}
	wg.Add(2)
	go func() {
		defer wg.Done()
		var err error
		if tc != nil {
			err = srv.ServeTLS(ln, "", "")
		} else {
			err = srv.Serve(ln)
		}
		if err != nil && !errors.Is(err, http.ErrServerClosed) {
			errs <- err
		}
	}()
	go func() {
		defer wg.Done()
		<-ctx.Done()
		sctx, c := context.WithTimeout(context.Background(), 5*time.Second)
		defer c()
		_ = srv.Shutdown(sctx)
	}()
	return ln.Addr().String(), nil
}

// startCron wires informers → work queue → Controller.
func startCron(ctx context.Context, wg *sync.WaitGroup, cs kubernetes.Interface, cfg platform.Config, cc cron.Config, reg *prometheus.Registry, clk clock.WithTicker, apps placement.AppSource, log *slog.Logger) error {
	bc := record.NewBroadcaster(record.WithContext(ctx))
	bc.StartRecordingToSink(&typedcorev1.EventSinkImpl{Interface: cs.CoreV1().Events("")})
	rec := bc.NewRecorder(scheme.Scheme, corev1.EventSource{Component: "faultline-platform-cron"})
	opts := []cron.Option{cron.WithClock(clk), cron.WithLogger(log)}
	if p := cfg.Placement; p != nil && p.Consolidation != nil {
		opts = append(opts, cron.WithImageResolver(placement.Resolver{Config: *p.Consolidation, Apps: apps}))
	}
	ctrl := cron.NewController(cc, &Client{CS: cs, Recorder: rec}, cron.NewMetrics(reg), opts...)

	q := workqueue.NewTypedRateLimitingQueueWithConfig(workqueue.DefaultTypedControllerRateLimiter[string](),
		workqueue.TypedRateLimitingQueueConfig[string]{Name: "faultline-platform-cron", Clock: clk})
	all := informers.NewSharedInformerFactory(cs, 0)
	own := informers.NewSharedInformerFactoryWithOptions(cs, 0, informers.WithTweakListOptions(func(o *metav1.ListOptions) {
		o.LabelSelector = cron.LabelCronJob
	}))
	enqueueCJ := func(obj any) {
		if cj, ok := obj.(*batchv1.CronJob); ok && cj.Annotations[cron.AnnManaged] == "true" {
			q.Add(cj.Namespace + "/" + cj.Name)
		}
	}
	if _, err := all.Batch().V1().CronJobs().Informer().AddEventHandler(cache.ResourceEventHandlerFuncs{
		AddFunc: enqueueCJ,
		UpdateFunc: func(o, n any) {
			if oc, nc := o.(*batchv1.CronJob), n.(*batchv1.CronJob); ownWrite(oc, nc) {
				return // the platform's own last-schedule-time patch: the sync that wrote it requeued
			}
			enqueueCJ(n)
		},
	}); err != nil {
		return err
	}
	jobs := own.Batch().V1().Jobs()
	if _, err := jobs.Informer().AddEventHandler(cache.ResourceEventHandlerFuncs{
		UpdateFunc: func(o, n any) {
			oj, nj := o.(*batchv1.Job), n.(*batchv1.Job)
			if !cron.Finished(oj) && cron.Finished(nj) {
				ctrl.JobFinished(nj)
				q.Add(nj.Namespace + "/" + nj.Labels[cron.LabelCronJob])
			}
		},
		DeleteFunc: func(o any) {
			if j, ok := o.(*batchv1.Job); ok {
				q.Add(j.Namespace + "/" + j.Labels[cron.LabelCronJob])
			}
		},
	}); err != nil {
		return err
	}
	podSeen := func(obj any) {
		p, ok := obj.(*corev1.Pod)
		if !ok || len(p.Spec.Containers) == 0 {
			return
		}
		at := appStartedAt(p)
		if at.IsZero() {
			return
		}
		for _, or := range p.OwnerReferences {
			if or.Kind != "Job" {
				continue
			}
			j, err := jobs.Lister().Jobs(p.Namespace).Get(or.Name)
			if err != nil {
				return // not in the cache yet: a later pod update brings it
			}
			if err := ctrl.AppStarted(ctx, j, at); err != nil {
				log.Warn("T2 not recorded", "job", p.Namespace+"/"+or.Name, "err", err)
			}
		}
	}
	if _, err := own.Core().V1().Pods().Informer().AddEventHandler(cache.ResourceEventHandlerFuncs{
		AddFunc: podSeen, UpdateFunc: func(_, n any) { podSeen(n) },
	}); err != nil {
		return err
	}
	all.Start(ctx.Done())
	own.Start(ctx.Done())
	for typ, ok := range all.WaitForCacheSync(ctx.Done()) {
		if !ok {
			return fmt.Errorf("informer %v did not sync", typ)
		}
	}
	for typ, ok := range own.WaitForCacheSync(ctx.Done()) {
		if !ok {
			return fmt.Errorf("informer %v did not sync", typ)
		}
	}
	for range cc.Workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				key, quit := q.Get()
				if quit {
					return
				}
				ns, name, _ := cache.SplitMetaNamespaceKey(key)
				d, err := ctrl.Sync(ctx, ns, name)
				switch {
				case err != nil:
					log.Warn("sync failed; retrying", "cronjob", key, "err", err)
					q.AddRateLimited(key)
				default:
					q.Forget(key)
					if d > 0 {
						q.AddAfter(key, d)
					}
				}
				q.Done(key)
			}
		}()
	}
	wg.Add(1)
	go func() {
		defer wg.Done()
		<-ctx.Done()
		q.ShutDown()
		bc.Shutdown()
		all.Shutdown()
		own.Shutdown()
	}()
	return nil
}

// ownWrite reports whether the only change between o and n is the platform's AnnLastSchedule.
func ownWrite(o, n *batchv1.CronJob) bool {
	if o.Generation != n.Generation || len(o.Annotations) != len(n.Annotations) && len(o.Annotations)+1 != len(n.Annotations) {
		return false
	}
	for k, v := range n.Annotations {
		if k != cron.AnnLastSchedule && o.Annotations[k] != v {
			return false
		}
	}
	for k := range o.Annotations {
		if _, ok := n.Annotations[k]; !ok {
			return false
		}
	}
	return o.Annotations[cron.AnnLastSchedule] != n.Annotations[cron.AnnLastSchedule]
}

// appStartedAt is when the pod's app container (containers[0]) first ran, from its status:
// running.startedAt, or terminated.startedAt when it already exited; zero if it has not run.
func appStartedAt(p *corev1.Pod) time.Time {
	name := p.Spec.Containers[0].Name
	for _, s := range p.Status.ContainerStatuses {
		if s.Name != name {
			continue
		}
		switch {
		case s.State.Running != nil:
			return s.State.Running.StartedAt.Time
		case s.State.Terminated != nil && !s.State.Terminated.StartedAt.IsZero():
			return s.State.Terminated.StartedAt.Time
		case s.LastTerminationState.Terminated != nil:
			return s.LastTerminationState.Terminated.StartedAt.Time
		}
	}
	return time.Time{}
}
