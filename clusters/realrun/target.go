package realrun

import (
	"bytes"
	"errors"
	"fmt"
	"os"
	"slices"
	"strings"

	"k8s.io/client-go/rest"
	"k8s.io/client-go/tools/clientcmd"
	clientcmdapi "k8s.io/client-go/tools/clientcmd/api"

	"github.com/faultline-dev/faultline/clusters/local"
)

// ErrNotAllowed refuses writes and chaos against a cluster that faultline did not create and
// whose context was not named with --allow-context.
var ErrNotAllowed = errors.New("refusing to write to or inject faults into a cluster that faultline did not create")

// Target names an existing cluster: a kubeconfig file and a context in it.
type Target struct {
	// KubeConfig is a kubeconfig path; empty means client-go's default loading rules ($KUBECONFIG,
	// then ~/.kube/config).
	KubeConfig string
	// Context is the context to use; empty means the file's current-context.
	Context string
	// AllowContexts are contexts the user named explicitly (--allow-context) as fair game for
	// writes and chaos although faultline did not create them.
	AllowContexts []string
}

// Owned is a cluster faultline created and recorded: its API server and the CA that signs it.
type Owned struct {
	Name   string
	Server string
	CA     []byte
	// Provider made it: "local" or "kind".
	Provider string
}

// OwnedByLocal lists the clusters the local provider created (its state directory's records).
func OwnedByLocal(p *local.Provider) ([]Owned, error) {
	names, err := p.List()
	if err != nil {
		return nil, err
	}
	var out []Owned
	for _, n := range names {
		path, err := p.KubeConfigPath(n)
		if err != nil {
			continue
		}
		cfg, err := clientcmd.LoadFromFile(path)
		if err != nil {
			continue
		}
		for _, c := range cfg.Clusters {
			out = append(out, Owned{Name: n, Server: c.Server, CA: c.CertificateAuthorityData, Provider: local.ProviderName})
		}
	}
	return out, nil
}

// Resolved is a target that passed the safety check.
type Resolved struct {
	Config  *rest.Config
	Context string
	// Owned names the faultline cluster the context points at; empty for an allowed context.
	Owned string
	// Provider made the Owned cluster ("local", "kind").
	Provider string
}

// Resolve loads the target's client configuration and applies the safety rule: the context must
// point at a cluster faultline created (same API server URL and the same CA as one of owned), or
// be named in AllowContexts. Everything else fails with ErrNotAllowed before any request is
// sent, so the user's current context is never written to by accident.
func Resolve(t Target, owned []Owned) (*Resolved, error) {
	rules := clientcmd.NewDefaultClientConfigLoadingRules()
	if t.KubeConfig != "" {
		rules.ExplicitPath = t.KubeConfig
	}
	raw, err := rules.Load()
	if err != nil {
		return nil, fmt.Errorf("kubeconfig: %w", err)
	}
	ctxName := t.Context
	if ctxName == "" {
		ctxName = raw.CurrentContext
	}
	if ctxName == "" {
		return nil, fmt.Errorf("kubeconfig %s: no --context given and no current-context", describe(rules))
	}
	kctx, ok := raw.Contexts[ctxName]
	if !ok {
		return nil, fmt.Errorf("kubeconfig %s: no context %q (it has %s)", describe(rules), ctxName, contextNames(raw))
	}
	cluster, ok := raw.Clusters[kctx.Cluster]
	if !ok {
		return nil, fmt.Errorf("kubeconfig %s: context %q names cluster %q, which is not in the file", describe(rules), ctxName, kctx.Cluster)
	}
	res := &Resolved{Context: ctxName}
	for _, o := range owned {
		if sameServer(o.Server, cluster.Server) && len(o.CA) > 0 && bytes.Equal(bytes.TrimSpace(o.CA), bytes.TrimSpace(caData(cluster))) {
			res.Owned, res.Provider = o.Name, o.Provider
			break
		}
	}
	if res.Owned == "" && !slices.Contains(t.AllowContexts, ctxName) {
		return nil, fmt.Errorf("context %q (server %s): %w; name it with --allow-context %s if you mean it, or use --cluster local for a throwaway cluster",
			ctxName, cluster.Server, ErrNotAllowed, ctxName)
	}
	cfg, err := clientcmd.NewNonInteractiveClientConfig(*raw, ctxName, &clientcmd.ConfigOverrides{}, rules).ClientConfig()
	if err != nil {
		return nil, fmt.Errorf("context %q: %w", ctxName, err)
	}
	res.Config = cfg
	return res, nil
}

func caData(c *clientcmdapi.Cluster) []byte {
	if len(c.CertificateAuthorityData) > 0 {
		return c.CertificateAuthorityData
	}
	if c.CertificateAuthority != "" {
		if b, err := os.ReadFile(c.CertificateAuthority); err == nil {
			return b
		}
	}
	return nil
}

func sameServer(a, b string) bool {
	return strings.TrimSuffix(a, "/") == strings.TrimSuffix(b, "/")
}

func describe(rules *clientcmd.ClientConfigLoadingRules) string {
	if rules.ExplicitPath != "" {
		return rules.ExplicitPath
	}
	return strings.Join(rules.Precedence, ":")
}

func contextNames(c *clientcmdapi.Config) string {
	var ns []string
	for n := range c.Contexts {
		ns = append(ns, n)
	}
	slices.Sort(ns)
	if len(ns) == 0 {
		return "none"
	}
	return strings.Join(ns, ", ")
}
