package server_test

import (
	"bytes"
	"crypto/sha256"
	"crypto/tls"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"golang.org/x/net/http2"
	"golang.org/x/net/http2/hpack"

	gt "github.com/rampart-gw/rampart/internal/gatewaytest"
)

// The whole gateway over HTTP/2 (Rampart's own server, internal/h2):
// bodies both ways, refusals that never reach the upstream, a large
// streamed answer, many streams on one connection, and a malformed request.
func TestHTTP2ThroughGateway(t *testing.T) {
	big := bytes.Repeat([]byte("0123456789abcdef"), 3<<20/16) // 3 MiB
	up := gt.NewUpstream(t, func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/api/big" {
			w.Header().Set("Content-Type", "application/octet-stream")
			_, _ = w.Write(big)
			return
		}
		w.Header().Set("Content-Type", "text/plain")
		_, _ = io.WriteString(w, "ok")
	})
	g := startTLSServer(t, up, "", "  max_body_bytes: 64KiB\n", "",
		"  - { name: items, path: /api/items, methods: [GET, POST], upstream: app, auth: none }\n"+
			"  - { name: big, path: /api/big, methods: [GET], upstream: app, auth: none }\n")
	c := g.client(&tls.Config{}, true)
	url := "https://" + g.addr

	do := func(t *testing.T, req *http.Request) (*http.Response, string) {
		t.Helper()
		resp, err := c.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, err := io.ReadAll(resp.Body)
		if err != nil {
			t.Fatal(err)
		}
		if resp.ProtoMajor != 2 {
			t.Fatalf("answered over %s, want HTTP/2", resp.Proto)
		}
		return resp, string(b)
	}
	last := func() gt.Seen { s := up.Seen(); return s[len(s)-1] }

	t.Run("POST with content-length", func(t *testing.T) {
		body := strings.Repeat("x", 40<<10)
		req, _ := http.NewRequest("POST", url+"/api/items", strings.NewReader(body))
		resp, _ := do(t, req)
		if resp.StatusCode != 200 {
			t.Fatalf("status %d", resp.StatusCode)
		}
		s := last()
		if s.Body != body || s.Header.Get("Content-Length") != strconv.Itoa(len(body)) || s.Proto != "HTTP/1.1" {
			t.Errorf("upstream saw %d bytes, Content-Length %q, %s", len(s.Body), s.Header.Get("Content-Length"), s.Proto)
		}
		if got := s.Header.Get("X-Forwarded-Proto"); got != "https" {
			t.Errorf("X-Forwarded-Proto = %q", got)
		}
	})
	t.Run("POST streamed without a length", func(t *testing.T) {
		body := strings.Repeat("y", 10<<10)
		pr, pw := io.Pipe()
		go func() {
			for i := 0; i < len(body); i += 1000 {
				_, _ = pw.Write([]byte(body[i:min(i+1000, len(body))]))
			}
			_ = pw.Close()
		}()
		req, _ := http.NewRequest("POST", url+"/api/items", pr)
		resp, _ := do(t, req)
		if resp.StatusCode != 200 || last().Body != body {
			t.Fatalf("status %d, upstream saw %d bytes, want %d", resp.StatusCode, len(last().Body), len(body))
		}
	})
	t.Run("refusals never reach the upstream", func(t *testing.T) {
		before := up.Count()
		over := strings.Repeat("z", 100<<10)
		req, _ := http.NewRequest("POST", url+"/api/items", strings.NewReader(over))
		resp, body := do(t, req)
		gt.CheckProblem(t, resp, body, 413, "body-too-large")
		pr, pw := io.Pipe()
		go func() { _, _ = io.Copy(pw, strings.NewReader(over)); _ = pw.Close() }()
		req, _ = http.NewRequest("POST", url+"/api/items", pr)
		resp, body = do(t, req)
		gt.CheckProblem(t, resp, body, 413, "body-too-large")
		req, _ = http.NewRequest("DELETE", url+"/api/items", nil)
		resp, body = do(t, req)
		gt.CheckProblem(t, resp, body, 405, "method-not-allowed")
		if n := up.Count() - before; n != 0 {
			t.Errorf("upstream saw %d refused requests", n)
		}
	})
	t.Run("a 3 MiB answer streams through", func(t *testing.T) {
		req, _ := http.NewRequest("GET", url+"/api/big", nil)
		resp, body := do(t, req)
		if resp.StatusCode != 200 || sha256.Sum256([]byte(body)) != sha256.Sum256(big) {
			t.Fatalf("status %d, %d bytes (want %d, same content)", resp.StatusCode, len(body), len(big))
		}
	})
	t.Run("100 concurrent streams", func(t *testing.T) {
		before := up.Count()
		var wg sync.WaitGroup
		errs := make(chan error, 100)
		for i := 0; i < 100; i++ {
			wg.Add(1)
			go func() {
				defer wg.Done()
				resp, err := c.Get(url + "/api/items?i=" + strconv.Itoa(i))
				if err != nil {
					errs <- err
					return
				}
				b, _ := io.ReadAll(resp.Body)
				resp.Body.Close()
				if resp.StatusCode != 200 || string(b) != "ok" {
					errs <- fmt.Errorf("stream %d: %d %q", i, resp.StatusCode, b)
				}
			}()
		}
		wg.Wait()
		close(errs)
		for err := range errs {
			t.Error(err)
		}
		if n := up.Count() - before; n != 100 {
			t.Errorf("upstream saw %d requests, want 100", n)
		}
	})
	t.Run("a host field that differs from :authority is reset", func(t *testing.T) {
		before := up.Count()
		code := rawH2Request(t, g, [][2]string{
			{":method", "GET"}, {":scheme", "https"}, {":authority", "localhost"}, {":path", "/api/items"},
			{"host", "evil.example"},
		})
		if code != http2.ErrCodeProtocol {
			t.Errorf("stream ended with %v, want RST_STREAM PROTOCOL_ERROR", code)
		}
		if up.Count() != before {
			t.Error("the malformed request reached the upstream")
		}
	})
}

