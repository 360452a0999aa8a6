// Conformance and attack tests for internal/h2, written against the
// specified h2.Server API and developed against golang.org/x/net/http2's
// server as the reference implementation.
//
// Every test runs once per entry of impls: "xnet" (impl_xnet_test.go,
// strict=false), the reference, and "ours" (impl_ours_test.go). Behaviour
// where Rampart is deliberately stricter than x/net (see malformedCases and
// the floods) is asserted only for strict impls; for x/net it is logged.
//
// TestH2spec builds h2spec from the separate tools/h2spec module (cached in
// the user cache dir); it skips loudly when that fails, and fails instead
// under RAMPART_REQUIRE_SERVICES=1. Tests do not run in parallel: each
// checks that the goroutine count settles back (checkGoroutines).
package h2_test

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"errors"
	"math/big"
	"net"
	"net/http"
	"os"
	"runtime"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"golang.org/x/net/http2"
)

// impl is one HTTP/2 server implementation under test. Every test in this
// package loops over impls; behaviour where Rampart is deliberately stricter
// than the reference (x/net) is asserted only for strict impls.
type impl struct {
	name   string
	strict bool
	// start serves cfg behind a real TLS listener (ALPN h2) on loopback.
	start func(t *testing.T, cfg serverConfig) *testServer
	// newBackend returns the bare server, for tests that serve a conn
	// directly (the fuzz target serves a net.Pipe).
	newBackend func(cfg serverConfig) backend
}

// serverConfig is the implementation-neutral configuration; zero values mean
// the defaults of h2.Server (MaxConcurrentStreams 100, MaxReadFrameSize
// 16384, MaxHeaderBytes 1 MiB). Each impl maps it onto its own server.
type serverConfig struct {
	Handler              http.Handler
	MaxConcurrentStreams uint32
	MaxReadFrameSize     uint32
	MaxHeaderBytes       int
	IdleTimeout          time.Duration
	WriteTimeout         time.Duration
}

// backend is the surface of h2.Server that the tests drive.
type backend interface {
	ServeConn(ctx context.Context, c net.Conn)
	Shutdown(ctx context.Context) error
	Close() error
}

// testServer is a started implementation.
type testServer struct {
	Addr     string
	Shutdown func(context.Context) error
	Close    func() error

	// ClientTLS trusts the server's certificate and offers ALPN h2 only.
	ClientTLS *tls.Config
	// Returned counts ServeConn calls that have returned.
	Returned atomic.Int64
	// Accepted counts connections handed to ServeConn.
	Accepted atomic.Int64
}

// impls lists the implementations built into this test binary: the x/net
// reference, and Rampart's own (appended by impl_ours_test.go).
var impls = []impl{xnetImpl}

// forEachImpl runs f as a subtest per implementation.
func forEachImpl(t *testing.T, f func(t *testing.T, im impl)) {
	t.Helper()
	for _, im := range impls {
		t.Run(im.name, func(t *testing.T) { f(t, im) })
	}
}

// strictOnly skips (with a log line) an assertion where Rampart is stricter
// than RFC-tolerant implementations. It returns true when the caller should
// assert; for non-strict impls the caller may still log what happened.
func strictOnly(t *testing.T, im impl) bool {
	t.Helper()
	if !im.strict {
		t.Logf("%s: not strict; observing only", im.name)
	}
	return im.strict
}

type ctxKey struct{}

// ctxValue is put into the ctx handed to ServeConn; TestServeConnContext
// checks it reaches r.Context().
const ctxValue = "rampart-serveconn-ctx"

var (
	certOnce sync.Once
	certTLS  tls.Certificate
	certPool *x509.CertPool
)

// testCert is an ECDSA P-256 self-signed certificate for 127.0.0.1 and
// localhost, made once per test binary.
func testCert(t testing.TB) (tls.Certificate, *x509.CertPool) {
	t.Helper()
	certOnce.Do(func() {
		key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
		if err != nil {
			panic(err)
		}
		tmpl := &x509.Certificate{
			SerialNumber:          big.NewInt(1),
			Subject:               pkix.Name{CommonName: "rampart h2 test"},
			NotBefore:             time.Now().Add(-time.Hour),
			NotAfter:              time.Now().Add(24 * time.Hour),
			KeyUsage:              x509.KeyUsageDigitalSignature | x509.KeyUsageCertSign,
			ExtKeyUsage:           []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
			BasicConstraintsValid: true,
			IsCA:                  true,
			DNSNames:              []string{"localhost"},
			IPAddresses:           []net.IP{net.IPv4(127, 0, 0, 1)},
		}
		der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
		if err != nil {
			panic(err)
		}
		leaf, err := x509.ParseCertificate(der)
		if err != nil {
			panic(err)
		}
		certTLS = tls.Certificate{Certificate: [][]byte{der}, PrivateKey: key, Leaf: leaf}
		certPool = x509.NewCertPool()
		certPool.AddCert(leaf)
	})
	return certTLS, certPool
}

