package hygiene

import (
	"net/http"
	"testing"
)

func TestTarget(t *testing.T) {
	ours := func(h string) bool { return h == "api.example.test" }
	tests := []struct {
		name, target, path, query, reason string
	}{
		{"origin-form split at ?", "/a/b?x=1&y", "/a/b", "x=1&y", ""},
		{"no query", "/a", "/a", "", ""},
		{"raw fragment refused", "/a#b", "", "", "fragment"},
		{"asterisk-form refused", "*", "", "", "asterisk-form"},
		{"authority-form refused", "example.com:443", "", "", "not-origin-form"},
		{"absolute-form for our host reduced to origin-form", "http://api.example.test/a?q", "/a", "q", ""},
		{"absolute-form scheme case-insensitive", "HTTPS://api.example.test", "/", "", ""},
		{"absolute-form for another host refused", "http://evil.example/a", "", "", "absolute-form"},
		{"userinfo in absolute-form refused", "http://u@api.example.test/a", "", "", "absolute-form"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p, q, reason := Target(tt.target, ours)
			if p != tt.path || q != tt.query || reason != tt.reason {
				t.Errorf("Target(%q) = %q, %q, %q; want %q, %q, %q", tt.target, p, q, reason, tt.path, tt.query, tt.reason)
			}
		})
	}
}

func TestScrub(t *testing.T) {
	h := http.Header{
		"X-Forwarded-For": {"1.2.3.4"}, "X-Rampart-Subject": {"admin"}, "X_rampart_subject": {"admin"},
		"X-Request-Id": {"abc"}, "Authorization": {"Bearer t"}, "X-Http-Method-Override": {"DELETE"}, "Accept": {"*/*"},
	}
	h["x-rampart-raw"] = []string{"non-canonical key"}
	id := Scrub(h, false)
	if id != "abc" {
		t.Errorf("request id = %q", id)
	}
	for k := range h {
		if k != "Authorization" && k != "Accept" {
			t.Errorf("%s survived", k)
		}
	}
	if len(h) != 2 {
		t.Errorf("kept %v", h)
	}
}

func TestScrubKeepsOnlyWebSocketUpgrade(t *testing.T) {
	for _, tc := range []struct {
		upgrade []string
		kept    bool
	}{
		{[]string{"websocket"}, true},
		{[]string{"WebSocket"}, true},
		{[]string{"h2c"}, false},
		{[]string{"websocket, h2c"}, false},
		{[]string{"websocket", "websocket"}, false},
	} {
		h := http.Header{"Upgrade": tc.upgrade}
		Scrub(h, false)
		if _, got := h["Upgrade"]; got != tc.kept {
			t.Errorf("Upgrade: %q kept = %v, want %v", tc.upgrade, got, tc.kept)
		}
	}
}

func TestScrubTraceContextOnlyFromTrustedPeers(t *testing.T) {
	for _, tc := range []struct {
		name    string
		trusted bool
	}{
		{"untrusted peer: removed, the request starts a new trace", false},
		{"trusted proxy: kept, to be continued", true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			h := http.Header{"Traceparent": {"00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01"},
				"Tracestate": {"vendor=x"}, "Accept": {"*/*"}}
			Scrub(h, tc.trusted)
			_, tp := h["Traceparent"]
			_, ts := h["Tracestate"]
			if tp != tc.trusted || ts != tc.trusted {
				t.Errorf("traceparent kept = %v, tracestate kept = %v; want %v", tp, ts, tc.trusted)
			}
			if h.Get("Accept") != "*/*" {
				t.Errorf("Accept removed")
			}
		})
	}
}

func TestValidRequestID(t *testing.T) {
	for id, want := range map[string]bool{"abc-123_x.y:z": true, "": false, "a b": false, "a\nb": false, string(make([]byte, 129)): false} {
		if got := ValidRequestID(id); got != want {
			t.Errorf("ValidRequestID(%q) = %v", id, got)
		}
	}
}

// BenchmarkScrub is the per-request header scrub of a typical API request
// (one spoofed header among ordinary ones).
func BenchmarkScrub(b *testing.B) {
	base := http.Header{
		"Accept": {"application/json"}, "Authorization": {"Bearer x"}, "User-Agent": {"curl/8"},
		"X-Request-Id": {"abc"}, "Content-Type": {"application/json"},
	}
	h := make(http.Header, 8)
	b.ReportAllocs()
	for b.Loop() {
		for k, v := range base {
			h[k] = v
		}
		if Scrub(h, false) != "abc" || len(h) != 4 {
			b.Fatal("scrub went wrong")
		}
	}
}
