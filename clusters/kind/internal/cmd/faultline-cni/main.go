// Command faultline-cni is the pod network service of the offline kind node image (see package
// nodenet). It runs in every node as a systemd service with the kubelet's credentials: it waits
// for the node's pod CIDR and for kube-proxy's first rule sync (so that no pod, CoreDNS first,
// starts before Service addresses work), writes the CNI configuration, and then keeps a route to
// every other node's pod CIDR.
package main

import (
	"context"
	"flag"
	"fmt"
	"log/slog"
	"net/http"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"strings"
	"syscall"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/tools/clientcmd"

	"github.com/faultline-dev/faultline/clusters/kind/internal/nodenet"
)

func main() {
	kubeconfig := flag.String("kubeconfig", "/etc/kubernetes/kubelet.conf", "the kubelet's kubeconfig")
	confDir := flag.String("cni-conf-dir", "/etc/cni/net.d", "where the CNI configuration is written")
	proxyHealth := flag.String("kube-proxy-healthz", "http://127.0.0.1:10256/healthz", "kube-proxy's health endpoint; the configuration is written once it answers 200")
	mtu := flag.Int("mtu", 1500, "MTU of the pods' interfaces")
	every := flag.Duration("resync", 5*time.Second, "how often the routes are checked")
	flag.Parse()
	log := slog.New(slog.NewTextHandler(os.Stderr, nil))
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGTERM, syscall.SIGINT)
	defer stop()
	if err := run(ctx, log, *kubeconfig, *confDir, *proxyHealth, *mtu, *every); err != nil && ctx.Err() == nil {
		log.Error("faultline-cni", "err", err)
		os.Exit(1)
	}
}

func run(ctx context.Context, log *slog.Logger, kubeconfig, confDir, proxyHealth string, mtu int, every time.Duration) error {
	self, err := os.Hostname()
	if err != nil {
		return err
	}
	for {
		if _, err := os.Stat(kubeconfig); err == nil {
			break
		}
		if !sleep(ctx, time.Second) {
			return ctx.Err()
		}
	}
	cfg, err := clientcmd.BuildConfigFromFlags("", kubeconfig)
	if err != nil {
		return fmt.Errorf("%s: %w", kubeconfig, err)
	}
	cs, err := kubernetes.NewForConfig(cfg)
	if err != nil {
		return err
	}
	podCIDR := ""
	for podCIDR == "" {
		n, err := cs.CoreV1().Nodes().Get(ctx, self, metav1.GetOptions{})
		if err == nil {
			podCIDR = n.Spec.PodCIDR
		}
		if podCIDR == "" && !sleep(ctx, time.Second) {
			return ctx.Err()
		}
	}
	log.Info("pod CIDR", "node", self, "cidr", podCIDR)
	for !answers(ctx, proxyHealth) {
		if !sleep(ctx, time.Second) {
			return ctx.Err()
		}
	}
	log.Info("kube-proxy has synced its rules")
	conf, err := nodenet.Conflist(podCIDR, mtu)
	if err != nil {
		return err
	}
	if err := writeAtomic(filepath.Join(confDir, "10-faultline.conflist"), conf); err != nil {
		return err
	}
	log.Info("wrote the CNI configuration", "dir", confDir)
	have := map[string]string{}
	for {
		nodes, err := cs.CoreV1().Nodes().List(ctx, metav1.ListOptions{})
		if err != nil {
			log.Warn("list nodes", "err", err)
		} else {
			for _, r := range nodenet.Routes(self, nodes.Items) {
				if have[r.Dst] == r.Via {
					continue
				}
				out, err := exec.CommandContext(ctx, "ip", "route", "replace", r.Dst, "via", r.Via).CombinedOutput()
				if err != nil {
					log.Warn("route", "dst", r.Dst, "via", r.Via, "err", err, "out", strings.TrimSpace(string(out)))
					continue
				}
				have[r.Dst] = r.Via
				log.Info("route", "node", r.Node, "dst", r.Dst, "via", r.Via)
			}
		}
		if !sleep(ctx, every) {
			return ctx.Err()
		}
	}
}

func answers(ctx context.Context, url string) bool {
	ctx, cancel := context.WithTimeout(ctx, 2*time.Second)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		return false
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return false
	}
	resp.Body.Close()
	return resp.StatusCode == http.StatusOK
}

func writeAtomic(path string, b []byte) error {
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		return err
	}
	tmp := path + ".tmp"
	if err := os.WriteFile(tmp, b, 0o644); err != nil {
		return err
	}
	return os.Rename(tmp, path)
}

func sleep(ctx context.Context, d time.Duration) bool {
	select {
	case <-ctx.Done():
		return false
	case <-time.After(d):
		return true
	}
}
