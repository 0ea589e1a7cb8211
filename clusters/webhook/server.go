package webhook

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"errors"
	"fmt"
	"log/slog"
	"math/big"
	"net"
	"net/http"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	admissionv1 "k8s.io/api/admission/v1"
	admissionregistrationv1 "k8s.io/api/admissionregistration/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/faultline-dev/faultline/internal/admission"
)

// Mode is how the server answers.
type Mode int32

const (
	// Allow admits every request (a healthy policy engine with nothing to object to).
	Allow Mode = iota
	// Hang never answers: the request is held until the API server's timeout (or Close).
	Hang
	// Fail answers HTTP 500, which the API server counts as a failed call.
	Fail
	// Deny answers allowed: false.
	Deny
)

func (m Mode) String() string {
	switch m {
	case Allow:
		return "allow"
	case Hang:
		return "hang"
	case Fail:
		return "fail"
	case Deny:
		return "deny"
	}
	return fmt.Sprintf("Mode(%d)", int32(m))
}

// ParseMode reads allow, hang, fail or deny.
func ParseMode(s string) (Mode, error) {
	for _, m := range []Mode{Allow, Hang, Fail, Deny} {
		if m.String() == s {
			return m, nil
		}
	}
	return Allow, fmt.Errorf("webhook mode %q: expected allow, hang, fail or deny", s)
}

// Server is a running webhook backend.
type Server struct {
	srv      *http.Server
	ln       net.Listener
	caPEM    []byte
	mode     atomic.Int32
	calls    atomic.Int64
	closing  chan struct{}
	once     sync.Once
	served   chan error
	logger   *slog.Logger
	holdWait sync.WaitGroup
	mu       sync.Mutex
	seen     []Request
}

// Request is one admission request the server received: what the API server asked about.
type Request struct {
	At        time.Time `json:"at"`
	Mode      string    `json:"mode"` // how the server answered it
	Operation string    `json:"operation"`
	Group     string    `json:"group,omitempty"`
	Resource  string    `json:"resource"`
	Namespace string    `json:"namespace,omitempty"`
	Name      string    `json:"name,omitempty"`
	User      string    `json:"user,omitempty"`
}

// maxSeen bounds the requests Seen keeps (the first ones; Calls counts them all).
const maxSeen = 10000

// Option configures Start.
type Option func(*Server)

// WithLogger receives one debug record per admission request.
func WithLogger(l *slog.Logger) Option { return func(s *Server) { s.logger = l } }

// WithMode sets the initial mode (default Allow).
func WithMode(m Mode) Option { return func(s *Server) { s.mode.Store(int32(m)) } }

// Start listens on 127.0.0.1 (a free port) and serves until Close.
func Start(opts ...Option) (*Server, error) {
	s := &Server{closing: make(chan struct{}), served: make(chan error, 1), logger: slog.New(slog.DiscardHandler)}
	for _, o := range opts {
		o(s)
	}
	caPEM, cert, err := selfSigned()
	if err != nil {
		return nil, fmt.Errorf("webhook certificates: %w", err)
	}
	s.caPEM = caPEM
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, fmt.Errorf("webhook listen: %w", err)
	}
	s.ln = ln
	mux := http.NewServeMux()
	mux.HandleFunc("/", s.handle)
	s.srv = &http.Server{
		Handler:           mux,
		ReadHeaderTimeout: 10 * time.Second,
		TLSConfig:         &tls.Config{Certificates: []tls.Certificate{cert}, MinVersion: tls.VersionTLS12},
		ErrorLog:          nil,
	}
	go func() { s.served <- s.srv.ServeTLS(ln, "", "") }()
	return s, nil
}

// SetMode switches how the server answers from the next request on; requests already held by
// Hang stay held until the API server's timeout.
func (s *Server) SetMode(m Mode) { s.mode.Store(int32(m)) }

// Mode is the current mode.
func (s *Server) Mode() Mode { return Mode(s.mode.Load()) }

// Calls counts the admission requests received.
func (s *Server) Calls() int64 { return s.calls.Load() }

// Seen returns the admission requests received so far, in arrival order (the first 10,000).
func (s *Server) Seen() []Request {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]Request(nil), s.seen...)
}

