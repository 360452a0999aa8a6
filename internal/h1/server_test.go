package h1

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/rampart-gw/rampart/internal/framing"
)

// These tests run a real Server on a loopback listener and talk to it with
// raw bytes.

const testMaxHeaderBytes = 8192

type record struct {
	Method        string
	Path          string
	Body          string
	ContentLength int64
}

// recorder answers a refused head (through Server.Reject), or a request
// whose body cannot be read, with 400, Connection: close and the reason as
// body (as the gateway does), and records every other request.
type recorder struct {
	mu      sync.Mutex
	recs    []record
	rejects []framing.Reason
	refused []*http.Request
	trailer []http.Header
}

func (rec *recorder) reject(w http.ResponseWriter, r *http.Request, reason framing.Reason) {
	if !r.Close || r.Body != http.NoBody || len(r.Header) != 0 || r.URL == nil {
		panic(fmt.Sprintf("bad refused request %+v", r))
	}
	rec.mu.Lock()
	rec.rejects = append(rec.rejects, reason)
	rec.refused = append(rec.refused, r)
	rec.mu.Unlock()
	refuse(w, string(reason))
}

func (rec *recorder) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	body, err := io.ReadAll(r.Body)
	if err != nil {
		reason := "body-error"
		if errors.Is(err, framing.ErrBadChunk) {
			reason = string(framing.ReasonBadChunk)
		}
		refuse(w, reason)
		return
	}
	rec.mu.Lock()
	rec.recs = append(rec.recs, record{r.Method, r.URL.Path, string(body), r.ContentLength})
	rec.trailer = append(rec.trailer, r.Trailer)
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

func (rec *recorder) rejections() []framing.Reason {
	rec.mu.Lock()
	defer rec.mu.Unlock()
	return append([]framing.Reason(nil), rec.rejects...)
}

// testLogger collects log output.
type testLogger struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (l *testLogger) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.buf.Write(p)
}

func (l *testLogger) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.buf.String()
}

// serve runs srv on a loopback listener (or the one given) until the test
// ends.
func serve(t *testing.T, srv *Server, lns ...net.Listener) string {
	t.Helper()
	var ln net.Listener
	if len(lns) > 0 {
		ln = lns[0]
	} else {
		var err error
		if ln, err = net.Listen("tcp", "127.0.0.1:0"); err != nil {
			t.Fatal(err)
		}
	}
	if srv.Logger == nil {
		srv.Logger = slog.New(slog.NewTextHandler(io.Discard, nil))
	}
	if srv.MaxHeaderBytes == 0 {
		srv.MaxHeaderBytes = testMaxHeaderBytes
	}
	done := make(chan error, 1)
	go func() { done <- srv.Serve(ln) }()
	t.Cleanup(func() {
		srv.Close()
		if err := <-done; err != http.ErrServerClosed {
			t.Errorf("Serve: %v", err)
		}
	})
	return ln.Addr().String()
}

func startServer(t *testing.T, configure func(*Server)) (string, *recorder) {
	t.Helper()
	rec := &recorder{}
	srv := &Server{Handler: rec, Reject: rec.reject}
	if configure != nil {
		configure(srv)
	}
	return serve(t, srv), rec
}

func startHandler(t *testing.T, h http.HandlerFunc) string {
	t.Helper()
	return serve(t, &Server{Handler: h})
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
	resp, body := readFull(t, br, "GET")
	return resp.StatusCode, body
}

