package gateway_test

import (
	"fmt"
	"io"
	"net"
	"net/http"
	"strings"
	"testing"
	"time"

	gt "github.com/rampart-gw/rampart/internal/gatewaytest"
)

const basicRoutes = `  - name: items
    path: /api/items
    methods: [GET, POST]
    upstream: app
    auth: none
  - name: item
    path: /api/items/{id}
    methods: [GET, PUT]
    upstream: app
    auth: none
  - name: files
    path: /files/{rest...}
    methods: [GET]
    upstream: app
    auth: none
`

func start(t *testing.T, h http.HandlerFunc, extra string) (*gt.Gateway, *gt.Upstream) {
	t.Helper()
	up := gt.NewUpstream(t, h)
	g := gt.Start(t, gt.Config(up.URL, extra, basicRoutes), nil)
	return g, up
}

func TestRouting(t *testing.T) {
	g, up := start(t, nil, "")
	tests := []struct {
		name, method, target string
		status               int
		problem              string // problem type when rejected
		forwarded            string // request-target the upstream must see
	}{
		{"static route forwarded", "GET", "/api/items", 200, "", "/api/items"},
		{"param route forwarded", "GET", "/api/items/42", 200, "", "/api/items/42"},
		{"query forwarded untouched", "GET", "/api/items?limit=5&sort=name", 200, "", "/api/items?limit=5&sort=name"},
		{"catch-all forwarded", "GET", "/files/a/b/c.txt", 200, "", "/files/a/b/c.txt"},
		{"unknown path → 404", "GET", "/admin", 404, "route-not-found", ""},
		{"trailing slash is a different path → 404", "GET", "/api/items/42/", 404, "route-not-found", ""},
		{"path matches but method does not → 405", "DELETE", "/api/items/42", 405, "method-not-allowed", ""},
		{"methods are case-sensitive → 405", "get", "/api/items", 405, "method-not-allowed", ""},
		{"unknown method → 405", "FOO", "/api/items", 405, "method-not-allowed", ""},
		{"matching is case-sensitive → 404", "GET", "/API/items", 404, "route-not-found", ""},
		{"dot segments resolved before routing", "GET", "/api/x/../items", 200, "", "/api/items"},
		{"duplicate slashes merged before routing", "GET", "//api//items", 200, "", "/api/items"},
		{"encoded unreserved characters decoded", "GET", "/api/items/%34%32", 200, "", "/api/items/42"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			before := up.Count()
			res := g.Raw(t, tt.method+" "+tt.target+" HTTP/1.1\r\nHost: example.test\r\nConnection: close\r\n\r\n")
			if res.Resp.StatusCode != tt.status {
				t.Fatalf("status = %d, want %d; body %s", res.Resp.StatusCode, tt.status, res.Body)
			}
			seen := up.Seen()[before:]
			if tt.problem != "" {
				gt.CheckProblem(t, res.Resp, res.Body, tt.status, tt.problem)
				if len(seen) != 0 {
					t.Fatalf("upstream was reached: %+v", seen)
				}
				return
			}
			if len(seen) != 1 || seen[0].RequestURI != tt.forwarded {
				t.Fatalf("upstream saw %+v, want one request for %q", seen, tt.forwarded)
			}
		})
	}
}

func TestMethodNotAllowedListsAllow(t *testing.T) {
	g, _ := start(t, nil, "")
	req, _ := http.NewRequest("DELETE", g.URL+"/api/items/1", nil)
	resp, body := g.Do(t, req)
	gt.CheckProblem(t, resp, body, 405, "method-not-allowed")
	if got := resp.Header.Get("Allow"); got != "GET, PUT" {
		t.Errorf("Allow = %q, want %q", got, "GET, PUT")
	}
}

