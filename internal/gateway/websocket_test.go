package gateway_test

import (
	"bufio"
	"context"
	"crypto/sha1"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/coder/websocket"

	"github.com/rampart-gw/rampart/internal/auth/authtest"
	gt "github.com/rampart-gw/rampart/internal/gatewaytest"
)

const appOrigin = "https://app.example.com"

// wsGateway runs one WebSocket route, /ws/echo, behind the HS256
// authenticator, with the given websocket: value.
func wsGateway(t *testing.T, target, websocketValue string) *gt.Gateway {
	t.Helper()
	return gt.Start(t, gt.Config(target, wsAuth(), wsRoutes(websocketValue)), nil)
}

func wsAuth() string {
	return fmt.Sprintf("server: { shutdown_timeout: 10s }\nauthenticators:\n  shared: { type: jwt, issuer: %q, audiences: [inventory-api], algorithms: [HS256], secret: %q }\n",
		testIssuer, testSecret)
}

func wsRoutes(websocketValue string) string {
	return "  - { name: live, path: /ws/echo, methods: [GET], upstream: app, auth: [shared], websocket: " + websocketValue + " }\n"
}

func wsToken(t *testing.T) string {
	return authtest.Mint(t, &authtest.Key{Alg: "HS256", Signer: []byte(testSecret)}, claims(testIssuer, "alice", nil), nil)
}

// dialWS opens /ws/echo through the gateway with coder/websocket; origin
// and token are sent when not empty.
func dialWS(t *testing.T, g *gt.Gateway, origin, token string) (*websocket.Conn, *http.Response, error) {
	t.Helper()
	h := http.Header{}
	if origin != "" {
		h.Set("Origin", origin)
	}
	if token != "" {
		h.Set("Authorization", "Bearer "+token)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	c, resp, err := websocket.Dial(ctx, "ws://"+g.Addr+"/ws/echo", &websocket.DialOptions{HTTPHeader: h})
	if c != nil {
		t.Cleanup(func() { _ = c.CloseNow() })
	}
	return c, resp, err
}

// refusedDial asserts a handshake was answered with a problem, not a 101.
func refusedDial(t *testing.T, resp *http.Response, err error, status int, typ string) {
	t.Helper()
	if err == nil || resp == nil {
		t.Fatalf("dial: err = %v, resp = %v; want a %d refusal", err, resp, status)
	}
	body, _ := io.ReadAll(resp.Body)
	gt.CheckProblem(t, resp, string(body), status, typ)
}

// readClose reads until the connection ends and returns its close code
// (-1 when it ended without a close frame).
func readClose(t *testing.T, c *websocket.Conn) websocket.StatusCode {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	for {
		if _, _, err := c.Read(ctx); err != nil {
			if ctx.Err() != nil {
				t.Fatal("the connection was not closed within 20s")
			}
			return websocket.CloseStatus(err)
		}
	}
}

func echo(t *testing.T, c *websocket.Conn, typ websocket.MessageType, msg string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := c.Write(ctx, typ, []byte(msg)); err != nil {
		t.Fatalf("write: %v", err)
	}
	gotTyp, got, err := c.Read(ctx)
	if err != nil || gotTyp != typ || string(got) != msg {
		t.Fatalf("echo = %v %q, %v; want %v %q", gotTyp, got, err, typ, msg)
	}
}

// fastAPIUpstream runs testdata/ws_app.py with a python3 that has FastAPI,
// uvicorn and websockets, and returns its base URL and a function saying
// how many handshakes reached it.
func fastAPIUpstream(t *testing.T) (string, func() int) {
	t.Helper()
	py := ""
	for _, c := range []string{"/usr/bin/python3", "python3"} {
		if exec.Command(c, "-c", "import fastapi, uvicorn, websockets").Run() == nil {
			py = c
			break
		}
	}
	if py == "" {
		msg := "no python3 imports fastapi, uvicorn and websockets (Debian: apt-get install python3-fastapi python3-uvicorn python3-websockets)"
		if os.Getenv("RAMPART_REQUIRE_SERVICES") == "1" {
			t.Fatal(msg + " (RAMPART_REQUIRE_SERVICES=1: absence is a failure)")
		}
		t.Skip("SKIPPED, the FastAPI WebSocket upstream did NOT run: " + msg)
	}
	addr := gt.FreeAddr(t)
	_, port, _ := net.SplitHostPort(addr)
	cmd := exec.Command(py, filepath.Join("testdata", "ws_app.py"), port)
	out := &strings.Builder{}
	cmd.Stdout, cmd.Stderr = out, out
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = cmd.Process.Kill(); _ = cmd.Wait() })
	base := "http://" + addr
	seen := func() int {
		resp, err := http.Get(base + "/seen")
		if err != nil {
			return -1
		}
		defer resp.Body.Close()
		var s struct{ Handshakes int }
		if json.NewDecoder(resp.Body).Decode(&s) != nil {
			return -1
		}
		return s.Handshakes
	}
	for deadline := time.Now().Add(30 * time.Second); seen() < 0; time.Sleep(50 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatalf("the FastAPI upstream did not come up in 30s:\n%s", out.String())
		}
	}
	return base, seen
}

