package framing

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"io"
	"log"
	"net"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"
)

// These tests run a real http.Server on a NewListener-wrapped TCP listener
// and talk to it with raw bytes.

const testMaxHeaderBytes = 8192

type record struct {
	Method        string
	Path          string
	Body          string
	ContentLength int64
}

// recorder is the test server's handler: it answers a rejected request, or a
// request whose body cannot be read, with 400, Connection: close and the
// reason as body (as the gateway does), and records every other request.
type recorder struct {
	mu   sync.Mutex
	recs []record
}

func (rec *recorder) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if reason, ok := Rejected(r); ok {
		refuse(w, reason)
		return
	}
	body, err := io.ReadAll(r.Body)
	if err != nil {
		reason := "body-error"
		if errors.Is(err, ErrBadChunk) {
			reason = ReasonBadChunk
		}
		refuse(w, reason)
		return
	}
	rec.mu.Lock()
	rec.recs = append(rec.recs, record{r.Method, r.URL.Path, string(body), r.ContentLength})
	rec.mu.Unlock()
	io.WriteString(w, "ok")
}

func refuse(w http.ResponseWriter, reason string) {
	w.Header().Set("Connection", "close")
	w.Header().Set("Content-Type", "text/plain")
	w.WriteHeader(http.StatusBadRequest)
	io.WriteString(w, reason)
}

func (rec *recorder) records() []record {
	rec.mu.Lock()
	defer rec.mu.Unlock()
	return append([]record(nil), rec.recs...)
}

// startServer serves rec on a wrapped loopback listener until the test ends.
func startServer(t *testing.T, configure func(*http.Server)) (string, *recorder) {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	rec := &recorder{}
	srv := &http.Server{Handler: rec, ErrorLog: log.New(io.Discard, "", 0)}
	if configure != nil {
		configure(srv)
	}
	done := make(chan error, 1)
	go func() { done <- srv.Serve(NewListener(ln, testMaxHeaderBytes)) }()
	t.Cleanup(func() {
		srv.Close()
		if err := <-done; err != http.ErrServerClosed {
			t.Errorf("Serve: %v", err)
		}
	})
	return ln.Addr().String(), rec
}

// dial connects to addr; the whole exchange must end within 10 seconds.
func dial(t *testing.T, addr string) (net.Conn, *bufio.Reader) {
	t.Helper()
	c, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	c.SetDeadline(time.Now().Add(10 * time.Second))
	return c, bufio.NewReader(c)
}

func write(t *testing.T, c net.Conn, s string) {
	t.Helper()
	if _, err := io.WriteString(c, s); err != nil {
		t.Fatal(err)
	}
}

// readResponse reads one response and its whole body.
func readResponse(t *testing.T, br *bufio.Reader) (int, string) {
	t.Helper()
	resp, err := http.ReadResponse(br, nil)
	if err != nil {
		t.Fatalf("reading response: %v", err)
	}
	body, err := io.ReadAll(resp.Body)
	resp.Body.Close()
	if err != nil {
		t.Fatalf("reading response body: %v", err)
	}
	return resp.StatusCode, string(body)
}

// expectClosed checks that the server closed the connection: the next read
// returns io.EOF (and not a reset, nor more bytes).
func expectClosed(t *testing.T, br *bufio.Reader) {
	t.Helper()
	b, err := br.ReadByte()
	if err != io.EOF {
		t.Fatalf("after the response: got byte %q, err %v; want io.EOF", b, err)
	}
}

// chunk encodes s as one chunk.
func chunk(s string) string { return fmt.Sprintf("%x\r\n%s\r\n", len(s), s) }

const (
	smuggledGet = "GET /admin HTTP/1.1\r\nHost: x\r\n\r\n"
	postHead    = "POST /submit HTTP/1.1\r\nHost: x\r\n"
	chunkedPost = postHead + "Transfer-Encoding: chunked\r\n\r\n"
)