// Path tricks from "Breaking Parser Logic" (Orange Tsai) and the usual
// traversal and smuggling suspects: each must be refused before routing.
func TestPathTricksRejected(t *testing.T) {
	g, up := start(t, nil, "")
	targets := map[string]string{
		"encoded slash":                  "/api/items/..%2fadmin",
		"encoded slash upper":            "/api/items%2F42",
		"encoded backslash":              "/api/items/%5c..%5cadmin",
		"raw backslash":                  `/api/items\42`,
		"encoded dot-dot segment":        "/api/items/%2e%2e/admin",
		"half-encoded dot-dot":           "/api/items/.%2e/admin",
		"double-encoded dot":             "/api/items/%252e%252e/admin",
		"double-encoded slash":           "/api/items/%252f",
		"encoded NUL":                    "/api/items/42%00.json",
		"encoded control char":           "/api/items/%0d%0aSet-Cookie:x",
		"invalid percent encoding":       "/api/items/%zz",
		"truncated percent encoding":     "/api/items/%4",
		"matrix parameter":               "/api/items;jsessionid=1",
		"tomcat ..; trick":               "/api/..;/admin",
		"encoded semicolon":              "/api/items%3bx",
		"encoded fragment":               "/api/items%23frag",
		"traversal above root":           "/../../etc/passwd",
		"semicolon in query":             "/api/items?a=1;b=2",
		"bad escape in query":            "/api/items?a=%zz",
		"NUL in query":                   "/api/items?a=%00",
		"raw fragment in target":         "/api/items#x",
		"asterisk-form":                  "*",
		"absolute-form for another host": "http://evil.example/api/items",
	}
	for name, target := range targets {
		t.Run(name+" → 400", func(t *testing.T) {
			before := up.Count()
			res := g.Raw(t, "GET "+target+" HTTP/1.1\r\nHost: example.test\r\nConnection: close\r\n\r\n")
			if res.Resp.StatusCode != 400 {
				t.Fatalf("status = %d, want 400; body %s", res.Resp.StatusCode, res.Body)
			}
			if res.Resp.Header.Get("Content-Type") != "application/problem+json" {
				t.Errorf("not a problem response: %q", res.Body)
			}
			if up.Count() != before {
				t.Fatal("upstream was reached")
			}
		})
	}
}

func TestTooManyQueryParams(t *testing.T) {
	g, up := start(t, nil, "server:\n  max_query_params: 3\n")
	resp, body := g.Get(t, "/api/items?a=1&b=2&c=3&d=4")
	gt.CheckProblem(t, resp, body, http.StatusRequestURITooLong, "too-many-query-params")
	if up.Count() != 0 {
		t.Fatal("upstream was reached")
	}
	resp, _ = g.Get(t, "/api/items?a=1&b=2&c=3")
	if resp.StatusCode != 200 {
		t.Fatalf("3 params: status %d", resp.StatusCode)
	}
}

func TestConnectRefused(t *testing.T) {
	g, up := start(t, nil, "")
	res := g.Raw(t, "CONNECT evil.example:443 HTTP/1.1\r\nHost: evil.example:443\r\nConnection: close\r\n\r\n")
	if res.Resp.StatusCode != 405 {
		t.Fatalf("status = %d, want 405", res.Resp.StatusCode)
	}
	if up.Count() != 0 {
		t.Fatal("upstream was reached")
	}
}