func TestWebSocketFastAPI(t *testing.T) {
	base, seen := fastAPIUpstream(t)
	g := wsGateway(t, base, `{ origins: ["`+appOrigin+`"], max_message_bytes: 1KiB, max_messages_per_second: 5 }`)
	token := wsToken(t)

	t.Run("echo text and binary, then an access line", func(t *testing.T) {
		before := seen()
		c, _, err := dialWS(t, g, appOrigin, token)
		if err != nil {
			t.Fatal(err)
		}
		if after := seen(); after != before+1 {
			t.Errorf("upstream handshakes %d → %d, want one more", before, after)
		}
		echo(t, c, websocket.MessageText, "hello")
		echo(t, c, websocket.MessageBinary, "\x00\x01\xff")
		echo(t, c, websocket.MessageText, strings.Repeat("x", 1024)) // exactly the limit
		if m := metricsText(t, g); !strings.Contains(m, "\nrampart_websockets_open 1\n") {
			t.Errorf("metrics lack rampart_websockets_open 1 while one WebSocket is open")
		}
		if err := c.Close(websocket.StatusNormalClosure, "bye"); err != nil {
			t.Fatalf("close: %v", err)
		}
		line := waitLog(t, g, `"ws_close_code":1000`)
		for _, want := range []string{`"status":101`, `"route":"live"`, `"ws_closed_by":"client"`, `"principal":"shared:alice"`} {
			if !strings.Contains(line, want) {
				t.Errorf("access line %s lacks %s", line, want)
			}
		}
	})
	t.Run("no token → 401, upstream saw nothing", func(t *testing.T) {
		before := seen()
		_, resp, err := dialWS(t, g, appOrigin, "")
		refusedDial(t, resp, err, http.StatusUnauthorized, "credentials-missing")
		if after := seen(); after != before {
			t.Errorf("upstream handshakes %d → %d: a refused handshake reached it", before, after)
		}
	})
	t.Run("cross-site Origin → 403, upstream saw nothing", func(t *testing.T) {
		before := seen()
		_, resp, err := dialWS(t, g, "https://evil.example", token)
		refusedDial(t, resp, err, http.StatusForbidden, "websocket-origin")
		_, resp, err = dialWS(t, g, "", token) // allow_no_origin is off
		refusedDial(t, resp, err, http.StatusForbidden, "websocket-origin")
		if after := seen(); after != before {
			t.Errorf("upstream handshakes %d → %d: a refused handshake reached it", before, after)
		}
	})
	t.Run("message over max_message_bytes → close 1009", func(t *testing.T) {
		c, _, err := dialWS(t, g, appOrigin, token)
		if err != nil {
			t.Fatal(err)
		}
		_ = c.Write(context.Background(), websocket.MessageBinary, make([]byte, 1025))
		if got := readClose(t, c); got != websocket.StatusMessageTooBig {
			t.Errorf("close code = %d, want 1009 (and no echo before it)", got)
		}
	})
	t.Run("messages over the rate → close 1008", func(t *testing.T) {
		c, _, err := dialWS(t, g, appOrigin, token)
		if err != nil {
			t.Fatal(err)
		}
		for range 50 { // 5 per second allowed, in bursts of 5
			if c.Write(context.Background(), websocket.MessageText, []byte("m")) != nil {
				break
			}
		}
		if got := readClose(t, c); got != websocket.StatusPolicyViolation {
			t.Errorf("close code = %d, want 1008", got)
		}
	})
}