// attacks are request-smuggling shapes; each must get 400 with the given
// reason and a closed connection, and the handler must record nothing, in
// particular not the request hidden in the body.
var attacks = []struct {
	name    string
	payload string
	reason  string
}{
	// CL.TE: a Content-Length front end forwards "0\r\n\r\nG" as body; a
	// chunked back end ends the body after "0\r\n\r\n" and reads "GPOST".
	{"cl-then-te", postHead + "Content-Length: 6\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\nGPOST / HTTP/1.1\r\nHost: x\r\n\r\n", ReasonCLAndTE},
	// TE.CL: the chunk is the inner request for a Content-Length back end.
	{"te-then-cl", postHead + "Transfer-Encoding: chunked\r\nContent-Length: 4\r\n\r\n" + chunk("GPOST /admin HTTP/1.1\r\nHost: x\r\nContent-Length: 15\r\n\r\nx=1") + "0\r\n\r\n", ReasonCLAndTE},
	{"te-chunked-and-cl-0", postHead + "Transfer-Encoding: chunked\r\nContent-Length: 0\r\n\r\n" + chunk(smuggledGet) + "0\r\n\r\n", ReasonCLAndTE},
	{"te-chunked-identity", postHead + "Transfer-Encoding: chunked, identity\r\n\r\n0\r\n\r\n" + smuggledGet, ReasonBadTransferEncoding},
	{"te-chunked-chunked", postHead + "Transfer-Encoding: chunked, chunked\r\n\r\n0\r\n\r\n" + smuggledGet, ReasonBadTransferEncoding},
	{"te-gzip-chunked", postHead + "Transfer-Encoding: gzip, chunked\r\n\r\n0\r\n\r\n" + smuggledGet, ReasonBadTransferEncoding},
	{"te-xchunked", postHead + "Transfer-Encoding: xchunked\r\n\r\n0\r\n\r\n" + smuggledGet, ReasonBadTransferEncoding},
	{"te-identity", postHead + "Transfer-Encoding: identity\r\n\r\n" + smuggledGet, ReasonBadTransferEncoding},
	{"te-empty", postHead + "Transfer-Encoding:\r\n\r\n" + smuggledGet, ReasonBadTransferEncoding},
	{"te-two-lines", postHead + "Transfer-Encoding: chunked\r\nTransfer-Encoding: identity\r\n\r\n0\r\n\r\n" + smuggledGet, ReasonBadTransferEncoding},
	{"te-two-chunked-lines", postHead + "Transfer-Encoding: chunked\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n" + smuggledGet, ReasonBadTransferEncoding},
	// net/http would drop the misnamed field; a lenient front end would
	// frame by it.
	{"te-space-before-colon", postHead + "Content-Length: 5\r\nTransfer-Encoding : chunked\r\n\r\n0\r\n\r\n" + smuggledGet, ReasonSpaceBeforeColon},
	{"cl-space-before-colon", postHead + "Content-Length : 33\r\n\r\n" + smuggledGet, ReasonSpaceBeforeColon},
	{"bad-percent-escape-in-path", "GET /a%zz HTTP/1.1\r\nHost: x\r\n\r\n" + smuggledGet, ReasonBadTarget},
	{"truncated-percent-escape-in-path", "GET /a%4 HTTP/1.1\r\nHost: x\r\n\r\n" + smuggledGet, ReasonBadTarget},
	{"tab-in-target", "GET /a\tb HTTP/1.1\r\nHost: x\r\n\r\n" + smuggledGet, ReasonBadTarget},
	{"two-host-lines", "GET / HTTP/1.1\r\nHost: a.example\r\nHost: b.example\r\n\r\n" + smuggledGet, ReasonBadHost},
	{"control-byte-in-value", "GET / HTTP/1.1\r\nHost: x\r\nX-A: a\x01b\r\n\r\n" + smuggledGet, ReasonBadHeaderValue},
	{"bare-cr-in-value", "GET / HTTP/1.1\r\nHost: x\r\nX-A: a\rX-B: b\r\n\r\n" + smuggledGet, ReasonBadHeaderValue},
	{"invalid-byte-in-name", "GET / HTTP/1.1\r\nHost: x\r\nX\"A: b\r\n\r\n" + smuggledGet, ReasonBadHeaderLine},
	// net/http ignores Transfer-Encoding on HTTP/1.0 and would serve the
	// chunk as the next request.
	{"te-on-http10", "POST /submit HTTP/1.0\r\nConnection: keep-alive\r\nTransfer-Encoding: chunked\r\n\r\n" + smuggledGet, ReasonTEOnHTTP10},
	{"te-on-http10-with-cl", "POST /submit HTTP/1.0\r\nConnection: keep-alive\r\nTransfer-Encoding: chunked\r\nContent-Length: 5\r\n\r\n0\r\n\r\n" + smuggledGet, ReasonTEOnHTTP10},
	{"obs-fold-ordinary-header", "GET / HTTP/1.1\r\nHost: x\r\nX-Note: a\r\n b\r\n\r\n" + smuggledGet, ReasonObsFold},
	{"obs-fold-tab", "GET / HTTP/1.1\r\nHost: x\r\nX-Note: a\r\n\tb\r\n\r\n", ReasonObsFold},
	// net/http folds this into "Content-Length: 5"; a front end that does
	// not fold sees no valid length.
	{"obs-fold-content-length", postHead + "Content-Length:\r\n 5\r\n\r\nhello" + smuggledGet, ReasonObsFold},
	{"obs-fold-transfer-encoding", postHead + "Transfer-Encoding:\r\n chunked\r\n\r\n0\r\n\r\n" + smuggledGet, ReasonObsFold},
	{"cl-plus", postHead + "Content-Length: +5\r\n\r\nhello" + smuggledGet, ReasonBadContentLength},
	{"cl-minus", postHead + "Content-Length: -1\r\n\r\n" + smuggledGet, ReasonBadContentLength},
	{"cl-list", postHead + "Content-Length: 5, 5\r\n\r\nhello" + smuggledGet, ReasonBadContentLength},
	{"cl-two-equal-lines", postHead + "Content-Length: 5\r\nContent-Length: 5\r\n\r\nhello" + smuggledGet, ReasonBadContentLength},
	{"cl-two-different-lines", postHead + "Content-Length: 5\r\nContent-Length: 38\r\n\r\nhello" + smuggledGet, ReasonBadContentLength},
	{"cl-empty", postHead + "Content-Length: \r\n\r\n" + smuggledGet, ReasonBadContentLength},
	{"cl-hex", postHead + "Content-Length: 0x5\r\n\r\nhello" + smuggledGet, ReasonBadContentLength},
	{"cl-trailing-junk", postHead + "Content-Length: 5x\r\n\r\nhello" + smuggledGet, ReasonBadContentLength},
	{"cl-too-large", postHead + "Content-Length: 4611686018427387905\r\n\r\n", ReasonBadContentLength},
	{"header-line-without-colon", "GET / HTTP/1.1\r\nHost: x\r\nContent-Length 5\r\n\r\nhello", ReasonBadHeaderLine},
	{"header-too-large", "GET / HTTP/1.1\r\nHost: x\r\nX-Big: " + strings.Repeat("a", 9000) + "\r\n\r\n", ReasonHeaderTooLarge},
	{"request-line-too-large", "GET /" + strings.Repeat("a", 9000) + " HTTP/1.1\r\nHost: x\r\n\r\n", ReasonHeaderTooLarge},
	// Malformed chunked bodies. The head was fine and has been released, so
	// the handler sees the request and its body read fails.
	{"chunk-size-zz", chunkedPost + "zz\r\n" + smuggledGet + "\r\n0\r\n\r\n", ReasonBadChunk},
	{"chunk-size-negative", chunkedPost + "-5\r\nhello\r\n0\r\n\r\n", ReasonBadChunk},
	{"chunk-size-overflow", chunkedPost + "10000000000000005\r\nhello\r\n0\r\n\r\n", ReasonBadChunk},
	{"chunk-size-space-before-ext", chunkedPost + "5 ;x\r\nhello\r\n0\r\n\r\n", ReasonBadChunk},
	{"chunk-data-longer-than-declared", chunkedPost + "3\r\nabc" + smuggledGet + "\r\n0\r\n\r\n", ReasonBadChunk},
	{"chunk-missing-crlf-after-data", chunkedPost + "5\r\nhello0\r\n\r\n" + smuggledGet, ReasonBadChunk},
	{"chunk-missing-final-crlf", chunkedPost + "5\r\nhello\r\n0\r\n" + smuggledGet, ReasonBadChunk},
	{"chunk-size-bare-lf", chunkedPost + "5\nhello\r\n0\r\n\r\n" + smuggledGet, ReasonBadChunk},
	{"chunk-data-bare-lf", chunkedPost + "5\r\nhello\n0\r\n\r\n" + smuggledGet, ReasonBadChunk},
	{"chunk-ext-bare-cr", chunkedPost + "5;a=\rb\r\nhello\r\n0\r\n\r\n" + smuggledGet, ReasonBadChunk},
	{"chunk-ext-ctl", chunkedPost + "5;a=\x00\r\nhello\r\n0\r\n\r\n" + smuggledGet, ReasonBadChunk},
	{"chunk-size-line-too-long", chunkedPost + "5;" + strings.Repeat("a", maxChunkLine) + "\r\nhello\r\n0\r\n\r\n", ReasonBadChunk},
	{"chunk-trailer-obs-fold", chunkedPost + "5\r\nhello\r\n0\r\nX-T: a\r\n b\r\n\r\n" + smuggledGet, ReasonBadChunk},
}