// serveTLS starts a TLS listener on loopback whose accepted connections are
// handshaken (ALPN h2) and handed, as *tls.Conn, to b.ServeConn with a ctx
// carrying ctxKey. Cleanup closes everything and then checks that the test's
// goroutines settled back (see checkGoroutines).
func serveTLS(t *testing.T, b backend) *testServer {
	t.Helper()
	checkGoroutines(t)
	cert, pool := testCert(t)
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	srvTLS := &tls.Config{
		Certificates: []tls.Certificate{cert},
		NextProtos:   []string{"h2"},
		MinVersion:   tls.VersionTLS12,
	}
	ts := &testServer{
		Addr: ln.Addr().String(),
		ClientTLS: &tls.Config{
			RootCAs:    pool,
			ServerName: "localhost",
			NextProtos: []string{"h2"},
		},
	}
	ctx := context.WithValue(context.Background(), ctxKey{}, ctxValue)
	var wg sync.WaitGroup
	var mu sync.Mutex
	raw := map[net.Conn]struct{}{}
	wg.Go(func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			mu.Lock()
			raw[c] = struct{}{}
			mu.Unlock()
			wg.Go(func() {
				defer func() {
					mu.Lock()
					delete(raw, c)
					mu.Unlock()
				}()
				tc := tls.Server(c, srvTLS)
				hctx, cancel := context.WithTimeout(ctx, 10*time.Second)
				err := tc.HandshakeContext(hctx)
				cancel()
				if err != nil {
					c.Close()
					return
				}
				if p := tc.ConnectionState().NegotiatedProtocol; p != "h2" {
					c.Close()
					return
				}
				ts.Accepted.Add(1)
				b.ServeConn(ctx, tc)
				ts.Returned.Add(1)
			})
		}
	})
	var closeOnce sync.Once
	closeAll := func() error {
		var err error
		closeOnce.Do(func() {
			ln.Close()
			// ServeConn must close its conns on Close; the test does not help.
			err = b.Close()
		})
		return err
	}
	ts.Shutdown = b.Shutdown
	ts.Close = closeAll
	t.Cleanup(func() {
		closeAll()
		done := make(chan struct{})
		go func() { wg.Wait(); close(done) }()
		select {
		case <-done:
		case <-time.After(10 * time.Second):
			t.Errorf("ServeConn did not return within 10s of Close:\n%s", allStacks())
			// Unblock so the test binary can go on.
			mu.Lock()
			for c := range raw {
				c.Close()
			}
			mu.Unlock()
			<-done
		}
	})
	return ts
}

// dialTLS dials ts with ALPN h2 and checks it was negotiated.
func (ts *testServer) dialTLS(t testing.TB) *tls.Conn {
	t.Helper()
	c, err := tls.DialWithDialer(&net.Dialer{Timeout: 10 * time.Second}, "tcp", ts.Addr, ts.ClientTLS)
	if err != nil {
		t.Fatalf("dial: %v", err)
	}
	if p := c.ConnectionState().NegotiatedProtocol; p != "h2" {
		c.Close()
		t.Fatalf("ALPN: got %q, want h2", p)
	}
	return c
}

// client returns an http.Client over x/net's http2.Transport, and a counter
// of the TLS connections it dialled. Idle connections close at cleanup.
func (ts *testServer) client(t *testing.T) (*http.Client, *atomic.Int64) {
	t.Helper()
	dials := new(atomic.Int64)
	tr := &http2.Transport{
		TLSClientConfig: ts.ClientTLS,
		DialTLSContext: func(ctx context.Context, network, addr string, cfg *tls.Config) (net.Conn, error) {
			dials.Add(1)
			d := &tls.Dialer{Config: cfg}
			return d.DialContext(ctx, network, ts.Addr)
		},
	}
	t.Cleanup(tr.CloseIdleConnections)
	return &http.Client{Transport: tr, Timeout: 30 * time.Second}, dials
}

// url is the base URL for requests to ts.
func (ts *testServer) url(path string) string {
	_, port, _ := net.SplitHostPort(ts.Addr)
	return "https://localhost:" + port + path
}

// checkGoroutines records the goroutine count now and, at cleanup (which
// runs after the cleanups registered later, i.e. after the server and
// clients closed), waits until the count is back to at most that number.
// The wait polls with a bound; it is not a sleep used as synchronisation.
// Tests in this package do not run in parallel, so the count is theirs.
func checkGoroutines(t *testing.T) {
	t.Helper()
	base := runtime.NumGoroutine()
	t.Cleanup(func() {
		if t.Failed() {
			return
		}
		deadline := time.Now().Add(10 * time.Second)
		var n int
		for {
			n = runtime.NumGoroutine()
			if n <= base {
				return
			}
			if time.Now().After(deadline) {
				break
			}
			runtime.Gosched()
			time.Sleep(5 * time.Millisecond) // poll interval, bounded by deadline
		}
		t.Errorf("goroutines did not settle: %d at start, %d after 10s:\n%s", base, n, allStacks())
	})
}

func allStacks() string {
	buf := make([]byte, 1<<20)
	buf = buf[:runtime.Stack(buf, true)]
	// Drop the testing framework's own goroutines to keep the dump short.
	var out []string
	for _, g := range strings.Split(string(buf), "\n\n") {
		if strings.Contains(g, "testing.(*T).Run") || strings.Contains(g, "testing.tRunner.func") && !strings.Contains(g, "h2_test") {
			continue
		}
		out = append(out, g)
	}
	return strings.Join(out, "\n\n")
}

// isClosed reports whether err means the peer ended the connection.
func isClosed(err error) bool {
	if err == nil {
		return false
	}
	var ne net.Error
	if errors.As(err, &ne) && ne.Timeout() {
		return false
	}
	return true
}

// requireServices is true when skips must become failures (CI).
func requireServices() bool { return os.Getenv("RAMPART_REQUIRE_SERVICES") == "1" }
