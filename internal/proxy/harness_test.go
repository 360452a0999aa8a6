package proxy

import (
	"bufio"
	"encoding/json"
	"io"
	"net"
	"net/http"
	"net/http/httputil"
	"net/url"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/rampart-gw/rampart/internal/h1/h1test"
	"github.com/rampart-gw/rampart/internal/pipeline"
)

// rawUpstream is a loopback TCP server that answers each request it reads
// with whatever its script returns, byte for byte.
type rawUpstream struct {
	ln       net.Listener
	accepted atomic.Int32
	mu       sync.Mutex
	seen     []seenRequest
	hook     func(w io.Writer)
	// afterClose, if set before the first connection, is called when a
	// connection has been closed by the script.
	afterClose func()
	wg         sync.WaitGroup
}

type seenRequest struct {
	head string // raw request head
	body string
}

// script answers the n-th request on a connection (n counts from 0). close
// closes the connection after the answer.
type script func(n int, req seenRequest) (answer string, close bool)

func newRawUpstream(t testing.TB, s script) *rawUpstream {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	u := &rawUpstream{ln: ln}
	u.wg.Add(1)
	go func() {
		defer u.wg.Done()
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			u.accepted.Add(1)
			u.wg.Add(1)
			go func() {
				defer u.wg.Done()
				u.serveConn(c, s)
			}()
		}
	}()
	t.Cleanup(func() { ln.Close(); u.wg.Wait() })
	return u
}

// newStreamUpstream reads one request head per connection, then lets write
// answer it at its own pace and closes the connection.
func newStreamUpstream(t testing.TB, write func(w io.Writer)) *rawUpstream {
	return newRawUpstream(t, func(int, seenRequest) (string, bool) { return "", false }).withHook(write)
}

func (u *rawUpstream) withHook(write func(w io.Writer)) *rawUpstream {
	u.mu.Lock()
	u.hook = write
	u.mu.Unlock()
	return u
}

func (u *rawUpstream) serveConn(c net.Conn, s script) {
	defer func() {
		c.Close()
		u.mu.Lock()
		after := u.afterClose
		u.mu.Unlock()
		if after != nil {
			after()
		}
	}()
	br := bufio.NewReader(c)
	u.mu.Lock()
	hook := u.hook
	u.mu.Unlock()
	if hook != nil {
		for {
			line, err := br.ReadString('\n')
			if err != nil {
				return
			}
			if line == "\r\n" {
				break
			}
		}
		hook(c)
		return
	}
	for n := 0; ; n++ {
		var head strings.Builder
		for {
			line, err := br.ReadString('\n')
			if err != nil {
				return
			}
			head.WriteString(line)
			if line == "\r\n" {
				break
			}
		}
		req := seenRequest{head: head.String()}
		if r, err := http.ReadRequest(bufio.NewReader(strings.NewReader(req.head))); err == nil {
			if r.ContentLength > 0 {
				b := make([]byte, r.ContentLength)
				if _, err := io.ReadFull(br, b); err != nil {
					return
				}
				req.body = string(b)
			} else if len(r.TransferEncoding) > 0 {
				b, err := io.ReadAll(httputil.NewChunkedReader(br))
				if err != nil {
					return
				}
				if line, err := br.ReadString('\n'); err != nil || line != "\r\n" {
					return
				}
				req.body = string(b)
			}
		}
		u.mu.Lock()
		u.seen = append(u.seen, req)
		u.mu.Unlock()
		answer, closeAfter := s(n, req)
		if _, err := io.WriteString(c, answer); err != nil || closeAfter {
			return
		}
	}
}

func (u *rawUpstream) url() string { return "http://" + u.ln.Addr().String() }

func (u *rawUpstream) requests() []seenRequest {
	u.mu.Lock()
	defer u.mu.Unlock()
	return append([]seenRequest(nil), u.seen...)
}

// fixed answers every request with the same bytes, keeping the connection.
func fixed(answer string) script {
	return func(int, seenRequest) (string, bool) { return answer, false }
}

func mustURL(t testing.TB, s string) *url.URL {
	t.Helper()
	u, err := url.Parse(s)
	if err != nil {
		t.Fatal(err)
	}
	return u
}

func newUpstream(t testing.TB, cfg Config, targets ...string) *Upstream {
	t.Helper()
	for _, s := range targets {
		cfg.Targets = append(cfg.Targets, mustURL(t, s))
	}
	if cfg.Name == "" {
		cfg.Name = "test"
	}
	u, err := New(cfg, nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(u.Close)
	return u
}

// withInfo is the part of the gateway the proxy relies on: the request Info.
func withInfo(h http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		info := &pipeline.Info{ID: "req-1", ClientIP: "192.0.2.7", Peer: "192.0.2.7", Scheme: "http",
			Path: r.URL.EscapedPath(), ForwardedFor: "192.0.2.7"}
		h.ServeHTTP(w, pipeline.WithInfo(r, info))
	})
}

// front runs the proxy behind Rampart's own HTTP/1 server, as in production.
func front(t testing.TB, u *Upstream) *h1test.Server {
	t.Helper()
	return h1test.NewServer(t, withInfo(u))
}

func client() *http.Client {
	return &http.Client{Timeout: 10 * time.Second, Transport: &http.Transport{DisableCompression: true},
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
}

func do(t testing.TB, c *http.Client, req *http.Request) (*http.Response, string) {
	t.Helper()
	resp, err := c.Do(req)
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

func get(t testing.TB, c *http.Client, url string) (*http.Response, string) {
	t.Helper()
	req, err := http.NewRequest("GET", url, nil)
	if err != nil {
		t.Fatal(err)
	}
	return do(t, c, req)
}

func checkProblem(t testing.TB, resp *http.Response, body string, status int, typ string) {
	t.Helper()
	if resp.StatusCode != status {
		t.Errorf("status %d, want %d (body %q)", resp.StatusCode, status, body)
	}
	if ct := resp.Header.Get("Content-Type"); ct != "application/problem+json" {
		t.Errorf("Content-Type %q, want problem+json (body %q)", ct, body)
	}
	var p struct {
		Type   string `json:"type"`
		Status int    `json:"status"`
	}
	if err := json.Unmarshal([]byte(body), &p); err != nil {
		t.Fatalf("problem %q: %v", body, err)
	}
	if p.Type != pipeline.TypePrefix+typ || p.Status != status {
		t.Errorf("problem %+v, want %s %d", p, typ, status)
	}
}