// Request smuggling shapes: 400, connection closed, and the upstream never
// sees the request head (nor the request hidden in its body).
func TestSmugglingRejected(t *testing.T) {
	g, up := start(t, nil, "")
	hidden := "GET /api/items/666 HTTP/1.1\r\nHost: x\r\n\r\n"
	tests := map[string]string{
		"CL and TE":             "POST /api/items HTTP/1.1\r\nHost: x\r\nContent-Length: 4\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n" + hidden,
		"TE and CL":             "POST /api/items HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\nContent-Length: 4\r\n\r\n0\r\n\r\n" + hidden,
		"TE not chunked":        "POST /api/items HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: gzip, chunked\r\n\r\n0\r\n\r\n" + hidden,
		"TE xchunked":           "POST /api/items HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: xchunked\r\n\r\n0\r\n\r\n" + hidden,
		"two TE headers":        "POST /api/items HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\nTransfer-Encoding: identity\r\n\r\n0\r\n\r\n" + hidden,
		"TE on HTTP/1.0":        "POST /api/items HTTP/1.0\r\nHost: x\r\nTransfer-Encoding: chunked\r\nContent-Length: 41\r\n\r\n" + hidden,
		"obs-fold":              "GET /api/items HTTP/1.1\r\nHost: x\r\nX-Note: a\r\n b\r\n\r\n",
		"obs-folded TE":         "POST /api/items HTTP/1.1\r\nHost: x\r\nTransfer-Encoding:\r\n chunked\r\n\r\n0\r\n\r\n" + hidden,
		"two Content-Lengths":   "POST /api/items HTTP/1.1\r\nHost: x\r\nContent-Length: 0\r\nContent-Length: 0\r\n\r\n" + hidden,
		"signed Content-Length": "POST /api/items HTTP/1.1\r\nHost: x\r\nContent-Length: +41\r\n\r\n" + hidden,
		"duplicate Host":        "GET /api/items HTTP/1.1\r\nHost: a.example\r\nHost: b.example\r\n\r\n",
		"control byte in value": "GET /api/items HTTP/1.1\r\nHost: x\r\nX-A: a\x01b\r\n\r\n",
		"invalid header name":   "GET /api/items HTTP/1.1\r\nHost: x\r\nX(A): b\r\n\r\n",
		"malformed chunk size":  "POST /api/items HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\nabc\r\n0\r\n\r\n",
	}
	for name, raw := range tests {
		t.Run(name+" → 400 and close", func(t *testing.T) {
			before := up.Count()
			res := g.Raw(t, raw)
			if res.Resp.StatusCode != 400 {
				t.Fatalf("status = %d, want 400; body %s", res.Resp.StatusCode, res.Body)
			}
			if res.Resp.Header.Get("Content-Type") != "application/problem+json" {
				t.Errorf("not a problem response: %q", res.Body)
			}
			if !res.Closed {
				t.Error("connection left open")
			}
			if n := up.Count() - before; n != 0 {
				t.Fatalf("upstream received %d request(s): %+v", n, up.Seen()[before:])
			}
		})
	}
}

// Heads net/http used to refuse with its own plain-text 400/505: the h1
// server hands them to the gateway, which answers problem+json and closes.
func TestMalformedHeadsAnsweredAsProblems(t *testing.T) {
	g, up := start(t, nil, "")
	hidden := "GET /api/items/666 HTTP/1.1\r\nHost: x\r\n\r\n"
	tests := []struct {
		name, raw string
		status    int
		typ       string
	}{
		{"HTTP/1.2", "GET /api/items HTTP/1.2\r\nHost: x\r\n\r\n" + hidden, 505, "http-version-not-supported"},
		{"HTTP/2 preface without TLS (h2c)", "PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n", 505, "http-version-not-supported"},
		{"HTTP/1.1 without Host", "GET /api/items HTTP/1.1\r\n\r\n" + hidden, 400, "bad-framing"},
		{"request line with one space", "GET /api/items\r\nHost: x\r\n\r\n" + hidden, 400, "bad-framing"},
		{"method that is not a token", "G(T /api/items HTTP/1.1\r\nHost: x\r\n\r\n" + hidden, 400, "bad-framing"},
		{"Expect other than 100-continue", "POST /api/items HTTP/1.1\r\nHost: x\r\nExpect: 200-ok\r\nContent-Length: 41\r\n\r\n" + hidden, 417, "expectation-failed"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			before := up.Count()
			res := g.Raw(t, tc.raw)
			gt.CheckProblem(t, res.Resp, res.Body, tc.status, tc.typ)
			if !res.Closed {
				t.Error("connection left open")
			}
			if n := up.Count() - before; n != 0 {
				t.Fatalf("upstream received %d request(s): %+v", n, up.Seen()[before:])
			}
		})
	}
}

