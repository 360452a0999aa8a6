package gateway_test

import (
	"net/http"
	"strings"
	"testing"

	gt "github.com/rampart-gw/rampart/internal/gatewaytest"
	"github.com/rampart-gw/rampart/internal/headers"
)

func TestSecurityHeadersOnEveryResponse(t *testing.T) {
	g, _ := start(t, func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("X-Frame-Options", "ALLOWALL") // the profile wins over the upstream
		w.WriteHeader(200)
	}, "")
	want := map[string]string{
		"X-Content-Type-Options":       headers.ContentTypeOptions,
		"X-Frame-Options":              headers.FrameOptions,
		"Content-Security-Policy":      headers.ContentSecurityPolicy,
		"Referrer-Policy":              headers.ReferrerPolicy,
		"Cross-Origin-Resource-Policy": headers.CrossOriginResourcePolicy,
	}
	cases := map[string]struct {
		raw    string
		status int
	}{
		"proxied success":         {"GET /api/items HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n", 200},
		"404 from the router":     {"GET /nope HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n", 404},
		"405 from the router":     {"DELETE /api/items HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n", 405},
		"400 from normalization":  {"GET /a%2fb HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n", 400},
		"400 from framing":        {"GET /api/items HTTP/1.1\r\nHost: x\r\nX: a\r\n b\r\n\r\n", 400},
		"413 from the body limit": {"POST /api/items HTTP/1.1\r\nHost: x\r\nContent-Length: 99999999\r\n\r\n", 413},
	}
	for name, c := range cases {
		t.Run(name, func(t *testing.T) {
			res := g.Raw(t, c.raw)
			if res.Resp.StatusCode != c.status {
				t.Fatalf("status %d, want %d", res.Resp.StatusCode, c.status)
			}
			for k, v := range want {
				if got := res.Resp.Header.Values(k); len(got) != 1 || got[0] != v {
					t.Errorf("%s = %q, want %q", k, got, v)
				}
			}
			if res.Resp.Header.Get("Strict-Transport-Security") != "" {
				t.Error("HSTS sent over plain HTTP")
			}
		})
	}
}

func TestRouteHeaderOverrides(t *testing.T) {
	up := gt.NewUpstream(t, nil)
	routes := `  - name: docs
    path: /docs
    methods: [GET]
    upstream: app
    auth: none
    headers:
      set: { Content-Security-Policy: "default-src 'self'" }
      remove: [X-Frame-Options]
`
	g := gt.Start(t, gt.Config(up.URL, "", routes), nil)
	resp, _ := g.Get(t, "/docs")
	if got := resp.Header.Get("Content-Security-Policy"); got != "default-src 'self'" {
		t.Errorf("CSP = %q", got)
	}
	if _, ok := resp.Header["X-Frame-Options"]; ok {
		t.Error("X-Frame-Options not removed")
	}
	if resp.Header.Get("X-Content-Type-Options") != "nosniff" {
		t.Error("rest of the profile lost")
	}
}

const corsRoutes = `  - { name: items, path: /api/items, methods: [GET, POST], upstream: app, auth: none, cors: web }
  - { name: plain, path: /api/plain, methods: [GET], upstream: app, auth: none }
`
const corsPolicy = `cors:
  web:
    allow_origins: ["https://app.example.com", "https://*.tenants.example.com"]
    allow_methods: [GET, POST]
    allow_headers: [Authorization, Content-Type]
    allow_credentials: true
    max_age: 10m
`

