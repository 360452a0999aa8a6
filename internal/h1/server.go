// Package h1 is Rampart's HTTP/1.x server for the public listener: a lean,
// strict replacement for net/http's server.
//
// Each request head is read into a per-connection buffer and checked once,
// by framing.ScanHead, which holds the package framing's rules against
// request smuggling (CL+TE, bad Transfer-Encoding, TE on HTTP/1.0, obs-fold,
// bad or repeated Content-Length, whitespace before a colon, bad field bytes,
// bad targets, duplicate Host, oversize heads). A head that breaks them, and
// one that net/http would refuse with its own plain-text 400 or 505 (a
// request line it cannot parse, a method that is not a token, a version
// other than HTTP/1.0 and HTTP/1.1, the HTTP/2 preface "PRI * HTTP/2.0"
// since h2c is not supported, a missing Host on HTTP/1.1, an Expect other
// than 100-continue), is not parsed further: it goes to [Server.Reject], not
// to the Handler, with its [framing.Reason]. The bytes after a refused head
// are never read as a request: the connection is closed after the response
// with a lingering half-close (framing.Linger), so that the client reads the
// response instead of a reset.
//
// A request body the handler left unread (a refusal) does not delay the
// response: the response is sent first, then up to 1 MiB of the body is
// read and dropped, within 2 s, to keep the connection; a declared body
// larger than that, or one that does not end in time, closes the connection
// with a lingering close, so a client still uploading reads the response.
//
// Chunked request bodies are read strictly (framing.ChunkedReader);
// malformed framing fails the body's Read with an error that wraps
// framing.ErrBadChunk.
//
// A handler aborts a response it cannot complete (an upstream body that
// broke after the head was sent) the way net/http and HTTP/2 servers
// understand: it panics with http.ErrAbortHandler. The connection is then
// closed at once, without completing the response: a chunked body gets no
// last chunk and a Content-Length body stays short, so the client sees a
// broken response, never a truncated one that looks complete. Nothing is
// logged for that panic.
//
// One goroutine serves each connection while it is busy, and no other
// goroutine runs per request. An idle keep-alive connection (or a new one
// that has not sent a byte) waits for its next request on its goroutine for
// [Server.ParkAfter] (1 s) only: then, on Linux and for plain TCP, it is
// parked. Its goroutine ends, its net.Conn is closed and a duplicate of
// its descriptor waits in an epoll set that one goroutine per server
// serves through Go's netpoller, and what it needs only while served (its
// context, parser state, buffers) goes back to pools; a parked connection
// costs the kernel's socket and ~240 bytes of Go heap. When bytes arrive
// (or the client closes) a new goroutine resumes serving it on a new
// net.Conn made of that descriptor (not a *net.TCPConn: see fdConn), its
// context made afresh (ConnContext is called again). Its idle or header
// deadline still holds, and Shutdown, Close and MaxConns treat it as the
// idle connection it is. TLS connections are not parked (a *tls.Conn may hold decrypted
// bytes epoll cannot see): they keep their goroutine while idle, with
// their 4 KiB buffers pooled meanwhile, as on other systems.
//
// There is no background read while the handler runs, so a client
// that disconnects does not cancel the request's context; the context is
// cancelled when the handler returns. (A handler that needs to notice a
// disconnect early reads or writes, or, like Rampart's proxy, peeks at the
// socket through a check its ConnContext installed: see
// pipeline.WatchClient and pipeline.ClientGone.)
//
// A handler must not keep the response's header map after it returns: a
// keep-alive connection clears it and reuses it for its next response.
package h1

import (
	"context"
	"crypto/tls"
	"errors"
	"io"
	"log/slog"
	"net"
	"net/http"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/rampart-gw/rampart/internal/framing"
	"github.com/rampart-gw/rampart/internal/sockio"
)