func metricsText(t *testing.T, g *gt.Gateway) string {
	t.Helper()
	req, _ := http.NewRequest(http.MethodGet, g.AdminURL+"/metrics", nil)
	req.Header.Set("Authorization", "Bearer "+gt.AdminToken)
	_, body := g.Do(t, req)
	return body
}

// waitLog waits (up to 10s) for a log line containing s and returns it.
func waitLog(t *testing.T, g *gt.Gateway, s string) string {
	t.Helper()
	for deadline := time.Now().Add(10 * time.Second); time.Now().Before(deadline); time.Sleep(10 * time.Millisecond) {
		for _, l := range strings.Split(g.Logs.String(), "\n") {
			if strings.Contains(l, s) {
				return l
			}
		}
	}
	t.Fatalf("no log line with %s:\n%s", s, g.Logs.String())
	return ""
}

// goEcho is a coder/websocket echo upstream; closes receives the close
// code each of its connections ended with.
func goEcho(t *testing.T) (*gt.Upstream, chan websocket.StatusCode) {
	closes := make(chan websocket.StatusCode, 8)
	up := gt.NewUpstream(t, func(w http.ResponseWriter, r *http.Request) {
		// The gateway checked the Origin; the Host it sends is the target's.
		c, err := websocket.Accept(w, r, &websocket.AcceptOptions{InsecureSkipVerify: true})
		if err != nil {
			return
		}
		defer c.CloseNow()
		for {
			typ, b, err := c.Read(context.Background())
			if err == nil {
				err = c.Write(context.Background(), typ, b)
			}
			if err != nil {
				closes <- websocket.CloseStatus(err)
				return
			}
		}
	})
	return up, closes
}

func TestWebSocketIdleTimeout(t *testing.T) {
	up, closes := goEcho(t)
	g := wsGateway(t, up.URL, `{ allow_no_origin: true, idle_timeout: 300ms }`)
	c, _, err := dialWS(t, g, "", wsToken(t))
	if err != nil {
		t.Fatal(err)
	}
	echo(t, c, websocket.MessageText, "still here")
	if got := readClose(t, c); got != websocket.StatusGoingAway {
		t.Errorf("client: close code = %d, want 1001 after idle_timeout", got)
	}
	if got := <-closes; got != websocket.StatusGoingAway {
		t.Errorf("upstream: close code = %d, want 1001", got)
	}
	waitLog(t, g, `"ws_closed_by":"gateway"`)
}

func TestWebSocketShutdownSendsGoingAway(t *testing.T) {
	up, closes := goEcho(t)
	g := wsGateway(t, up.URL, "true")
	c, _, err := dialWS(t, g, "http://"+g.Addr, wsToken(t)) // same origin: allowed by default
	if err != nil {
		t.Fatal(err)
	}
	echo(t, c, websocket.MessageText, "up")
	stopped := make(chan struct{})
	go func() { g.Stop(t); close(stopped) }()
	if got := readClose(t, c); got != websocket.StatusGoingAway {
		t.Errorf("client: close code = %d, want 1001", got)
	}
	if got := <-closes; got != websocket.StatusGoingAway {
		t.Errorf("upstream: close code = %d, want 1001", got)
	}
	<-stopped // Stop fails the test if the gateway did not drain within 30s
}

func TestWebSocketReloadSendsGoingAway(t *testing.T) {
	up, closes := goEcho(t)
	cfg := gt.Config(up.URL, wsAuth(), wsRoutes("{ allow_no_origin: true }"))
	g := gt.Start(t, cfg, nil)
	c, _, err := dialWS(t, g, "", wsToken(t))
	if err != nil {
		t.Fatal(err)
	}
	echo(t, c, websocket.MessageText, "before")
	if err := g.ReloadYAML(t, cfg); err != nil {
		t.Fatal(err)
	}
	if got := readClose(t, c); got != websocket.StatusGoingAway {
		t.Errorf("client: close code = %d, want 1001 (reconnect under the new config)", got)
	}
	if got := <-closes; got != websocket.StatusGoingAway {
		t.Errorf("upstream: close code = %d, want 1001", got)
	}
	c2, _, err := dialWS(t, g, "", wsToken(t))
	if err != nil {
		t.Fatalf("reconnect after reload: %v", err)
	}
	echo(t, c2, websocket.MessageText, "after")
}

