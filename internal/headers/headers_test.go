package headers

import (
	"bufio"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/rampart-gw/rampart/internal/h1/h1test"
	"github.com/rampart-gw/rampart/internal/pipeline"
	"github.com/rampart-gw/rampart/internal/proxy"
)

// profileHeaders are the headers every response carries, TLS or not.
var profileHeaders = map[string]string{
	"X-Content-Type-Options":       "nosniff",
	"X-Frame-Options":              "DENY",
	"Content-Security-Policy":      "default-src 'none'; frame-ancestors 'none'",
	"Referrer-Policy":              "no-referrer",
	"Cross-Origin-Resource-Policy": "same-origin",
}

// front is a gateway-like chain: the request's Info goes into the context,
// then the headers middleware, then "routing" (route name), optional
// "authentication" (Principal on the same Info), then the handler.
type front struct {
	route  string
	authed bool
}

func (f front) handler(t testing.TB, cfg Config, h http.Handler) http.Handler {
	t.Helper()
	secure, err := New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	inner := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		info := pipeline.InfoFrom(r.Context())
		info.Route = f.route
		if f.authed {
			info.Principal = &pipeline.Principal{Subject: "alice", Authenticator: "corp_sso"}
		}
		h.ServeHTTP(w, r)
	})
	chain := secure(inner)
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		r = pipeline.WithInfo(r, &pipeline.Info{ID: "req-1"})
		chain.ServeHTTP(w, r)
	})
}

// upstream starts a real upstream and returns the gateway's proxy to it.
func upstream(t *testing.T, h http.HandlerFunc) (http.Handler, *atomic.Int32) {
	t.Helper()
	var hits atomic.Int32
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		hits.Add(1)
		h(w, r)
	}))
	t.Cleanup(srv.Close)
	u, _ := url.Parse(srv.URL)
	up, err := proxy.New(proxy.Config{Name: "app", Targets: []*url.URL{u}, MaskErrors: true}, nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(up.Close)
	return up, &hits
}

func get(t *testing.T, c *http.Client, u string) *http.Response {
	t.Helper()
	resp, err := c.Get(u)
	if err != nil {
		t.Fatal(err)
	}
	_, _ = io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	return resp
}

func checkProfile(t *testing.T, h http.Header) {
	t.Helper()
	for k, want := range profileHeaders {
		if got := h.Values(k); len(got) != 1 || got[0] != want {
			t.Errorf("%s = %q, want exactly %q", k, got, want)
		}
	}
}

