package server

import (
	"bufio"
	"bytes"
	"crypto/tls"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/rampart-gw/rampart/internal/h1"
	"github.com/rampart-gw/rampart/internal/h2"
	"github.com/rampart-gw/rampart/internal/tlsconfig"
)

// h2Server serves h with h2Deadlines over HTTP/2 (TLS).
func h2Server(t *testing.T, h http.HandlerFunc, write, total time.Duration) *httptest.Server {
	t.Helper()
	s := httptest.NewUnstartedServer(h2Deadlines(h, write, total))
	s.EnableHTTP2 = true
	s.StartTLS()
	t.Cleanup(s.Close)
	return s
}

// An HTTP/2 client that stops reading (and so stops granting flow-control
// window) is cut after write_timeout, as an HTTP/1 one is.
func TestH2WriteTimeoutCutsStalledReader(t *testing.T) {
	errc := make(chan error, 1)
	s := h2Server(t, func(w http.ResponseWriter, r *http.Request) {
		chunk := bytes.Repeat([]byte("x"), 32<<10)
		for {
			if _, err := w.Write(chunk); err != nil {
				errc <- err
				return
			}
		}
	}, 200*time.Millisecond, 0)
	resp, err := s.Client().Get(s.URL)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	if resp.ProtoMajor != 2 {
		t.Fatalf("served over %s", resp.Proto)
	}
	select {
	case err := <-errc: // the client read nothing of the body
		if err == nil {
			t.Fatal("no write error")
		}
	case <-time.After(10 * time.Second):
		t.Fatal("a stalled HTTP/2 reader was not cut")
	}
}

// A stream the handler pauses longer than write_timeout (an upstream that
// is slow, not the client) is not cut; response_timeout caps it.
func TestH2PauseIsNotStallButResponseTimeoutCaps(t *testing.T) {
	errc := make(chan error, 1)
	s := h2Server(t, func(w http.ResponseWriter, r *http.Request) {
		rc := http.NewResponseController(w)
		for {
			_, err := io.WriteString(w, "tick\n")
			if err == nil {
				err = rc.Flush()
			}
			if err != nil {
				errc <- err
				return
			}
			time.Sleep(150 * time.Millisecond) // longer than write_timeout
		}
	}, 100*time.Millisecond, 700*time.Millisecond)
	start := time.Now()
	resp, err := s.Client().Get(s.URL)
	if err != nil {
		t.Fatal(err)
	}
	body, err := io.ReadAll(resp.Body)
	resp.Body.Close()
	if err == nil {
		t.Fatal("the stream ended cleanly; want it reset at response_timeout")
	}
	if n := bytes.Count(body, []byte("tick")); n < 3 {
		t.Errorf("got %d ticks before the cut: pauses were taken for stalls", n)
	}
	if d := time.Since(start); d < 600*time.Millisecond {
		t.Errorf("cut after %v, before response_timeout", d)
	}
	if err := <-errc; err == nil {
		t.Fatal("no handler write error")
	}
}

// TLS connections count towards max_connections from accept, HTTP/2 ones
// included: at the bound the idlest HTTP/1 connection makes room, and with
// none idle a new connection is closed before its handshake.
func TestTLSConnectionsCountTowardsMaxConns(t *testing.T) {
	dir := t.TempDir()
	certPath, keyPath, err := tlsconfig.WriteDevCert(dir, []string{"127.0.0.1"}, time.Now())
	if err != nil {
		t.Fatal(err)
	}
	cert, err := tls.LoadX509KeyPair(certPath, keyPath)
	if err != nil {
		t.Fatal(err)
	}
	raw, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	release, entered := make(chan struct{}), make(chan struct{}, 2)
	ok := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/busy" {
			entered <- struct{}{}
			<-release
		}
		io.WriteString(w, "ok")
	})
	logger := slog.New(slog.NewTextHandler(io.Discard, nil))
	srv := &h1.Server{Handler: ok, MaxConns: 2, ReadHeaderTimeout: 5 * time.Second, IdleTimeout: time.Minute, Logger: logger}
	acc := newTLSAcceptor(raw, &tls.Config{Certificates: []tls.Certificate{cert}, NextProtos: []string{"h2", "http/1.1"}},
		5*time.Second, &h2.Server{Handler: ok, IdleTimeout: time.Minute}, srv, logger)
	done := make(chan error, 1)
	go func() { done <- srv.Serve(acc) }()
	t.Cleanup(func() {
		close(release)
		srv.Close()
		acc.Close()
		<-done
	})
	addr := raw.Addr().String()
	clientTLS := &tls.Config{InsecureSkipVerify: true, NextProtos: []string{"http/1.1"}}

	// an HTTP/1 connection over TLS, served once, then idle
	h1Conn := func() (*tls.Conn, *bufio.Reader) {
		t.Helper()
		c, err := tls.Dial("tcp", addr, clientTLS)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { c.Close() })
		c.SetDeadline(time.Now().Add(10 * time.Second))
		br := bufio.NewReader(c)
		io.WriteString(c, "GET / HTTP/1.1\r\nHost: x\r\n\r\n")
		resp, err := http.ReadResponse(br, nil)
		if err != nil || resp.StatusCode != 200 {
			t.Fatalf("HTTP/1 over TLS: %v %v", resp, err)
		}
		io.Copy(io.Discard, resp.Body)
		return c, br
	}
	// Each waits for its next request before the next one is made (a
	// client reads its response a moment before the server's goroutine
	// gets there, and which is idlest is decided by when it got there).
	waitIdle := func(want int64) {
		t.Helper()
		for deadline := time.Now().Add(10 * time.Second); srv.Idle() != want; time.Sleep(time.Millisecond) {
			if time.Now().After(deadline) {
				t.Fatalf("%d HTTP/1 connections idle after 10s, want %d", srv.Idle(), want)
			}
		}
	}
	_, firstBR := h1Conn()
	waitIdle(1)
	h1Conn()
	waitIdle(2)

	// An HTTP/2 client arrives: the first HTTP/1 connection makes room.
	h2 := &http.Client{Timeout: 10 * time.Second, Transport: &http.Transport{TLSClientConfig: &tls.Config{InsecureSkipVerify: true}, ForceAttemptHTTP2: true}}
	t.Cleanup(h2.CloseIdleConnections)
	go func() {
		// holds its stream until the test ends, so its connection is never idle
		if resp, err := h2.Get("https://" + addr + "/busy"); err == nil {
			resp.Body.Close()
		}
	}()
	if _, err := firstBR.ReadByte(); err != io.EOF {
		t.Fatalf("the idlest HTTP/1 connection was not closed for the HTTP/2 one: %v", err)
	}

	// The second HTTP/1 connection goes busy too: nothing is idle, so a
	// new connection is closed before its handshake.
	second, _ := h1Conn()
	io.WriteString(second, "GET /busy HTTP/1.1\r\nHost: x\r\n\r\n")
	<-entered
	<-entered
	if acc.others.Load() != 1 || srv.Conns() != 1 {
		t.Fatalf("counted %d handshaking or HTTP/2, %d HTTP/1; want 1 and 1", acc.others.Load(), srv.Conns())
	}
	c, err := tls.Dial("tcp", addr, clientTLS)
	if err == nil {
		c.Close()
		t.Fatal("a connection over max_connections finished its handshake")
	}
}
