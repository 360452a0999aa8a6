// Package h1test runs a handler behind Rampart's own HTTP/1 server, the way
// production does, for tests of code that runs behind it (the proxy, the
// gateway's steps). net/http's httptest server has other contracts (it
// cancels the request context on disconnect, sets http.ServerContextKey,
// flushes and aborts differently), so a test on it can pass where
// production fails. Upstream test servers may stay httptest.
//
//	s := h1test.NewServer(t, handler)
//	resp, err := s.Client().Get(s.URL + "/x")
package h1test

import (
	"io"
	"log/slog"
	"net"
	"net/http"
	"testing"
	"time"

	"github.com/rampart-gw/rampart/internal/h1"
	"github.com/rampart-gw/rampart/internal/pipeline"
)

// Server is an h1.Server on a loopback port, closed when the test ends.
type Server struct {
	URL    string // http://127.0.0.1:port
	Addr   string // 127.0.0.1:port
	Config *h1.Server
	done   chan error
	client *http.Client
}

// NewServer serves h as production does: an h1.Server whose connections can
// tell when their client left (pipeline.WatchClient), with timeouts long
// enough never to fire in a test. Its logs are discarded.
func NewServer(t testing.TB, h http.Handler) *Server {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	s := &Server{
		Addr: ln.Addr().String(),
		Config: &h1.Server{
			Handler:           h,
			ReadHeaderTimeout: time.Minute,
			IdleTimeout:       time.Minute,
			ConnContext:       pipeline.WatchClient,
			Logger:            slog.New(slog.NewTextHandler(io.Discard, nil)),
		},
		done: make(chan error, 1),
	}
	s.URL = "http://" + s.Addr
	s.client = &http.Client{Timeout: 10 * time.Second, Transport: &http.Transport{DisableCompression: true},
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	go func() { s.done <- s.Config.Serve(ln) }()
	t.Cleanup(func() { s.Close(t) })
	return s
}

// Close stops the server and its connections and waits for Serve to return.
// It may be called more than once.
func (s *Server) Close(t testing.TB) {
	if s.done == nil {
		return
	}
	s.client.CloseIdleConnections()
	_ = s.Config.Close()
	if err := <-s.done; err != http.ErrServerClosed {
		t.Errorf("h1test: Serve: %v", err)
	}
	s.done = nil
}

// Client returns the client for s: no redirects followed, no compression
// asked, a 10 s bound on each exchange. Its connections close with s.
func (s *Server) Client() *http.Client { return s.client }