func TestAttacksAreRefused(t *testing.T) {
	addr, rec := startServer(t, nil)
	for _, tc := range attacks {
		t.Run(tc.name, func(t *testing.T) {
			c, br := dial(t, addr)
			write(t, c, tc.payload)
			status, body := readResponse(t, br)
			if status != http.StatusBadRequest || body != tc.reason {
				t.Errorf("got %d %q, want 400 %q", status, body, tc.reason)
			}
			expectClosed(t, br)
			if recs := rec.records(); len(recs) != 0 {
				t.Errorf("handler recorded %+v", recs)
			}
		})
	}
}

// TestAttackAfterValidRequests checks that the requests before a refused one
// on the same connection are served, and nothing after it.
func TestAttackAfterValidRequests(t *testing.T) {
	addr, rec := startServer(t, nil)
	c, br := dial(t, addr)
	write(t, c, "GET /first HTTP/1.1\r\nHost: x\r\n\r\n"+
		postHead+"Content-Length: 6\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\nG"+
		"GET /after HTTP/1.1\r\nHost: x\r\n\r\n")
	if status, body := readResponse(t, br); status != 200 || body != "ok" {
		t.Fatalf("first: got %d %q", status, body)
	}
	if status, body := readResponse(t, br); status != 400 || body != ReasonCLAndTE {
		t.Fatalf("second: got %d %q", status, body)
	}
	expectClosed(t, br)
	want := []record{{"GET", "/first", "", 0}}
	if got := rec.records(); !equalRecords(got, want) {
		t.Errorf("recorded %+v, want %+v", got, want)
	}
}