func TestBodyLimits(t *testing.T) {
	g, up := start(t, nil, "server:\n  max_body_bytes: 1KiB\n")
	t.Run("Content-Length over the limit → 413 without reading", func(t *testing.T) {
		before := up.Count()
		res := g.Raw(t, "POST /api/items HTTP/1.1\r\nHost: x\r\nContent-Length: 5000\r\n\r\n")
		gt.CheckProblem(t, res.Resp, res.Body, 413, "body-too-large")
		if !res.Closed || up.Count() != before {
			t.Fatalf("closed=%v upstream reached=%v", res.Closed, up.Count() != before)
		}
	})
	t.Run("chunked body over the limit → 413, counted while streaming", func(t *testing.T) {
		before := up.Count()
		chunk := strings.Repeat("a", 600)
		raw := "POST /api/items HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n" +
			fmt.Sprintf("%x\r\n%s\r\n%x\r\n%s\r\n0\r\n\r\n", len(chunk), chunk, len(chunk), chunk)
		res := g.Raw(t, raw)
		gt.CheckProblem(t, res.Resp, res.Body, 413, "body-too-large")
		if up.Count() != before {
			t.Fatal("upstream was reached")
		}
	})
	t.Run("chunked body within the limit → forwarded with Content-Length, trailers dropped", func(t *testing.T) {
		before := up.Count()
		raw := "POST /api/items HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\nTrailer: X-Evil\r\nConnection: close\r\n\r\n" +
			"5\r\nhello\r\n6\r\n world\r\n0\r\nX-Evil: yes\r\n\r\n"
		res := g.Raw(t, raw)
		if res.Resp.StatusCode != 200 {
			t.Fatalf("status %d: %s", res.Resp.StatusCode, res.Body)
		}
		seen := up.Seen()[before:]
		if len(seen) != 1 {
			t.Fatalf("upstream saw %d requests", len(seen))
		}
		s := seen[0]
		if s.Body != "hello world" || s.Header.Get("Content-Length") != "" && s.Header.Get("Content-Length") != "11" {
			t.Errorf("body %q, Content-Length %q", s.Body, s.Header.Get("Content-Length"))
		}
		if s.Header.Get("X-Evil") != "" || s.Trailer.Get("X-Evil") != "" || len(s.Header.Values("Trailer")) != 0 {
			t.Errorf("trailer leaked upstream: header %v trailer %v", s.Header, s.Trailer)
		}
	})
	t.Run("body exactly at the limit → forwarded", func(t *testing.T) {
		req, _ := http.NewRequest("POST", g.URL+"/api/items", strings.NewReader(strings.Repeat("b", 1024)))
		resp, _ := g.Do(t, req)
		if resp.StatusCode != 200 {
			t.Fatalf("status %d", resp.StatusCode)
		}
	})
}

func TestHeaderTooLarge(t *testing.T) {
	g, up := start(t, nil, "server:\n  max_header_bytes: 2KiB\n")
	res := g.Raw(t, "GET /api/items HTTP/1.1\r\nHost: x\r\nX-Big: "+strings.Repeat("a", 4096)+"\r\n\r\n")
	gt.CheckProblem(t, res.Resp, res.Body, 431, "header-too-large")
	if up.Count() != 0 {
		t.Fatal("upstream was reached")
	}
}