// Server serves HTTP/1.x on the connections of a listener. The fields must
// not be changed once Serve was called.
type Server struct {
	// Handler answers requests; nil means http.DefaultServeMux.
	Handler http.Handler
	// Reject answers a request whose head was refused, for reason. r
	// carries the method, target and version of the request line when it
	// could be read (Method is "" otherwise), RemoteAddr, TLS and the
	// connection's context; its header and body are empty, and Close is
	// set: the connection is closed after the response. nil means a plain
	// 400 with the reason.
	Reject func(w http.ResponseWriter, r *http.Request, reason framing.Reason)

	// ReadHeaderTimeout bounds reading a request head, from its first byte
	// (from accept for a connection's first request). Zero means
	// ReadTimeout.
	ReadHeaderTimeout time.Duration
	// ReadTimeout bounds reading a whole request, body included.
	ReadTimeout time.Duration
	// WriteTimeout bounds each wait for a response write to make progress:
	// every successful write starts it afresh (nginx's send_timeout), so a
	// slow but steady download is never cut, and a client that stops
	// reading is cut after WriteTimeout. Zero means no bound.
	WriteTimeout time.Duration
	// ResponseTimeout bounds a whole exchange, from the first byte of the
	// request head to the last byte of the response; a write that would
	// end later fails and the connection closes. Zero means no bound.
	ResponseTimeout time.Duration
	// IdleTimeout bounds the wait for the next request on a keep-alive
	// connection. Zero means ReadTimeout.
	IdleTimeout time.Duration
	// MaxHeaderBytes bounds a request head (request line, fields, CR/LF
	// before the request line and the empty line that ends it), and a
	// trailer section. <= 0 means 16 KiB.
	MaxHeaderBytes int
	// MaxConns bounds the connections served at once; zero means no bound.
	// At the bound a new connection takes the place of the one that has
	// waited longest for its next request; when none is waiting, the new
	// one is answered 503 (Retry-After: 1) and closed.
	MaxConns int
	// ConnContext, when set, derives the base context of a connection's
	// requests. It is called when a connection starts being served, and
	// again each time it resumes after it was parked (see ParkAfter), with
	// the connection's new net.Conn: what it returned before was dropped.
	ConnContext func(context.Context, net.Conn) context.Context
	// ParkAfter is how long an idle connection waits for its next request
	// on its own goroutine before it is parked (Linux, plain TCP: see the
	// package documentation). Zero means 1 s; negative, never park.
	ParkAfter time.Duration
	// Logger receives handler panics and server faults; nil means
	// slog.Default().
	Logger *slog.Logger

	mu        sync.Mutex
	listeners map[*net.Listener]struct{}
	conns     map[*conn]struct{}
	closing   atomic.Bool
	badField  atomic.Bool  // a bad response field was logged at Warn
	refusing  atomic.Int32 // refused connections lingering
	refused   atomic.Int64
	reclaimed atomic.Int64
	park      parking // the parked connections (park_linux.go)
}

const defaultParkAfter = time.Second

func (s *Server) parkAfter() time.Duration {
	switch {
	case s.ParkAfter == 0:
		return defaultParkAfter
	case s.ParkAfter < 0:
		return 0
	}
	return s.ParkAfter
}

const defaultMaxHeaderBytes = 16 << 10

func (s *Server) maxHeaderBytes() int {
	if s.MaxHeaderBytes > 0 {
		return s.MaxHeaderBytes
	}
	return defaultMaxHeaderBytes
}

func (s *Server) logger() *slog.Logger {
	if s.Logger != nil {
		return s.Logger
	}
	return slog.Default()
}

func (s *Server) handler() http.Handler {
	if s.Handler != nil {
		return s.Handler
	}
	return http.DefaultServeMux
}

// Serve accepts connections on ln and serves each on its own goroutine. It
// returns http.ErrServerClosed after Shutdown or Close, or the listener's
// error. Temporary accept errors are retried with a back-off, as net/http
// does; when the process is out of file descriptors (EMFILE, ENFILE) the
// connection idle the longest is closed first. Serve closes ln when it
// returns.
func (s *Server) Serve(ln net.Listener) error {
	l := &ln
	if !s.trackListener(l, true) {
		return http.ErrServerClosed
	}
	defer s.trackListener(l, false)
	defer ln.Close()
	var delay time.Duration
	for {
		rwc, err := ln.Accept()
		if err != nil {
			if s.closing.Load() {
				return http.ErrServerClosed
			}
			if isTemporary(err) {
				if errors.Is(err, syscall.EMFILE) || errors.Is(err, syscall.ENFILE) {
					s.CloseIdlest()
				}
				delay = min(max(2*delay, 5*time.Millisecond), time.Second)
				s.logger().Warn("h1: accept error; retrying", "error", err.Error(), "delay", delay.String())
				time.Sleep(delay)
				continue
			}
			return err
		}
		delay = 0
		rwc = sockio.Wrap(rwc)
		c := newConn(s, rwc)
		switch s.admit(c) {
		case admitClosing:
			_ = rwc.Close()
			return http.ErrServerClosed
		case admitFull:
			s.refuse(rwc)
			continue
		}
		go c.serve()
	}
}