func equalRecords(a, b []record) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}

func TestPipelinedKeepAlive(t *testing.T) {
	addr, rec := startServer(t, nil)
	c, br := dial(t, addr)
	write(t, c, "GET /one HTTP/1.1\r\nHost: x\r\n\r\n"+
		"POST /two HTTP/1.1\r\nHost: x\r\nContent-Length: 11\r\n\r\nhello world"+
		"POST /three HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\nTrailer: X-Checksum\r\n\r\n"+
		"5;name=value\r\nchunk\r\n"+
		"7;a=\"quoted; string\";b\r\ned body\r\n"+
		"0;last\r\nX-Checksum: 42\r\nX-Other: a b\r\n\r\n"+
		"GET /four?q=1 HTTP/1.1\r\nHost: x\r\n\r\n")
	for i := 0; i < 4; i++ {
		if status, body := readResponse(t, br); status != 200 || body != "ok" {
			t.Fatalf("response %d: got %d %q", i, status, body)
		}
	}
	want := []record{
		{"GET", "/one", "", 0},
		{"POST", "/two", "hello world", 11},
		{"POST", "/three", "chunked body", -1},
		{"GET", "/four", "", 0},
	}
	if got := rec.records(); !equalRecords(got, want) {
		t.Errorf("recorded %+v, want %+v", got, want)
	}
	// The connection is still usable.
	write(t, c, "GET /five HTTP/1.1\r\nHost: x\r\n\r\n")
	if status, _ := readResponse(t, br); status != 200 {
		t.Fatalf("fifth: got %d", status)
	}
}