func TestWebSocketHandshakeRefused(t *testing.T) {
	up, _ := goEcho(t)
	g := gt.Start(t, gt.Config(up.URL, "", "  - { name: live, path: /ws/echo, methods: [GET], upstream: app, auth: none, websocket: { allow_no_origin: true } }\n"), nil)
	valid := map[string]string{"Upgrade": "websocket", "Connection": "Upgrade", "Sec-WebSocket-Version": "13", "Sec-WebSocket-Key": "dGhlIHNhbXBsZSBub25jZQ=="}
	for _, tc := range []struct {
		name   string
		change map[string]string // "" deletes
		status int
		typ    string
	}{
		{"plain GET → 426", map[string]string{"Upgrade": "", "Connection": ""}, http.StatusUpgradeRequired, "websocket-required"},
		{"Upgrade: h2c → 426", map[string]string{"Upgrade": "h2c"}, http.StatusUpgradeRequired, "websocket-required"},
		{"no Connection: upgrade → 400", map[string]string{"Connection": "keep-alive"}, http.StatusBadRequest, "websocket-bad-handshake"},
		{"version 8 → 426", map[string]string{"Sec-WebSocket-Version": "8"}, http.StatusUpgradeRequired, "websocket-version"},
		{"short key → 400", map[string]string{"Sec-WebSocket-Key": "c2hvcnQ="}, http.StatusBadRequest, "websocket-bad-handshake"},
		{"key not base64 → 400", map[string]string{"Sec-WebSocket-Key": "!!!!!!!!!!!!!!!!!!!!!!=="}, http.StatusBadRequest, "websocket-bad-handshake"},
		{"no key → 400", map[string]string{"Sec-WebSocket-Key": ""}, http.StatusBadRequest, "websocket-bad-handshake"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			req, _ := http.NewRequest(http.MethodGet, g.URL+"/ws/echo", nil)
			for k, v := range valid {
				req.Header.Set(k, v)
			}
			for k, v := range tc.change {
				if v == "" {
					req.Header.Del(k)
				} else {
					req.Header.Set(k, v)
				}
			}
			resp, body := g.Do(t, req)
			gt.CheckProblem(t, resp, body, tc.status, tc.typ)
		})
	}
	t.Run("a body → 400", func(t *testing.T) {
		res := g.Raw(t, "GET /ws/echo HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\nConnection: Upgrade, close\r\nSec-WebSocket-Version: 13\r\n"+
			"Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nContent-Length: 2\r\n\r\n\x81\x00")
		if res.Resp.StatusCode != http.StatusBadRequest || !strings.Contains(res.Body, "websocket-bad-handshake") {
			t.Errorf("got %d %s, want 400 websocket-bad-handshake", res.Resp.StatusCode, res.Body)
		}
	})
	if n := up.Count(); n != 0 {
		t.Errorf("the upstream saw %d refused handshakes", n)
	}
}

func TestWebSocketUpstreamRefusesUpgrade(t *testing.T) {
	for _, tc := range []struct {
		name    string
		handler http.HandlerFunc
	}{
		{"403 instead of 101", func(w http.ResponseWriter, r *http.Request) { w.WriteHeader(http.StatusForbidden) }},
		{"101 with a wrong Sec-WebSocket-Accept", func(w http.ResponseWriter, r *http.Request) {
			conn, brw, _ := http.NewResponseController(w).Hijack()
			defer conn.Close()
			_, _ = brw.WriteString("HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Accept: s3pPLMBiTxaQ9kYGzzhZRbK+xOo=\r\n\r\n")
			_ = brw.Flush()
			_, _ = brw.ReadByte() // until the gateway closes
		}},
		{"101 with an extension that was not offered", func(w http.ResponseWriter, r *http.Request) {
			conn, brw, _ := http.NewResponseController(w).Hijack()
			defer conn.Close()
			accept := websocketAccept(r.Header.Get("Sec-WebSocket-Key"))
			_, _ = brw.WriteString("HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Accept: " + accept +
				"\r\nSec-WebSocket-Extensions: permessage-deflate\r\n\r\n")
			_ = brw.Flush()
			_, _ = brw.ReadByte()
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			up := gt.NewUpstream(t, tc.handler)
			g := wsGateway(t, up.URL, "{ allow_no_origin: true }")
			_, resp, err := dialWS(t, g, "", wsToken(t))
			refusedDial(t, resp, err, http.StatusBadGateway, "upstream-websocket-refused")
			if up.Count() != 1 {
				t.Errorf("upstream saw %d handshakes, want 1", up.Count())
			}
		})
	}
	t.Run("upstream down → 502", func(t *testing.T) {
		g := wsGateway(t, "http://"+gt.FreeAddr(t), "{ allow_no_origin: true }")
		_, resp, err := dialWS(t, g, "", wsToken(t))
		refusedDial(t, resp, err, http.StatusBadGateway, "upstream-unavailable")
	})
}

