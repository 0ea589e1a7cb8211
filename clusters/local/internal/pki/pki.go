// Package pki writes the local cluster's certificates and keys, generated with crypto/x509: one
// CA, the API server's serving certificate (SANs 127.0.0.1, localhost and the kubernetes Service
// names and IP), a serving certificate for the scheduler and controller-manager, etcd's
// certificate (serving its clients and its peer port, and presented as a client to its peers),
// client certificates for each component, the admin and the API server's etcd client, and the
// service-account signing key pair.
// Keys are ECDSA P-256, which every component accepts and which is fast to generate.
package pki

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"fmt"
	"math/big"
	"net"
	"os"
	"path/filepath"
	"time"
)

// Validity of every certificate: a local cluster is short-lived, a year is plenty.
const Validity = 365 * 24 * time.Hour

// Client identities of the cluster. Group system:masters gets cluster-admin from RBAC's bootstrap
// policy; the scheduler and controller-manager get their own bootstrap roles by user name.
var (
	Admin             = Identity{File: "admin", CommonName: "kubernetes-admin", Groups: []string{"system:masters"}}
	ControllerManager = Identity{File: "controller-manager", CommonName: "system:kube-controller-manager"}
	Scheduler         = Identity{File: "scheduler", CommonName: "system:kube-scheduler"}
	// KWOK writes node and pod status, leases and pod deletions for every node it plays; there is
	// no bootstrap role for that, so it is a member of system:masters.
	KWOK = Identity{File: "kwok", CommonName: "faultline:kwok", Groups: []string{"system:masters"}}
	// EtcdClient is the certificate kube-apiserver (and faultline's health check) present to etcd,
	// which requires a client certificate signed by the cluster's CA (--client-cert-auth).
	EtcdClient = Identity{File: "apiserver-etcd-client", CommonName: "kube-apiserver-etcd-client"}
)

// Identity is a client certificate's subject and its file name stem.
type Identity struct {
	File       string
	CommonName string
	Groups     []string
}

// Files are the paths Write produced, all inside one directory.
type Files struct {
	Dir                     string
	CACert, CAKey           string
	APIServerCert           string
	APIServerKey            string
	ServingCert, ServingKey string // scheduler and controller-manager secure ports
	EtcdCert, EtcdKey       string // etcd's client and peer ports (server and client usage)
	SAPublic, SAPrivate     string
}

// ClientCert and ClientKey are the paths of id's client certificate and key.
func (f Files) ClientCert(id Identity) string { return filepath.Join(f.Dir, id.File+".crt") }
func (f Files) ClientKey(id Identity) string  { return filepath.Join(f.Dir, id.File+".key") }