func TestHeadSplitIntoSingleBytes(t *testing.T) {
	addr, rec := startServer(t, nil)
	c, br := dial(t, addr)
	c.(*net.TCPConn).SetNoDelay(true)
	req := "POST /bytes HTTP/1.1\r\nHost: x\r\nContent-Length: 3\r\n\r\nabc"
	for i := 0; i < len(req); i++ {
		write(t, c, req[i:i+1])
	}
	if status, _ := readResponse(t, br); status != 200 {
		t.Fatalf("got %d", status)
	}
	want := []record{{"POST", "/bytes", "abc", 3}}
	if got := rec.records(); !equalRecords(got, want) {
		t.Errorf("recorded %+v, want %+v", got, want)
	}
}

func TestBodySplitAcrossWrites(t *testing.T) {
	body := "the quick brown fox jumps over the lazy dog"
	chunked := chunk(body[:10]) + chunk(body[10:]) + "0\r\nX-T: 1\r\n\r\n"
	for _, tc := range []struct {
		name, head, body string
		cl               int64
	}{
		{"content-length", fmt.Sprintf("POST /split HTTP/1.1\r\nHost: x\r\nContent-Length: %d\r\n\r\n", len(body)), body, int64(len(body))},
		{"chunked", "POST /split HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n", chunked, -1},
	} {
		t.Run(tc.name, func(t *testing.T) {
			addr, rec := startServer(t, nil)
			c, br := dial(t, addr)
			c.(*net.TCPConn).SetNoDelay(true)
			write(t, c, tc.head)
			// Single bytes, so chunk sizes, CRLFs and trailers are split too.
			for i := 0; i < len(tc.body); i++ {
				write(t, c, tc.body[i:i+1])
			}
			write(t, c, "GET /next HTTP/1.1\r\nHost: x\r\n\r\n")
			for i := 0; i < 2; i++ {
				if status, _ := readResponse(t, br); status != 200 {
					t.Fatalf("response %d: got %d", i, status)
				}
			}
			want := []record{{"POST", "/split", body, tc.cl}, {"GET", "/next", "", 0}}
			if got := rec.records(); !equalRecords(got, want) {
				t.Errorf("recorded %+v, want %+v", got, want)
			}
		})
	}
}

func TestLargeBody(t *testing.T) {
	body := make([]byte, 1<<20)
	for i := range body {
		body[i] = byte('a' + i%26)
	}
	var chunked strings.Builder
	for rest := body; len(rest) > 0; {
		n := min(len(rest), 60000)
		chunked.WriteString(chunk(string(rest[:n])))
		rest = rest[n:]
	}
	chunked.WriteString("0\r\n\r\n")
	for _, tc := range []struct {
		name, req string
		cl        int64
	}{
		{"content-length", fmt.Sprintf("PUT /big HTTP/1.1\r\nHost: x\r\nContent-Length: %d\r\n\r\n%s", len(body), body), int64(len(body))},
		{"chunked", "PUT /big HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n" + chunked.String(), -1},
	} {
		t.Run(tc.name, func(t *testing.T) {
			addr, rec := startServer(t, nil)
			c, br := dial(t, addr)
			werr := make(chan error, 1)
			go func() {
				_, err := io.WriteString(c, tc.req)
				werr <- err
			}()
			if status, _ := readResponse(t, br); status != 200 {
				t.Fatalf("got %d", status)
			}
			if err := <-werr; err != nil {
				t.Fatal(err)
			}
			recs := rec.records()
			if len(recs) != 1 || recs[0].Body != string(body) || recs[0].ContentLength != tc.cl {
				t.Fatalf("recorded %d requests; want the 1 MiB body with content length %d", len(recs), tc.cl)
			}
		})
	}
}

