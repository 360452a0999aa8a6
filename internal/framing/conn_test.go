package framing

import (
	"errors"
	"io"
	"net"
	"net/http"
	"os"
	"strings"
	"testing"
	"time"
)

// memConn is an in-memory net.Conn whose Read hands out data at most chunk
// bytes at a time, then io.EOF (with the last bytes if eofWithData). Writes
// are discarded.
type memConn struct {
	data        []byte
	chunk       int
	eofWithData bool
}

func (m *memConn) Read(p []byte) (int, error) {
	if len(m.data) == 0 {
		return 0, io.EOF
	}
	n := copy(p[:min(len(p), m.chunk)], m.data)
	m.data = m.data[n:]
	if len(m.data) == 0 && m.eofWithData {
		return n, io.EOF
	}
	return n, nil
}

func (m *memConn) Write(p []byte) (int, error)      { return len(p), nil }
func (m *memConn) Close() error                     { return nil }
func (m *memConn) LocalAddr() net.Addr              { return memAddr{} }
func (m *memConn) RemoteAddr() net.Addr             { return memAddr{} }
func (m *memConn) SetDeadline(time.Time) error      { return nil }
func (m *memConn) SetReadDeadline(time.Time) error  { return nil }
func (m *memConn) SetWriteDeadline(time.Time) error { return nil }

type memAddr struct{}

func (memAddr) Network() string { return "mem" }
func (memAddr) String() string  { return "mem" }

// readAll reads c to its first error with reads of size bytes. Every Read
// must return bytes or an error; maxCalls bounds the number of calls.
func readAll(t testing.TB, c net.Conn, size, maxCalls int) ([]byte, error) {
	t.Helper()
	var out []byte
	p := make([]byte, size)
	for calls := 0; ; calls++ {
		if calls > maxCalls {
			t.Fatalf("no error after %d reads (got %d bytes)", calls, len(out))
		}
		n, err := c.Read(p)
		out = append(out, p[:n]...)
		if err != nil {
			return out, err
		}
		if n == 0 {
			t.Fatalf("Read returned 0, nil")
		}
	}
}

const getHead = "GET / HTTP/1.1\r\nHost: x\r\n\r\n"