// websocketAccept is RFC 6455's accept value for key (§4.2.2).
func websocketAccept(key string) string {
	sum := sha1.Sum([]byte(key + "258EAFA5-E914-47DA-95CA-C5AB0DC85B11"))
	return base64.StdEncoding.EncodeToString(sum[:])
}

// rawWS opens /ws/echo with a hand-written handshake, so that tests can
// send frames no WebSocket library would.
func rawWS(t *testing.T, g *gt.Gateway, token string) (net.Conn, *bufio.Reader) {
	t.Helper()
	c, err := net.Dial("tcp", g.Addr)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	_ = c.SetDeadline(time.Now().Add(20 * time.Second))
	key := "dGhlIHNhbXBsZSBub25jZQ=="
	fmt.Fprintf(c, "GET /ws/echo HTTP/1.1\r\nHost: %s\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Version: 13\r\n"+
		"Sec-WebSocket-Key: %s\r\nAuthorization: Bearer %s\r\n\r\n", g.Addr, key, token)
	br := bufio.NewReader(c)
	resp, err := http.ReadResponse(br, nil)
	if err != nil || resp.StatusCode != http.StatusSwitchingProtocols || resp.Header.Get("Sec-WebSocket-Accept") != websocketAccept(key) {
		t.Fatalf("handshake: %v %v", resp, err)
	}
	return c, br
}

// readCloseFrame reads frames until a close frame and returns its code;
// -1 if the connection ended first.
func readCloseFrame(br *bufio.Reader) int {
	for {
		var h [2]byte
		if _, err := io.ReadFull(br, h[:]); err != nil {
			return -1
		}
		n := int(h[1] & 0x7f)
		if h[1]&0x80 != 0 || n > 125 { // the gateway's frames to a client are unmasked; these tests get small ones
			return -2
		}
		p := make([]byte, n)
		if _, err := io.ReadFull(br, p); err != nil {
			return -1
		}
		if h[0]&0x0f == 0x8 && n >= 2 {
			return int(p[0])<<8 | int(p[1])
		}
	}
}

func TestWebSocketProtocolViolations(t *testing.T) {
	mask := []byte{1, 2, 3, 4}
	masked := func(first byte, payload string) []byte {
		f := append([]byte{first, 0x80 | byte(len(payload))}, mask...)
		for i := range len(payload) {
			f = append(f, payload[i]^mask[i%4])
		}
		return f
	}
	for _, tc := range []struct {
		name   string
		frames [][]byte
		want   int
	}{
		{"unmasked client frame → 1002", [][]byte{{0x81, 0x02, 'h', 'i'}}, 1002},
		{"RSV1 without a negotiated extension → 1002", [][]byte{masked(0xC1, "hi")}, 1002},
		{"reserved opcode → 1002", [][]byte{masked(0x83, "hi")}, 1002},
		{"continuation without a message → 1002", [][]byte{masked(0x80, "hi")}, 1002},
		{"new message inside a fragmented one → 1002", [][]byte{masked(0x01, "a"), masked(0x81, "b")}, 1002},
		{"fragments summing over max_message_bytes → 1009", [][]byte{masked(0x02, strings.Repeat("a", 100)), masked(0x00, strings.Repeat("b", 100)), masked(0x80, strings.Repeat("c", 100))}, 1009},
		{"close frame with one byte → 1002", [][]byte{masked(0x88, "x")}, 1002},
	} {
		t.Run(tc.name, func(t *testing.T) {
			up, closes := goEcho(t)
			g := wsGateway(t, up.URL, "{ allow_no_origin: true, max_message_bytes: 250 }")
			c, br := rawWS(t, g, wsToken(t))
			for _, f := range tc.frames {
				if _, err := c.Write(f); err != nil {
					t.Fatal(err)
				}
			}
			if got := readCloseFrame(br); got != tc.want {
				t.Errorf("close code = %d, want %d", got, tc.want)
			}
			if got := <-closes; got != websocket.StatusGoingAway {
				t.Errorf("upstream: close code = %d, want 1001", got)
			}
		})
	}
}

