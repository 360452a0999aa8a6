//go:build linux

package h1

import (
	"bufio"
	"context"
	"crypto/tls"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// parkStats returns how many keep-alive connections (waiting for a request
// after the first) srv parked, woke and expired since it started. A new
// connection may be parked before its first request arrives on a loaded
// machine: those are counted apart (firstParkStats), so that tests of
// keep-alive parking do not depend on how fast the client's first request
// came.
func parkStats(s *Server) (parks, wakes, expired int64) { return kindStats(s, kindKeepAlive) }

// firstParkStats: the same for new connections waiting for their first
// request.
func firstParkStats(s *Server) (parks, wakes, expired int64) { return kindStats(s, kindFirst) }

func kindStats(s *Server, kind int) (parks, wakes, expired int64) {
	p := s.park.p.Load()
	if p == nil {
		return 0, 0, 0
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.parks[kind], p.wakes[kind], p.expired[kind]
}

func parks(s *Server) int64   { n, _, _ := parkStats(s); return n }
func wakes(s *Server) int64   { _, n, _ := parkStats(s); return n }
func expired(s *Server) int64 { _, _, n := parkStats(s); return n }

func firstParks(s *Server) int64   { n, _, _ := firstParkStats(s); return n }
func firstWakes(s *Server) int64   { _, n, _ := firstParkStats(s); return n }
func firstExpired(s *Server) int64 { _, _, n := firstParkStats(s); return n }

// okHandler answers "ok".
var okHandler = http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { io.WriteString(w, "ok") })

// parkingServer parks idle connections at once; its timeouts never fire
// unless the test sets them.
func parkingServer(h http.Handler) *Server {
	return &Server{Handler: h, ParkAfter: time.Millisecond, ReadHeaderTimeout: time.Minute, IdleTimeout: time.Minute}
}

// A parked keep-alive connection that sends a request is answered, on a
// context made afresh, and parks again: several cycles on one connection.
func TestParkedConnServedAgain(t *testing.T) {
	var contexts atomic.Int64
	srv := parkingServer(okHandler)
	srv.ConnContext = func(ctx context.Context, _ net.Conn) context.Context {
		contexts.Add(1)
		return ctx
	}
	addr := serve(t, srv)
	c, br := keepAlive(t, addr, "/0")
	for i := int64(1); i <= 3; i++ {
		waitFor(t, func() bool { return parks(srv) == i && srv.Parked() == 1 })
		if status := get(t, c, br, "/again"); status != 200 {
			t.Fatalf("cycle %d: status %d", i, status)
		}
		if w := wakes(srv); w != i {
			t.Fatalf("cycle %d: %d wakes, want %d", i, w, i)
		}
	}
	if n := srv.Conns(); n != 1 {
		t.Errorf("Conns() = %d, want 1", n)
	}
	// ConnContext ran when the connection started and at each resume (a
	// first request that came late woke it once more).
	if n, want := contexts.Load(), 4+firstWakes(srv); n != want {
		t.Errorf("ConnContext called %d times, want %d", n, want)
	}
}

// Requests that arrive while the connection is parked are all read: two
// pipelined in one write, and a head split across writes (the first part
// wakes the connection, which then waits for the rest on its goroutine).
func TestParkedConnPipelinedAndSplitHead(t *testing.T) {
	srv := parkingServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { io.WriteString(w, r.URL.Path) }))
	addr := serve(t, srv)
	c, br := keepAlive(t, addr, "/first")
	waitFor(t, func() bool { return parks(srv) == 1 })
	write(t, c, "GET /a HTTP/1.1\r\nHost: x\r\n\r\nGET /b HTTP/1.1\r\nHost: x\r\n\r\n")
	for _, want := range []string{"/a", "/b"} {
		if status, body := readResponse(t, br); status != 200 || body != want {
			t.Fatalf("got %d %q, want 200 %q", status, body, want)
		}
	}
	waitFor(t, func() bool { return parks(srv) == 2 })
	write(t, c, "GET /sp")
	waitFor(t, func() bool { return wakes(srv) == 2 })
	write(t, c, "lit HTTP/1.1\r\nHost: x\r\n\r\n")
	if status, body := readResponse(t, br); status != 200 || body != "/split" {
		t.Fatalf("split head: got %d %q", status, body)
	}
}