func TestProfile(t *testing.T) {
	jsonUpstream := func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		_, _ = io.WriteString(w, `{"ok":true}`)
	}
	conflicting := func(w http.ResponseWriter, r *http.Request) {
		h := w.Header()
		h.Set("X-Frame-Options", "SAMEORIGIN")
		h.Set("Content-Security-Policy", "default-src *; script-src 'unsafe-inline'")
		h.Set("Referrer-Policy", "unsafe-url")
		h.Set("Cross-Origin-Resource-Policy", "cross-origin")
		h.Add("X-Content-Type-Options", "sniff-please")
		h.Set("Strict-Transport-Security", "max-age=0")
		_, _ = io.WriteString(w, `<html>`)
	}
	cached := func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Cache-Control", "private, max-age=60")
		_, _ = io.WriteString(w, `{}`)
	}
	tests := []struct {
		name         string
		f            front
		up           http.HandlerFunc
		tls          bool
		wantHSTS     bool
		cacheControl string // "" = absent
	}{
		{name: "success over plain HTTP: profile, no HSTS, no Cache-Control", f: front{route: "items"}, up: jsonUpstream},
		{name: "success over TLS → HSTS", f: front{route: "items"}, up: jsonUpstream, tls: true, wantHSTS: true},
		{name: "upstream conflicting values are replaced", f: front{route: "items"}, up: conflicting},
		{name: "upstream HSTS over TLS is replaced by ours", f: front{route: "items"}, up: conflicting, tls: true, wantHSTS: true},
		{name: "authenticated → Cache-Control: no-store", f: front{route: "items", authed: true}, up: jsonUpstream, cacheControl: "no-store"},
		{name: "authenticated, upstream chose caching → kept", f: front{route: "items", authed: true}, up: cached, cacheControl: "private, max-age=60"},
		{name: "anonymous, upstream chose caching → kept", f: front{route: "items"}, up: cached, cacheControl: "private, max-age=60"},
		{name: "upstream 5xx masked by the proxy still gets the profile", f: front{route: "items", authed: true}, up: func(w http.ResponseWriter, r *http.Request) {
			w.Header().Set("X-Frame-Options", "ALLOWALL")
			http.Error(w, "Traceback (most recent call last)", 500)
		}, cacheControl: "no-store"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			up, hits := upstream(t, tt.up)
			h := tt.f.handler(t, Config{}, up)
			var srv *httptest.Server
			if tt.tls {
				srv = httptest.NewTLSServer(h)
			} else {
				srv = httptest.NewServer(h)
			}
			defer srv.Close()
			resp := get(t, srv.Client(), srv.URL+"/api/items")
			if hits.Load() != 1 {
				t.Fatalf("upstream hits = %d, want 1", hits.Load())
			}
			checkProfile(t, resp.Header)
			hsts := resp.Header.Values("Strict-Transport-Security")
			if tt.wantHSTS {
				if len(hsts) != 1 || hsts[0] != StrictTransportSecurity {
					t.Errorf("Strict-Transport-Security = %q, want %q", hsts, StrictTransportSecurity)
				}
			} else if len(hsts) != 0 {
				t.Errorf("Strict-Transport-Security = %q over plain HTTP, want none", hsts)
			}
			if got := strings.Join(resp.Header.Values("Cache-Control"), ", "); got != tt.cacheControl {
				t.Errorf("Cache-Control = %q, want %q", got, tt.cacheControl)
			}
		})
	}
}

// TestProblemResponses checks the gateway's own refusals, written by
// pipeline.WriteProblem inside the chain, carry the profile.
func TestProblemResponses(t *testing.T) {
	tests := []struct {
		name string
		f    front
		tls  bool
		rej  *pipeline.Rejection
	}{
		{name: "404 before routing", f: front{}, rej: pipeline.Reject(404, "route-not-found", "No route matches this request.")},
		{name: "401 from authentication", f: front{route: "items"}, rej: pipeline.Reject(401, "credentials-missing", "Credentials are required.")},
		{name: "429 for an authenticated caller over TLS", f: front{route: "items", authed: true}, tls: true, rej: pipeline.Reject(429, "rate-limited", "Slow down.")},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var hits atomic.Int32
			counting := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { hits.Add(1) })
			guard := pipeline.Guard("test", nil, func(r *http.Request) (*http.Request, error) { return nil, tt.rej })
			h := tt.f.handler(t, Config{}, guard(counting))
			srv := httptest.NewUnstartedServer(h)
			if tt.tls {
				srv.StartTLS()
			} else {
				srv.Start()
			}
			defer srv.Close()
			resp := get(t, srv.Client(), srv.URL+"/x")
			if resp.StatusCode != tt.rej.Status || hits.Load() != 0 {
				t.Fatalf("status %d hits %d, want %d and 0", resp.StatusCode, hits.Load(), tt.rej.Status)
			}
			if ct := resp.Header.Get("Content-Type"); ct != "application/problem+json" {
				t.Errorf("Content-Type = %q", ct)
			}
			checkProfile(t, resp.Header)
			if got := resp.Header.Get("Cache-Control"); got != "no-store" {
				t.Errorf("Cache-Control = %q, want no-store (problem responses)", got)
			}
			if got := resp.Header.Get("Strict-Transport-Security"); (got != "") != tt.tls {
				t.Errorf("Strict-Transport-Security = %q with TLS %v", got, tt.tls)
			}
		})
	}
}

