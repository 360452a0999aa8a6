package h1

import (
	"bufio"
	"bytes"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/url"
	"reflect"
	"sync"
	"testing"
	"time"

	"golang.org/x/net/http/httpguts"

	"github.com/rampart-gw/rampart/internal/framing"
)

// memConn is an in-memory net.Conn: Read hands out data at most chunk bytes
// at a time, then io.EOF; writes are collected; Close reports on done.
type memConn struct {
	mu    sync.Mutex
	data  []byte
	chunk int
	out   bytes.Buffer
	done  chan struct{}
	once  sync.Once
}

func (m *memConn) Read(p []byte) (int, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if len(m.data) == 0 {
		return 0, io.EOF
	}
	n := copy(p[:min(len(p), m.chunk)], m.data)
	m.data = m.data[n:]
	return n, nil
}

func (m *memConn) Write(p []byte) (int, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.out.Write(p)
}

func (m *memConn) Close() error                     { m.once.Do(func() { close(m.done) }); return nil }
func (m *memConn) LocalAddr() net.Addr              { return memAddr{} }
func (m *memConn) RemoteAddr() net.Addr             { return memAddr{} }
func (m *memConn) SetDeadline(time.Time) error      { return nil }
func (m *memConn) SetReadDeadline(time.Time) error  { return nil }
func (m *memConn) SetWriteDeadline(time.Time) error { return nil }

type memAddr struct{}

func (memAddr) Network() string { return "mem" }
func (memAddr) String() string  { return "mem" }

// chanListener hands out the conns sent on it.
type chanListener struct {
	conns  chan net.Conn
	closed chan struct{}
	once   sync.Once
}

func newChanListener() *chanListener {
	return &chanListener{conns: make(chan net.Conn), closed: make(chan struct{})}
}

func (l *chanListener) Accept() (net.Conn, error) {
	select {
	case c := <-l.conns:
		return c, nil
	case <-l.closed:
		return nil, net.ErrClosed
	}
}

func (l *chanListener) Close() error   { l.once.Do(func() { close(l.closed) }); return nil }
func (l *chanListener) Addr() net.Addr { return memAddr{} }

func fuzzSeeds(f *testing.F) {
	for _, tc := range attacks {
		f.Add([]byte(tc.payload), uint8(0))
	}
	for _, tc := range differentialRequests {
		f.Add([]byte(tc.raw), uint8(3))
	}
	f.Add([]byte("GET / HTTP/1.1\r\nHost: x\r\n\r\nPOST /b HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabc\r\n0\r\nX-T: 1\r\n\r\n"), uint8(7))
	f.Add([]byte("PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n"), uint8(1))
}

// FuzzServeConn feeds arbitrary bytes as a connection's input to a real
// Server whose handler reads the body: no panic, no hang, and every request
// the handler sees is well formed.
func FuzzServeConn(f *testing.F) {
	fuzzSeeds(f)
	var bad struct {
		sync.Mutex
		msg string
	}
	srv := &Server{
		MaxHeaderBytes: 4096,
		Logger:         slog.New(slog.NewTextHandler(io.Discard, nil)),
		Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			msg := ""
			switch {
			case !framing.ValidToken(r.Method):
				msg = "bad method " + r.Method
			case r.URL == nil || r.RequestURI == "":
				msg = "no target"
			case r.Method != http.MethodConnect && r.ProtoMinor == 1 && r.Host == "" && len(r.Header["Host"]) > 0:
				msg = "lost host"
			case !httpguts.ValidHostHeader(r.Host):
				msg = "bad host " + r.Host
			case r.ProtoMajor != 1 || r.ProtoMinor > 1:
				msg = "bad version"
			}
			if msg != "" {
				bad.Lock()
				bad.msg = msg
				bad.Unlock()
			}
			io.Copy(io.Discard, r.Body)
			w.Header().Set("X-Method", r.Method)
			io.WriteString(w, "ok")
		}),
	}
	srv.Reject = func(w http.ResponseWriter, r *http.Request, reason framing.Reason) {
		msg := ""
		switch {
		case reason == "":
			msg = "refused without a reason"
		case r.Method != "" && !framing.ValidToken(r.Method):
			msg = "refused request with bad method " + r.Method
		case !r.Close || r.URL == nil || r.Body != http.NoBody:
			msg = "refused request not closing"
		}
		if msg != "" {
			bad.Lock()
			bad.msg = msg
			bad.Unlock()
		}
		w.WriteHeader(http.StatusBadRequest)
	}
	ln := newChanListener()
	go srv.Serve(ln)
	defer srv.Close()
	f.Fuzz(func(t *testing.T, data []byte, chunk uint8) {
		c := &memConn{data: data, chunk: int(chunk)%64 + 1, done: make(chan struct{})}
		ln.conns <- c
		select {
		case <-c.done:
		case <-time.After(10 * time.Second):
			t.Fatalf("connection not closed for input %q", data)
		}
		bad.Lock()
		msg := bad.msg
		bad.msg = ""
		bad.Unlock()
		if msg != "" {
			t.Fatalf("%s for input %q", msg, data)
		}
	})
}

// FuzzParseHead checks the head→Request conversion against net/http's
// parser: a head that framing.ScanHead and parseHead accept must give the
// same fields as http.ReadRequest, and be well formed.
func FuzzParseHead(f *testing.F) {
	fuzzSeeds(f)
	f.Fuzz(func(t *testing.T, data []byte, _ uint8) {
		n, reason := framing.ScanHead(data, 8192)
		if n == 0 || reason != "" {
			return
		}
		var r http.Request
		var u url.URL
		_, reason = parseHead(string(data[:n]), &r, &u)
		if reason != "" {
			return
		}
		for k := range r.Header {
			if k != http.CanonicalHeaderKey(k) || k == "Host" {
				t.Fatalf("header key %q", k)
			}
		}
		if data[0] == '\r' || data[0] == '\n' {
			return // http.ReadRequest does not skip a leading empty line
		}
		std, err := http.ReadRequest(bufio.NewReader(bytes.NewReader(data[:n])))
		if err != nil {
			t.Fatalf("accepted %q; net/http: %v", data[:n], err)
		}
		delete(std.Header, "Host")
		if std.Method != r.Method || std.RequestURI != r.RequestURI || !reflect.DeepEqual(*std.URL, u) || // URL.User is a pointer
			std.Host != r.Host || !reflect.DeepEqual(std.Header, r.Header) ||
			std.ContentLength != r.ContentLength || std.Close != r.Close ||
			!reflect.DeepEqual(std.TransferEncoding, r.TransferEncoding) {
			t.Fatalf("head %q:\nh1:       %s %s %+v %q %v %d %v\nnet/http: %s %s %+v %q %v %d %v", data[:n],
				r.Method, r.RequestURI, u, r.Host, r.Header, r.ContentLength, r.Close,
				std.Method, std.RequestURI, *std.URL, std.Host, std.Header, std.ContentLength, std.Close)
		}
	})
}