// TestStream feeds streams through the wrapper with several read and write
// sizes and checks the exact bytes released and the final error.
func TestStream(t *testing.T) {
	chunkedBody := "5;ext=1\r\nhello\r\n0\r\nX-T: v\r\n\r\n"
	for _, tc := range []struct {
		name string
		in   string
		want string // the bytes released; the input itself when empty
		err  error  // the final error; io.EOF when nil
	}{
		{name: "get", in: getHead},
		{name: "pipelined", in: getHead + "POST / HTTP/1.1\r\nContent-Length: 3\r\n\r\nabc" + getHead},
		{name: "chunked-then-get", in: "POST / HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n" + chunkedBody + getHead},
		{name: "bare-lf-head", in: "GET / HTTP/1.1\nHost: x\n\n" + getHead},
		{name: "mixed-line-ends", in: "GET / HTTP/1.1\r\nHost: x\n\r\n" + "GET / HTTP/1.1\nHost: x\r\n\n"},
		{name: "no-fields", in: "GET / HTTP/1.1\r\n\r\n"},
		{name: "leading-empty-lines", in: "\r\n\n" + getHead},
		{name: "http10", in: "GET / HTTP/1.0\r\n\r\n"},
		{name: "http12-counts-as-http11", in: "POST / HTTP/1.2\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n"},
		{name: "zero-content-length", in: "POST / HTTP/1.1\r\nContent-Length: 0\r\n\r\n" + getHead},
		// A body is never parsed as a head.
		{name: "body-looks-like-attack", in: "POST / HTTP/1.1\r\nContent-Length: 46\r\n\r\nGET / HTTP/1.1\r\nTransfer-Encoding: xchunked\r\n\r\n" + getHead},
		// A partial head at EOF is never released.
		{name: "eof-in-head", in: getHead + "GET / HTTP/1.1\r\nHost:", want: getHead},
		{name: "eof-after-leading-crlf", in: getHead + "\r\n", want: getHead},
		// Not a blank line: "\r" is a line of its own without a colon.
		{name: "cr-cr-lf-is-not-end-of-head", in: "GET / HTTP/1.1\r\nHost: x\r\n\r\r\n\r\n", want: rejectHead(ReasonBadHeaderLine)},
		{name: "reject-after-valid", in: getHead + "POST / HTTP/1.1\r\nTransfer-Encoding: gzip\r\n\r\n" + getHead, want: getHead + rejectHead(ReasonBadTransferEncoding)},
		{name: "reject-reason-order", in: "POST / HTTP/1.0\r\nContent-Length: 1\r\nTransfer-Encoding: chunked\r\n\r\n", want: rejectHead(ReasonTEOnHTTP10)},
		{name: "reject-early-without-end-of-head", in: "GET / HTTP/1.1\r\n Host: x\r\n", want: rejectHead(ReasonObsFold)},
		{name: "empty-field-name", in: "GET / HTTP/1.1\r\n: x\r\n\r\n", want: rejectHead(ReasonBadHeaderLine)},
		{name: "tab-before-colon", in: "GET / HTTP/1.1\r\nHost\t: x\r\n\r\n", want: rejectHead(ReasonSpaceBeforeColon)},
		{name: "content-length-max", in: "POST / HTTP/1.1\r\nContent-Length: 4611686018427387904\r\n\r\nabc"},
		{name: "content-length-over-max", in: "POST / HTTP/1.1\r\nContent-Length: 4611686018427387905\r\n\r\n", want: rejectHead(ReasonBadContentLength)},
		{name: "content-length-overflow", in: "POST / HTTP/1.1\r\nContent-Length: 99999999999999999999999\r\n\r\n", want: rejectHead(ReasonBadContentLength)},
		{name: "leading-crlf-count-toward-limit", in: strings.Repeat("\r\n", 300), want: rejectHead(ReasonHeaderTooLarge)},
		// Passthrough: net/http refuses these by itself.
		{name: "h2-preface", in: "PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n" + "GET / HTTP/1.1\r\nTransfer-Encoding: x\r\n\r\n"},
		{name: "no-spaces", in: "GET\r\nTransfer-Encoding: x\r\n\r\n"},
		{name: "no-version", in: "GET /\r\nTransfer-Encoding: x\r\n\r\n"},
		{name: "bad-version", in: "GET / HTTP/1.1 \r\nTransfer-Encoding: x\r\n\r\n"},
		{name: "http09-version", in: "GET / HTTP/0.9\r\nTransfer-Encoding: x\r\n\r\n"},
		// Chunked bodies: the valid prefix, then ErrBadChunk.
		{name: "bad-chunk", in: "POST / HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabcX\r\n", want: "POST / HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabc", err: ErrBadChunk},
		{name: "chunk-17-digits", in: "POST / HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n00000000000000001\r\n", want: "POST / HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n", err: ErrBadChunk},
		{name: "chunk-16-digits", in: "POST / HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n0000000000000001\r\na\r\n0\r\n\r\n"},
		{name: "chunk-ws-before-crlf", in: "POST / HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n1 \t\r\na\r\n0\r\n\r\n"},
		{name: "eof-in-size-line", in: "POST / HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabc\r\n5", want: "POST / HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabc"},
		{name: "eof-in-trailers", in: "POST / HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabc\r\n0\r\nX-T: 1\r\n", want: "POST / HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabc"},
		{name: "trailers-too-large", in: "POST / HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n0\r\nX-T: " + strings.Repeat("a", 600) + "\r\n\r\n", want: "POST / HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n", err: ErrBadChunk},
		{name: "trailer-ctl", in: "POST / HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n1\r\na\r\n0\r\nX: \x7f\r\n\r\n", want: "POST / HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n1\r\na", err: ErrBadChunk},
		{name: "trailer-without-colon", in: "POST / HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n0\r\nX\r\n\r\n", want: "POST / HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n", err: ErrBadChunk},
	} {
		for _, wsize := range []int{1, 3, 4096} {
			for _, rsize := range []int{1, 7, 4096} {
				c := newConn(&memConn{data: []byte(tc.in), chunk: wsize, eofWithData: rsize == 7}, 512)
				out, err := readAll(t, c, rsize, 10*len(tc.in)+100)
				want := tc.want
				if want == "" {
					want = tc.in
				}
				wantErr := tc.err
				if wantErr == nil {
					wantErr = io.EOF
				}
				if string(out) != want || !errors.Is(err, wantErr) {
					t.Errorf("%s (writes of %d, reads of %d):\n got %q, %v\nwant %q, %v", tc.name, wsize, rsize, out, err, want, wantErr)
				}
			}
		}
	}
}

