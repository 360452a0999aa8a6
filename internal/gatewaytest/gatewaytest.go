// Package gatewaytest starts a real gateway (the production server.Run, with
// its HTTP/1 server (internal/h1) and timeouts) in front of a real recording upstream, so
// tests can assert both what the client got and whether the upstream was
// reached at all.
package gatewaytest

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/rampart-gw/rampart/internal/admin"
	"github.com/rampart-gw/rampart/internal/auth/jwt"
	"github.com/rampart-gw/rampart/internal/config"
	"github.com/rampart-gw/rampart/internal/server"
)

// Seen is one request as the upstream received it.
type Seen struct {
	Method     string
	RequestURI string
	Host       string
	Header     http.Header
	Body       string
	Proto      string
	Trailer    http.Header
}

// Upstream is a recording httptest server.
type Upstream struct {
	*httptest.Server
	mu   sync.Mutex
	seen []Seen
}

// NewUpstream starts an upstream whose requests are recorded before handler
// (nil = 200 "ok") answers.
func NewUpstream(t testing.TB, handler http.HandlerFunc) *Upstream {
	t.Helper()
	u := &Upstream{}
	u.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		u.mu.Lock()
		u.seen = append(u.seen, Seen{Method: r.Method, RequestURI: r.RequestURI, Host: r.Host,
			Header: r.Header.Clone(), Body: string(body), Proto: r.Proto, Trailer: r.Trailer.Clone()})
		u.mu.Unlock()
		if handler != nil {
			handler(w, r)
			return
		}
		w.Header().Set("Content-Type", "text/plain")
		_, _ = io.WriteString(w, "ok")
	}))
	t.Cleanup(u.Close)
	return u
}

// Seen returns a copy of the recorded requests.
func (u *Upstream) Seen() []Seen {
	u.mu.Lock()
	defer u.mu.Unlock()
	return append([]Seen(nil), u.seen...)
}

// Count is the number of requests the upstream received.
func (u *Upstream) Count() int {
	u.mu.Lock()
	defer u.mu.Unlock()
	return len(u.seen)
}

// Gateway is a running gateway.
type Gateway struct {
	Addr       string // host:port of the public listener
	URL        string // http://Addr
	AdminURL   string
	AdminToken string
	Logs       *SyncBuffer
	stop       context.CancelFunc
	done       chan error
	reload     chan struct{}
	reloaded   chan error
	next       []byte
}

// ReloadYAML makes text the config file's content, triggers a reload and
// returns the gateway's verdict (parse errors included).
func (g *Gateway) ReloadYAML(t testing.TB, text string) error {
	t.Helper()
	g.next = []byte(text)
	g.reload <- struct{}{}
	return <-g.reloaded
}

func (g *Gateway) load() (*config.Config, error) {
	return config.Parse("reload.yaml", g.next, func(k string) (string, bool) {
		if k == "ADMIN_TOKEN" {
			return AdminToken, true
		}
		return "", false
	})
}

// AdminToken is the admin token Start puts in the environment as ADMIN_TOKEN.
const AdminToken = "test-admin-token-0123456789abcdef0123456789"

// Start parses yamlText (with env for ${VAR}s; ADMIN_TOKEN is provided) and
// runs the gateway on loopback ports until the test ends.
func Start(t testing.TB, yamlText string, env map[string]string) *Gateway {
	t.Helper()
	cfg, err := config.Parse("test.yaml", []byte(yamlText), func(k string) (string, bool) {
		if k == "ADMIN_TOKEN" {
			return AdminToken, true
		}
		v, ok := env[k]
		return v, ok
	})
	if err != nil {
		t.Fatalf("config: %v", err)
	}
	return StartConfig(t, cfg)
}

// StartConfig runs an already-parsed config; each of with may set more
// server options (a dashboard's block table, for one).
func StartConfig(t testing.TB, cfg *config.Config, with ...func(*server.Options)) *Gateway {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	adminLn, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	g := &Gateway{Logs: &SyncBuffer{}, stop: cancel, done: make(chan error, 1), reload: make(chan struct{}), reloaded: make(chan error, 1), AdminToken: cfg.Admin.Token}
	ready := make(chan struct{})
	logger := slog.New(slog.NewJSONHandler(g.Logs, &slog.HandlerOptions{Level: slog.LevelDebug}))
	opts := server.Options{Logger: logger, Listener: ln, AdminListener: adminLn, Reload: g.reload, Load: g.load,
		Reloaded: func(err error) { g.reloaded <- err },
		Ready: func(addr, adminAddr net.Addr) {
			g.Addr = addr.String()
			g.URL = "http://" + g.Addr
			g.AdminURL = "http://" + adminAddr.String()
			close(ready)
		}}
	for _, f := range with {
		f(&opts)
	}
	go func() { g.done <- server.Run(ctx, cfg, opts) }()
	select {
	case <-ready:
	case err := <-g.done:
		t.Fatalf("gateway did not start: %v", err)
	}
	t.Cleanup(func() { g.Stop(t) })
	g.awaitKeys(t)
	return g
}