// URL is the server's address with path (e.g. "/validate").
func (s *Server) URL(path string) string {
	return "https://" + s.ln.Addr().String() + "/" + strings.TrimPrefix(path, "/")
}

// CABundle is the PEM of the CA that signed the serving certificate.
func (s *Server) CABundle() []byte { return append([]byte(nil), s.caPEM...) }

// ClientConfig is what a webhook configuration needs to call this server at path.
func (s *Server) ClientConfig(path string) admissionregistrationv1.WebhookClientConfig {
	u := s.URL(path)
	return admissionregistrationv1.WebhookClientConfig{URL: &u, CABundle: s.CABundle()}
}

// Close stops the server: held requests are released (answered 503) and the listener closed.
func (s *Server) Close(ctx context.Context) error {
	var err error
	s.once.Do(func() {
		close(s.closing)
		err = s.srv.Shutdown(ctx)
		if serr := <-s.served; serr != nil && !errors.Is(serr, http.ErrServerClosed) {
			err = errors.Join(err, serr)
		}
	})
	return err
}

func (s *Server) handle(w http.ResponseWriter, r *http.Request) {
	s.calls.Add(1)
	req, err := admission.ReadRequest(w, r)
	if err != nil {
		return
	}
	mode := s.Mode()
	s.mu.Lock()
	if len(s.seen) < maxSeen {
		s.seen = append(s.seen, Request{At: time.Now(), Mode: mode.String(), Operation: string(req.Operation), Group: req.Resource.Group,
			Resource: req.Resource.Resource, Namespace: req.Namespace, Name: req.Name, User: req.UserInfo.Username})
	}
	s.mu.Unlock()
	s.logger.Debug("admission request", "mode", mode.String(), "path", r.URL.Path, "op", req.Operation,
		"resource", req.Resource.Resource, "namespace", req.Namespace, "name", req.Name)
	switch mode {
	case Hang:
		select {
		case <-r.Context().Done(): // the API server gave up
		case <-s.closing:
			http.Error(w, "webhook server shutting down", http.StatusServiceUnavailable)
		}
		return
	case Fail:
		http.Error(w, "faultline webhook backend: failing on purpose", http.StatusInternalServerError)
		return
	}
	resp := &admissionv1.AdmissionResponse{UID: req.UID, Allowed: mode != Deny}
	if mode == Deny {
		resp.Result = &metav1.Status{Status: metav1.StatusFailure, Code: http.StatusForbidden, Reason: metav1.StatusReasonForbidden,
			Message: "denied by faultline's webhook backend (mode deny)"}
	}
	admission.Respond(w, resp)
}

// selfSigned makes a CA and a serving certificate for 127.0.0.1 and localhost, valid a day.
func selfSigned() (caPEM []byte, serving tls.Certificate, err error) {
	now := time.Now()
	caKey, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return nil, serving, err
	}
	caTmpl := &x509.Certificate{
		SerialNumber: serial(), Subject: pkix.Name{CommonName: "faultline-webhook-ca"},
		NotBefore: now.Add(-time.Hour), NotAfter: now.Add(24 * time.Hour),
		KeyUsage: x509.KeyUsageCertSign | x509.KeyUsageDigitalSignature, IsCA: true, BasicConstraintsValid: true,
	}
	caDER, err := x509.CreateCertificate(rand.Reader, caTmpl, caTmpl, &caKey.PublicKey, caKey)
	if err != nil {
		return nil, serving, err
	}
	ca, _ := x509.ParseCertificate(caDER)
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return nil, serving, err
	}
	tmpl := &x509.Certificate{
		SerialNumber: serial(), Subject: pkix.Name{CommonName: "faultline-webhook"},
		NotBefore: now.Add(-time.Hour), NotAfter: now.Add(24 * time.Hour),
		KeyUsage: x509.KeyUsageDigitalSignature, ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
		IPAddresses: []net.IP{net.ParseIP("127.0.0.1")}, DNSNames: []string{"localhost"},
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, ca, &key.PublicKey, caKey)
	if err != nil {
		return nil, serving, err
	}
	serving = tls.Certificate{Certificate: [][]byte{der}, PrivateKey: key}
	return pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: caDER}), serving, nil
}

func serial() *big.Int {
	n, _ := rand.Int(rand.Reader, new(big.Int).Lsh(big.NewInt(1), 62))
	return n
}
