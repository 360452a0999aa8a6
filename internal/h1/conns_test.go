package h1

import (
	"bufio"
	"bytes"
	"errors"
	"io"
	"net"
	"net/http"
	"os"
	"strconv"
	"testing"
	"time"
)

// pacedReader reads at most rate bytes per second (a token bucket with a
// burst of 16 KiB): a client downloading slowly but steadily.
type pacedReader struct {
	r     io.Reader
	rate  float64
	start time.Time
	n     int64
}

func (p *pacedReader) Read(b []byte) (int, error) {
	const burst = 16 << 10
	for {
		allowed := int64(p.rate*time.Since(p.start).Seconds()) + burst - p.n
		if allowed > 0 {
			if int64(len(b)) > allowed {
				b = b[:allowed]
			}
			n, err := p.r.Read(b)
			p.n += int64(n)
			return n, err
		}
		time.Sleep(time.Duration(float64(1-allowed) / p.rate * float64(time.Second)))
	}
}

// smallBuffers shrinks the kernel send buffer of accepted connections, so
// that a response is not absorbed by loopback buffers and the server's
// writes follow the client's reading.
type smallBuffers struct{ net.Listener }

func (l smallBuffers) Accept() (net.Conn, error) {
	c, err := l.Listener.Accept()
	if tc, ok := c.(*net.TCPConn); ok {
		_ = tc.SetWriteBuffer(32 << 10)
	}
	return c, err
}

func listenSmall(t *testing.T) net.Listener {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	return smallBuffers{ln}
}

// bodyHandler writes size bytes in 32 KiB writes (as the proxy copies an
// upstream body) and reports the first write error on errc.
func bodyHandler(size int, errc chan<- error) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Length", strconv.Itoa(size))
		chunk := bytes.Repeat([]byte("x"), 32<<10)
		var err error
		for left := size; left > 0 && err == nil; left -= len(chunk) {
			_, err = w.Write(chunk[:min(left, len(chunk))])
		}
		errc <- err
	}
}

// The issue: with write_timeout 5s, a 20 MB download at 1 MB/s was cut at
// 12.5 MB after a 200. WriteTimeout bounds each wait for progress, so a
// download lasting several times WriteTimeout completes.
func TestWriteTimeoutIsBetweenWrites(t *testing.T) {
	const size = 2 << 20
	errc := make(chan error, 1)
	srv := &Server{Handler: bodyHandler(size, errc), WriteTimeout: 250 * time.Millisecond, ReadHeaderTimeout: 5 * time.Second}
	addr := serve(t, srv, listenSmall(t))
	c, _ := dial(t, addr)
	_ = c.(*net.TCPConn).SetReadBuffer(32 << 10)
	write(t, c, "GET /big HTTP/1.1\r\nHost: x\r\n\r\n")
	start := time.Now()
	br := bufio.NewReader(&pacedReader{r: c, rate: 2 << 20, start: start})
	resp, body := readFull(t, br, "GET")
	elapsed := time.Since(start)
	if resp.StatusCode != 200 || len(body) != size {
		t.Fatalf("got %d with %d bytes, want 200 with %d", resp.StatusCode, len(body), size)
	}
	if err := <-errc; err != nil {
		t.Fatalf("handler write: %v", err)
	}
	// Without this the test would prove nothing: the download must have
	// lasted longer than a whole-response cap of WriteTimeout.
	if elapsed < 2*srv.WriteTimeout {
		t.Fatalf("download took %v: too fast to tell progress from a total cap", elapsed)
	}
}