func TestSpoofedHeadersRebuilt(t *testing.T) {
	g, up := start(t, nil, "")
	req, _ := http.NewRequest("GET", g.URL+"/api/items", nil)
	for k, v := range map[string]string{
		"X-Forwarded-For": "6.6.6.6", "X-Forwarded-Host": "evil.example", "X-Forwarded-Proto": "https",
		"Forwarded": "for=6.6.6.6", "X-Real-IP": "6.6.6.6", "True-Client-IP": "6.6.6.6",
		"X-Original-URL": "/admin", "X-Rewrite-URL": "/admin", "X-Rampart-Subject": "admin",
		"X-HTTP-Method-Override": "DELETE", "X-Request-ID": "attacker-chosen",
		"Upgrade": "h2c", "HTTP2-Settings": "AAMAAABkAARAAAAAAAIAAAAA",
	} {
		req.Header.Set(k, v)
	}
	req.Header["X_Rampart_Subject"] = []string{"admin"}
	req.Header["Connection"] = []string{"Upgrade, HTTP2-Settings, X-Forwarded-For, X-Request-Id"}
	resp, _ := g.Do(t, req)
	if resp.StatusCode != 200 {
		t.Fatalf("status %d", resp.StatusCode)
	}
	s := up.Seen()[0]
	if got := s.Header.Get("X-Forwarded-For"); got != "127.0.0.1" {
		t.Errorf("X-Forwarded-For = %q, want the real peer 127.0.0.1", got)
	}
	if got := s.Header.Get("X-Real-Ip"); got != "127.0.0.1" {
		t.Errorf("X-Real-IP = %q", got)
	}
	if got := s.Header.Get("X-Forwarded-Proto"); got != "http" {
		t.Errorf("X-Forwarded-Proto = %q", got)
	}
	if got, want := s.Header.Get("X-Forwarded-Host"), strings.TrimPrefix(g.URL, "http://"); got != want {
		t.Errorf("X-Forwarded-Host = %q, want %q", got, want)
	}
	id := resp.Header.Get("X-Request-Id")
	if id == "" || id == "attacker-chosen" || s.Header.Get("X-Request-Id") != id {
		t.Errorf("request id: response %q, upstream %q", id, s.Header.Get("X-Request-Id"))
	}
	for _, k := range []string{"Forwarded", "True-Client-Ip", "X-Original-Url", "X-Rewrite-Url", "X-Rampart-Subject",
		"X_rampart_subject", "X-Http-Method-Override", "Upgrade", "Http2-Settings"} {
		if v, ok := s.Header[k]; ok {
			t.Errorf("upstream received %s: %q", k, v)
		}
	}
	if s.Method != "GET" {
		t.Errorf("method = %s", s.Method)
	}
}

func TestTrustedProxyForwardingKept(t *testing.T) {
	g, up := start(t, nil, "server:\n  trusted_proxies: [127.0.0.1]\n")
	req, _ := http.NewRequest("GET", g.URL+"/api/items", nil)
	req.Header.Set("X-Forwarded-For", "6.6.6.6, 203.0.113.7")
	req.Header.Set("X-Request-ID", "edge-lb-1234")
	resp, _ := g.Do(t, req)
	s := up.Seen()[0]
	if got := s.Header.Get("X-Forwarded-For"); got != "203.0.113.7, 127.0.0.1" {
		t.Errorf("X-Forwarded-For = %q, want the believed hop then the peer", got)
	}
	if got := s.Header.Get("X-Real-Ip"); got != "203.0.113.7" {
		t.Errorf("X-Real-IP = %q, want the rightmost untrusted address", got)
	}
	if resp.Header.Get("X-Request-Id") != "edge-lb-1234" || s.Header.Get("X-Request-Id") != "edge-lb-1234" {
		t.Errorf("trusted proxy's request id not propagated")
	}
}

