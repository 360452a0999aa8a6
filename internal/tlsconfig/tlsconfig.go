// Package tlsconfig builds the listener's TLS configuration: TLS 1.3 by
// default, TLS 1.2 only when asked and then with AEAD suites with forward
// secrecy only, HTTP/2 and HTTP/1.1 over ALPN, optional client certificates,
// and certificates re-read when their files change so a rotation (certbot,
// cert-manager) needs no restart.
package tlsconfig

import (
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"sync"
	"time"

	"github.com/rampart-gw/rampart/internal/config"
)

// Suites12 are the TLS 1.2 cipher suites allowed with min_version "1.2":
// ECDHE key exchange (forward secrecy) and AEAD encryption only. TLS 1.3
// suites are not configurable in Go and are all AEAD.
var Suites12 = []uint16{
	tls.TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256,
	tls.TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256,
	tls.TLS_ECDHE_ECDSA_WITH_AES_256_GCM_SHA384,
	tls.TLS_ECDHE_RSA_WITH_AES_256_GCM_SHA384,
	tls.TLS_ECDHE_ECDSA_WITH_CHACHA20_POLY1305_SHA256,
	tls.TLS_ECDHE_RSA_WITH_CHACHA20_POLY1305_SHA256,
}

// Certs serves the configured certificate, reloading it when the files change.
type Certs struct {
	certFile, keyFile string
	logger            *slog.Logger
	every             time.Duration

	mu        sync.Mutex
	cert      *tls.Certificate
	certStamp stamp
	keyStamp  stamp
	checked   time.Time
}

type stamp struct {
	mod  time.Time
	size int64
}

func stampOf(path string) (stamp, error) {
	fi, err := os.Stat(path)
	if err != nil {
		return stamp{}, err
	}
	return stamp{fi.ModTime(), fi.Size()}, nil
}

// LoadCerts loads and checks the pair now; a missing, unreadable or
// mismatched pair is an error (so `rampart check` catches it).
func LoadCerts(certFile, keyFile string, logger *slog.Logger) (*Certs, error) {
	if logger == nil {
		logger = slog.Default()
	}
	c := &Certs{certFile: certFile, keyFile: keyFile, logger: logger, every: time.Second}
	if err := c.reload(); err != nil {
		return nil, err
	}
	return c, nil
}

func (c *Certs) reload() error {
	cs, err := stampOf(c.certFile)
	if err != nil {
		return fmt.Errorf("tls cert_file: %w", err)
	}
	ks, err := stampOf(c.keyFile)
	if err != nil {
		return fmt.Errorf("tls key_file: %w", err)
	}
	pair, err := tls.LoadX509KeyPair(c.certFile, c.keyFile)
	if err != nil {
		return fmt.Errorf("tls: cert_file %s and key_file %s: %w", c.certFile, c.keyFile, err)
	}
	if pair.Leaf == nil {
		if pair.Leaf, err = x509.ParseCertificate(pair.Certificate[0]); err != nil {
			return fmt.Errorf("tls cert_file %s: %w", c.certFile, err)
		}
	}
	c.cert, c.certStamp, c.keyStamp = &pair, cs, ks
	return nil
}

// GetCertificate is tls.Config.GetCertificate: it re-checks the files at
// most once a second and keeps serving the previous pair if the new one is
// incomplete (mid-rotation) or invalid.
func (c *Certs) GetCertificate(*tls.ClientHelloInfo) (*tls.Certificate, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if now := time.Now(); now.Sub(c.checked) >= c.every {
		c.checked = now
		cs, err1 := stampOf(c.certFile)
		ks, err2 := stampOf(c.keyFile)
		if err1 == nil && err2 == nil && (cs != c.certStamp || ks != c.keyStamp) {
			old := c.cert
			if err := c.reload(); err != nil {
				c.cert = old
				c.logger.Warn("tls certificate change not applied; serving the previous certificate", "error", err.Error())
			} else {
				c.logger.Info("tls certificate reloaded", "subject", c.cert.Leaf.Subject.String(), "not_after", c.cert.Leaf.NotAfter)
			}
		}
	}
	return c.cert, nil
}

// New returns the server TLS config for cfg.
func New(cfg *config.TLS, logger *slog.Logger) (*tls.Config, error) {
	certs, err := LoadCerts(cfg.CertFile, cfg.KeyFile, logger)
	if err != nil {
		return nil, err
	}
	tc := &tls.Config{
		MinVersion:     tls.VersionTLS13,
		GetCertificate: certs.GetCertificate,
		NextProtos:     []string{"h2", "http/1.1"},
	}
	switch cfg.MinVersion {
	case "", "1.3":
	case "1.2":
		tc.MinVersion = tls.VersionTLS12
		tc.CipherSuites = Suites12
	default:
		return nil, fmt.Errorf("tls min_version %q: want \"1.3\" or \"1.2\"", cfg.MinVersion)
	}
	if cfg.ClientCAFile != "" {
		pem, err := os.ReadFile(cfg.ClientCAFile)
		if err != nil {
			return nil, fmt.Errorf("tls client_ca_file: %w", err)
		}
		pool := x509.NewCertPool()
		if !pool.AppendCertsFromPEM(pem) {
			return nil, errors.New("tls client_ca_file " + cfg.ClientCAFile + ": no PEM certificates found")
		}
		tc.ClientCAs = pool
		tc.ClientAuth = tls.VerifyClientCertIfGiven
		if cfg.ClientAuth == "require" {
			tc.ClientAuth = tls.RequireAndVerifyClientCert
		}
	}
	return tc, nil
}
