package gateway

import (
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/rampart-gw/rampart/internal/config"
)

// BenchmarkCorePipeline is one request through the whole core pipeline —
// request id, hygiene, path normalization, route match, body handling and the
// proxy to a real local upstream — without the listener.
func BenchmarkCorePipeline(b *testing.B) {
	up := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
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
  - { name: item, path: "/api/items/{id}", methods: [GET], upstream: app, auth: none }
`
	cfg, err := config.Parse("bench.yaml", []byte(yaml), func(string) (string, bool) { return "", false })
	if err != nil {
		b.Fatal(err)
	}
	gw, err := New(cfg, Deps{Logger: slog.New(slog.NewTextHandler(io.Discard, nil))})
	if err != nil {
		b.Fatal(err)
	}
	defer gw.Close()
	req := httptest.NewRequest("GET", "http://example.test/api/items/42", nil)
	req.RemoteAddr = "192.0.2.1:1234"
	req.RequestURI = "/api/items/42"
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		rec := httptest.NewRecorder()
		r := req.Clone(req.Context())
		gw.ServeHTTP(rec, r)
		if rec.Code != 200 {
			b.Fatalf("status %d", rec.Code)
		}
	}
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
	cfg, err := config.Parse("bench.yaml", []byte(yaml), func(string) (string, bool) { return "", false })
	if err != nil {
		b.Fatal(err)
	}
	gw, err := New(cfg, Deps{Logger: slog.New(slog.NewTextHandler(io.Discard, nil))})
	if err != nil {
		b.Fatal(err)
	}
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