func TestHeaderTooLargeLimit(t *testing.T) {
	head := "GET / HTTP/1.1\r\nHost: x\r\n\r\n"
	for _, tc := range []struct {
		limit int
		want  string
	}{
		{len(head), head},
		{len(head) - 1, rejectHead(ReasonHeaderTooLarge)},
	} {
		for _, wsize := range []int{1, 4096} {
			c := newConn(&memConn{data: []byte(head), chunk: wsize}, tc.limit)
			out, err := readAll(t, c, 4096, 1000)
			if string(out) != tc.want || err != io.EOF {
				t.Errorf("limit %d, writes of %d: got %q, %v; want %q, EOF", tc.limit, wsize, out, err, tc.want)
			}
		}
	}
}

// TestHeadIsHeldBack: however the head arrives, it is released in one piece.
func TestHeadIsHeldBack(t *testing.T) {
	head := "GET /x HTTP/1.1\r\nHost: example.com\r\nAccept: */*\r\n\r\n"
	c := newConn(&memConn{data: []byte(head), chunk: 1}, 1024)
	p := make([]byte, 4096)
	n, err := c.Read(p)
	if err != nil || string(p[:n]) != head {
		t.Fatalf("first Read: %q, %v; want the whole head", p[:n], err)
	}
}

func TestRejectedStaysEOF(t *testing.T) {
	c := newConn(&memConn{data: []byte("GET / HTTP/1.1\r\nContent-Length: 1\r\nContent-Length: 1\r\n\r\nx"), chunk: 4096}, 1024)
	out, err := readAll(t, c, 4096, 10)
	if string(out) != rejectHead(ReasonBadContentLength) || err != io.EOF {
		t.Fatalf("got %q, %v", out, err)
	}
	for i := 0; i < 3; i++ {
		if n, err := c.Read(make([]byte, 10)); n != 0 || err != io.EOF {
			t.Fatalf("Read after rejection: %d, %v", n, err)
		}
	}
}

func TestBadChunkError(t *testing.T) {
	c := newConn(&memConn{data: []byte("POST / HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n"), chunk: 4096}, 1024)
	_, err := readAll(t, c, 4096, 10)
	var oe *net.OpError
	if !errors.As(err, &oe) || oe.Op != "read" || !errors.Is(err, ErrBadChunk) {
		t.Fatalf("got %#v; want a read *net.OpError wrapping ErrBadChunk", err)
	}
	if _, err2 := c.Read(make([]byte, 10)); err2 != err {
		t.Fatalf("second Read: %v; want the same error", err2)
	}
}

// TestDeadlineErrorsPassThrough: a read deadline set on the wrapper reaches
// the underlying conn, its timeout comes back unchanged, and a later Read
// goes on with the held-back head.
func TestDeadlineErrorsPassThrough(t *testing.T) {
	client, server := net.Pipe()
	defer client.Close()
	wc := newConn(server, 1024)
	defer wc.Close()

	go io.WriteString(client, "GET / HTTP/1.1\r\nHo")
	if err := wc.SetReadDeadline(time.Now().Add(50 * time.Millisecond)); err != nil {
		t.Fatal(err)
	}
	p := make([]byte, 4096)
	n, err := wc.Read(p)
	var ne net.Error
	if n != 0 || !errors.Is(err, os.ErrDeadlineExceeded) || !errors.As(err, &ne) || !ne.Timeout() {
		t.Fatalf("Read: %d, %v; want the pipe's timeout error", n, err)
	}
	if err := wc.SetDeadline(time.Time{}); err != nil {
		t.Fatal(err)
	}
	go io.WriteString(client, "st: x\r\n\r\n")
	n, err = wc.Read(p)
	if err != nil || string(p[:n]) != getHead {
		t.Fatalf("Read: %q, %v; want %q", p[:n], err, getHead)
	}
	if wc.NetConn() != server {
		t.Error("NetConn does not return the wrapped conn")
	}
	if err := wc.CloseWrite(); !errors.Is(err, errors.ErrUnsupported) {
		t.Errorf("CloseWrite on a pipe: %v, want ErrUnsupported", err)
	}
}