func TestRouteOverrides(t *testing.T) {
	cfg := Config{Routes: map[string]Overrides{
		"docs": {
			Set:    map[string]string{"content-security-policy": "default-src 'self'", "X-Frame-Options": "SAMEORIGIN", "cache-control": "public, max-age=300"},
			Remove: []string{"cross-origin-resource-policy", "X-Debug"},
		},
		"login": {Remove: []string{"Referrer-Policy", "Strict-Transport-Security", "Cache-Control"}},
		"hsts":  {Set: map[string]string{"Strict-Transport-Security": "max-age=300"}},
	}}
	up := func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("X-Debug", "1")
		w.Header().Set("Content-Security-Policy", "default-src *")
		_, _ = io.WriteString(w, "<html>")
	}
	tests := []struct {
		name string
		f    front
		tls  bool
		want map[string]string // "" = absent
	}{
		{name: "set and remove on the docs route, upstream values lose", f: front{route: "docs", authed: true}, want: map[string]string{
			"Content-Security-Policy": "default-src 'self'", "X-Frame-Options": "SAMEORIGIN", "Cache-Control": "public, max-age=300",
			"Cross-Origin-Resource-Policy": "", "X-Debug": "", "X-Content-Type-Options": "nosniff", "Referrer-Policy": "no-referrer",
		}},
		{name: "remove wins over HSTS and the authenticated no-store", f: front{route: "login", authed: true}, tls: true, want: map[string]string{
			"Referrer-Policy": "", "Strict-Transport-Security": "", "Cache-Control": "", "X-Frame-Options": "DENY",
		}},
		{name: "set HSTS even over plain HTTP (TLS terminated in front)", f: front{route: "hsts"}, want: map[string]string{
			"Strict-Transport-Security": "max-age=300",
		}},
		{name: "other routes keep the profile", f: front{route: "items"}, want: map[string]string{
			"Content-Security-Policy": ContentSecurityPolicy, "X-Frame-Options": "DENY", "Cross-Origin-Resource-Policy": "same-origin", "X-Debug": "1",
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			u, _ := upstream(t, up)
			h := tt.f.handler(t, cfg, u)
			srv := httptest.NewUnstartedServer(h)
			if tt.tls {
				srv.StartTLS()
			} else {
				srv.Start()
			}
			defer srv.Close()
			resp := get(t, srv.Client(), srv.URL+"/")
			for k, want := range tt.want {
				if got := strings.Join(resp.Header.Values(k), ", "); got != want {
					t.Errorf("%s = %q, want %q", k, got, want)
				}
			}
		})
	}
}

func TestNewRefuses(t *testing.T) {
	tests := []struct {
		name string
		ov   Overrides
		want string
	}{
		{name: "invalid name", ov: Overrides{Set: map[string]string{"X Bad": "1"}}, want: "not a valid header name"},
		{name: "CRLF in value (response splitting)", ov: Overrides{Set: map[string]string{"X-A": "1\r\nSet-Cookie: x=1"}}, want: "control characters"},
		{name: "framing header", ov: Overrides{Set: map[string]string{"content-length": "0"}}, want: "Content-Length cannot be overridden"},
		{name: "hop-by-hop remove", ov: Overrides{Remove: []string{"Connection"}}, want: "hop-by-hop"},
		{name: "CORS header set", ov: Overrides{Set: map[string]string{"Access-Control-Allow-Origin": "*"}}, want: "cors: policy"},
		{name: "CORS header remove", ov: Overrides{Remove: []string{"access-control-allow-credentials"}}, want: "cors: policy"},
		{name: "Vary", ov: Overrides{Remove: []string{"vary"}}, want: "Vary: Origin"},
		{name: "set twice in different case", ov: Overrides{Set: map[string]string{"x-a": "1", "X-A": "2"}}, want: "set twice"},
		{name: "set and remove", ov: Overrides{Set: map[string]string{"X-A": "1"}, Remove: []string{"x-a"}}, want: "also set"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := New(Config{Routes: map[string]Overrides{"r": tt.ov}})
			if err == nil || !strings.Contains(err.Error(), tt.want) || !strings.Contains(err.Error(), `route "r"`) {
				t.Fatalf("err = %v, want one mentioning %q and the route", err, tt.want)
			}
		})
	}
}

