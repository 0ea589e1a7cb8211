package importer

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"strings"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime"
	utilyaml "k8s.io/apimachinery/pkg/util/yaml"
)

// MaxInputBytes bounds what ReadFiles reads in all, so that a wrong path (a disk image, a log)
// fails at once instead of filling memory.
const MaxInputBytes = 2 << 30

// Snapshot is a cluster's objects at one instant, as read from a server or from files.
type Snapshot struct {
	// Source says where the objects came from (a path, or a kubeconfig context), for the README.
	Source string
	Nodes  []corev1.Node
	// Pods are every pod, by pointer: a pod is a large struct to copy, and a big cluster has many.
	Pods []*corev1.Pod
	// Objects are the other objects, as read (workloads, Services, PDBs, webhooks, namespaces...).
	Objects []*unstructured.Unstructured
	// CPUUse is the CPU in use per pod (namespace/name), from metrics.k8s.io; nil when the cluster
	// does not serve it (or the files hold no PodMetrics).
	CPUUse map[string]resource.Quantity
	// Filter is the namespace selection the objects were read with (pods of every namespace are
	// kept: they hold capacity).
	Filter Filter
	// Notes are facts about the reading itself (an API not served, say), for the README.
	Notes []string
}

// Filter selects namespaces. Empty Include means every namespace but Exclude and the cluster's
// own (DefaultExcluded); a namespace named in Include is read even if it is a default exclusion.
type Filter struct {
	Include []string
	Exclude []string
}

// DefaultExcluded are the namespaces of the cluster's own components, left out unless named.
var DefaultExcluded = []string{"kube-system", "kube-public", "kube-node-lease"}

// Keep reports whether objects of namespace ns are imported; "" (cluster-scoped) always is.
func (f Filter) Keep(ns string) bool {
	if ns == "" {
		return true
	}
	if len(f.Include) > 0 {
		return slices.Contains(f.Include, ns)
	}
	return !slices.Contains(f.Exclude, ns) && !slices.Contains(DefaultExcluded, ns)
}

// keepNamespaceObject reports whether a Namespace object itself is imported.
func (f Filter) keepNamespaceObject(name string) bool { return f.Keep(name) }

// ReadFiles reads a `kubectl get -o yaml` List (or any YAML or JSON stream of objects and Lists),
// or every *.yaml, *.yml and *.json file under a folder, in name order. PodMetrics objects
// (metrics.k8s.io, as `kubectl get --raw /apis/metrics.k8s.io/v1beta1/pods` prints them) give the
// CPU use.
func ReadFiles(path string, f Filter) (*Snapshot, error) {
	st, err := os.Stat(path)
	if err != nil {
		return nil, err
	}
	var files []string
	if st.IsDir() {
		err := filepath.WalkDir(path, func(p string, d os.DirEntry, err error) error {
			if err != nil {
				return err
			}
			switch strings.ToLower(filepath.Ext(p)) {
			case ".yaml", ".yml", ".json":
				if !d.IsDir() {
					files = append(files, p)
				}
			}
			return nil
		})
		if err != nil {
			return nil, err
		}
		sort.Strings(files)
		if len(files) == 0 {
			return nil, fmt.Errorf("%s: no *.yaml, *.yml or *.json file in the folder", path)
		}
	} else {
		files = []string{path}
	}
	s := &Snapshot{Source: path, Filter: f}
	var total int64
	for _, file := range files {
		fi, err := os.Stat(file)
		if err != nil {
			return nil, err
		}
		if total += fi.Size(); total > MaxInputBytes {
			return nil, fmt.Errorf("%s: the input is over %d bytes; import a smaller set (--namespace)", file, int64(MaxInputBytes))
		}
		data, err := os.ReadFile(file)
		if err != nil {
			return nil, err
		}
		if err := s.addStream(file, data, f); err != nil {
			return nil, err
		}
	}
	return s, nil
}

// Add takes one object, or a List of objects, into the snapshot (filtered by s.Filter).
func (s *Snapshot) Add(u *unstructured.Unstructured) error { return s.add(u, s.Filter) }

