package local

import (
	"bytes"
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"strconv"
	"strings"
	"time"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/tools/clientcmd"
	clientcmdapi "k8s.io/client-go/tools/clientcmd/api"

	"github.com/faultline-dev/faultline/clusters"
	"github.com/faultline-dev/faultline/clusters/internal/proc"
	"github.com/faultline-dev/faultline/clusters/local/internal/pki"
)

// writeKubeconfig writes a self-contained kubeconfig (certificates embedded) for id.
func writeKubeconfig(path, name, server string, f pki.Files, id pki.Identity) error {
	ca, err := os.ReadFile(f.CACert)
	if err != nil {
		return err
	}
	cert, err := os.ReadFile(f.ClientCert(id))
	if err != nil {
		return err
	}
	key, err := os.ReadFile(f.ClientKey(id))
	if err != nil {
		return err
	}
	cfg := clientcmdapi.NewConfig()
	cfg.Clusters[name] = &clientcmdapi.Cluster{Server: server, CertificateAuthorityData: ca}
	cfg.AuthInfos[name] = &clientcmdapi.AuthInfo{ClientCertificateData: cert, ClientKeyData: key}
	cfg.Contexts[name] = &clientcmdapi.Context{Cluster: name, AuthInfo: name}
	cfg.CurrentContext = name
	return clientcmd.WriteToFile(*cfg, path)
}

// httpClient trusts the cluster's CA and presents the client certificate id (none when empty).
func (p *Provider) httpClient(st *state, id string) (*http.Client, error) {
	dir := p.dir(st.Name) + "/pki/"
	ca, err := os.ReadFile(dir + "ca.crt")
	if err != nil {
		return nil, err
	}
	pool := x509.NewCertPool()
	pool.AppendCertsFromPEM(ca)
	tc := &tls.Config{RootCAs: pool, MinVersion: tls.VersionTLS12}
	if id != "" {
		c, err := tls.LoadX509KeyPair(dir+id+".crt", dir+id+".key")
		if err != nil {
			return nil, err
		}
		tc.Certificates = []tls.Certificate{c}
	}
	return &http.Client{Timeout: 3 * time.Second, Transport: &http.Transport{TLSClientConfig: tc, Proxy: nil}}, nil
}

// healthy asks one process its health endpoint. KWOK serves none; it is healthy when running.
func (p *Provider) healthy(ctx context.Context, st *state, name string) error {
	var url, id string
	switch name {
	case Etcd:
		url, id = "https://127.0.0.1:"+strconv.Itoa(st.Ports["etcd-client"])+"/health", pki.EtcdClient.File
	case APIServer:
		url, id = st.Server+"/readyz", pki.Admin.File
	case ControllerManager, Scheduler:
		url = "https://127.0.0.1:" + strconv.Itoa(st.Ports[name]) + "/healthz"
	default:
		return nil
	}
	c, err := p.httpClient(st, id)
	if err != nil {
		return err
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		return err
	}
	resp, err := c.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(io.LimitReader(resp.Body, 4096))
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("%s: %s%s", url, resp.Status, failedChecks(body))
	}
	if name == Etcd && !bytes.Contains(body, []byte(`"health":"true"`)) {
		return fmt.Errorf("%s: %s", url, body)
	}
	return nil
}

// waitHealthy waits for one process's health endpoint, failing at once if the process exits.
func (p *Provider) waitHealthy(ctx context.Context, st *state, name string) error {
	r := st.process(name)
	if r == nil {
		return fmt.Errorf("%s was not started", name)
	}
	var last error
	for {
		if err := exited(*r); err != nil {
			return err
		}
		hctx, cancel := context.WithTimeout(ctx, 2*time.Second)
		last = p.healthy(hctx, st, name)
		cancel()
		if last == nil {
			p.logger.Info(name+" is up", "pid", r.PID)
			return nil
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("%s did not become healthy: %v (log: %s)", name, last, r.Log)
		case <-time.After(100 * time.Millisecond):
		}
	}
}

// exited returns an error carrying the end of r's log if r is no longer running.
func exited(r proc.Record) error {
	if running, err := r.Running(); err != nil || running {
		return err
	}
	b, _ := os.ReadFile(r.Log)
	return fmt.Errorf("%s exited; end of %s:\n%s", r.Name, r.Log, lastLines(b, 15))
}

// failedChecks picks the failed checks ("[-]etcd failed: ...") out of a /readyz answer.
func failedChecks(body []byte) string {
	var failed []string
	for _, l := range strings.Split(string(body), "\n") {
		if strings.HasPrefix(l, "[-]") {
			failed = append(failed, strings.TrimPrefix(l, "[-]"))
		}
	}
	if len(failed) == 0 {
		return ""
	}
	return ": " + strings.Join(failed, "; ")
}

func lastLines(b []byte, n int) string {
	lines := strings.Split(strings.TrimRight(string(b), "\n"), "\n")
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return strings.Join(lines, "\n")
}

// NodeName is the name of the i-th node (from 1) that WithNodes creates.
func NodeName(i int) string { return "node-" + strconv.Itoa(i) }

// waitReady creates the requested nodes and waits for them to be Ready and for the default
// ServiceAccount (without which no pod can be created in the default namespace), and for the
// node lifecycle controller to lift its not-ready taints.
func (p *Provider) waitReady(ctx context.Context, st *state, o clusters.CreateOptions) error {
	cfg, err := clientcmd.BuildConfigFromFlags("", st.KubeConfig)
	if err != nil {
		return err
	}
	cs, err := kubernetes.NewForConfig(cfg)
	if err != nil {
		return err
	}
	for i := 1; i <= o.Nodes; i++ {
		n := clusters.FakeNode(NodeName(i), o.NodeCapacity, nil, nil)
		if _, err := cs.CoreV1().Nodes().Create(ctx, n, metav1.CreateOptions{}); err != nil {
			return fmt.Errorf("create node %s: %w", n.Name, err)
		}
	}
	for {
		var waiting []string
		nodes, err := cs.CoreV1().Nodes().List(ctx, metav1.ListOptions{})
		if err == nil {
			ready := 0
			for _, n := range nodes.Items {
				if clusters.NodeReady(&n) && !clusters.LifecycleTainted(&n) {
					ready++
				}
			}
			if ready < o.Nodes {
				waiting = append(waiting, fmt.Sprintf("%d of %d nodes Ready and untainted by the node lifecycle controller", ready, o.Nodes))
			}
		} else {
			waiting = append(waiting, err.Error())
		}
		if _, err := cs.CoreV1().ServiceAccounts("default").Get(ctx, "default", metav1.GetOptions{}); err != nil {
			if apierrors.IsNotFound(err) {
				waiting = append(waiting, "no default ServiceAccount yet")
			} else {
				waiting = append(waiting, err.Error())
			}
		}
		if len(waiting) == 0 {
			return nil
		}
		for _, n := range []string{ControllerManager, Scheduler, KWOK} {
			if err := exited(*st.process(n)); err != nil {
				return err
			}
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("cluster not ready: %s: %w", strings.Join(waiting, "; "), errors.Join(ctx.Err()))
		case <-time.After(100 * time.Millisecond):
		}
	}
}

// NodeReady reports whether n's Ready condition is True (clusters.NodeReady).
func NodeReady(n *corev1.Node) bool { return clusters.NodeReady(n) }