// The idle timeout holds while parked: the connection is closed without a
// response, and forgotten.
func TestParkedConnIdleTimeout(t *testing.T) {
	srv := parkingServer(okHandler)
	srv.IdleTimeout = 500 * time.Millisecond
	addr := serve(t, srv)
	_, br := keepAlive(t, addr, "/")
	waitFor(t, func() bool { return parks(srv) == 1 })
	expectClosed(t, br)
	waitFor(t, func() bool { return srv.Conns() == 0 })
	if p, w, e := parkStats(srv); p != 1 || w != 0 || e != 1 || srv.Parked() != 0 {
		t.Fatalf("parks %d, wakes %d, expired %d, parked %d; want 1, 0, 1, 0", p, w, e, srv.Parked())
	}
}

// A new connection that sends nothing is parked too, and its header
// timeout (from accept) still holds; one that later sends is served.
func TestParkedNewConn(t *testing.T) {
	srv := parkingServer(okHandler)
	srv.ReadHeaderTimeout = 500 * time.Millisecond
	addr := serve(t, srv)
	_, silent := dial(t, addr)
	waitFor(t, func() bool { return firstParks(srv) == 1 })
	expectClosed(t, silent)
	waitFor(t, func() bool { return firstExpired(srv) == 1 && srv.Conns() == 0 })

	srv2 := parkingServer(okHandler)
	addr2 := serve(t, srv2)
	c, br := dial(t, addr2)
	waitFor(t, func() bool { return firstParks(srv2) == 1 })
	if status := get(t, c, br, "/late"); status != 200 {
		t.Fatalf("status %d", status)
	}
}

// Shutdown closes parked connections and returns.
func TestShutdownClosesParked(t *testing.T) {
	srv := parkingServer(okHandler)
	addr := serve(t, srv)
	var readers []*bufio.Reader
	for range 3 {
		_, br := keepAlive(t, addr, "/")
		readers = append(readers, br)
	}
	waitFor(t, func() bool { return srv.Parked() == 3 })
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := srv.Shutdown(ctx); err != nil {
		t.Fatalf("Shutdown: %v", err)
	}
	for _, br := range readers {
		expectClosed(t, br)
	}
	if srv.Conns() != 0 || srv.Parked() != 0 {
		t.Fatalf("after Shutdown: %d conns, %d parked", srv.Conns(), srv.Parked())
	}
	if p := srv.park.p.Load(); p == nil || !p.closed {
		t.Fatal("the poller is still open")
	}
}

// Close closes parked connections at once.
func TestCloseClosesParked(t *testing.T) {
	srv := parkingServer(okHandler)
	addr := serve(t, srv)
	_, br := keepAlive(t, addr, "/")
	waitFor(t, func() bool { return srv.Parked() == 1 })
	srv.Close()
	expectClosed(t, br)
	if srv.Conns() != 0 {
		t.Fatalf("after Close: %d conns", srv.Conns())
	}
}

// At MaxConns a new connection takes the place of the parked one idle the
// longest.
func TestMaxConnsReclaimsParked(t *testing.T) {
	srv := parkingServer(okHandler)
	srv.MaxConns = 2
	addr := serve(t, srv)
	_, abr := keepAlive(t, addr, "/a")
	waitFor(t, func() bool { return srv.Parked() == 1 })
	b, bbr := keepAlive(t, addr, "/b")
	waitFor(t, func() bool { return srv.Parked() == 2 })
	keepAlive(t, addr, "/c")
	expectClosed(t, abr)
	if srv.Reclaimed() != 1 {
		t.Fatalf("Reclaimed() = %d, want 1", srv.Reclaimed())
	}
	if status := get(t, b, bbr, "/b-again"); status != 200 {
		t.Fatalf("b: status %d", status)
	}
	if _, w, e := parkStats(srv); e != 0 || w < 1 {
		t.Fatalf("wakes %d, expired %d", w, e)
	}
}

// A client that closes while its connection is parked wakes it, and it is
// forgotten.
func TestParkedClientCloses(t *testing.T) {
	srv := parkingServer(okHandler)
	addr := serve(t, srv)
	c, _ := keepAlive(t, addr, "/")
	waitFor(t, func() bool { return srv.Parked() == 1 })
	c.Close()
	waitFor(t, func() bool { return srv.Conns() == 0 })
	if p, w, e := parkStats(srv); p != 1 || w != 1 || e != 0 || srv.Parked() != 0 {
		t.Fatalf("parks %d, wakes %d, expired %d, parked %d; want 1, 1, 0, 0", p, w, e, srv.Parked())
	}
}

