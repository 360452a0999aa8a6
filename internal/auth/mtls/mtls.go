// Package mtls authenticates callers by TLS client certificate.
//
// The listener (server.tls.client_ca_file with client_auth: request or
// require) asks for and verifies client certificates during the handshake;
// this authenticator verifies the presented chain again against its own CA,
// so that one listener can serve several client populations, each trusted
// only by the authenticator configured for it. The principal's subject is the
// certificate's first URI SAN (SPIFFE IDs), else its first DNS SAN, else its
// Common Name; an optional allowlist restricts which subjects are accepted.
package mtls

import (
	"crypto/x509"
	"errors"
	"fmt"
	"net/http"
	"os"

	"github.com/rampart-gw/rampart/internal/auth"
	"github.com/rampart-gw/rampart/internal/pipeline"
)

// Config is one mtls authenticator (an entry of authenticators: with
// type: mtls). The listener must ask for client certificates
// (server.tls.client_ca_file and client_auth).
type Config struct {
	Name string `yaml:"-"` // the entry's name; becomes Principal.Authenticator
	// ClientCAFile is the PEM bundle of the CAs that issue this population's
	// certificates; required.
	ClientCAFile string `yaml:"client_ca_file" conf:"required"`
	// Subjects, when set, are the only certificate subjects accepted (URI
	// SAN, DNS SAN or CN).
	Subjects []string `yaml:"subjects" conf:"nonempty,unique"`
}

// Authenticator verifies client certificates.
type Authenticator struct {
	name    string
	roots   *x509.CertPool
	allowed map[string]bool
}

var _ auth.Authenticator = (*Authenticator)(nil)

// New loads the CA bundle.
func New(cfg Config) (*Authenticator, error) {
	pem, err := os.ReadFile(cfg.ClientCAFile)
	if err != nil {
		return nil, fmt.Errorf("client_ca_file: %w", err)
	}
	roots := x509.NewCertPool()
	if !roots.AppendCertsFromPEM(pem) {
		return nil, errors.New("client_ca_file " + cfg.ClientCAFile + ": no PEM certificates found")
	}
	a := &Authenticator{name: cfg.Name, roots: roots}
	if len(cfg.Subjects) > 0 {
		a.allowed = map[string]bool{}
		for _, s := range cfg.Subjects {
			a.allowed[s] = true
		}
	}
	return a, nil
}

// Name implements auth.Authenticator.
func (a *Authenticator) Name() string { return a.name }

// Authenticate implements auth.Authenticator.
func (a *Authenticator) Authenticate(r *http.Request) (*pipeline.Principal, error) {
	if r.TLS == nil || len(r.TLS.PeerCertificates) == 0 {
		return nil, auth.ErrNoCredential
	}
	leaf := r.TLS.PeerCertificates[0]
	inter := x509.NewCertPool()
	for _, c := range r.TLS.PeerCertificates[1:] {
		inter.AddCert(c)
	}
	if _, err := leaf.Verify(x509.VerifyOptions{Roots: a.roots, Intermediates: inter,
		KeyUsages: []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth}}); err != nil {
		return nil, &pipeline.Rejection{Status: http.StatusUnauthorized, Type: "invalid-client-certificate",
			Detail: "The client certificate is not trusted for this route.", Err: fmt.Errorf("mtls %s: %w", a.name, err)}
	}
	subject := Subject(leaf)
	if subject == "" || a.allowed != nil && !a.allowed[subject] {
		return nil, &pipeline.Rejection{Status: http.StatusForbidden, Type: "client-not-allowed",
			Detail: "This client certificate is not allowed on this route.", Err: fmt.Errorf("mtls %s: subject %q not in the allowlist", a.name, subject)}
	}
	return &pipeline.Principal{Subject: subject, Authenticator: a.name, AMR: []string{"mtls"},
		Claims: map[string]any{"x5t_serial": leaf.SerialNumber.String()}}, nil
}

// Subject is the identity a certificate names: URI SAN, DNS SAN, then CN.
func Subject(c *x509.Certificate) string {
	if len(c.URIs) > 0 {
		return c.URIs[0].String()
	}
	if len(c.DNSNames) > 0 {
		return c.DNSNames[0]
	}
	return c.Subject.CommonName
}
