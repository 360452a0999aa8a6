package h2

import (
	"net/http"
	"strings"
	"sync/atomic"
	"testing"

	"golang.org/x/net/http2"
)

// countingServer answers 200 and counts the requests its handler saw.
func countingServer(t *testing.T, s *Server) (*testServer, *atomic.Int32) {
	var n atomic.Int32
	s.Handler = http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		n.Add(1)
		w.WriteHeader(200)
	})
	return startTCP(t, s), &n
}

// TestMalformed: each malformed request is reset with PROTOCOL_ERROR,
// never reaches the handler, and the connection goes on.
func TestMalformed(t *testing.T) {
	base := []string{":method", "GET", ":scheme", "https", ":authority", "example.com", ":path", "/"}
	without := func(name string) []string {
		var f []string
		for i := 0; i < len(base); i += 2 {
			if base[i] != name {
				f = append(f, base[i], base[i+1])
			}
		}
		return f
	}
	with := func(extra ...string) []string { return append(append([]string{}, base...), extra...) }
	cases := map[string][]string{
		"connection":                with("connection", "close"),
		"keep-alive":                with("keep-alive", "5"),
		"proxy-connection":          with("proxy-connection", "keep-alive"),
		"transfer-encoding":         with("transfer-encoding", "chunked"),
		"content-length twice":      with("content-length", "0", "content-length", "0"),
		"upgrade":                   with("upgrade", "websocket"),
		"te gzip":                   with("te", "gzip"),
		"te trailers, gzip":         with("te", "trailers, gzip"),
		"no method":                 without(":method"),
		"no scheme":                 without(":scheme"),
		"no path":                   without(":path"),
		"empty path":                append(without(":path"), ":path", ""),
		"relative path":             append(without(":path"), ":path", "a/b"),
		"absolute-form path":        append(without(":path"), ":path", "http://evil/"),
		"asterisk GET":              append(without(":path"), ":path", "*"),
		"duplicate method":          append([]string{":method", "GET"}, base...),
		"duplicate path":            with(":path", "/x"),
		"unknown pseudo":            append([]string{":foo", "bar"}, base...),
		"status in request":         append([]string{":status", "200"}, base...),
		"protocol (ext CONNECT)":    append([]string{":protocol", "websocket"}, base...),
		"pseudo after regular":      append([]string{":method", "GET", "x-a", "b"}, base[2:]...),
		"uppercase name":            with("X-Upper", "v"),
		"content-length sign":       with("content-length", "+1"),
		"content-length list":       with("content-length", "1, 1"),
		"content-length two":        with("content-length", "1", "content-length", "2"),
		"content-length empty":      with("content-length", ""),
		"content-length GET end":    with("content-length", "5"),
		"host differs":              with("host", "other.example"),
		"two hosts":                 append(without(":authority"), "host", "a.example", "host", "a.example"),
		"bad authority":             append(without(":authority"), ":authority", "a b"),
		"no authority nor host":     without(":authority"),
		"empty authority":           append(without(":authority"), ":authority", ""),
		"value leading space":       with("x-a", " v"),
		"value trailing tab":        with("x-a", "v\t"),
		"value newline":             with("x-a", "a\nb"),
		"CONNECT with path":         append([]string{":method", "CONNECT", ":authority", "a.example:443"}, ":path", "/"),
		"CONNECT without authority": {":method", "CONNECT"},
		"space in name":             with("x a", "v"),
	}
	ts, calls := countingServer(t, &Server{})
	for name, fields := range cases {
		t.Run(name, func(t *testing.T) {
			rc := dialRaw(t, ts)
			before := calls.Load()
			rc.headers(1, true, fields...)
			rc.expectRST(1, http2.ErrCodeProtocol)
			rc.headers(3, true, base...)
			if s := rc.expectResponse(3); s != "200" {
				t.Fatalf("status %s", s)
			}
			if got := calls.Load() - before; got != 1 {
				t.Fatalf("handler called %d times, want 1 (the valid request only)", got)
			}
		})
	}
}

// TestWellFormedEdges: what must pass.
func TestWellFormedEdges(t *testing.T) {
	var got atomic.Pointer[http.Request]
	ts := startTCP(t, &Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		got.Store(r)
	})})
	cases := []struct {
		name   string
		fields []string
		check  func(r *http.Request) bool
	}{
		{"cookies joined", []string{":method", "GET", ":scheme", "https", ":authority", "a.example", ":path", "/", "cookie", "a=1", "cookie", "b=2"},
			func(r *http.Request) bool { return r.Header.Get("Cookie") == "a=1; b=2" && len(r.Cookies()) == 2 }},
		{"host only", []string{":method", "GET", ":scheme", "https", ":path", "/p", "host", "h.example"},
			func(r *http.Request) bool { return r.Host == "h.example" && r.Header.Get("Host") == "" }},
		{"host equals authority", []string{":method", "GET", ":scheme", "https", ":authority", "a.example", ":path", "/", "host", "a.example"},
			func(r *http.Request) bool { return r.Host == "a.example" }},
		{"options asterisk", []string{":method", "OPTIONS", ":scheme", "https", ":authority", "a.example", ":path", "*"},
			func(r *http.Request) bool { return r.URL.Path == "*" && r.RequestURI == "*" }},
		{"CONNECT", []string{":method", "CONNECT", ":authority", "a.example:443"},
			func(r *http.Request) bool {
				return r.Method == "CONNECT" && r.URL.Host == "a.example:443" && r.Host == "a.example:443"
			}},
		{"query and escapes", []string{":method", "GET", ":scheme", "https", ":authority", "a", ":path", "/a%20b?q=1"},
			func(r *http.Request) bool {
				return r.URL.Path == "/a b" && r.URL.RawQuery == "q=1" && r.RequestURI == "/a%20b?q=1"
			}},
		{"te trailers", []string{":method", "GET", ":scheme", "https", ":authority", "a", ":path", "/", "te", "trailers"},
			func(r *http.Request) bool { return r.Header.Get("Te") == "trailers" }},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			rc := dialRaw(t, ts)
			got.Store(nil)
			rc.headers(1, true, tc.fields...)
			if s := rc.expectResponse(1); s != "200" {
				t.Fatalf("status %s", s)
			}
			r := got.Load()
			if r == nil || !tc.check(r) {
				t.Fatalf("request %+v", r)
			}
		})
	}
}

var _ = strings.Repeat