func isTemporary(err error) bool {
	var t interface{ Temporary() bool }
	if errors.As(err, &t) && t.Temporary() {
		return true
	}
	var ne net.Error
	return errors.As(err, &ne) && ne.Timeout()
}

type admission int

const (
	admitted admission = iota
	admitFull
	admitClosing
)

// admit adds c to the connections served, making room under MaxConns by
// closing the connection idle the longest.
func (s *Server) admit(c *conn) admission {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closing.Load() {
		return admitClosing
	}
	if s.conns == nil {
		s.conns = make(map[*conn]struct{})
	}
	if s.MaxConns > 0 && len(s.conns) >= s.MaxConns && !s.closeIdlestLocked() {
		return admitFull
	}
	s.conns[c] = struct{}{}
	return admitted
}

// CloseIdlest closes the connection that has waited longest for its next
// request (a keep-alive connection, or a new one that has sent nothing
// yet), and reports whether there was one. The server calls it itself at
// MaxConns and when out of file descriptors; it is exported for a listener
// that accepts for the server (the TLS acceptor) and runs out too.
func (s *Server) CloseIdlest() bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.closeIdlestLocked()
}

// closeIdlestLocked scans every connection: it runs only under pressure, so
// keeping idle connections in order on every request is not worth it.
func (s *Server) closeIdlestLocked() bool {
	var oldest *conn
	var since int64
	for c := range s.conns {
		if st := c.state.Load(); st != stateIdle && st != stateParked {
			continue
		}
		if t := c.idleSince.Load(); oldest == nil || t < since {
			oldest, since = c, t
		}
	}
	if oldest == nil || !s.closeIfIdleLocked(oldest) {
		return false
	}
	s.reclaimed.Add(1)
	return true
}

// closeIfIdleLocked closes c if it is waiting for a request, on its
// goroutine or parked, and reports whether it did. Its slot is free at
// once (the goroutine of an idle one ends on the closed socket).
func (s *Server) closeIfIdleLocked(c *conn) bool {
	switch {
	case c.state.CompareAndSwap(stateIdle, stateClosed):
		_ = c.rwc.Close()
	case c.state.CompareAndSwap(stateParked, stateClosed):
		s.dropParked(c)
	default:
		return false
	}
	delete(s.conns, c)
	return true
}

// overloaded is the whole answer to a connection over MaxConns. It is sent
// before the request is read: Envoy closes such connections and nginx
// leaves them in the listen queue, but a status says why, and when to retry.
const overloaded = "HTTP/1.1 503 Service Unavailable\r\nContent-Length: 0\r\nRetry-After: 1\r\nConnection: close\r\n\r\n"

// maxRefusing bounds the refused connections lingering at once (so that
// their request bytes do not turn the close into a reset before the client
// reads the 503); past it, refused connections are closed at once.
const maxRefusing = 64

// refuse answers a connection over MaxConns with 503 and closes it.
func (s *Server) refuse(rwc net.Conn) {
	s.refused.Add(1)
	_ = rwc.SetWriteDeadline(time.Now().Add(time.Second))
	if _, err := io.WriteString(rwc, overloaded); err != nil || s.refusing.Add(1) > maxRefusing {
		if err == nil {
			s.refusing.Add(-1)
		}
		_ = rwc.Close()
		return
	}
	go func() {
		defer s.refusing.Add(-1)
		var scratch [512]byte
		framing.Linger(rwc, scratch[:])
	}()
}