// A TLS connection is not parked (a *tls.Conn may hold records epoll cannot
// see) but is served as before. A plain connection that began waiting later
// on the same server is parked meanwhile.
func TestTLSConnNotParked(t *testing.T) {
	ln, raw, client := tlsListener(t)
	plain, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	srv := parkingServer(okHandler)
	serve(t, srv, ln)
	go srv.Serve(plain)

	tc, err := tls.Dial("tcp", raw.Addr().String(), client.Transport.(*http.Transport).TLSClientConfig)
	if err != nil {
		t.Fatal(err)
	}
	defer tc.Close()
	tc.SetDeadline(time.Now().Add(10 * time.Second))
	tbr := bufio.NewReader(tc)
	if status := get(t, tc, tbr, "/tls"); status != 200 {
		t.Fatalf("TLS: status %d", status)
	}
	waitFor(t, func() bool { return idleConns(srv) == 1 })
	keepAlive(t, plain.Addr().String(), "/plain")
	waitFor(t, func() bool { return parks(srv) == 1 })
	if srv.Parked() != 1 || idleConns(srv) != 2 {
		t.Fatalf("parked %d, idle %d; want 1, 2", srv.Parked(), idleConns(srv))
	}
	if status := get(t, tc, tbr, "/tls-again"); status != 200 {
		t.Fatalf("TLS again: status %d", status)
	}
	if parks(srv) != 1 {
		t.Fatalf("%d parks, want 1", parks(srv))
	}
}

// Many clients park, wake and close at once (for the race detector): every
// request is answered, and every connection is forgotten in the end.
func TestParkChurn(t *testing.T) {
	srv := parkingServer(okHandler)
	srv.ParkAfter = time.Microsecond // almost every wait parks
	addr := serve(t, srv)
	var wg sync.WaitGroup
	errs := make(chan string, 64)
	for i := range 16 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for round := range 4 {
				c, err := net.Dial("tcp", addr)
				if err != nil {
					errs <- err.Error()
					return
				}
				c.SetDeadline(time.Now().Add(10 * time.Second))
				br := bufio.NewReader(c)
				for range 10 {
					io.WriteString(c, "GET / HTTP/1.1\r\nHost: x\r\n\r\n")
					resp, err := http.ReadResponse(br, nil)
					if err != nil {
						errs <- err.Error()
						break
					}
					io.Copy(io.Discard, resp.Body)
					resp.Body.Close()
				}
				if (i+round)%2 == 0 {
					c.(*net.TCPConn).CloseWrite() // half-close: RDHUP
				}
				c.Close()
			}
		}()
	}
	wg.Wait()
	close(errs)
	for e := range errs {
		t.Error(e)
	}
	waitFor(t, func() bool { return srv.Conns() == 0 && srv.Parked() == 0 })
	if parks(srv) == 0 {
		t.Fatal("nothing was parked")
	}
}

// With a park delay shorter than the time it takes to start a read, every
// wait parks; a woken connection still reads what woke it (Read checks
// its deadline before reading, so it must not wait with the park delay
// again, or it would park forever without reading).
func TestParkAfterTiny(t *testing.T) {
	srv := parkingServer(okHandler)
	srv.ParkAfter = time.Nanosecond
	addr := serve(t, srv)
	c, br := dial(t, addr)
	for i := range 20 {
		if status := get(t, c, br, "/"); status != 200 {
			t.Fatalf("request %d: status %d", i, status)
		}
	}
	if parks(srv) == 0 {
		t.Fatal("nothing was parked")
	}
}

// A head that arrives slowly, its parts further apart than the park delay
// but within the header timeout, is read whole: once its first bytes came,
// the park delay no longer bounds the read (the header timeout does), on a
// new connection and on a keep-alive one.
func TestSlowHeadOutlivesParkDelay(t *testing.T) {
	srv := &Server{Handler: okHandler, ParkAfter: 20 * time.Millisecond, ReadHeaderTimeout: time.Minute, IdleTimeout: time.Minute}
	addr := serve(t, srv)
	c, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	c.SetDeadline(time.Now().Add(10 * time.Second))
	br := bufio.NewReader(c)
	for i := range 2 {
		io.WriteString(c, "GET /slow HTTP/1.1\r\n")
		time.Sleep(100 * time.Millisecond) // lets the park delay pass: not a synchronisation
		io.WriteString(c, "Host: x\r\n\r\n")
		resp, err := http.ReadResponse(br, nil)
		if err != nil {
			t.Fatalf("request %d: the connection was cut while its head arrived: %v", i, err)
		}
		io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		if resp.StatusCode != 200 {
			t.Fatalf("request %d: status %d", i, resp.StatusCode)
		}
	}
}

