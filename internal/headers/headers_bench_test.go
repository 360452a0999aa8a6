package headers

import (
	"crypto/tls"
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/rampart-gw/rampart/internal/pipeline"
)

// discard is a ResponseWriter that reuses its header map, so the benchmark
// counts the middleware's allocations and not the recorder's.
type discard struct{ h http.Header }

func (d *discard) Header() http.Header         { return d.h }
func (d *discard) Write(b []byte) (int, error) { return len(b), nil }
func (d *discard) WriteHeader(int)             {}

func benchHeaders(b *testing.B, cfg Config, route string, authed, overTLS bool) {
	secure, err := New(cfg)
	if err != nil {
		b.Fatal(err)
	}
	body := []byte(`{"ok":true}`)
	ct := []string{"application/json"}
	h := secure(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header()["Content-Type"] = ct
		_, _ = w.Write(body)
	}))
	info := &pipeline.Info{ID: "req-1", Route: route}
	if authed {
		info.Principal = &pipeline.Principal{Subject: "alice"}
	}
	r := pipeline.WithInfo(httptest.NewRequest("GET", "/api/items/42", nil), info)
	if overTLS {
		r.TLS = &tls.ConnectionState{}
	}
	w := &discard{h: make(http.Header, 16)}
	b.ReportAllocs()
	for b.Loop() {
		clear(w.h)
		h.ServeHTTP(w, r)
	}
	if w.h.Get("Content-Security-Policy") == "" {
		b.Fatal("profile not applied")
	}
}

func BenchmarkHeaders(b *testing.B) {
	overrides := Config{Routes: map[string]Overrides{"docs": {
		Set:    map[string]string{"Content-Security-Policy": "default-src 'self'"},
		Remove: []string{"X-Frame-Options"},
	}}}
	b.Run("anonymous plain HTTP", func(b *testing.B) { benchHeaders(b, Config{}, "items", false, false) })
	b.Run("authenticated TLS", func(b *testing.B) { benchHeaders(b, Config{}, "items", true, true) })
	b.Run("route overrides", func(b *testing.B) { benchHeaders(b, overrides, "docs", true, true) })
}

// BenchmarkApply is the header setting and stripping itself, without the
// per-request writer: it must not allocate.
func BenchmarkApply(b *testing.B) {
	p, err := Compile(Config{Routes: map[string]Overrides{"docs": {
		Set: map[string]string{"Content-Security-Policy": "default-src 'self'"}, Remove: []string{"X-Frame-Options"},
	}}})
	if err != nil {
		b.Fatal(err)
	}
	info := &pipeline.Info{Route: "docs", Principal: &pipeline.Principal{Subject: "alice"}}
	h := make(http.Header, 16)
	upstreamHSTS := []string{"max-age=1"}
	b.ReportAllocs()
	for b.Loop() {
		h["Strict-Transport-Security"] = upstreamHSTS // an upstream's, replaced
		p.Apply(h, info, true)
	}
	if h.Get("Content-Security-Policy") != "default-src 'self'" || h.Get("X-Frame-Options") != "" {
		b.Fatal("overrides not applied")
	}
}
