package server_test

import (
	"context"
	"crypto/tls"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/coder/websocket"

	gt "github.com/rampart-gw/rampart/internal/gatewaytest"
)

// Over TLS, ALPN must not stand in the way of WebSockets: a client
// offering only http/1.1 (what browsers do for WebSockets, as HTTP/2 does not
// announce RFC 8441) upgrades, and a request that came over HTTP/2 is
// refused clearly instead of being forwarded.
func TestWebSocketOverTLS(t *testing.T) {
	up := gt.NewUpstream(t, func(w http.ResponseWriter, r *http.Request) {
		c, err := websocket.Accept(w, r, &websocket.AcceptOptions{InsecureSkipVerify: true})
		if err != nil {
			return
		}
		defer c.CloseNow()
		typ, b, err := c.Read(context.Background())
		if err == nil {
			_ = c.Write(context.Background(), typ, b)
		}
		_, _, _ = c.Read(context.Background()) // until the client closes
	})
	g := startTLSWith(t, up, "", "", "  - { name: live, path: /ws, methods: [GET], upstream: app, auth: none, websocket: { allow_no_origin: true } }\n")

	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	c, _, err := websocket.Dial(ctx, "wss://"+g.addr+"/ws", &websocket.DialOptions{HTTPClient: g.client(&tls.Config{}, false)})
	if err != nil {
		t.Fatalf("wss dial: %v", err)
	}
	defer c.CloseNow()
	if err := c.Write(ctx, websocket.MessageText, []byte("over tls")); err != nil {
		t.Fatal(err)
	}
	if _, b, err := c.Read(ctx); err != nil || string(b) != "over tls" {
		t.Fatalf("echo over wss: %q, %v", b, err)
	}
	_ = c.Close(websocket.StatusNormalClosure, "")

	resp, err := g.client(&tls.Config{}, true).Get("https://" + g.addr + "/ws")
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.ProtoMajor != 2 || resp.StatusCode != http.StatusBadRequest || !strings.Contains(string(body), "websocket-needs-http1") {
		t.Errorf("over HTTP/2: %s %d %s, want 400 websocket-needs-http1", resp.Proto, resp.StatusCode, body)
	}
	if up.Count() != 1 {
		t.Errorf("upstream saw %d handshakes, want 1 (the HTTP/2 request must not reach it)", up.Count())
	}
}