func readFull(t *testing.T, br *bufio.Reader, method string) (*http.Response, string) {
	t.Helper()
	resp, err := http.ReadResponse(br, &http.Request{Method: method})
	if err != nil {
		t.Fatalf("reading response: %v", err)
	}
	body, err := io.ReadAll(resp.Body)
	resp.Body.Close()
	if err != nil {
		t.Fatalf("reading response body: %v", err)
	}
	return resp, string(body)
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
	reason  framing.Reason
}{
	// CL.TE: a Content-Length front end forwards "0\r\n\r\nG" as body; a
	// chunked back end ends the body after "0\r\n\r\n" and reads "GPOST".
	{"cl-then-te", postHead + "Content-Length: 6\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\nGPOST / HTTP/1.1\r\nHost: x\r\n\r\n", framing.ReasonCLAndTE},
	// TE.CL: the chunk is the inner request for a Content-Length back end.
	{"te-then-cl", postHead + "Transfer-Encoding: chunked\r\nContent-Length: 4\r\n\r\n" + chunk("GPOST /admin HTTP/1.1\r\nHost: x\r\nContent-Length: 15\r\n\r\nx=1") + "0\r\n\r\n", framing.ReasonCLAndTE},
	{"te-chunked-and-cl-0", postHead + "Transfer-Encoding: chunked\r\nContent-Length: 0\r\n\r\n" + chunk(smuggledGet) + "0\r\n\r\n", framing.ReasonCLAndTE},
	{"te-chunked-identity", postHead + "Transfer-Encoding: chunked, identity\r\n\r\n0\r\n\r\n" + smuggledGet, framing.ReasonBadTransferEncoding},
	{"te-chunked-chunked", postHead + "Transfer-Encoding: chunked, chunked\r\n\r\n0\r\n\r\n" + smuggledGet, framing.ReasonBadTransferEncoding},
	{"te-gzip-chunked", postHead + "Transfer-Encoding: gzip, chunked\r\n\r\n0\r\n\r\n" + smuggledGet, framing.ReasonBadTransferEncoding},
	{"te-xchunked", postHead + "Transfer-Encoding: xchunked\r\n\r\n0\r\n\r\n" + smuggledGet, framing.ReasonBadTransferEncoding},
	{"te-identity", postHead + "Transfer-Encoding: identity\r\n\r\n" + smuggledGet, framing.ReasonBadTransferEncoding},
	{"te-empty", postHead + "Transfer-Encoding:\r\n\r\n" + smuggledGet, framing.ReasonBadTransferEncoding},
	{"te-two-lines", postHead + "Transfer-Encoding: chunked\r\nTransfer-Encoding: identity\r\n\r\n0\r\n\r\n" + smuggledGet, framing.ReasonBadTransferEncoding},
	{"te-two-chunked-lines", postHead + "Transfer-Encoding: chunked\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n" + smuggledGet, framing.ReasonBadTransferEncoding},
	// net/http would drop the misnamed field; a lenient front end would
	// frame by it.
	{"te-space-before-colon", postHead + "Content-Length: 5\r\nTransfer-Encoding : chunked\r\n\r\n0\r\n\r\n" + smuggledGet, framing.ReasonSpaceBeforeColon},
	{"cl-space-before-colon", postHead + "Content-Length : 33\r\n\r\n" + smuggledGet, framing.ReasonSpaceBeforeColon},
	{"bad-percent-escape-in-path", "GET /a%zz HTTP/1.1\r\nHost: x\r\n\r\n" + smuggledGet, framing.ReasonBadTarget},
	{"truncated-percent-escape-in-path", "GET /a%4 HTTP/1.1\r\nHost: x\r\n\r\n" + smuggledGet, framing.ReasonBadTarget},
	{"tab-in-target", "GET /a\tb HTTP/1.1\r\nHost: x\r\n\r\n" + smuggledGet, framing.ReasonBadTarget},
	{"two-host-lines", "GET / HTTP/1.1\r\nHost: a.example\r\nHost: b.example\r\n\r\n" + smuggledGet, framing.ReasonBadHost},
	{"control-byte-in-value", "GET / HTTP/1.1\r\nHost: x\r\nX-A: a\x01b\r\n\r\n" + smuggledGet, framing.ReasonBadHeaderValue},
	{"bare-cr-in-value", "GET / HTTP/1.1\r\nHost: x\r\nX-A: a\rX-B: b\r\n\r\n" + smuggledGet, framing.ReasonBadHeaderValue},
	{"invalid-byte-in-name", "GET / HTTP/1.1\r\nHost: x\r\nX\"A: b\r\n\r\n" + smuggledGet, framing.ReasonBadHeaderLine},
	// net/http ignores Transfer-Encoding on HTTP/1.0 and would serve the
	// chunk as the next request.
	{"te-on-http10", "POST /submit HTTP/1.0\r\nConnection: keep-alive\r\nTransfer-Encoding: chunked\r\n\r\n" + smuggledGet, framing.ReasonTEOnHTTP10},
	{"te-on-http10-with-cl", "POST /submit HTTP/1.0\r\nConnection: keep-alive\r\nTransfer-Encoding: chunked\r\nContent-Length: 5\r\n\r\n0\r\n\r\n" + smuggledGet, framing.ReasonTEOnHTTP10},
	{"obs-fold-ordinary-header", "GET / HTTP/1.1\r\nHost: x\r\nX-Note: a\r\n b\r\n\r\n" + smuggledGet, framing.ReasonObsFold},
	{"obs-fold-tab", "GET / HTTP/1.1\r\nHost: x\r\nX-Note: a\r\n\tb\r\n\r\n", framing.ReasonObsFold},
	// net/http folds this into "Content-Length: 5"; a front end that does
	// not fold sees no valid length.
	{"obs-fold-content-length", postHead + "Content-Length:\r\n 5\r\n\r\nhello" + smuggledGet, framing.ReasonObsFold},
	{"obs-fold-transfer-encoding", postHead + "Transfer-Encoding:\r\n chunked\r\n\r\n0\r\n\r\n" + smuggledGet, framing.ReasonObsFold},
	{"cl-plus", postHead + "Content-Length: +5\r\n\r\nhello" + smuggledGet, framing.ReasonBadContentLength},
	{"cl-minus", postHead + "Content-Length: -1\r\n\r\n" + smuggledGet, framing.ReasonBadContentLength},
	{"cl-list", postHead + "Content-Length: 5, 5\r\n\r\nhello" + smuggledGet, framing.ReasonBadContentLength},
	{"cl-two-equal-lines", postHead + "Content-Length: 5\r\nContent-Length: 5\r\n\r\nhello" + smuggledGet, framing.ReasonBadContentLength},
	{"cl-two-different-lines", postHead + "Content-Length: 5\r\nContent-Length: 38\r\n\r\nhello" + smuggledGet, framing.ReasonBadContentLength},
	{"cl-empty", postHead + "Content-Length: \r\n\r\n" + smuggledGet, framing.ReasonBadContentLength},
	{"cl-hex", postHead + "Content-Length: 0x5\r\n\r\nhello" + smuggledGet, framing.ReasonBadContentLength},
	{"cl-trailing-junk", postHead + "Content-Length: 5x\r\n\r\nhello" + smuggledGet, framing.ReasonBadContentLength},
	{"cl-too-large", postHead + "Content-Length: 4611686018427387905\r\n\r\n", framing.ReasonBadContentLength},
	{"header-line-without-colon", "GET / HTTP/1.1\r\nHost: x\r\nContent-Length 5\r\n\r\nhello", framing.ReasonBadHeaderLine},
	{"header-too-large", "GET / HTTP/1.1\r\nHost: x\r\nX-Big: " + strings.Repeat("a", 9000) + "\r\n\r\n", framing.ReasonHeaderTooLarge},
	{"request-line-too-large", "GET /" + strings.Repeat("a", 9000) + " HTTP/1.1\r\nHost: x\r\n\r\n", framing.ReasonHeaderTooLarge},
	// Malformed chunked bodies. The head was fine and has been released, so
	// the handler sees the request and its body read fails.
	{"chunk-size-zz", chunkedPost + "zz\r\n" + smuggledGet + "\r\n0\r\n\r\n", framing.ReasonBadChunk},
	{"chunk-size-negative", chunkedPost + "-5\r\nhello\r\n0\r\n\r\n", framing.ReasonBadChunk},
	{"chunk-size-overflow", chunkedPost + "10000000000000005\r\nhello\r\n0\r\n\r\n", framing.ReasonBadChunk},
	{"chunk-size-space-before-ext", chunkedPost + "5 ;x\r\nhello\r\n0\r\n\r\n", framing.ReasonBadChunk},
	{"chunk-data-longer-than-declared", chunkedPost + "3\r\nabc" + smuggledGet + "\r\n0\r\n\r\n", framing.ReasonBadChunk},
	{"chunk-missing-crlf-after-data", chunkedPost + "5\r\nhello0\r\n\r\n" + smuggledGet, framing.ReasonBadChunk},
	{"chunk-missing-final-crlf", chunkedPost + "5\r\nhello\r\n0\r\n" + smuggledGet, framing.ReasonBadChunk},
	{"chunk-size-bare-lf", chunkedPost + "5\nhello\r\n0\r\n\r\n" + smuggledGet, framing.ReasonBadChunk},
	{"chunk-data-bare-lf", chunkedPost + "5\r\nhello\n0\r\n\r\n" + smuggledGet, framing.ReasonBadChunk},
	{"chunk-ext-bare-cr", chunkedPost + "5;a=\rb\r\nhello\r\n0\r\n\r\n" + smuggledGet, framing.ReasonBadChunk},
	{"chunk-ext-ctl", chunkedPost + "5;a=\x00\r\nhello\r\n0\r\n\r\n" + smuggledGet, framing.ReasonBadChunk},
	{"chunk-size-line-too-long", chunkedPost + "5;" + strings.Repeat("a", framing.MaxChunkLine) + "\r\nhello\r\n0\r\n\r\n", framing.ReasonBadChunk},
	{"chunk-trailer-obs-fold", chunkedPost + "5\r\nhello\r\n0\r\nX-T: a\r\n b\r\n\r\n" + smuggledGet, framing.ReasonBadChunk},
}

