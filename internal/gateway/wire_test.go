package gateway_test

import (
	"bufio"
	"io"
	"net"
	"net/http"
	"strings"
	"testing"
	"time"

	gt "github.com/rampart-gw/rampart/internal/gatewaytest"
)

// These tests go through the production HTTP/1 server (internal/h1, through
// gatewaytest's server.Run) and read the access and audit lines the gateway
// wrote. Stopping the gateway first waits for every request to finish, so
// the lines are complete without polling.

// linesOf returns the log lines whose msg is msg.
func linesOf(t *testing.T, g *gt.Gateway, msg string) []map[string]any {
	t.Helper()
	var out []map[string]any
	for _, l := range logLines(t, g) {
		if l["msg"] == msg {
			out = append(out, l)
		}
	}
	return out
}

// rawExchange sends raw and reads until the gateway closes the connection.
func rawExchange(t *testing.T, g *gt.Gateway, raw string) string {
	t.Helper()
	c, err := net.Dial("tcp", g.Addr)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	_ = c.SetDeadline(time.Now().Add(10 * time.Second))
	if _, err := io.WriteString(c, raw); err != nil {
		t.Fatal(err)
	}
	b, err := io.ReadAll(c)
	if err != nil {
		t.Fatalf("read %q: %v (want the gateway to close the connection)", b, err)
	}
	return string(b)
}

// A head the HTTP/1 server refuses is answered by the gateway like any
// refusal, and its audit event and access line carry the request's real
// method (issue 13: they used to say RAMPART-REJECT).
func TestRefusedHeadAuditedWithItsMethod(t *testing.T) {
	g, up := start(t, nil, "")
	out := rawExchange(t, g, "POST /api/items HTTP/1.1\r\nHost: x\r\nContent-Length: 4\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n")
	resp, err := http.ReadResponse(bufio.NewReader(strings.NewReader(out)), nil)
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	gt.CheckProblem(t, resp, string(body), 400, "bad-framing")
	if resp.Header.Get("X-Content-Type-Options") != "nosniff" {
		t.Errorf("refusal without the security headers: %v", resp.Header)
	}
	g.Stop(t)
	if up.Count() != 0 {
		t.Fatal("upstream reached")
	}
	audit, access := linesOf(t, g, "audit"), linesOf(t, g, "access")
	if len(audit) != 1 || audit[0]["method"] != "POST" || audit[0]["reason"] != "bad-framing" || audit[0]["raw_path"] != "/api/items" {
		t.Errorf("audit events %v", audit)
	}
	if len(access) != 1 || access[0]["method"] != "POST" || access[0]["status"] != float64(400) {
		t.Errorf("access lines %v", access)
	}
}

// An upstream whose body breaks after the head was forwarded: the client
// sees a broken response (no last chunk; fewer bytes than Content-Length)
// and a closed connection, as with nginx, and the access line says
// upstream_aborted.
func TestBrokenUpstreamBodyAbortsTheClient(t *testing.T) {
	for _, tc := range []struct{ name, answer, wantHead string }{
		{"chunked, closed before the last chunk", "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n", "Transfer-Encoding: chunked"},
		{"chunked, malformed chunk", "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\nzz\r\nmore\r\n0\r\n\r\n", "Transfer-Encoding: chunked"},
		{"Content-Length, closed early", "HTTP/1.1 200 OK\r\nContent-Length: 100\r\n\r\nhello", "Content-Length: 100"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			g, _ := start(t, func(w http.ResponseWriter, r *http.Request) {
				c, brw, err := http.NewResponseController(w).Hijack()
				if err != nil {
					panic(err)
				}
				brw.WriteString(tc.answer)
				brw.Flush()
				c.Close()
			}, "")
			out := rawExchange(t, g, "GET /api/items/1 HTTP/1.1\r\nHost: x\r\n\r\n")
			if !strings.Contains(out, tc.wantHead) || !strings.Contains(out, "hello") {
				t.Fatalf("response %q", out)
			}
			if strings.HasSuffix(out, "0\r\n\r\n") || strings.Contains(out, "more") {
				t.Fatalf("response looks complete or carries bytes after the fault: %q", out)
			}
			resp, err := http.ReadResponse(bufio.NewReader(strings.NewReader(out)), nil)
			if err != nil {
				t.Fatal(err)
			}
			if b, err := io.ReadAll(resp.Body); err == nil {
				t.Fatalf("client read a complete body %q", b)
			}
			g.Stop(t)
			access := linesOf(t, g, "access")
			if len(access) != 1 || access[0]["status"] != float64(200) || access[0]["upstream_aborted"] != true {
				t.Errorf("access lines %v", access)
			}
		})
	}
}
