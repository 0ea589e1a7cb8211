package record

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"time"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/client-go/discovery"
	"k8s.io/client-go/dynamic"
	"k8s.io/client-go/dynamic/dynamicinformer"
	"k8s.io/client-go/rest"
	"k8s.io/client-go/tools/cache"

	"github.com/faultline-dev/faultline/clusters/importer"
)

// Options bound and shape a recording.
type Options struct {
	// Duration is how long to record after the informers have synced.
	Duration time.Duration
	// MaxBytes stops the recording once the compressed trace reaches it (the file can pass it by
	// what gzip holds in its buffer, a few tens of KiB).
	MaxBytes int64
	// Filter selects namespaces, as for import.
	Filter importer.Filter
	// Source names the cluster in the header (a kubeconfig context).
	Source string
	// Now is the clock; default time.Now.
	Now func() time.Time
	// Logger; default slog.Default().
	Logger *slog.Logger
}

// Summary is what a recording wrote.
type Summary struct {
	Events int
	Bytes  int64
	Reason string // duration, max-bytes or interrupted
	Took   time.Duration
}

// countingWriter counts the bytes that reach the file.
type countingWriter struct {
	w io.Writer
	n int64
}

func (c *countingWriter) Write(p []byte) (int, error) {
	n, err := c.w.Write(p)
	c.n += int64(n)
	return n, err
}

// Record watches the cluster and writes its trace to w until Duration after the informers have
// synced, MaxBytes, or ctx ends. It only lists and watches.
func Record(ctx context.Context, cfg *rest.Config, w io.Writer, o Options) (Summary, error) {
	if o.Duration <= 0 {
		return Summary{}, fmt.Errorf("duration: %v; expected a positive duration such as 10m", o.Duration)
	}
	if o.MaxBytes <= 0 {
		return Summary{}, fmt.Errorf("max-bytes: %d; expected a positive size", o.MaxBytes)
	}
	if o.Now == nil {
		o.Now = time.Now
	}
	if o.Logger == nil {
		o.Logger = slog.Default()
	}
	dc, err := dynamic.NewForConfig(cfg)
	if err != nil {
		return Summary{}, err
	}
	disc, err := discovery.NewDiscoveryClientForConfig(cfg)
	if err != nil {
		return Summary{}, err
	}
	began := o.Now()
	tw, err := NewWriter(w, o.Source, began)
	if err != nil {
		return Summary{}, err
	}

	rctx, cancel := context.WithCancel(ctx)
	defer cancel()
	events := make(chan Line, 4096)
	send := func(l Line) {
		select {
		case events <- l:
		case <-rctx.Done():
		}
	}
	factory := dynamicinformer.NewDynamicSharedInformerFactory(dc, 0)
	var synced []cache.InformerSynced
	for _, r := range importer.Resources {
		if _, err := disc.ServerResourcesForGroupVersion(r.GVR.GroupVersion().String()); apierrors.IsNotFound(err) {
			o.Logger.Info("not served; not recorded", "resource", r.GVR.Resource)
			continue
		}
		kind, apiVersion := r.Kind, r.GVR.GroupVersion().String()
		inf := factory.ForResource(r.GVR).Informer()
		keep := func(obj any) (map[string]any, bool) {
			if d, ok := obj.(cache.DeletedFinalStateUnknown); ok {
				obj = d.Obj
			}
			u, ok := obj.(*unstructured.Unstructured)
			if !ok {
				return nil, false
			}
			ns := u.GetNamespace()
			if kind == "Namespace" {
				ns = u.GetName()
			}
			if kind != "Pod" && !o.Filter.Keep(ns) {
				return nil, false
			}
			m := compact(u)
			m["apiVersion"], m["kind"] = apiVersion, kind
			return m, true
		}
		reg, err := inf.AddEventHandler(cache.ResourceEventHandlerDetailedFuncs{
			AddFunc: func(obj any, initial bool) {
				if m, ok := keep(obj); ok {
					now := o.Now()
					send(Line{Time: &now, Op: OpAdd, Kind: kind, Initial: initial, Object: m})
				}
			},
			UpdateFunc: func(_, obj any) {
				if m, ok := keep(obj); ok {
					now := o.Now()
					send(Line{Time: &now, Op: OpUpdate, Kind: kind, Object: m})
				}
			},
			DeleteFunc: func(obj any) {
				if m, ok := keep(obj); ok {
					now := o.Now()
					send(Line{Time: &now, Op: OpDelete, Kind: kind, Object: m})
				}
			},
		})
		if err != nil {
			return Summary{}, err
		}
		synced = append(synced, reg.HasSynced) // the handler has seen the initial list
	}
	factory.Start(rctx.Done())
	defer factory.Shutdown()
	syncDone := make(chan bool, 1)
	go func() { syncDone <- cache.WaitForCacheSync(rctx.Done(), synced...) }()

	sum := Summary{}
	var deadline <-chan time.Time
	write := tw.Line
	reason := ""
	for reason == "" {
		select {
		case l := <-events:
			if err := write(l); err != nil {
				return sum, err
			}
			if tw.Bytes() >= o.MaxBytes {
				reason = "max-bytes"
			}
		case ok := <-syncDone:
			if !ok {
				reason = "interrupted"
				break
			}
			// the initial adds were sent before HasSynced turned true; write them first
			for drained := false; !drained; {
				select {
				case l := <-events:
					if err := write(l); err != nil {
						return sum, err
					}
				default:
					drained = true
				}
			}
			now := o.Now()
			if err := tw.Synced(now); err != nil {
				return sum, err
			}
			o.Logger.Info("cluster listed; recording changes", "objects", tw.Events(), "for", o.Duration)
			deadline = time.After(o.Duration)
		case <-deadline:
			reason = "duration"
		case <-ctx.Done():
			reason = "interrupted"
		}
	}
	cancel()
	end := o.Now()
	sum.Events = tw.Events()
	if err := tw.Close(end, reason); err != nil {
		return sum, err
	}
	sum.Bytes, sum.Reason, sum.Took = tw.Bytes(), reason, end.Sub(began)
	return sum, nil
}

// compact drops what a trace does not need: managed fields and the last-applied annotation.
func compact(u *unstructured.Unstructured) map[string]any {
	m := u.DeepCopy().Object
	unstructured.RemoveNestedField(m, "metadata", "managedFields")
	unstructured.RemoveNestedField(m, "metadata", "annotations", "kubectl.kubernetes.io/last-applied-configuration")
	return m
}