// TestAttacksAreRefused: every smuggling shape gets the gateway's refusal
// for the right reason, the handler sees only the synthetic request (or a
// failing body), the bytes after the refused head never become a request,
// and the connection is closed.
func TestAttacksAreRefused(t *testing.T) {
	for _, tc := range attacks {
		t.Run(tc.name, func(t *testing.T) {
			addr, rec := startServer(t, nil)
			c, br := dial(t, addr)
			write(t, c, tc.payload)
			status, body := readResponse(t, br)
			if status != http.StatusBadRequest || body != string(tc.reason) {
				t.Errorf("got %d %q, want 400 %q", status, body, tc.reason)
			}
			expectClosed(t, br)
			if recs := rec.records(); len(recs) != 0 {
				t.Errorf("handler recorded %+v", recs)
			}
			if rej := rec.rejections(); tc.reason != framing.ReasonBadChunk && (len(rej) != 1 || rej[0] != tc.reason) {
				t.Errorf("rejections %q, want [%q]", rej, tc.reason)
			}
		})
	}
}

// TestNetHTTPRefusalsAreRejections: what net/http answers with its own
// plain-text 400 or 505 becomes a synthetic rejection too.
func TestNetHTTPRefusalsAreRejections(t *testing.T) {
	for _, tc := range []struct {
		name, payload string
		reason        framing.Reason
	}{
		{"unparsable-request-line", "GET /\r\nHost: x\r\n\r\n", framing.ReasonBadRequestLine},
		{"bad-version-shape", "GET / HTTP/1.x\r\nHost: x\r\n\r\n", framing.ReasonBadRequestLine},
		{"method-not-a-token", "G(T / HTTP/1.1\r\nHost: x\r\n\r\n" + smuggledGet, framing.ReasonBadRequestLine},
		{"empty-method", " / HTTP/1.1\r\nHost: x\r\n\r\n", framing.ReasonBadRequestLine},
		{"http2-version", "GET / HTTP/2.0\r\nHost: x\r\n\r\n", framing.ReasonBadVersion},
		{"http12-version", "GET / HTTP/1.2\r\nHost: x\r\n\r\n", framing.ReasonBadVersion},
		{"http09-version", "GET / HTTP/0.9\r\nHost: x\r\n\r\n", framing.ReasonBadVersion},
		{"h2c-prior-knowledge-preface", "PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n", framing.ReasonBadVersion},
		{"missing-host", "GET / HTTP/1.1\r\nAccept: */*\r\n\r\n" + smuggledGet, framing.ReasonMissingHost},
		{"invalid-host", "GET / HTTP/1.1\r\nHost: a b\r\n\r\n", framing.ReasonBadHost},
		{"unknown-expect", "POST / HTTP/1.1\r\nHost: x\r\nExpect: 200-ok\r\nContent-Length: 1\r\n\r\nx", framing.ReasonBadExpect},
		{"bad-trailer-declaration", "POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\nTrailer: Content-Length\r\n\r\n0\r\n\r\n", framing.ReasonMalformed},
		{"unparsable-absolute-target", "GET http://[::1/ HTTP/1.1\r\nHost: x\r\n\r\n", framing.ReasonBadTarget},
		{"empty-target", "GET  HTTP/1.1\r\nHost: x\r\n\r\n", framing.ReasonBadTarget},
	} {
		t.Run(tc.name, func(t *testing.T) {
			addr, rec := startServer(t, nil)
			c, br := dial(t, addr)
			write(t, c, tc.payload)
			status, body := readResponse(t, br)
			if status != http.StatusBadRequest || body != string(tc.reason) {
				t.Errorf("got %d %q, want 400 %q", status, body, tc.reason)
			}
			expectClosed(t, br)
			if recs := rec.records(); len(recs) != 0 {
				t.Errorf("handler recorded %+v", recs)
			}
		})
	}
}