// awaitKeys waits (up to 10s) until no authenticator is waiting for its
// keys: JWKS are fetched in the background, and tests mostly want the
// started gateway to verify tokens at once. A test whose IdP is down on
// purpose proceeds after the deadline and asserts the 503s itself.
func (g *Gateway) awaitKeys(t testing.TB) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for time.Now().Before(deadline) {
		rd, err := g.Readiness()
		if err != nil {
			t.Fatalf("readyz: %v", err)
		}
		waiting := false
		for _, a := range rd.Authenticators {
			waiting = waiting || a.State == jwt.StateWaiting
		}
		if !waiting {
			return
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// Readiness reads the admin /readyz report (with the admin token, so errors
// are included).
func (g *Gateway) Readiness() (admin.Readiness, error) {
	var rd admin.Readiness
	req, err := http.NewRequest(http.MethodGet, g.AdminURL+"/readyz", nil)
	if err != nil {
		return rd, err
	}
	req.Header.Set("Authorization", "Bearer "+g.AdminToken)
	resp, err := Client().Do(req)
	if err != nil {
		return rd, err
	}
	defer resp.Body.Close()
	return rd, json.NewDecoder(resp.Body).Decode(&rd)
}

// Stop shuts the gateway down and waits for it (idempotent).
func (g *Gateway) Stop(t testing.TB) {
	if g.stop == nil {
		return
	}
	g.stop()
	g.stop = nil
	select {
	case err := <-g.done:
		if err != nil {
			t.Errorf("gateway stopped with error: %v", err)
		}
	case <-time.After(30 * time.Second):
		t.Error("gateway did not stop within 30s")
	}
}

// Client is an HTTP client that never follows redirects and has a timeout.
func Client() *http.Client {
	return &http.Client{
		Timeout:       10 * time.Second,
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
		Transport:     &http.Transport{DisableCompression: true},
	}
}

// Do sends a request through the gateway and returns the response and body.
func (g *Gateway) Do(t testing.TB, req *http.Request) (*http.Response, string) {
	t.Helper()
	resp, err := Client().Do(req)
	if err != nil {
		t.Fatalf("%s %s: %v", req.Method, req.URL, err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatalf("read body: %v", err)
	}
	return resp, string(b)
}

// Get is Do for a GET of path.
func (g *Gateway) Get(t testing.TB, path string) (*http.Response, string) {
	t.Helper()
	req, err := http.NewRequest(http.MethodGet, g.URL+path, nil)
	if err != nil {
		t.Fatal(err)
	}
	return g.Do(t, req)
}

// RawResult is the outcome of a raw request.
type RawResult struct {
	Resp   *http.Response
	Body   string
	Closed bool // the server closed the connection after the response
}

// Raw writes raw bytes to the gateway and reads one response; it then reports
// whether the connection was closed by the server (read returns EOF in time).
func (g *Gateway) Raw(t testing.TB, raw string) RawResult {
	t.Helper()
	conn, err := net.DialTimeout("tcp", g.Addr, 5*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	_ = conn.SetDeadline(time.Now().Add(10 * time.Second))
	if _, err := io.WriteString(conn, raw); err != nil {
		t.Fatalf("write: %v", err)
	}
	br := bufio.NewReader(conn)
	resp, err := http.ReadResponse(br, nil)
	if err != nil {
		t.Fatalf("read response: %v", err)
	}
	b, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	res := RawResult{Resp: resp, Body: string(b)}
	_ = conn.SetReadDeadline(time.Now().Add(5 * time.Second))
	_, err = br.ReadByte()
	res.Closed = errors.Is(err, io.EOF) || (err != nil && !isTimeout(err))
	return res
}

func isTimeout(err error) bool {
	var ne net.Error
	return errors.As(err, &ne) && ne.Timeout()
}

// Problem is a decoded RFC 9457 body.
type Problem struct {
	Type      string `json:"type"`
	Title     string `json:"title"`
	Status    int    `json:"status"`
	Detail    string `json:"detail"`
	RequestID string `json:"request_id"`
}

// CheckProblem asserts resp is a problem+json with the status and type, that
// its request_id matches X-Request-Id, and returns it.
func CheckProblem(t testing.TB, resp *http.Response, body string, status int, typ string) Problem {
	t.Helper()
	if resp.StatusCode != status {
		t.Errorf("status = %d, want %d (body %q)", resp.StatusCode, status, body)
	}
	if ct := resp.Header.Get("Content-Type"); ct != "application/problem+json" {
		t.Errorf("Content-Type = %q, want application/problem+json", ct)
	}
	var p Problem
	if err := json.Unmarshal([]byte(body), &p); err != nil {
		t.Fatalf("problem body %q: %v", body, err)
	}
	if want := "urn:rampart:problem:" + typ; p.Type != want {
		t.Errorf("type = %q, want %q", p.Type, want)
	}
	if p.Status != status {
		t.Errorf("problem status = %d, want %d", p.Status, status)
	}
	if p.RequestID == "" || p.RequestID != resp.Header.Get("X-Request-Id") {
		t.Errorf("request_id = %q, X-Request-Id = %q: want equal and non-empty", p.RequestID, resp.Header.Get("X-Request-Id"))
	}
	if p.Title == "" {
		t.Error("problem has no title")
	}
	return p
}

// Eventually polls cond until it holds, and fails the test (saying what
// it waited for) if it does not within the given time: for state that
// changes in the background, without sleeping a guessed duration.
func Eventually(t testing.TB, within time.Duration, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(within)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out after %v waiting until %s", within, what)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// FreeAddr returns a loopback host:port that nobody listens on (at the time
// of the call): for configs that must name an address, and for "connection
// refused" targets.
func FreeAddr(t testing.TB) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	return ln.Addr().String()
}

// Config builds a minimal config text with one upstream "app" pointing at
// target and the given routes YAML (indented list items under routes:).
func Config(target, extra, routes string) string {
	return "version: 1\nadmin:\n  token: ${ADMIN_TOKEN}\nupstreams:\n  app:\n    targets: [\"" + target + "\"]\n    timeout: 2s\n" +
		extra + "routes:\n" + routes
}

// SyncBuffer is a text buffer safe for concurrent writers (logs, a child
// process's stdout and stderr).
type SyncBuffer struct {
	mu sync.Mutex
	b  strings.Builder
}

func (s *SyncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *SyncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}
