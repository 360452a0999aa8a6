package h2

import (
	"context"
	"crypto/tls"
	"net"
	"net/http"
	"net/http/httptest"
	"runtime"
	"strings"
	"sync"
	"testing"
	"time"

	"golang.org/x/net/http2"
)

// testCert returns a server TLS config offering h2 and a client config
// that trusts it (httptest's certificate).
var certOnce sync.Once
var srvTLS, cliTLS *tls.Config

func tlsConfigs() (*tls.Config, *tls.Config) {
	certOnce.Do(func() {
		ts := httptest.NewUnstartedServer(http.NotFoundHandler())
		ts.EnableHTTP2 = true
		ts.StartTLS()
		srvTLS = ts.TLS.Clone()
		srvTLS.NextProtos = []string{"h2"}
		cliTLS = ts.Client().Transport.(*http.Transport).TLSClientConfig.Clone()
		cliTLS.NextProtos = []string{"h2"}
		ts.Close()
	})
	return srvTLS, cliTLS
}

// testServer serves s over TLS on a loopback listener until the test ends;
// it returns the address and, at cleanup, closes everything and checks
// that no goroutine was left behind.
type testServer struct {
	s    *Server
	addr string
	ln   net.Listener
	wg   sync.WaitGroup
}

func startTLS(t testing.TB, s *Server) *testServer {
	t.Helper()
	return start(t, s, true)
}

func startTCP(t testing.TB, s *Server) *testServer {
	t.Helper()
	return start(t, s, false)
}

func start(t testing.TB, s *Server, useTLS bool) *testServer {
	t.Helper()
	base := runtime.NumGoroutine()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	scfg, _ := tlsConfigs()
	ts := &testServer{s: s, addr: ln.Addr().String(), ln: ln}
	ts.wg.Add(1)
	go func() {
		defer ts.wg.Done()
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			ts.wg.Add(1)
			go func() {
				defer ts.wg.Done()
				if useTLS {
					tc := tls.Server(c, scfg)
					if err := tc.HandshakeContext(context.Background()); err != nil {
						c.Close()
						return
					}
					c = tc
				}
				s.ServeConn(context.Background(), c)
			}()
		}
	}()
	t.Cleanup(func() {
		ln.Close()
		s.Close()
		ts.wg.Wait()
		checkGoroutines(t, base)
	})
	return ts
}

// checkGoroutines waits for the goroutine count to fall back to base; it
// fails with a dump if it does not within a generous while.
func checkGoroutines(t testing.TB, base int) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for {
		n := runtime.NumGoroutine()
		if n <= base {
			return
		}
		if time.Now().After(deadline) {
			buf := make([]byte, 1<<20)
			buf = buf[:runtime.Stack(buf, true)]
			var ours []string
			for _, g := range strings.Split(string(buf), "\n\n") {
				if strings.Contains(g, "internal/h2.") {
					ours = append(ours, g)
				}
			}
			if len(ours) > 0 {
				t.Errorf("%d goroutines left (base %d):\n%s", n, base, strings.Join(ours, "\n\n"))
			}
			return
		}
		runtime.Gosched()
		time.Sleep(time.Millisecond)
	}
}

// h2Client returns an x/net HTTP/2 client for ts.
func h2Client(t testing.TB) *http.Client {
	t.Helper()
	_, ccfg := tlsConfigs()
	tr := &http2.Transport{TLSClientConfig: ccfg}
	t.Cleanup(tr.CloseIdleConnections)
	return &http.Client{Transport: tr}
}

func (ts *testServer) url(path string) string { return "https://" + ts.addr + path }