func TestUpstreamResponseHygiene(t *testing.T) {
	g, _ := start(t, func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("X-Request-Id", "upstream-own-id")
		w.Header().Set("Server", "gunicorn/21.2.0")
		w.Header().Set("X-Powered-By", "Django")
		switch r.URL.Path {
		case "/api/items/500":
			w.WriteHeader(500)
			io.WriteString(w, "Traceback (most recent call last): SECRET_KEY=hunter2")
		case "/api/items/503":
			w.Header().Set("Retry-After", "7")
			w.WriteHeader(503)
			io.WriteString(w, "down for maintenance at db.internal")
		case "/api/items/404":
			w.Header().Set("Content-Type", "application/json")
			w.WriteHeader(404)
			io.WriteString(w, `{"error":"no such item"}`)
		default:
			io.WriteString(w, "fine")
		}
	}, "")
	t.Run("fingerprinting headers removed", func(t *testing.T) {
		resp, body := g.Get(t, "/api/items/1")
		if body != "fine" || resp.Header.Get("Server") != "" || resp.Header.Get("X-Powered-By") != "" {
			t.Errorf("body %q Server %q X-Powered-By %q", body, resp.Header.Get("Server"), resp.Header.Get("X-Powered-By"))
		}
		if ids := resp.Header.Values("X-Request-Id"); len(ids) != 1 || ids[0] == "upstream-own-id" {
			t.Errorf("X-Request-Id = %q, want only the gateway's", ids)
		}
	})
	t.Run("5xx body masked", func(t *testing.T) {
		resp, body := g.Get(t, "/api/items/500")
		gt.CheckProblem(t, resp, body, 500, "upstream-error")
		if strings.Contains(body, "hunter2") || strings.Contains(body, "Traceback") {
			t.Errorf("upstream error leaked: %s", body)
		}
	})
	t.Run("503 masked but Retry-After kept", func(t *testing.T) {
		resp, body := g.Get(t, "/api/items/503")
		gt.CheckProblem(t, resp, body, 503, "upstream-error")
		if resp.Header.Get("Retry-After") != "7" || strings.Contains(body, "db.internal") {
			t.Errorf("Retry-After %q body %s", resp.Header.Get("Retry-After"), body)
		}
	})
	t.Run("4xx body passes", func(t *testing.T) {
		resp, body := g.Get(t, "/api/items/404")
		if resp.StatusCode != 404 || body != `{"error":"no such item"}` {
			t.Errorf("status %d body %q", resp.StatusCode, body)
		}
	})
}

func TestUnmaskedUpstreamErrors(t *testing.T) {
	up := gt.NewUpstream(t, func(w http.ResponseWriter, r *http.Request) {
		w.WriteHeader(500)
		io.WriteString(w, "detailed error")
	})
	cfg := "version: 1\nadmin:\n  token: ${ADMIN_TOKEN}\nupstreams:\n  app:\n    targets: [\"" + up.URL + "\"]\n    mask_upstream_errors: false\nroutes:\n" + basicRoutes
	g := gt.Start(t, cfg, nil)
	resp, body := g.Get(t, "/api/items")
	if resp.StatusCode != 500 || body != "detailed error" {
		t.Errorf("status %d body %q", resp.StatusCode, body)
	}
}

func TestUpstreamDownIs502(t *testing.T) {
	dead := gt.NewUpstream(t, nil)
	deadURL := dead.URL
	dead.Close()
	g := gt.Start(t, gt.Config(deadURL, "", basicRoutes), nil)
	resp, body := g.Get(t, "/api/items")
	gt.CheckProblem(t, resp, body, 502, "upstream-unavailable")
	if strings.Contains(body, "127.0.0.1") || strings.Contains(body, "refused") {
		t.Errorf("internals leaked: %s", body)
	}
}

func TestSlowUpstreamIs504(t *testing.T) {
	release := make(chan struct{})
	t.Cleanup(func() { close(release) })
	up := gt.NewUpstream(t, func(w http.ResponseWriter, r *http.Request) {
		select {
		case <-release:
		case <-r.Context().Done():
		}
	})
	cfg := "version: 1\nadmin:\n  token: ${ADMIN_TOKEN}\nupstreams:\n  app:\n    targets: [\"" + up.URL + "\"]\n    timeout: 300ms\nroutes:\n" + basicRoutes
	g := gt.Start(t, cfg, nil)
	resp, body := g.Get(t, "/api/items")
	gt.CheckProblem(t, resp, body, 504, "upstream-timeout")
}

func TestRoundRobinSkipsDeadTarget(t *testing.T) {
	a := gt.NewUpstream(t, nil)
	b := gt.NewUpstream(t, nil)
	dead := gt.NewUpstream(t, nil)
	deadURL := dead.URL
	dead.Close()
	cfg := fmt.Sprintf("version: 1\nadmin:\n  token: ${ADMIN_TOKEN}\nupstreams:\n  app:\n    targets: [%q, %q, %q]\nroutes:\n%s", a.URL, deadURL, b.URL, basicRoutes)
	g := gt.Start(t, cfg, nil)
	for i := 0; i < 12; i++ {
		resp, body := g.Get(t, "/api/items")
		if resp.StatusCode != 200 {
			t.Fatalf("request %d: status %d %s", i, resp.StatusCode, body)
		}
	}
	if a.Count() == 0 || b.Count() == 0 || a.Count()+b.Count() != 12 {
		t.Errorf("distribution a=%d b=%d, want both used, 12 in all", a.Count(), b.Count())
	}
}

