// Command faultline-ingress is the ingress proxy of real runs on kind: it runs Debian's nginx
// and feeds it the ready endpoints of the Ingress's Services from the cluster's EndpointSlices,
// each change after the cloud load balancer's lag (package ingressfeed). It reads its
// ingressfeed.Config as JSON from FAULTLINE_INGRESS, runs in a pod with a service account that
// may list and watch EndpointSlices, and logs every change it applies with its lag.
package main

import (
	"context"
	"encoding/json"
	"fmt"
	"log"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"time"

	discoveryv1 "k8s.io/api/discovery/v1"
	"k8s.io/client-go/informers"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"
	"k8s.io/client-go/tools/cache"

	"github.com/faultline-dev/faultline/clusters/ingressfeed"
)

// EnvConfig carries the ingressfeed.Config.
const EnvConfig = "FAULTLINE_INGRESS"

func main() {
	if err := run(); err != nil {
		log.Fatal(err)
	}
}

func run() error {
	var cfg ingressfeed.Config
	if err := json.Unmarshal([]byte(os.Getenv(EnvConfig)), &cfg); err != nil {
		return fmt.Errorf("%s: %w", EnvConfig, err)
	}
	f, err := ingressfeed.New(cfg)
	if err != nil {
		return fmt.Errorf("%s: %w", EnvConfig, err)
	}
	rc, err := rest.InClusterConfig()
	if err != nil {
		return err
	}
	cs, err := kubernetes.NewForConfig(rc)
	if err != nil {
		return err
	}
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGTERM, syscall.SIGINT)
	defer stop()
	inf := informers.NewSharedInformerFactory(cs, 0).Discovery().V1().EndpointSlices().Informer()
	services := cfg.Services()
	changed := make(chan string, 1024)
	note := func(o any) {
		if t, ok := o.(cache.DeletedFinalStateUnknown); ok {
			o = t.Obj
		}
		if es, ok := o.(*discoveryv1.EndpointSlice); ok {
			if k := es.Namespace + "/" + es.Labels[discoveryv1.LabelServiceName]; slices.Contains(services, k) {
				changed <- k
			}
		}
	}
	_, _ = inf.AddEventHandler(cache.ResourceEventHandlerFuncs{AddFunc: note, UpdateFunc: func(_, o any) { note(o) }, DeleteFunc: note})
	go inf.Run(ctx.Done())
	if !cache.WaitForCacheSync(ctx.Done(), inf.HasSynced) {
		return fmt.Errorf("endpointslices: cache did not sync")
	}
	for _, s := range services {
		f.Settle(s, ready(inf.GetStore(), s))
	}
	dir, err := os.MkdirTemp("", "nginx-")
	if err != nil {
		return err
	}
	conf := filepath.Join(dir, "nginx.conf")
	if err := os.WriteFile(conf, f.Render(dir), 0o644); err != nil {
		return err
	}
	ng := exec.Command("/usr/sbin/nginx", "-e", "stderr", "-c", conf, "-g", "daemon off;")
	ng.Stdout, ng.Stderr = os.Stdout, os.Stderr
	if err := ng.Start(); err != nil {
		return fmt.Errorf("start nginx: %w", err)
	}
	exited := make(chan error, 1)
	go func() { exited <- ng.Wait() }()
	log.Printf("nginx started (pid %d) for %s, lag %v to %v", ng.Process.Pid, strings.Join(services, ", "), cfg.Lag.Min, cfg.Lag.Max)
	timer := time.NewTimer(time.Hour)
	for {
		if next := f.Next(); !next.IsZero() {
			timer.Reset(max(time.Until(next), 0))
		}
		select {
		case <-ctx.Done():
			_ = ng.Process.Signal(syscall.SIGQUIT) // graceful: the workers finish their requests
			<-exited
			return nil
		case err := <-exited:
			return fmt.Errorf("nginx exited: %v", err)
		case s := <-changed:
			f.Observe(time.Now(), s, ready(inf.GetStore(), s))
		case <-timer.C:
			applied := f.Due(time.Now())
			if len(applied) == 0 {
				continue
			}
			if err := os.WriteFile(conf, f.Render(dir), 0o644); err != nil {
				return err
			}
			if err := ng.Process.Signal(syscall.SIGHUP); err != nil { // reload: new workers, old ones drain
				return fmt.Errorf("reload nginx: %w", err)
			}
			for _, a := range applied {
				log.Printf("applied %s %s ready=%t after %v", a.Service, a.Addr, a.Ready, a.Lag.Round(time.Millisecond))
			}
		}
	}
}

// ready lists the Service's endpoints that its EndpointSlices call ready, as address:port.
func ready(store cache.Store, svc string) []string {
	ns, name, _ := strings.Cut(svc, "/")
	var out []string
	for _, o := range store.List() {
		es := o.(*discoveryv1.EndpointSlice)
		if es.Namespace != ns || es.Labels[discoveryv1.LabelServiceName] != name || len(es.Ports) == 0 || es.Ports[0].Port == nil {
			continue
		}
		port := strconv.Itoa(int(*es.Ports[0].Port))
		for _, e := range es.Endpoints {
			if (e.Conditions.Ready == nil || *e.Conditions.Ready) && len(e.Addresses) > 0 {
				out = append(out, e.Addresses[0]+":"+port)
			}
		}
	}
	slices.Sort(out)
	return out
}