// Conns reports the connections open now; Refused how many were refused at
// MaxConns, and Reclaimed how many idle ones were closed to make room;
// Parked how many of those open are parked (see ParkAfter).
func (s *Server) Conns() int64 {
	s.mu.Lock()
	defer s.mu.Unlock()
	return int64(len(s.conns))
}

func (s *Server) Parked() int64 { return int64(s.parked()) }

// Idle reports the connections open now that wait for their next request
// (or, new, for their first), on their goroutine or parked: those
// CloseIdlest may close.
func (s *Server) Idle() int64 {
	s.mu.Lock()
	defer s.mu.Unlock()
	n := int64(0)
	for c := range s.conns {
		if st := c.state.Load(); st == stateIdle || st == stateParked {
			n++
		}
	}
	return n
}

func (s *Server) Refused() int64   { return s.refused.Load() }
func (s *Server) Reclaimed() int64 { return s.reclaimed.Load() }

func (s *Server) trackListener(l *net.Listener, add bool) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	if add {
		if s.closing.Load() {
			return false
		}
		if s.listeners == nil {
			s.listeners = make(map[*net.Listener]struct{})
		}
		s.listeners[l] = struct{}{}
	} else {
		delete(s.listeners, l)
	}
	return true
}

// forget removes a connection that ended.
func (s *Server) forget(c *conn) {
	s.mu.Lock()
	delete(s.conns, c)
	s.mu.Unlock()
}

func (s *Server) closeListenersLocked() error {
	var err error
	for l := range s.listeners {
		if cerr := (*l).Close(); cerr != nil && err == nil {
			err = cerr
		}
	}
	return err
}

// Shutdown stops accepting connections, closes idle ones, lets requests in
// flight finish (their connections close after the response), and returns
// once no connection is left, or with ctx.Err() when ctx ends first.
// Hijacked connections are not waited for.
func (s *Server) Shutdown(ctx context.Context) error {
	s.closing.Store(true)
	s.mu.Lock()
	lnErr := s.closeListenersLocked()
	s.mu.Unlock()

	interval := time.Millisecond
	timer := time.NewTimer(interval)
	defer timer.Stop()
	for {
		if s.closeIdle() {
			return lnErr
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-timer.C:
			interval = min(2*interval, 100*time.Millisecond)
			timer.Reset(interval)
		}
	}
}

// closeIdle closes the connections waiting for a request and reports whether
// none is left.
func (s *Server) closeIdle() bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.stopParkingLocked()
	for c := range s.conns {
		s.closeIfIdleLocked(c)
	}
	return len(s.conns) == 0
}

// Close closes the listeners and all connections at once.
func (s *Server) Close() error {
	s.closing.Store(true)
	s.mu.Lock()
	defer s.mu.Unlock()
	err := s.closeListenersLocked()
	s.stopParkingLocked()
	for c := range s.conns {
		// rwc is nil on a connection between its wake and its new
		// net.Conn: it finds closing set when it next waits.
		if !s.closeIfIdleLocked(c) && c.state.Load() != stateHijacked && c.rwc != nil {
			_ = c.rwc.Close()
		}
	}
	return err
}

// tlsState returns the connection state of a TLS connection, handshaking
// first if needed (bounded by the header timeout).
func (c *conn) tlsHandshake(tc *tls.Conn) bool {
	if d := c.srv.headerTimeout(); d > 0 {
		_ = tc.SetDeadline(time.Now().Add(d))
	}
	if err := tc.Handshake(); err != nil {
		c.srv.logger().Debug("h1: tls handshake failed", "remote", c.remoteAddr, "error", err.Error())
		return false
	}
	_ = tc.SetDeadline(time.Time{})
	st := tc.ConnectionState()
	c.tlsState = &st
	return true
}

func (s *Server) headerTimeout() time.Duration {
	if s.ReadHeaderTimeout > 0 {
		return s.ReadHeaderTimeout
	}
	return s.ReadTimeout
}

func (s *Server) idleTimeout() time.Duration {
	if s.IdleTimeout > 0 {
		return s.IdleTimeout
	}
	return s.ReadTimeout
}