func TestWebSocketMaskedUpstreamFrame(t *testing.T) {
	up := gt.NewUpstream(t, func(w http.ResponseWriter, r *http.Request) {
		conn, brw, _ := http.NewResponseController(w).Hijack()
		defer conn.Close()
		_, _ = brw.WriteString("HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Accept: " +
			websocketAccept(r.Header.Get("Sec-WebSocket-Key")) + "\r\n\r\n\x81\x81\x00\x00\x00\x00x") // a masked server frame
		_ = brw.Flush()
		_, _ = io.Copy(io.Discard, brw) // until the gateway closes
	})
	g := wsGateway(t, up.URL, "{ allow_no_origin: true }")
	_, br := rawWS(t, g, wsToken(t))
	if got := readCloseFrame(br); got != 1011 {
		t.Errorf("client: close code = %d, want 1011 (the upstream broke the protocol)", got)
	}
}

func TestWebSocketHandshakeRateLimited(t *testing.T) {
	up, _ := goEcho(t)
	extra := wsAuth() + "rate_limits:\n  one: { key: principal, limits: [\"1/hour\"] }\n"
	routes := "  - { name: live, path: /ws/echo, methods: [GET], upstream: app, auth: [shared], rate_limit: [one], websocket: { allow_no_origin: true } }\n"
	g := gt.Start(t, gt.Config(up.URL, extra, routes), nil)
	token := wsToken(t)
	c, _, err := dialWS(t, g, "", token)
	if err != nil {
		t.Fatal(err)
	}
	echo(t, c, websocket.MessageText, "first")
	_, resp, err := dialWS(t, g, "", token)
	refusedDial(t, resp, err, http.StatusTooManyRequests, "rate-limited")
	if up.Count() != 1 {
		t.Errorf("upstream saw %d handshakes, want 1", up.Count())
	}
}

// A relay ends when either side goes without a close frame: the other side
// is told 1001, and the access line says who left.
func TestWebSocketSideVanishes(t *testing.T) {
	t.Run("client drops its connection → upstream gets 1001", func(t *testing.T) {
		up, closes := goEcho(t)
		g := wsGateway(t, up.URL, "{ allow_no_origin: true }")
		c, _, err := dialWS(t, g, "", wsToken(t))
		if err != nil {
			t.Fatal(err)
		}
		echo(t, c, websocket.MessageText, "bye")
		_ = c.CloseNow() // TCP close, no close frame
		if got := <-closes; got != websocket.StatusGoingAway {
			t.Errorf("upstream: close code = %d, want 1001", got)
		}
		waitLog(t, g, `"ws_close_code":1006,"ws_closed_by":"client"`)
		// The gauge goes down before the access line is written.
		if m := metricsText(t, g); !strings.Contains(m, "\nrampart_websockets_open 0\n") {
			t.Errorf("metrics lack rampart_websockets_open 0 once the relay ended")
		}
	})
	t.Run("upstream drops its connection → client gets 1001", func(t *testing.T) {
		up := gt.NewUpstream(t, func(w http.ResponseWriter, r *http.Request) {
			c, err := websocket.Accept(w, r, &websocket.AcceptOptions{InsecureSkipVerify: true})
			if err != nil {
				return
			}
			_, _, _ = c.Read(context.Background())
			_ = c.CloseNow() // after the first message, no close frame
		})
		g := wsGateway(t, up.URL, "{ allow_no_origin: true }")
		c, _, err := dialWS(t, g, "", wsToken(t))
		if err != nil {
			t.Fatal(err)
		}
		_ = c.Write(context.Background(), websocket.MessageText, []byte("hi"))
		if got := readClose(t, c); got != websocket.StatusGoingAway {
			t.Errorf("client: close code = %d, want 1001", got)
		}
		waitLog(t, g, `"ws_close_code":1006,"ws_closed_by":"upstream"`)
	})
}