func TestCORS(t *testing.T) {
	up := gt.NewUpstream(t, nil)
	g := gt.Start(t, gt.Config(up.URL, corsPolicy, corsRoutes), nil)
	send := func(method, path, origin string, extra map[string]string) *http.Response {
		req, _ := http.NewRequest(method, g.URL+path, nil)
		if origin != "" {
			req.Header.Set("Origin", origin)
		}
		for k, v := range extra {
			req.Header.Set(k, v)
		}
		resp, _ := g.Do(t, req)
		return resp
	}
	t.Run("allowed origin gets its own origin back, with credentials and Vary", func(t *testing.T) {
		resp := send("GET", "/api/items", "https://app.example.com", nil)
		if resp.Header.Get("Access-Control-Allow-Origin") != "https://app.example.com" ||
			resp.Header.Get("Access-Control-Allow-Credentials") != "true" || !varyHas(resp, "Origin") {
			t.Fatalf("headers %v", resp.Header)
		}
	})
	t.Run("one-label wildcard", func(t *testing.T) {
		if got := send("GET", "/api/items", "https://acme.tenants.example.com", nil).Header.Get("Access-Control-Allow-Origin"); got != "https://acme.tenants.example.com" {
			t.Fatalf("ACAO = %q", got)
		}
	})
	for name, origin := range map[string]string{
		"unlisted origin":         "https://evil.example",
		"null":                    "null",
		"suffix look-alike":       "https://app.example.com.evil.example",
		"prefix look-alike":       "https://evilapp.example.com",
		"scheme mismatch":         "http://app.example.com",
		"port mismatch":           "https://app.example.com:8443",
		"two labels for wildcard": "https://a.b.tenants.example.com",
		"wildcard parent itself":  "https://tenants.example.com",
	} {
		t.Run(name+" → no Access-Control-Allow-Origin", func(t *testing.T) {
			resp := send("GET", "/api/items", origin, nil)
			if v, ok := resp.Header["Access-Control-Allow-Origin"]; ok {
				t.Fatalf("ACAO %q for %q", v, origin)
			}
			if resp.Header.Get("Access-Control-Allow-Credentials") != "" {
				t.Fatal("credentials allowed for an unlisted origin")
			}
		})
	}
	t.Run("preflight answered by the gateway", func(t *testing.T) {
		before := up.Count()
		resp := send("OPTIONS", "/api/items", "https://app.example.com", map[string]string{
			"Access-Control-Request-Method": "POST", "Access-Control-Request-Headers": "content-type, authorization"})
		if resp.StatusCode != 204 || resp.Header.Get("Access-Control-Allow-Origin") != "https://app.example.com" ||
			resp.Header.Get("Access-Control-Max-Age") != "600" {
			t.Fatalf("status %d headers %v", resp.StatusCode, resp.Header)
		}
		if up.Count() != before {
			t.Fatal("preflight reached the upstream")
		}
	})
	t.Run("disallowed preflight gets no CORS headers and is not forwarded", func(t *testing.T) {
		before := up.Count()
		for _, c := range []struct{ origin, method, hdrs string }{
			{"https://evil.example", "POST", ""},
			{"https://app.example.com", "DELETE", ""},
			{"https://app.example.com", "POST", "X-Admin"},
		} {
			extra := map[string]string{"Access-Control-Request-Method": c.method}
			if c.hdrs != "" {
				extra["Access-Control-Request-Headers"] = c.hdrs
			}
			resp := send("OPTIONS", "/api/items", c.origin, extra)
			for k := range resp.Header {
				if len(k) > 15 && k[:15] == "Access-Control-" {
					t.Errorf("%+v: %s present", c, k)
				}
			}
		}
		if up.Count() != before {
			t.Fatal("refused preflight reached the upstream")
		}
	})
	t.Run("preflight to a route without CORS is refused, not forwarded", func(t *testing.T) {
		before := up.Count()
		resp := send("OPTIONS", "/api/plain", "https://app.example.com", map[string]string{"Access-Control-Request-Method": "GET"})
		if resp.StatusCode != 403 || up.Count() != before {
			t.Fatalf("status %d, upstream reached %v", resp.StatusCode, up.Count() != before)
		}
	})
}

func varyHas(resp *http.Response, token string) bool {
	for _, v := range resp.Header.Values("Vary") {
		for _, t := range splitComma(v) {
			if http.CanonicalHeaderKey(t) == token {
				return true
			}
		}
	}
	return false
}

func splitComma(s string) []string {
	parts := strings.Split(s, ",")
	for i := range parts {
		parts[i] = strings.TrimSpace(parts[i])
	}
	return parts
}