func TestAdmin(t *testing.T) {
	g, _ := start(t, nil, "")
	get := func(path, token string) *http.Response {
		req, _ := http.NewRequest("GET", g.AdminURL+path, nil)
		if token != "" {
			req.Header.Set("Authorization", "Bearer "+token)
		}
		resp, _ := g.Do(t, req)
		return resp
	}
	if s := get("/healthz", "").StatusCode; s != 200 {
		t.Errorf("/healthz = %d", s)
	}
	if s := get("/readyz", "").StatusCode; s != 200 {
		t.Errorf("/readyz = %d", s)
	}
	if s := get("/config", "").StatusCode; s != 401 {
		t.Errorf("no token = %d, want 401", s)
	}
	if s := get("/config", "wrong-token-wrong-token-wrong-token").StatusCode; s != 401 {
		t.Errorf("wrong token = %d, want 401", s)
	}
	if s := get("/nothing-here", gt.AdminToken).StatusCode; s != 404 {
		t.Errorf("valid token, unknown endpoint = %d, want 404", s)
	}
}

func TestGracefulShutdownDrains(t *testing.T) {
	entered := make(chan struct{})
	release := make(chan struct{})
	g, _ := start(t, func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/api/items/slow" {
			close(entered)
			<-release
		}
		io.WriteString(w, "finished")
	}, "")
	type result struct {
		status int
		body   string
		err    error
	}
	done := make(chan result, 1)
	go func() {
		resp, err := gt.Client().Get(g.URL + "/api/items/slow")
		if err != nil {
			done <- result{err: err}
			return
		}
		b, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		done <- result{status: resp.StatusCode, body: string(b)}
	}()
	<-entered
	stopped := make(chan struct{})
	go func() { g.Stop(t); close(stopped) }()
	// The drain must wait for the in-flight request: release it only once the
	// gateway has stopped accepting new connections.
	deadline := time.Now().Add(10 * time.Second)
	for {
		_, err := gt.Client().Get(g.URL + "/api/items")
		if err != nil || time.Now().After(deadline) {
			break
		}
	}
	select {
	case <-stopped:
		t.Fatal("gateway stopped before the in-flight request finished")
	default:
	}
	close(release)
	r := <-done
	if r.err != nil || r.status != 200 || r.body != "finished" {
		t.Fatalf("in-flight request: %+v", r)
	}
	<-stopped
}

func TestReload(t *testing.T) {
	up := gt.NewUpstream(t, nil)
	g := gt.Start(t, gt.Config(up.URL, "", basicRoutes), nil)
	if resp, _ := g.Get(t, "/api/new"); resp.StatusCode != 404 {
		t.Fatalf("before reload: %d", resp.StatusCode)
	}
	next := gt.Config(up.URL, "", basicRoutes+"  - { name: new, path: /api/new, methods: [GET], upstream: app, auth: none }\n")
	if err := g.ReloadYAML(t, next); err != nil {
		t.Fatalf("reload: %v", err)
	}
	if resp, _ := g.Get(t, "/api/new"); resp.StatusCode != 200 {
		t.Fatalf("after reload: %d", resp.StatusCode)
	}
	// An invalid config is refused and the running one stays.
	bad := gt.Config(up.URL, "", basicRoutes+"  - { name: broken, path: /api/broken, methods: [GET], upstream: nowhere, auth: none }\n")
	if err := g.ReloadYAML(t, bad); err == nil {
		t.Fatal("unservable config accepted")
	}
	if resp, _ := g.Get(t, "/api/new"); resp.StatusCode != 200 {
		t.Fatalf("running config lost after refused reload: %d", resp.StatusCode)
	}
}