func TestCloseWritePassesThrough(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	client, err := net.Dial("tcp", ln.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	defer client.Close()
	server, err := NewListener(ln, 0).Accept()
	if err != nil {
		t.Fatal(err)
	}
	defer server.Close()
	if err := server.(interface{ CloseWrite() error }).CloseWrite(); err != nil {
		t.Fatal(err)
	}
	client.SetReadDeadline(time.Now().Add(5 * time.Second))
	if n, err := client.Read(make([]byte, 1)); n != 0 || err != io.EOF {
		t.Fatalf("client Read after CloseWrite: %d, %v; want io.EOF", n, err)
	}
}

func TestNewListenerDefaultLimit(t *testing.T) {
	for _, n := range []int{0, -1} {
		if got := NewListener(nil, n).(*listener).max; got != 16<<10 {
			t.Errorf("NewListener(l, %d): limit %d, want 16 KiB", n, got)
		}
	}
}

func TestRejected(t *testing.T) {
	for _, tc := range []struct {
		method, target string
		reason         string
		ok             bool
	}{
		{RejectMethod, "/cl-and-te", ReasonCLAndTE, true},
		{RejectMethod, "/header-too-large", ReasonHeaderTooLarge, true},
		{RejectMethod, "/something-else", ReasonMalformed, true},
		{RejectMethod, "/", ReasonMalformed, true},
		{"GET", "/cl-and-te", "", false},
		{"rampart-reject", "/cl-and-te", "", false},
	} {
		r, err := http.NewRequest(tc.method, "http://rampart.invalid"+tc.target, nil)
		if err != nil {
			t.Fatal(err)
		}
		if reason, ok := Rejected(r); reason != tc.reason || ok != tc.ok {
			t.Errorf("Rejected(%s %s) = %q, %v; want %q, %v", tc.method, tc.target, reason, ok, tc.reason, tc.ok)
		}
	}
	if _, ok := Rejected(nil); ok {
		t.Error("Rejected(nil) = true")
	}
}

// loopConn serves its data over and over.
type loopConn struct {
	memConn
	off int
}

func (l *loopConn) Read(p []byte) (int, error) {
	n := copy(p, l.data[l.off:])
	l.off = (l.off + n) % len(l.data)
	return n, nil
}

const benchHead = "GET /api/v1/orders?limit=20 HTTP/1.1\r\nHost: api.example.com\r\n" +
	"User-Agent: Mozilla/5.0 (X11; Linux x86_64)\r\nAccept: application/json\r\n" +
	"Accept-Encoding: gzip, deflate, br\r\nAuthorization: Bearer eyJhbGciOiJIUzI1NiJ9.e30.abc\r\n\r\n"

// readHeads reads n heads' worth of a loopConn stream of benchHead.
func readHeads(c net.Conn, p []byte, n int) error {
	for want := n * len(benchHead); want > 0; {
		k, err := c.Read(p)
		if err != nil {
			return err
		}
		want -= k
	}
	return nil
}

func TestSteadyStateDoesNotAllocate(t *testing.T) {
	c := newConn(&loopConn{memConn: memConn{data: []byte(strings.Repeat(benchHead, 16))}}, 16<<10)
	p := make([]byte, 4096)
	if err := readHeads(c, p, 100); err != nil { // warm up: the buffer
		t.Fatal(err)
	}
	allocs := testing.AllocsPerRun(100, func() {
		if err := readHeads(c, p, 10); err != nil {
			t.Fatal(err)
		}
	})
	if allocs != 0 {
		t.Errorf("%v allocations per 10 heads; want 0", allocs)
	}
}

func BenchmarkConnRead(b *testing.B) {
	c := newConn(&loopConn{memConn: memConn{data: []byte(strings.Repeat(benchHead, 64))}}, 16<<10)
	p := make([]byte, 4096) // net/http's bufio.Reader size
	b.SetBytes(int64(len(benchHead)))
	b.ReportAllocs()
	b.ResetTimer()
	if err := readHeads(c, p, b.N); err != nil {
		b.Fatal(err)
	}
}
