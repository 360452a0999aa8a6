package h2

import (
	"net"
	"net/http"
	"testing"
)

// BenchmarkEncodeResponseHeaders encodes the head of a full-policy
// gateway response (security headers, a request id, rate-limit fields),
// as finish does for every response.
func BenchmarkEncodeResponseHeaders(b *testing.B) {
	nc, peer := net.Pipe()
	defer nc.Close()
	defer peer.Close()
	c := newConn(&Server{}, b.Context(), nc)
	h := http.Header{
		"Content-Type":                 {"application/json"},
		"Content-Security-Policy":      {"default-src 'none'; frame-ancestors 'none'"},
		"Strict-Transport-Security":    {"max-age=63072000; includeSubDomains"},
		"X-Content-Type-Options":       {"nosniff"},
		"X-Frame-Options":              {"DENY"},
		"Referrer-Policy":              {"no-referrer"},
		"Cross-Origin-Resource-Policy": {"same-origin"},
		"Cache-Control":                {"no-store"},
		"X-Request-Id":                 {"6f1c0d9e8a7b4c3d2e1f0a9b8c7d6e5f"},
		"Ratelimit":                    {`"per_client";r=99999;t=1`},
		"Ratelimit-Policy":             {`"per_client";q=100000;w=1`},
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	b.ReportAllocs()
	for b.Loop() {
		c.hbuf.Reset()
		c.encodeHeaders(200, h, "194", true)
	}
}