// TestAttackAfterValidRequests: the requests before a refused one on the
// same connection are served, and nothing after it.
func TestAttackAfterValidRequests(t *testing.T) {
	addr, rec := startServer(t, nil)
	c, br := dial(t, addr)
	write(t, c, "GET /first HTTP/1.1\r\nHost: x\r\n\r\n"+
		postHead+"Content-Length: 6\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\nG"+
		"GET /after HTTP/1.1\r\nHost: x\r\n\r\n")
	if status, body := readResponse(t, br); status != 200 || body != "ok" {
		t.Fatalf("first: got %d %q", status, body)
	}
	if status, body := readResponse(t, br); status != 400 || body != string(framing.ReasonCLAndTE) {
		t.Fatalf("second: got %d %q", status, body)
	}
	expectClosed(t, br)
	want := []record{{"GET", "/first", "", 0}}
	if got := rec.records(); !equalRecords(got, want) {
		t.Errorf("recorded %+v, want %+v", got, want)
	}
}

func TestPipelinedKeepAlive(t *testing.T) {
	addr, rec := startServer(t, nil)
	c, br := dial(t, addr)
	write(t, c, "GET /one HTTP/1.1\r\nHost: x\r\n\r\n"+
		"POST /two HTTP/1.1\r\nHost: x\r\nContent-Length: 11\r\n\r\nhello world"+
		"POST /three HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\nTrailer: X-Checksum\r\n\r\n"+
		"5;name=value\r\nchunk\r\n"+
		"7;a=\"quoted; string\";b\r\ned body\r\n"+
		"0;last\r\nX-Checksum: 42\r\nx-other: a b\r\n\r\n"+
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
	rec.mu.Lock()
	tr := rec.trailer[2]
	rec.mu.Unlock()
	if tr.Get("X-Checksum") != "42" || tr.Get("X-Other") != "a b" {
		t.Errorf("trailer %v", tr)
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

func TestValidSpellingsOfFramingFields(t *testing.T) {
	addr, rec := startServer(t, nil)
	c, br := dial(t, addr)
	write(t, c, "POST /a HTTP/1.1\r\nHost: x\r\ntransfer-encoding:\tChunked \r\n\r\n3\r\nabc\r\n0\r\n\r\n"+
		"POST /b HTTP/1.1\r\nHost: x\r\nCONTENT-LENGTH:  002 \r\n\r\nde"+
		"POST /c HTTP/1.1\nHost: x\nContent-Length: 1\n\nf"+
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

// TestReceived: a keep-alive request says when its first bytes were read
// (after the client sent them, before the handler ran); a connection's first
// request, whose clock started at the accept, and a server without
// timeouts say nothing.
func TestReceived(t *testing.T) {
	type seen struct{ received, handler time.Time }
	for _, timed := range []bool{true, false} {
		ch := make(chan seen, 4)
		srv := &Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			ch <- seen{w.(interface{ Received() time.Time }).Received(), time.Now()}
		})}
		if timed {
			srv.IdleTimeout = time.Minute
		}
		c, br := dial(t, serve(t, srv))
		var sent [3]time.Time
		for i := range sent {
			sent[i] = time.Now()
			write(t, c, "GET / HTTP/1.1\r\nHost: x\r\n\r\n")
			if status, _ := readResponse(t, br); status != 200 {
				t.Fatalf("request %d: %d", i, status)
			}
			s := <-ch
			switch {
			case i == 0 || !timed:
				if !s.received.IsZero() {
					t.Errorf("timed %v, request %d: Received %v, want zero", timed, i, s.received)
				}
			case s.received.Before(sent[i]) || s.received.After(s.handler):
				t.Errorf("request %d: Received %v, want between the send %v and the handler %v", i, s.received, sent[i], s.handler)
			}
		}
	}
}
