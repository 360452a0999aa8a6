package gateway

import (
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"strings"
	"testing"
	"time"

	jwtlib "github.com/golang-jwt/jwt/v5"

	"github.com/rampart-gw/rampart/internal/auth/authtest"
	"github.com/rampart-gw/rampart/internal/config"
)

// BenchmarkCorePipeline is one request through the whole core pipeline —
// request id, hygiene, path normalization, route match, body handling and the
// proxy to a real local upstream — without the listener.
func BenchmarkCorePipeline(b *testing.B) { benchPipeline(b, "GET", "") }

// BenchmarkSmallPOST is the core pipeline with a small body: read into the
// body budget, then forwarded with the head.
func BenchmarkSmallPOST(b *testing.B) {
	benchPipeline(b, "POST", `{"name":"Hex bolt M8x40, zinc plated DIN","qty":120,"price_cents":35,"tags":["fastener","steel"]}`)
}

func benchPipeline(b *testing.B, method, body string) { benchDeps(b, method, body, Deps{}) }

// benchDeps is benchPipeline with the given collaborators (tracer, the
// dashboard's aggregates).
func benchDeps(b *testing.B, method, body string, deps Deps) {
	up := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_, _ = io.Copy(io.Discard, r.Body)
		w.Header().Set("Content-Type", "application/json")
		_, _ = io.WriteString(w, `{"id":42,"name":"bolt","qty":120}`)
	}))
	defer up.Close()
	yaml := `version: 1
admin: { listen: "off" }
upstreams:
  app: { targets: ["` + up.URL + `"] }
routes:
  - { name: items, path: /api/items, methods: [GET], upstream: app, auth: none }
  - { name: item, path: "/api/items/{id}", methods: [GET, POST], upstream: app, auth: none }
`
	gw := compile(b, yaml, deps)
	req := httptest.NewRequest(method, "http://example.test/api/items/42", nil)
	req.RemoteAddr = "192.0.2.1:1234"
	req.RequestURI = "/api/items/42"
	serveLoop(b, gw, req, body)
}

// serveLoop serves req (with body, when not empty) b.N times, each must
// answer 200. It reports allocations, and the process's CPU time per
// request beside ns/op, which on a shared machine includes the wait for a
// core (the CPU time counts the in-process upstream too).
func serveLoop(b *testing.B, gw *Gateway, req *http.Request, body string) {
	b.ReportAllocs()
	b.ResetTimer()
	cpu := cpuTime()
	for i := 0; i < b.N; i++ {
		rec := httptest.NewRecorder()
		r := req.Clone(req.Context())
		if body != "" {
			r.Body, r.ContentLength = io.NopCloser(strings.NewReader(body)), int64(len(body))
		}
		gw.ServeHTTP(rec, r)
		if rec.Code != 200 {
			b.Fatalf("status %d: %s", rec.Code, rec.Body)
		}
	}
	b.ReportMetric(float64(cpuTime()-cpu)/float64(b.N), "cpu-ns/op")
}

// compile builds a gateway from yaml (no environment) with deps, logging
// nowhere unless deps say otherwise; it is closed when tb ends.
func compile(tb testing.TB, yaml string, deps Deps) *Gateway {
	tb.Helper()
	cfg, err := config.Parse("test.yaml", []byte(yaml), func(string) (string, bool) { return "", false })
	if err != nil {
		tb.Fatal(err)
	}
	if deps.Logger == nil {
		deps.Logger = slog.New(slog.NewTextHandler(io.Discard, nil))
	}
	gw, err := New(cfg, deps)
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(gw.Close)
	return gw
}

// BenchmarkRejectNotFound is the cost of refusing an unknown path.
func BenchmarkRejectNotFound(b *testing.B) {
	yaml := `version: 1
admin: { listen: "off" }
upstreams:
  app: { targets: ["http://127.0.0.1:9"] }
routes:
  - { name: items, path: /api/items, methods: [GET], upstream: app, auth: none }
`
	gw := compile(b, yaml, Deps{})
	req := httptest.NewRequest("GET", "http://example.test/admin", nil)
	req.RequestURI = "/admin"
	b.ReportAllocs()
	for i := 0; i < b.N; i++ {
		rec := httptest.NewRecorder()
		gw.ServeHTTP(rec, req.Clone(req.Context()))
		if rec.Code != 404 {
			b.Fatalf("status %d", rec.Code)
		}
	}
}

// BenchmarkFullPolicy is bench/run's "full policy" in process: an ES256 JWT
// checked against a JWKS (served from the verified-token cache after the
// first request), a scope requirement, a client-IP rate limit that decides
// every request, OpenAPI request validation and response stripping, and the
// security headers, in front of an upstream answering the harness's 194-byte
// JSON body.
func BenchmarkFullPolicy(b *testing.B) {
	const item = `{"id":42,"sku":"HB-M8-40","name":"Hex bolt M8x40, zinc plated DIN","qty":120,"price_cents":35,"warehouse":"north-2","tags":["fastener","steel"],"active":true,"updated_at":"2026-01-15T09:30:00Z"}`
	up := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header()["Content-Type"] = []string{"application/json"}
		_, _ = io.WriteString(w, item)
	}))
	defer up.Close()
	key := authtest.NewKey("ES256", "bench-1")
	jwks := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		_ = json.NewEncoder(w).Encode(map[string]any{"keys": []any{key.JWK()}})
	}))
	defer jwks.Close()
	spec, err := filepath.Abs("../../bench/openapi.json")
	if err != nil {
		b.Fatal(err)
	}
	yaml := `version: 1
admin: { listen: "off" }
upstreams:
  app: { targets: ["` + up.URL + `"] }
authenticators:
  bench_jwt: { type: jwt, issuer: "https://bench.rampart.invalid/", jwks_url: "` + jwks.URL + `/jwks", audiences: [bench-api], algorithms: [ES256] }
rate_limits:
  per_client: { key: client_ip, limits: ["1000000/s burst 1000000"] }
openapi:
  items: { spec: "` + spec + `", validate_requests: true, filter_responses: strip, reject_undocumented: true }
routes:
  - { name: item, path: "/api/items/{id}", methods: [GET], upstream: app, auth: [bench_jwt], require: { scopes: ["items:read"] }, rate_limit: [per_client], openapi: items }
`
	gw := compile(b, yaml, Deps{})
	tok := authtest.Mint(b, key, jwtlib.MapClaims{"iss": "https://bench.rampart.invalid/", "aud": "bench-api",
		"sub": "bench", "scope": "items:read", "exp": time.Now().Add(time.Hour).Unix()}, nil)
	req := httptest.NewRequest("GET", "http://example.test/api/items/42", nil)
	req.RemoteAddr = "192.0.2.1:1234"
	req.RequestURI = "/api/items/42"
	req.Header.Set("Authorization", "Bearer "+tok)
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		rec := httptest.NewRecorder()
		gw.ServeHTTP(rec, req.Clone(req.Context()))
		if rec.Code != 200 {
			b.Fatalf("status %d: %s", rec.Code, rec.Body)
		}
	}
}
