package websocket

import (
	"net/http"
	"testing"
)

func TestHandshakeOverHTTP2Refused(t *testing.T) {
	r, _ := http.NewRequest(http.MethodGet, "https://gw.example/ws", nil)
	r.ProtoMajor, r.ProtoMinor = 2, 0
	r.Header.Set("Upgrade", "websocket")
	if rej := checkHandshake(r); rej == nil || rej.Status != http.StatusBadRequest || rej.Type != TypeHTTP2 {
		t.Errorf("HTTP/2 handshake: %+v, want 400 %s", rej, TypeHTTP2)
	}
}

func TestSameOriginByDefault(t *testing.T) {
	h, err := New(Config{MaxMessageBytes: 1 << 20, MaxMessagesPerSecond: 10, IdleTimeout: 1}, nil, Deps{})
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		host, origin string
		ok           bool
	}{
		{"gw.example", "https://gw.example", true},
		{"gw.example:443", "https://gw.example", true},
		{"GW.example:8443", "https://gw.example:8443", true},
		{"gw.example", "https://gw.example.evil", false},
		{"gw.example", "https://evil.gw.example", false},
		{"gw.example:8443", "https://gw.example:9443", false},
		{"gw.example", "null", false},
		{"gw.example", "http://gw.example:8080", false},
		{"gw.example", "", false},
	} {
		r, _ := http.NewRequest(http.MethodGet, "http://x/ws", nil)
		r.Host = tc.host
		if tc.origin != "" {
			r.Header.Set("Origin", tc.origin)
		}
		if rej := h.checkOrigin(r); (rej == nil) != tc.ok {
			t.Errorf("Host %s, Origin %q: refused = %v, want %v", tc.host, tc.origin, rej != nil, !tc.ok)
		}
	}
}