// addStream decodes a YAML or JSON stream of objects and Lists.
func (s *Snapshot) addStream(file string, data []byte, f Filter) error {
	dec := utilyaml.NewYAMLOrJSONDecoder(bytes.NewReader(data), 1<<16)
	for doc := 1; ; doc++ {
		var m map[string]any
		if err := dec.Decode(&m); err != nil {
			if errors.Is(err, io.EOF) {
				return nil
			}
			return fmt.Errorf("%s: document %d: %w", file, doc, err)
		}
		if len(m) == 0 {
			continue
		}
		if err := s.add(&unstructured.Unstructured{Object: m}, f); err != nil {
			return fmt.Errorf("%s: document %d: %w", file, doc, err)
		}
	}
}

// add takes one object or List.
func (s *Snapshot) add(u *unstructured.Unstructured, f Filter) error {
	if u.GetKind() == "" || u.GetAPIVersion() == "" {
		return fmt.Errorf("apiVersion and kind: missing; expected a Kubernetes object or List")
	}
	if u.IsList() {
		items, _, err := unstructured.NestedSlice(u.Object, "items")
		if err != nil {
			return fmt.Errorf("items: %w", err)
		}
		for i, it := range items {
			m, ok := it.(map[string]any)
			if !ok {
				return fmt.Errorf("items[%d]: expected an object", i)
			}
			item := &unstructured.Unstructured{Object: m}
			if item.GetKind() == "" { // typed lists (PodMetricsList) may omit the items' kind
				item.SetAPIVersion(u.GetAPIVersion())
				item.SetKind(strings.TrimSuffix(u.GetKind(), "List"))
			}
			if err := s.add(item, f); err != nil {
				return fmt.Errorf("items[%d] (%s %s): %w", i, item.GetKind(), item.GetName(), err)
			}
		}
		return nil
	}
	return s.addObject(u, f)
}

// addObject sorts one object into the snapshot.
func (s *Snapshot) addObject(u *unstructured.Unstructured, f Filter) error {
	ns := u.GetNamespace()
	// every pod is kept: those of namespaces not imported still hold their nodes' capacity
	if k := u.GetKind(); k != "Pod" && k != "PodMetrics" && (!f.Keep(ns) || k == "Namespace" && !f.keepNamespaceObject(u.GetName())) {
		return nil
	}
	switch u.GetKind() {
	case "Node":
		var n corev1.Node
		if err := runtime.DefaultUnstructuredConverter.FromUnstructured(u.Object, &n); err != nil {
			return err
		}
		s.Nodes = append(s.Nodes, n)
	case "Pod":
		p := &corev1.Pod{}
		if err := runtime.DefaultUnstructuredConverter.FromUnstructured(u.Object, p); err != nil {
			return err
		}
		s.Pods = append(s.Pods, p)
	case "PodMetrics":
		q, err := podMetricsCPU(u)
		if err != nil {
			return err
		}
		if s.CPUUse == nil {
			s.CPUUse = map[string]resource.Quantity{}
		}
		s.CPUUse[ns+"/"+u.GetName()] = q
	default:
		s.Objects = append(s.Objects, u)
	}
	return nil
}

// podMetricsCPU sums the containers' usage.cpu of a metrics.k8s.io PodMetrics.
func podMetricsCPU(u *unstructured.Unstructured) (resource.Quantity, error) {
	var sum resource.Quantity
	cs, _, err := unstructured.NestedSlice(u.Object, "containers")
	if err != nil {
		return sum, fmt.Errorf("containers: %w", err)
	}
	for i, c := range cs {
		m, _ := c.(map[string]any)
		v, _, _ := unstructured.NestedString(m, "usage", "cpu")
		q, err := resource.ParseQuantity(v)
		if err != nil {
			return sum, fmt.Errorf("containers[%d].usage.cpu: %q: %w", i, v, err)
		}
		sum.Add(q)
	}
	return sum, nil
}