func TestHTTP10WithoutTransferEncoding(t *testing.T) {
	addr, rec := startServer(t, nil)
	c, br := dial(t, addr)
	write(t, c, "POST /ten HTTP/1.0\r\nContent-Length: 3\r\n\r\nabc")
	if status, body := readResponse(t, br); status != 200 || body != "ok" {
		t.Fatalf("got %d %q", status, body)
	}
	expectClosed(t, br) // HTTP/1.0 without keep-alive
	want := []record{{"POST", "/ten", "abc", 3}}
	if got := rec.records(); !equalRecords(got, want) {
		t.Errorf("recorded %+v, want %+v", got, want)
	}
}

func TestValidSpellingsOfFramingFields(t *testing.T) {
	addr, rec := startServer(t, nil)
	c, br := dial(t, addr)
	write(t, c, "POST /a HTTP/1.1\r\nHost: x\r\ntransfer-encoding:\tChunked \r\n\r\n3\r\nabc\r\n0\r\n\r\n"+
		"POST /b HTTP/1.1\r\nHost: x\r\nCONTENT-LENGTH:  002 \r\n\r\nde"+
		// Bare LF line ends, which net/http accepts in heads.
		"POST /c HTTP/1.1\nHost: x\nContent-Length: 1\n\nf"+
		// CRLF after a POST body, which net/http skips (RFC 9112 §2.2).
		"\r\nGET /d HTTP/1.1\r\nHost: x\r\n\r\n")
	for i := 0; i < 4; i++ {
		if status, body := readResponse(t, br); status != 200 {
			t.Fatalf("response %d: got %d %q", i, status, body)
		}
	}
	want := []record{{"POST", "/a", "abc", -1}, {"POST", "/b", "de", 2}, {"POST", "/c", "f", 1}, {"GET", "/d", "", 0}}
	if got := rec.records(); !equalRecords(got, want) {
		t.Errorf("recorded %+v, want %+v", got, want)
	}
}

// TestGoRefusalsPassThrough: heads that net/http refuses by itself reach it
// unchanged, and it answers (400 or 505) without calling the handler.
func TestGoRefusalsPassThrough(t *testing.T) {
	addr, rec := startServer(t, nil)
	for _, tc := range []struct {
		name, payload string
		status        int
	}{
		{"bad-version", "GET / HTTP/1.x\r\nHost: x\r\nContent-Length: 5\r\nTransfer-Encoding: chunked\r\n\r\n", 400},
		{"http2-version", "GET / HTTP/2.0\r\nHost: x\r\n\r\n", 505},
		{"invalid-header-value", "GET / HTTP/1.1\r\nHost: x\r\nX-A: a\x01b\r\n\r\n", 400},
		{"leading-crlf-not-after-post", "\r\nGET / HTTP/1.1\r\nHost: x\r\n\r\n", 400},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c, br := dial(t, addr)
			write(t, c, tc.payload)
			resp, err := http.ReadResponse(br, nil)
			if err != nil {
				t.Fatal(err)
			}
			body, _ := io.ReadAll(resp.Body)
			if resp.StatusCode != tc.status || bytes.Contains(body, []byte(RejectMethod)) {
				t.Errorf("got %d %q, want %d from net/http", resp.StatusCode, body, tc.status)
			}
			if recs := rec.records(); len(recs) != 0 {
				t.Errorf("handler recorded %+v", recs)
			}
		})
	}
}

func TestReadHeaderTimeoutStillFires(t *testing.T) {
	addr, rec := startServer(t, func(s *http.Server) { s.ReadHeaderTimeout = 200 * time.Millisecond })
	c, br := dial(t, addr)
	write(t, c, "GET /slow HTTP/1.1\r\nHost: x\r\n")
	c.SetReadDeadline(time.Now().Add(5 * time.Second))
	b, err := br.ReadByte()
	if err != io.EOF {
		t.Fatalf("got byte %q, err %v; want the server to close the connection (io.EOF)", b, err)
	}
	if recs := rec.records(); len(recs) != 0 {
		t.Errorf("handler recorded %+v", recs)
	}
}
