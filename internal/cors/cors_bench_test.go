package cors

import (
	"net/http"
	"net/http/httptest"
	"testing"
)

// discard reuses its header map, so the benchmark counts the policy's
// allocations, not a recorder's.
type discard struct {
	h    http.Header
	code int
}

func (d *discard) Header() http.Header         { return d.h }
func (d *discard) Write(b []byte) (int, error) { return len(b), nil }
func (d *discard) WriteHeader(code int)        { d.code = code }

func BenchmarkCORS(b *testing.B) {
	body := []byte(`{"ok":true}`)
	ct := []string{"application/json"}
	next := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header()["Content-Type"] = ct
		_, _ = w.Write(body)
	})
	cases := []struct {
		name   string
		cfg    Config
		method string
		header http.Header
		code   int
	}{
		{"actual, exact origin", webPolicy, "GET", origin("https://app.example.com"), 200},
		{"actual, wildcard origin", wildPolicy, "GET", origin("https://team.example.com"), 200},
		{"actual, unlisted origin", webPolicy, "GET", origin("https://evil.com"), 200},
		{"actual, no origin", webPolicy, "GET", http.Header{}, 200},
		{"actual, star", starPolicy, "GET", origin("https://anyone.test"), 200},
		{"preflight, allowed", webPolicy, "OPTIONS", preflight("https://app.example.com", "PUT", "authorization,content-type"), 204},
		{"preflight, refused", webPolicy, "OPTIONS", preflight("https://evil.com", "PUT", ""), 403},
	}
	for _, c := range cases {
		b.Run(c.name, func(b *testing.B) {
			mw, err := New(c.cfg, nil)
			if err != nil {
				b.Fatal(err)
			}
			h := mw(next)
			r := httptest.NewRequest(c.method, "/api/items", nil)
			r.Header = c.header
			w := &discard{h: make(http.Header, 16)}
			b.ReportAllocs()
			for b.Loop() {
				clear(w.h)
				w.code = 200
				h.ServeHTTP(w, r)
			}
			if w.code != c.code {
				b.Fatalf("status %d, want %d", w.code, c.code)
			}
		})
	}
}

// BenchmarkMatch is the origin matcher alone.
func BenchmarkMatch(b *testing.B) {
	p, err := compile(Config{AllowOrigins: fuzzAllow}, nil)
	if err != nil {
		b.Fatal(err)
	}
	for _, o := range []string{"https://app.example.com", "https://team.example.org", "https://app.example.com.evil.com", "HTTPS://APP.EXAMPLE.COM"} {
		b.Run(o, func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				_ = p.origins.match(o)
			}
		})
	}
}
