package server_test

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"fmt"
	"io"
	"math/big"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/rampart-gw/rampart/internal/config"
	gt "github.com/rampart-gw/rampart/internal/gatewaytest"
	"github.com/rampart-gw/rampart/internal/headers"
	"github.com/rampart-gw/rampart/internal/server"
	"github.com/rampart-gw/rampart/internal/tlsconfig"
)

type tlsGateway struct {
	addr, redirectAddr string
	pool               *x509.CertPool
	dir                string
}

// startTLS runs a TLS gateway with a fresh dev certificate in front of up.
func startTLS(t *testing.T, up *gt.Upstream, tlsExtra string) *tlsGateway {
	t.Helper()
	return startTLSWith(t, up, tlsExtra, "", "  - { name: items, path: /api/items, methods: [GET, POST], upstream: app, auth: none }\n")
}

func startTLSWith(t *testing.T, up *gt.Upstream, tlsExtra, extra, routes string) *tlsGateway {
	t.Helper()
	return startTLSServer(t, up, tlsExtra, "", extra, routes)
}

// startTLSServer is startTLSWith with more lines of the server block
// (indented by two spaces, each ending in a newline).
func startTLSServer(t *testing.T, up *gt.Upstream, tlsExtra, serverLines, extra, routes string) *tlsGateway {
	t.Helper()
	dir := t.TempDir()
	certPath, keyPath, err := tlsconfig.WriteDevCert(dir, []string{"localhost", "127.0.0.1"}, time.Now())
	if err != nil {
		t.Fatal(err)
	}
	text := fmt.Sprintf(`version: 1
server:
  tls: { cert_file: %q, key_file: %q %s}
  http_redirect: "127.0.0.1:0"
%sadmin: { listen: "off" }
upstreams:
  app: { targets: [%q] }
%sroutes:
%s`, certPath, keyPath, tlsExtra, serverLines, up.URL, extra, routes)
	cfg, err := config.Parse("tls.yaml", []byte(text), nil)
	if err != nil {
		t.Fatal(err)
	}
	ln, _ := net.Listen("tcp", "127.0.0.1:0")
	rl, _ := net.Listen("tcp", "127.0.0.1:0")
	ctx, cancel := context.WithCancel(context.Background())
	ready := make(chan struct{})
	done := make(chan error, 1)
	g := &tlsGateway{addr: ln.Addr().String(), redirectAddr: rl.Addr().String(), dir: dir}
	go func() {
		done <- server.Run(ctx, cfg, server.Options{Listener: ln, RedirectListener: rl, Logger: discard(),
			Ready: func(net.Addr, net.Addr) { close(ready) }})
	}()
	select {
	case <-ready:
	case err := <-done:
		t.Fatalf("start: %v", err)
	}
	t.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("stop: %v", err)
		}
	})
	pem, _ := os.ReadFile(certPath)
	g.pool = x509.NewCertPool()
	g.pool.AppendCertsFromPEM(pem)
	return g
}