// A parked connection holds a bare descriptor, not a net.Conn (whose
// netFD, addresses and poll descriptor are what made idle connections
// cost), and only while parked is it in the epoll set: across park and
// resume cycles the set holds one registration, the handler sees the same
// addresses, and once the connection ends no descriptor is left behind.
func TestParkedConnGivesUpNetConn(t *testing.T) {
	type addrs struct{ remote, local string }
	seen := make(chan addrs, 8)
	srv := parkingServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		la, _ := r.Context().Value(http.LocalAddrContextKey).(net.Addr)
		local := ""
		if la != nil {
			local = la.String()
		}
		seen <- addrs{r.RemoteAddr, local}
		io.WriteString(w, "ok")
	}))
	addr := serve(t, srv)
	before := openFDs(t)
	c, br := keepAlive(t, addr, "/0")
	want := addrs{c.LocalAddr().String(), c.RemoteAddr().String()}
	if got := <-seen; got != want {
		t.Fatalf("first request: addresses %+v, want %+v", got, want)
	}
	for i := int64(1); i <= 3; i++ {
		waitFor(t, func() bool { return parks(srv) == i && srv.Parked() == 1 })
		srv.mu.Lock()
		for pc := range srv.conns {
			if pc.state.Load() == stateParked && pc.rwc != nil {
				t.Errorf("cycle %d: a parked connection still holds its net.Conn", i)
			}
		}
		srv.mu.Unlock()
		if n := epollRegistrations(t, srv); n != 1 {
			t.Fatalf("cycle %d: %d descriptors in the epoll set while one connection is parked, want 1", i, n)
		}
		if n := srv.Idle(); n != 1 {
			t.Fatalf("cycle %d: Idle() = %d with one connection parked, want 1", i, n)
		}
		if status := get(t, c, br, "/again"); status != 200 {
			t.Fatalf("cycle %d: status %d", i, status)
		}
		if got := <-seen; got != want {
			t.Fatalf("cycle %d: addresses %+v after resuming, want %+v", i, got, want)
		}
	}
	c.Close()
	waitFor(t, func() bool { return srv.Conns() == 0 })
	if n := epollRegistrations(t, srv); n != 0 {
		t.Errorf("%d descriptors left in the epoll set", n)
	}
	// The epoll descriptor, made at the first park, is the one more.
	waitFor(t, func() bool { return openFDs(t) == before+1 })
}

// openFDs counts the process's open descriptors.
func openFDs(t *testing.T) int {
	ents, err := os.ReadDir("/proc/self/fd")
	if err != nil {
		t.Skipf("no /proc/self/fd: %v", err)
	}
	return len(ents)
}

// epollRegistrations counts the descriptors in srv's epoll set (the
// kernel lists each as a "tfd:" line in the epoll descriptor's fdinfo).
func epollRegistrations(t *testing.T, srv *Server) int {
	p := srv.park.p.Load()
	if p == nil {
		t.Fatal("no poller")
	}
	b, err := os.ReadFile(fmt.Sprintf("/proc/self/fdinfo/%d", p.epfd))
	if err != nil {
		t.Skipf("no fdinfo: %v", err)
	}
	return strings.Count(string(b), "tfd:")
}

// A resumed connection (an fdConn now) is refused and closed the way any
// other is: a malformed head with more bytes behind it gets its 400
// through a lingering close (CloseWrite, then draining), not a reset.
func TestResumedConnRefusedWithLinger(t *testing.T) {
	srv := parkingServer(okHandler)
	addr := serve(t, srv)
	c, br := keepAlive(t, addr, "/")
	waitFor(t, func() bool { return parks(srv) == 1 })
	write(t, c, "GET / HTTP/1.1\r\nHost: x\r\nBad Field\r\n\r\n"+strings.Repeat("x", 256<<10))
	if status, _ := readResponse(t, br); status != 400 {
		t.Fatalf("status %d, want 400", status)
	}
	expectClosed(t, br)
	waitFor(t, func() bool { return srv.Conns() == 0 })
}