// TestWriterPaths drives every way a handler can produce a response header.
func TestWriterPaths(t *testing.T) {
	tests := []struct {
		name string
		h    http.HandlerFunc
		code int
	}{
		{name: "nothing written → implicit 200", h: func(w http.ResponseWriter, r *http.Request) {}, code: 200},
		{name: "Write without WriteHeader", h: func(w http.ResponseWriter, r *http.Request) { _, _ = w.Write([]byte("x")) }, code: 200},
		{name: "explicit WriteHeader", h: func(w http.ResponseWriter, r *http.Request) { w.WriteHeader(202) }, code: 202},
		{name: "io.Copy uses ReadFrom", h: func(w http.ResponseWriter, r *http.Request) {
			if _, ok := w.(io.ReaderFrom); !ok {
				t.Error("writer does not implement io.ReaderFrom")
			}
			_, _ = io.Copy(w, io.LimitReader(strings.NewReader(strings.Repeat("a", 100000)), 100000))
		}, code: 200},
		{name: "Flush before writing", h: func(w http.ResponseWriter, r *http.Request) { w.(http.Flusher).Flush() }, code: 200},
		{name: "103 Early Hints then 200", h: func(w http.ResponseWriter, r *http.Request) {
			w.Header().Set("Link", "</a.css>; rel=preload")
			w.WriteHeader(http.StatusEarlyHints)
			w.Header().Set("X-Frame-Options", "SAMEORIGIN") // after the 1xx: still replaced
			w.WriteHeader(200)
		}, code: 200},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			srv := h1test.NewServer(t, front{route: "r"}.handler(t, Config{}, tt.h))
			resp := get(t, srv.Client(), srv.URL)
			if resp.StatusCode != tt.code {
				t.Fatalf("status %d, want %d", resp.StatusCode, tt.code)
			}
			checkProfile(t, resp.Header)
		})
	}
}

// TestFlushStreams checks that server-sent events leave the gateway as they
// are produced: the client reads the first event while the upstream is still
// blocked, which is only possible if Flush goes through the wrapper.
func TestFlushStreams(t *testing.T) {
	release := make(chan struct{})
	up, _ := upstream(t, func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/event-stream")
		_, _ = io.WriteString(w, "data: one\n\n")
		_ = http.NewResponseController(w).Flush()
		select {
		case <-release:
		case <-r.Context().Done():
		}
		_, _ = io.WriteString(w, "data: two\n\n")
	})
	srv := h1test.NewServer(t, front{route: "events", authed: true}.handler(t, Config{}, up))
	defer close(release)
	resp, err := srv.Client().Get(srv.URL + "/events")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	checkProfile(t, resp.Header)
	if got := resp.Header.Get("Cache-Control"); got != "no-store" {
		t.Errorf("Cache-Control = %q", got)
	}
	line := make(chan string, 1)
	go func() {
		s, _ := bufio.NewReader(resp.Body).ReadString('\n')
		line <- s
	}()
	select {
	case got := <-line:
		if got != "data: one\n" {
			t.Fatalf("first line %q", got)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("first event not flushed through the headers writer")
	}
}

// TestResponseControllerThroughWrapper checks Unwrap: deadlines and Hijack
// reach net/http's writer.
func TestResponseControllerThroughWrapper(t *testing.T) {
	h := func(w http.ResponseWriter, r *http.Request) {
		rc := http.NewResponseController(w)
		if err := rc.SetWriteDeadline(time.Now().Add(time.Minute)); err != nil {
			t.Errorf("SetWriteDeadline: %v", err)
		}
		conn, brw, err := rc.Hijack()
		if err != nil {
			t.Errorf("Hijack: %v", err)
			return
		}
		defer conn.Close()
		_, _ = brw.WriteString("HTTP/1.1 200 OK\r\nContent-Length: 2\r\nConnection: close\r\n\r\nhi")
		_ = brw.Flush()
	}
	srv := h1test.NewServer(t, front{route: "r"}.handler(t, Config{}, http.HandlerFunc(h)))
	resp, err := srv.Client().Get(srv.URL)
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if string(body) != "hi" {
		t.Fatalf("body %q", body)
	}
}