func (g *tlsGateway) client(tc *tls.Config, h2 bool) *http.Client {
	if tc.RootCAs == nil {
		tc.RootCAs = g.pool
	}
	tr := &http.Transport{TLSClientConfig: tc, ForceAttemptHTTP2: h2}
	if !h2 {
		tr.TLSNextProto = map[string]func(string, *tls.Conn) http.RoundTripper{}
	}
	return &http.Client{Transport: tr, Timeout: 10 * time.Second,
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
}

func TestTLSDefaultsToTLS13(t *testing.T) {
	up := gt.NewUpstream(t, nil)
	g := startTLS(t, up, "")
	if _, err := g.client(&tls.Config{MaxVersion: tls.VersionTLS12}, false).Get("https://" + g.addr + "/api/items"); err == nil {
		t.Fatal("TLS 1.2 client accepted by a default (1.3) listener")
	}
	resp, err := g.client(&tls.Config{}, false).Get("https://" + g.addr + "/api/items")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != 200 || resp.TLS.Version != tls.VersionTLS13 {
		t.Fatalf("status %d version %x", resp.StatusCode, resp.TLS.Version)
	}
	if got := resp.Header.Get("Strict-Transport-Security"); got != headers.StrictTransportSecurity {
		t.Errorf("HSTS = %q over TLS", got)
	}
	if got := up.Seen()[0].Header.Get("X-Forwarded-Proto"); got != "https" {
		t.Errorf("X-Forwarded-Proto = %q, want https", got)
	}
}

func TestTLS12OnlyWithAEADSuites(t *testing.T) {
	up := gt.NewUpstream(t, nil)
	g := startTLS(t, up, `, min_version: "1.2" `)
	resp, err := g.client(&tls.Config{MaxVersion: tls.VersionTLS12}, false).Get("https://" + g.addr + "/api/items")
	if err != nil {
		t.Fatalf("TLS 1.2 with AEAD refused: %v", err)
	}
	resp.Body.Close()
	cbc := &tls.Config{MaxVersion: tls.VersionTLS12, CipherSuites: []uint16{tls.TLS_ECDHE_RSA_WITH_AES_128_CBC_SHA, tls.TLS_ECDHE_ECDSA_WITH_AES_128_CBC_SHA}}
	if _, err := g.client(cbc, false).Get("https://" + g.addr + "/api/items"); err == nil {
		t.Fatal("CBC suite accepted")
	}
}

func TestHTTP2OverTLS(t *testing.T) {
	up := gt.NewUpstream(t, nil)
	g := startTLS(t, up, "")
	resp, err := g.client(&tls.Config{}, true).Get("https://" + g.addr + "/api/items")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.ProtoMajor != 2 || resp.StatusCode != 200 || resp.Header.Get("X-Request-Id") == "" {
		t.Fatalf("proto %s status %d", resp.Proto, resp.StatusCode)
	}
	if resp, err = g.client(&tls.Config{}, true).Get("https://" + g.addr + "/nope"); err != nil || resp.StatusCode != 404 {
		t.Fatalf("h2 404: %v %v", resp, err)
	}
	resp.Body.Close()
	if up.Count() != 1 {
		t.Fatalf("upstream saw %d requests, want 1", up.Count())
	}
}

// The framing inspector still guards HTTP/1.1 inside TLS.
func TestSmugglingRefusedOverTLS(t *testing.T) {
	up := gt.NewUpstream(t, nil)
	g := startTLS(t, up, "")
	conn, err := tls.Dial("tcp", g.addr, &tls.Config{RootCAs: g.pool, NextProtos: []string{"http/1.1"}})
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	_ = conn.SetDeadline(time.Now().Add(10 * time.Second))
	io.WriteString(conn, "POST /api/items HTTP/1.1\r\nHost: localhost\r\nContent-Length: 4\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n")
	b, _ := io.ReadAll(conn)
	if !strings.HasPrefix(string(b), "HTTP/1.1 400") || !strings.Contains(string(b), "application/problem+json") {
		t.Fatalf("response %q", b)
	}
	if up.Count() != 0 {
		t.Fatal("upstream reached")
	}
}

func TestHTTPRedirect(t *testing.T) {
	up := gt.NewUpstream(t, nil)
	g := startTLS(t, up, "")
	c := &http.Client{Timeout: 5 * time.Second, CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	req, _ := http.NewRequest("GET", "http://"+g.redirectAddr+"/api/items?x=1", nil)
	req.Host = "api.example.test"
	resp, err := c.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	_, port, _ := net.SplitHostPort(g.addr)
	if want := "https://api.example.test:" + port + "/api/items?x=1"; resp.StatusCode != 308 || resp.Header.Get("Location") != want {
		t.Fatalf("status %d Location %q, want 308 %q", resp.StatusCode, resp.Header.Get("Location"), want)
	}
	if up.Count() != 0 {
		t.Fatal("plain HTTP request was proxied")
	}
}

func TestCertificateRotation(t *testing.T) {
	up := gt.NewUpstream(t, nil)
	g := startTLS(t, up, "")
	serial := func() string {
		conn, err := tls.Dial("tcp", g.addr, &tls.Config{InsecureSkipVerify: true})
		if err != nil {
			t.Fatal(err)
		}
		defer conn.Close()
		return conn.ConnectionState().PeerCertificates[0].SerialNumber.String()
	}
	before := serial()
	if _, _, err := tlsconfig.WriteDevCert(g.dir, []string{"localhost", "127.0.0.1"}, time.Now()); err != nil {
		t.Fatal(err)
	}
	// The gateway re-checks the files at most once a second: poll until the
	// new certificate is served (bounded), no fixed sleep.
	deadline := time.Now().Add(10 * time.Second)
	for serial() == before {
		if time.Now().After(deadline) {
			t.Fatal("rotated certificate never served")
		}
		time.Sleep(100 * time.Millisecond)
	}
}

func TestMutualTLS(t *testing.T) {
	up := gt.NewUpstream(t, nil)
	ca, caKey := newCA(t)
	caFile := filepath.Join(t.TempDir(), "ca.pem")
	if err := os.WriteFile(caFile, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: ca.Raw}), 0o600); err != nil {
		t.Fatal(err)
	}
	g := startTLS(t, up, fmt.Sprintf(`, client_ca_file: %q, client_auth: require `, caFile))
	if resp, err := g.client(&tls.Config{}, false).Get("https://" + g.addr + "/api/items"); err == nil {
		resp.Body.Close()
		t.Fatal("client without certificate accepted with client_auth: require")
	}
	other, otherKey := newCA(t)
	if resp, err := g.client(&tls.Config{Certificates: []tls.Certificate{clientCert(t, other, otherKey, "mallory")}}, false).Get("https://" + g.addr + "/api/items"); err == nil {
		resp.Body.Close()
		t.Fatal("client certificate from an unknown CA accepted")
	}
	resp, err := g.client(&tls.Config{Certificates: []tls.Certificate{clientCert(t, ca, caKey, "billing-service")}}, false).Get("https://" + g.addr + "/api/items")
	if err != nil {
		t.Fatalf("valid client certificate refused: %v", err)
	}
	resp.Body.Close()
	if resp.StatusCode != 200 || up.Count() != 1 {
		t.Fatalf("status %d upstream %d", resp.StatusCode, up.Count())
	}
}