// rawH2Request sends one request with exactly these fields over a fresh
// HTTP/2 connection and returns the RST_STREAM code the stream ended with
// (NO_ERROR when it was answered instead).
func rawH2Request(t *testing.T, g *tlsGateway, fields [][2]string) http2.ErrCode {
	t.Helper()
	conn, err := tls.Dial("tcp", g.addr, &tls.Config{RootCAs: g.pool, NextProtos: []string{"h2"}})
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	_ = conn.SetDeadline(time.Now().Add(10 * time.Second))
	if _, err := io.WriteString(conn, http2.ClientPreface); err != nil {
		t.Fatal(err)
	}
	fr := http2.NewFramer(conn, conn)
	if err := fr.WriteSettings(); err != nil {
		t.Fatal(err)
	}
	var block bytes.Buffer
	enc := hpack.NewEncoder(&block)
	for _, f := range fields {
		_ = enc.WriteField(hpack.HeaderField{Name: f[0], Value: f[1]})
	}
	if err := fr.WriteHeaders(http2.HeadersFrameParam{StreamID: 1, BlockFragment: block.Bytes(), EndStream: true, EndHeaders: true}); err != nil {
		t.Fatal(err)
	}
	for {
		f, err := fr.ReadFrame()
		if err != nil {
			t.Fatalf("no answer on stream 1: %v", err)
		}
		switch f := f.(type) {
		case *http2.SettingsFrame:
			if !f.IsAck() {
				_ = fr.WriteSettingsAck()
			}
		case *http2.RSTStreamFrame:
			if f.StreamID == 1 {
				return f.ErrCode
			}
		case *http2.HeadersFrame:
			if f.StreamID == 1 {
				return http2.ErrCodeNo
			}
		case *http2.GoAwayFrame:
			t.Fatalf("GOAWAY %v before stream 1 ended", f.ErrCode)
		}
	}
}