func TestHostRouting(t *testing.T) {
	up := gt.NewUpstream(t, nil)
	routes := `  - { name: api, host: api.example.test, path: /v1/items, methods: [GET], upstream: app, auth: none }
`
	g := gt.Start(t, gt.Config(up.URL, "", routes), nil)
	tests := []struct {
		name, raw string
		status    int
	}{
		{"configured host → routed", "GET /v1/items HTTP/1.1\r\nHost: api.example.test\r\nConnection: close\r\n\r\n", 200},
		{"host compared case-insensitively, port ignored", "GET /v1/items HTTP/1.1\r\nHost: API.Example.Test:8080\r\nConnection: close\r\n\r\n", 200},
		{"unknown host → 421", "GET /v1/items HTTP/1.1\r\nHost: evil.example\r\nConnection: close\r\n\r\n", 421},
		{"absolute-form naming the configured host → routed", "GET http://api.example.test/v1/items HTTP/1.1\r\nHost: api.example.test\r\nConnection: close\r\n\r\n", 200},
		{"absolute-form naming another host → refused", "GET http://evil.example/v1/items HTTP/1.1\r\nHost: api.example.test\r\nConnection: close\r\n\r\n", 421},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			before := up.Count()
			res := g.Raw(t, tt.raw)
			if res.Resp.StatusCode != tt.status {
				t.Fatalf("status %d, want %d: %s", res.Resp.StatusCode, tt.status, res.Body)
			}
			if reached := up.Count() > before; reached != (tt.status == 200) {
				t.Fatalf("upstream reached = %v", reached)
			}
		})
	}
}

// Server-sent events stream through the gateway: the first event reaches the
// client while the upstream is still holding the response open.
func TestServerSentEventsStream(t *testing.T) {
	release := make(chan struct{})
	g, _ := start(t, func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/event-stream")
		io.WriteString(w, "data: first\n\n")
		http.NewResponseController(w).Flush()
		<-release
		io.WriteString(w, "data: last\n\n")
	}, "")
	defer close(release)
	resp, err := gt.Client().Get(g.URL + "/api/items")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	buf := make([]byte, len("data: first\n\n"))
	if _, err := io.ReadFull(resp.Body, buf); err != nil || string(buf) != "data: first\n\n" {
		t.Fatalf("first event %q, %v", buf, err)
	}
}

// A client that leaves while the upstream is still thinking: the gateway
// notices (its HTTP/1 server has no background read, so it checks the
// client's socket between slices of the upstream wait) and abandons the
// upstream request, as nginx does, instead of holding it to the timeout.
func TestClientLeavingAbandonsTheUpstreamRequest(t *testing.T) {
	arrived, abandoned := make(chan struct{}), make(chan struct{})
	up := gt.NewUpstream(t, func(w http.ResponseWriter, r *http.Request) {
		close(arrived)
		<-r.Context().Done() // the gateway closed the upstream connection
		close(abandoned)
	})
	// The upstream timeout is far beyond the test's guard: only noticing
	// the client can end the upstream request in time.
	yaml := strings.Replace(gt.Config(up.URL, "", basicRoutes), "timeout: 2s", "timeout: 5m", 1)
	g := gt.Start(t, yaml, nil)
	c, err := net.Dial("tcp", g.Addr)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := io.WriteString(c, "GET /api/items/1 HTTP/1.1\r\nHost: x\r\n\r\n"); err != nil {
		t.Fatal(err)
	}
	<-arrived
	c.Close()
	select {
	case <-abandoned:
	case <-time.After(20 * time.Second): // a hang guard, not a timing assertion
		t.Fatal("the upstream request was not abandoned after the client left")
	}
	g.Stop(t) // waits for the request to finish: its access line is written
	access := linesOf(t, g, "access")
	if len(access) != 1 || access[0]["status"] != float64(499) {
		t.Errorf("access lines %v, want one with status 499", access)
	}
}