func newCA(t *testing.T) (*x509.Certificate, *ecdsa.PrivateKey) {
	t.Helper()
	key, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "test client CA"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour),
		KeyUsage: x509.KeyUsageCertSign, BasicConstraintsValid: true, IsCA: true}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	ca, _ := x509.ParseCertificate(der)
	return ca, key
}

func clientCert(t *testing.T, ca *x509.Certificate, caKey *ecdsa.PrivateKey, name string) tls.Certificate {
	t.Helper()
	key, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(2), Subject: pkix.Name{CommonName: name},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour),
		KeyUsage: x509.KeyUsageDigitalSignature, ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth}}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, ca, &key.PublicKey, caKey)
	if err != nil {
		t.Fatal(err)
	}
	return tls.Certificate{Certificate: [][]byte{der}, PrivateKey: key}
}

func TestCheckRefusesMismatchedKey(t *testing.T) {
	a, _, _ := tlsconfig.WriteDevCert(filepath.Join(t.TempDir(), "a"), []string{"localhost"}, time.Now())
	_, bKey, _ := tlsconfig.WriteDevCert(filepath.Join(t.TempDir(), "b"), []string{"localhost"}, time.Now())
	if _, err := tlsconfig.New(&config.TLS{CertFile: a, KeyFile: bKey}, nil); err == nil {
		t.Fatal("mismatched certificate and key accepted")
	}
	if _, err := tlsconfig.New(&config.TLS{CertFile: a, KeyFile: "/nonexistent"}, nil); err == nil {
		t.Fatal("missing key accepted")
	}
}

func TestDevCertKeyIsPrivate(t *testing.T) {
	_, key, err := tlsconfig.WriteDevCert(t.TempDir(), []string{"localhost"}, time.Now())
	if err != nil {
		t.Fatal(err)
	}
	fi, err := os.Stat(key)
	if err != nil || fi.Mode().Perm() != 0o600 {
		t.Fatalf("key mode %v, %v", fi.Mode().Perm(), err)
	}
}

func TestMTLSAuthenticator(t *testing.T) {
	up := gt.NewUpstream(t, nil)
	partners, partnersKey := newCA(t)
	others, othersKey := newCA(t)
	dir := t.TempDir()
	write := func(name string, certs ...*x509.Certificate) string {
		var b []byte
		for _, c := range certs {
			b = append(b, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: c.Raw})...)
		}
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, b, 0o600); err != nil {
			t.Fatal(err)
		}
		return p
	}
	listenerCAs := write("listener.pem", partners, others) // the listener accepts both populations
	partnerCA := write("partners.pem", partners)           // the route trusts only one
	g := startTLSWith(t, up, fmt.Sprintf(`, client_ca_file: %q, client_auth: request `, listenerCAs),
		fmt.Sprintf("authenticators:\n  partners: { type: mtls, client_ca_file: %q }\n", partnerCA),
		"  - { name: items, path: /api/items, methods: [GET], upstream: app, auth: [partners] }\n")
	get := func(certs ...tls.Certificate) int {
		resp, err := g.client(&tls.Config{Certificates: certs}, false).Get("https://" + g.addr + "/api/items")
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		return resp.StatusCode
	}
	if s := get(); s != 401 {
		t.Errorf("no certificate: %d, want 401", s)
	}
	if s := get(clientCert(t, others, othersKey, "intruder")); s != 401 {
		t.Errorf("certificate from the other population: %d, want 401", s)
	}
	if up.Count() != 0 {
		t.Fatal("upstream reached by a refused client")
	}
	if s := get(clientCert(t, partners, partnersKey, "billing-service")); s != 200 {
		t.Fatalf("partner certificate: %d, want 200", s)
	}
	if got := up.Seen()[0].Header.Get("X-Rampart-Principal"); got != "partners:billing-service" {
		t.Errorf("X-Rampart-Principal = %q", got)
	}
	// Over HTTP/2 the certificate reaches the authenticator too.
	resp, err := g.client(&tls.Config{Certificates: []tls.Certificate{clientCert(t, partners, partnersKey, "ledger")}}, true).Get("https://" + g.addr + "/api/items")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.ProtoMajor != 2 || resp.StatusCode != 200 {
		t.Fatalf("over HTTP/2: %s %d, want HTTP/2 200", resp.Proto, resp.StatusCode)
	}
	if got := up.Seen()[1].Header.Get("X-Rampart-Principal"); got != "partners:ledger" {
		t.Errorf("over HTTP/2: X-Rampart-Principal = %q", got)
	}
}