// Write generates everything into dir. serviceIP is the first IP of the service range (the
// kubernetes Service's ClusterIP), which in-cluster clients dial.
func Write(dir string, serviceIP net.IP, clients ...Identity) (Files, error) {
	f := Files{
		Dir:    dir,
		CACert: filepath.Join(dir, "ca.crt"), CAKey: filepath.Join(dir, "ca.key"),
		APIServerCert: filepath.Join(dir, "apiserver.crt"), APIServerKey: filepath.Join(dir, "apiserver.key"),
		ServingCert: filepath.Join(dir, "serving.crt"), ServingKey: filepath.Join(dir, "serving.key"),
		EtcdCert: filepath.Join(dir, "etcd.crt"), EtcdKey: filepath.Join(dir, "etcd.key"),
		SAPublic: filepath.Join(dir, "sa.pub"), SAPrivate: filepath.Join(dir, "sa.key"),
	}
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return f, err
	}
	now := time.Now().Add(-time.Minute) // tolerate a little clock skew between processes
	caKey, err := newKey()
	if err != nil {
		return f, err
	}
	caTmpl := &x509.Certificate{
		SerialNumber:          serial(),
		Subject:               pkix.Name{CommonName: "faultline-local-ca"},
		NotBefore:             now,
		NotAfter:              now.Add(Validity),
		KeyUsage:              x509.KeyUsageCertSign | x509.KeyUsageDigitalSignature | x509.KeyUsageCRLSign,
		BasicConstraintsValid: true,
		IsCA:                  true,
	}
	caDER, err := x509.CreateCertificate(rand.Reader, caTmpl, caTmpl, &caKey.PublicKey, caKey)
	if err != nil {
		return f, fmt.Errorf("CA certificate: %w", err)
	}
	ca, _ := x509.ParseCertificate(caDER)
	if err := writeCert(f.CACert, caDER); err != nil {
		return f, err
	}
	if err := writeKey(f.CAKey, caKey); err != nil {
		return f, err
	}

	loopback := []net.IP{net.ParseIP("127.0.0.1"), net.IPv6loopback}
	apiDNS := []string{"localhost", "kubernetes", "kubernetes.default", "kubernetes.default.svc", "kubernetes.default.svc.cluster.local"}
	if err := issue(ca, caKey, f.APIServerCert, f.APIServerKey, pkix.Name{CommonName: "kube-apiserver"},
		[]x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth}, apiDNS, append(loopback, serviceIP), now); err != nil {
		return f, err
	}
	if err := issue(ca, caKey, f.ServingCert, f.ServingKey, pkix.Name{CommonName: "faultline-local-serving"},
		[]x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth}, []string{"localhost"}, loopback, now); err != nil {
		return f, err
	}
	// etcd dials its peers with the same certificate it serves them with
	if err := issue(ca, caKey, f.EtcdCert, f.EtcdKey, pkix.Name{CommonName: "faultline-etcd"},
		[]x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth, x509.ExtKeyUsageClientAuth}, []string{"localhost"}, loopback, now); err != nil {
		return f, err
	}
	for _, id := range clients {
		if err := issue(ca, caKey, f.ClientCert(id), f.ClientKey(id), pkix.Name{CommonName: id.CommonName, Organization: id.Groups},
			[]x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth}, nil, nil, now); err != nil {
			return f, err
		}
	}

	saKey, err := newKey()
	if err != nil {
		return f, err
	}
	if err := writeKey(f.SAPrivate, saKey); err != nil {
		return f, err
	}
	pub, err := x509.MarshalPKIXPublicKey(&saKey.PublicKey)
	if err != nil {
		return f, err
	}
	return f, os.WriteFile(f.SAPublic, pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: pub}), 0o600)
}

func issue(ca *x509.Certificate, caKey *ecdsa.PrivateKey, certPath, keyPath string, subject pkix.Name,
	usage []x509.ExtKeyUsage, dns []string, ips []net.IP, now time.Time) error {
	key, err := newKey()
	if err != nil {
		return err
	}
	tmpl := &x509.Certificate{
		SerialNumber: serial(),
		Subject:      subject,
		NotBefore:    now,
		NotAfter:     now.Add(Validity),
		KeyUsage:     x509.KeyUsageDigitalSignature | x509.KeyUsageKeyEncipherment,
		ExtKeyUsage:  usage,
		DNSNames:     dns,
		IPAddresses:  ips,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, ca, &key.PublicKey, caKey)
	if err != nil {
		return fmt.Errorf("certificate %s: %w", subject.CommonName, err)
	}
	if err := writeCert(certPath, der); err != nil {
		return err
	}
	return writeKey(keyPath, key)
}

func newKey() (*ecdsa.PrivateKey, error) { return ecdsa.GenerateKey(elliptic.P256(), rand.Reader) }

func serial() *big.Int {
	n, _ := rand.Int(rand.Reader, new(big.Int).Lsh(big.NewInt(1), 126))
	return n.Add(n, big.NewInt(1))
}

func writeCert(path string, der []byte) error {
	return os.WriteFile(path, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}), 0o644)
}

func writeKey(path string, key *ecdsa.PrivateKey) error {
	der, err := x509.MarshalECPrivateKey(key)
	if err != nil {
		return err
	}
	return os.WriteFile(path, pem.EncodeToMemory(&pem.Block{Type: "EC PRIVATE KEY", Bytes: der}), 0o600)
}