// A client that stops reading is cut after WriteTimeout without progress.
func TestWriteTimeoutCutsStalledReader(t *testing.T) {
	errc := make(chan error, 1)
	srv := &Server{Handler: bodyHandler(64<<20, errc), WriteTimeout: 200 * time.Millisecond, ReadHeaderTimeout: 5 * time.Second}
	addr := serve(t, srv, listenSmall(t))
	c, br := dial(t, addr)
	_ = c.(*net.TCPConn).SetReadBuffer(32 << 10)
	write(t, c, "GET /big HTTP/1.1\r\nHost: x\r\n\r\n")
	if resp, err := http.ReadResponse(br, nil); err != nil || resp.StatusCode != 200 {
		t.Fatalf("head: %v", err)
	}
	// ... and reads nothing more.
	select {
	case err := <-errc:
		if !errors.Is(err, os.ErrDeadlineExceeded) {
			t.Fatalf("handler write error %v, want a deadline", err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("a client that stopped reading was not cut")
	}
}

// ResponseTimeout caps a whole exchange even while every write progresses.
func TestResponseTimeoutCapsExchange(t *testing.T) {
	errc := make(chan error, 1)
	h := func(w http.ResponseWriter, r *http.Request) {
		for {
			if _, err := io.WriteString(w, "tick\n"); err != nil {
				errc <- err
				return
			}
			if err := http.NewResponseController(w).Flush(); err != nil {
				errc <- err
				return
			}
			time.Sleep(20 * time.Millisecond) // a stream that never ends
		}
	}
	srv := &Server{Handler: http.HandlerFunc(h), WriteTimeout: time.Second, ResponseTimeout: 300 * time.Millisecond}
	addr := serve(t, srv)
	c, br := dial(t, addr)
	start := time.Now()
	write(t, c, "GET /stream HTTP/1.1\r\nHost: x\r\n\r\n")
	resp, err := http.ReadResponse(br, nil)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := io.Copy(io.Discard, resp.Body); err == nil {
		t.Fatal("a cut stream ended with its last chunk")
	}
	if d := time.Since(start); d < 250*time.Millisecond {
		t.Errorf("cut after %v, before ResponseTimeout", d)
	}
	if err := <-errc; !errors.Is(err, os.ErrDeadlineExceeded) {
		t.Fatalf("handler write error %v, want a deadline", err)
	}
}

// get sends a GET on c and reads the answer.
func get(t *testing.T, c net.Conn, br *bufio.Reader, path string) int {
	t.Helper()
	write(t, c, "GET "+path+" HTTP/1.1\r\nHost: x\r\n\r\n")
	status, _ := readResponse(t, br)
	return status
}

// keepAlive connects, is served one GET and stays connected.
func keepAlive(t *testing.T, addr, path string) (net.Conn, *bufio.Reader) {
	t.Helper()
	c, br := dial(t, addr)
	if status := get(t, c, br, path); status != 200 {
		t.Fatalf("GET %s: %d", path, status)
	}
	return c, br
}

// At MaxConns a new connection takes the place of the one idle the
// longest; when every connection is busy it gets a 503 and is closed.
func TestMaxConnsReclaimsIdlestThenRefuses(t *testing.T) {
	release := make(chan struct{})
	busy := make(chan struct{}, 2)
	h := func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/busy" {
			busy <- struct{}{}
			<-release
		}
		io.WriteString(w, "ok")
	}
	srv := &Server{Handler: http.HandlerFunc(h), MaxConns: 2, ReadHeaderTimeout: 5 * time.Second, IdleTimeout: time.Minute}
	addr := serve(t, srv)
	defer close(release)

	_, abr := keepAlive(t, addr, "/a")
	waitFor(t, func() bool { return idleConns(srv) == 1 }) // a client may read its answer before the server goes idle
	b, bbr := keepAlive(t, addr, "/b")
	waitFor(t, func() bool { return idleConns(srv) == 2 })
	c, _ := keepAlive(t, addr, "/c") // the third: a, idle the longest, makes room
	expectClosed(t, abr)
	if get(t, b, bbr, "/b-again") != 200 {
		t.Fatal("b was closed instead of a")
	}
	if srv.Reclaimed() != 1 {
		t.Errorf("Reclaimed() = %d, want 1", srv.Reclaimed())
	}

	// Both connections busy: a new one is refused before it is read.
	write(t, b, "GET /busy HTTP/1.1\r\nHost: x\r\n\r\n")
	write(t, c, "GET /busy HTTP/1.1\r\nHost: x\r\n\r\n")
	<-busy
	<-busy
	d, dbr := dial(t, addr)
	write(t, d, "GET /d HTTP/1.1\r\nHost: x\r\n\r\n")
	resp, body := readFull(t, dbr, "GET")
	if resp.StatusCode != 503 || resp.Header.Get("Retry-After") != "1" || !resp.Close || body != "" {
		t.Fatalf("over MaxConns: %d %v close=%v %q", resp.StatusCode, resp.Header, resp.Close, body)
	}
	expectClosed(t, dbr)
	if srv.Refused() != 1 {
		t.Errorf("Refused() = %d, want 1", srv.Refused())
	}
}

// A connection that has not sent a byte yet is idle too: under pressure it
// goes before a keep-alive connection that waited less.
func TestMaxConnsOrderIsIdleTime(t *testing.T) {
	srv := &Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {}), MaxConns: 2,
		ReadHeaderTimeout: 5 * time.Second, IdleTimeout: time.Minute}
	addr := serve(t, srv)
	_, silentBR := dial(t, addr) // accepted first, never sends
	waitFor(t, func() bool { return idleConns(srv) == 1 })
	k, kbr := keepAlive(t, addr, "/k")
	waitFor(t, func() bool { return idleConns(srv) == 2 })
	keepAlive(t, addr, "/n")
	expectClosed(t, silentBR)
	if get(t, k, kbr, "/k-again") != 200 {
		t.Fatal("the keep-alive connection was closed instead of the silent one")
	}
}

// idleConns counts the connections waiting for their next request, on
// their goroutine or parked.
func idleConns(s *Server) int {
	s.mu.Lock()
	defer s.mu.Unlock()
	n := 0
	for c := range s.conns {
		if st := c.state.Load(); st == stateIdle || st == stateParked {
			n++
		}
	}
	return n
}

func waitFor(t *testing.T, cond func() bool) {
	t.Helper()
	for deadline := time.Now().Add(10 * time.Second); !cond(); {
		if time.Now().After(deadline) {
			t.Fatal("condition not reached in 10s")
		}
		time.Sleep(time.Millisecond)
	}
}
