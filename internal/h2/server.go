// Package h2 is Rampart's HTTP/2 server (RFC 9113) for connections that
// negotiated "h2" through TLS ALPN.
//
// It replaces golang.org/x/net/http2's server for speed, not for
// protocol work: frames are read and size-checked by x/net's validated
// http2.Framer (frame sizes, padding, stream-id rules per frame type,
// CONTINUATION sequencing), and responses are HPACK-encoded by x/net's
// hpack package. Request header blocks are decoded by our own HPACK decoder
// (hpackdec.go), which keeps every check the Framer's ReadMetaHeaders made
// (a bound on the decoded header list, field name and value validity,
// pseudo-header order and duplicates: block.go) and caches the literals a
// client repeats. What is our own is the architecture, shaped by the
// profiles of x/net's server under load:
//
//   - One goroutine per connection reads frames and handles every control
//     frame inline: no serve-loop goroutine, no channel per frame.
//   - Handlers run on pooled worker goroutines that keep their grown
//     stacks, not on a fresh goroutine per stream (at most 512 idle; one
//     idle for 30 s exits).
//   - Frames are encoded into a per-connection buffer under a mutex and
//     written by group commit: whoever finds no write in progress writes
//     everything buffered, and a small response's HEADERS and DATA go out
//     in one write. What is appended while the reader is busy with frames
//     it already read (control frames it answers, responses that complete
//     meanwhile) is written by the reader just before it next waits for
//     the client; a handler that completes while the reader waits yields
//     once first when other handlers of its connection run, so that their
//     responses join its write. A burst of 100 requests is answered in a
//     few writes (see BenchmarkServerBurst).
//   - Per-stream state (request template, response buffer, header map) is
//     pooled.
//
// What it enforces, beyond the Framer's checks: malformed requests (RFC 9113
// §8.1.1, §8.2, §8.3: connection-specific fields, te other than
// "trailers", missing, duplicate, unknown or response pseudo-headers,
// extended CONNECT, a bad :path or :authority, a host field that differs
// from :authority, field values with leading or trailing white space, a
// content-length that is not one non-negative integer or does not match the
// DATA received) are reset with PROTOCOL_ERROR and never reach the handler.
// SETTINGS_MAX_CONCURRENT_STREAMS is enforced (REFUSED_STREAM); handlers of
// streams the client reset still count, and streams waiting for a handler
// slot are bounded (4 × the limit, then GOAWAY ENHANCE_YOUR_CALM: the
// rapid-reset attack, CVE-2023-44487). Request bodies are flow-controlled
// (256 KiB per stream, 1 MiB per connection). Frames that make no work
// (PING, SETTINGS, RST_STREAM, PRIORITY, empty DATA, unknown types,
// refused or malformed streams) share a budget of 1000 per 10 s; a header
// block may not span more than 1000 frames nor bytes far past the header
// list bound (CVE-2024-27316); control frames queued for a client that does
// not read are bounded; past any bound the connection gets GOAWAY
// ENHANCE_YOUR_CALM and is closed. The client preface and first SETTINGS
// must arrive within IdleTimeout (10 s when zero), and our SETTINGS must be
// acknowledged within 10 s.
//
// A nil Handler answers 404. A handler must not keep its ResponseWriter,
// the response's header map or the request body after it returns: they
// are pooled with the stream. ServeConn returns only once every handler of
// its connection returned (each sees its request context cancelled when
// the connection ends).
package h2

import (
	"context"
	"log/slog"
	"net"
	"net/http"
	"sync"
	"time"
)

// Server serves HTTP/2 (RFC 9113) on connections that already negotiated "h2" (TLS ALPN).
// The fields must not be changed once ServeConn was called.
type Server struct {
	Handler              http.Handler
	MaxConcurrentStreams uint32        // advertised SETTINGS_MAX_CONCURRENT_STREAMS; 0 means 100
	MaxReadFrameSize     uint32        // advertised SETTINGS_MAX_FRAME_SIZE; 0 means 16384; clamp to [16384, 1<<24-1]
	MaxHeaderBytes       int           // bound on a decoded request header list (SETTINGS_MAX_HEADER_LIST_SIZE); 0 means 1 MiB
	IdleTimeout          time.Duration // no open stream for this long: GOAWAY(NO_ERROR) then close; 0 = none
	WriteTimeout         time.Duration // a connection write that makes no progress for this long closes the connection; 0 = none
	Logger               *slog.Logger  // nil: discard

	mu       sync.Mutex
	conns    map[*conn]struct{}
	shutdown bool          // no new connections
	gone     chan struct{} // signalled when a connection ends (Shutdown waits)

	wmu       sync.Mutex
	idle      []*worker   // idle workers, most recently used last
	closed    bool        // workers exit instead of idling
	idleTimer *time.Timer // retires workers idle for workerIdle()
	// workerIdleFor overrides workerIdleTimeout (tests).
	workerIdleFor time.Duration
}

// Variables, not constants, for the tests.
var (
	prefaceTimeout     = 10 * time.Second
	settingsAckTimeout = 10 * time.Second
	junkBudget         = 1000 // frames that make no work, per junkPeriod
	junkPeriod         = 10 * time.Second
)

// workerIdleTimeout: a worker idle this long exits, so that the goroutines
// (and grown stacks) of a burst do not stay for good.
const workerIdleTimeout = 30 * time.Second

func (s *Server) workerIdle() time.Duration {
	if s.workerIdleFor > 0 {
		return s.workerIdleFor
	}
	return workerIdleTimeout
}

const (
	defaultMaxStreams     = 100
	defaultMaxHeaderBytes = 1 << 20
	streamWindow          = 256 << 10 // advertised SETTINGS_INITIAL_WINDOW_SIZE
	connWindow            = 1 << 20   // connection receive window
	maxBlockFrames        = 1000      // frames in one header block
	outLimit              = 64 << 10  // handlers wait for the buffer to drain above this
	controlLimit          = 1 << 20   // queued bytes past which the connection is closed
	maxIdleWorkers        = 512
	lingerTime            = time.Second
	lingerBytes           = 256 << 10
)

func (s *Server) maxStreams() uint32 {
	if s.MaxConcurrentStreams == 0 {
		return defaultMaxStreams
	}
	return s.MaxConcurrentStreams
}

func (s *Server) maxFrame() uint32 {
	v := s.MaxReadFrameSize
	if v == 0 {
		return 16384
	}
	return min(max(v, 16384), 1<<24-1)
}

func (s *Server) maxHeaderBytes() int {
	if s.MaxHeaderBytes <= 0 {
		return defaultMaxHeaderBytes
	}
	return s.MaxHeaderBytes
}

func (s *Server) logger() *slog.Logger {
	if s.Logger == nil {
		return slog.New(slog.DiscardHandler)
	}
	return s.Logger
}

// ServeConn serves HTTP/2 on c until the connection ends, then closes c.
// ctx is the base of every request's context. It returns once every
// handler it started has returned.
func (s *Server) ServeConn(ctx context.Context, c net.Conn) {
	cn := newConn(s, ctx, c)
	if !s.track(cn) {
		c.Close()
		return
	}
	cn.serve()
	s.untrack(cn)
}

func (s *Server) track(c *conn) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.shutdown {
		return false
	}
	if s.conns == nil {
		s.conns = make(map[*conn]struct{})
		s.gone = make(chan struct{}, 1)
	}
	s.conns[c] = struct{}{}
	return true
}

func (s *Server) untrack(c *conn) {
	s.mu.Lock()
	delete(s.conns, c)
	g := s.gone
	s.mu.Unlock()
	if g != nil {
		select {
		case g <- struct{}{}:
		default:
		}
	}
}

// Shutdown sends GOAWAY to every connection and accepts no new streams nor
// connections; it waits for the open streams to finish (each connection
// closes when it has none) or for ctx, then closes what is left.
func (s *Server) Shutdown(ctx context.Context) error {
	s.mu.Lock()
	s.shutdown = true
	if s.gone == nil {
		s.gone = make(chan struct{}, 1)
	}
	for c := range s.conns {
		c.startShutdown()
	}
	s.mu.Unlock()
	for {
		s.mu.Lock()
		n := len(s.conns)
		s.mu.Unlock()
		if n == 0 {
			s.stopWorkers()
			return nil
		}
		select {
		case <-s.gone:
		case <-ctx.Done():
			s.Close()
			return ctx.Err()
		}
	}
}

// Close closes every connection now. Handlers see their request contexts
// cancelled and their writes fail.
func (s *Server) Close() error {
	s.mu.Lock()
	s.shutdown = true
	for c := range s.conns {
		c.nc.Close()
	}
	s.mu.Unlock()
	s.stopWorkers()
	return nil
}

// stopWorkers makes the idle workers exit, and those still busy exit when
// their handler returns.
func (s *Server) stopWorkers() {
	s.wmu.Lock()
	s.closed = true
	idle := s.idle
	s.idle = nil
	if s.idleTimer != nil {
		s.idleTimer.Stop()
		s.idleTimer = nil
	}
	s.wmu.Unlock()
	for _, w := range idle {
		w.ch <- nil
	}
}

// retireIdle ends the workers idle for workerIdle() (the oldest are
// first in the list) and re-arms itself while some are left.
func (s *Server) retireIdle() {
	s.wmu.Lock()
	cut := time.Now().Add(-s.workerIdle())
	n := 0
	for n < len(s.idle) && !s.idle[n].since.After(cut) {
		n++
	}
	old := append([]*worker(nil), s.idle[:n]...)
	s.idle = append(s.idle[:0], s.idle[n:]...)
	clear(s.idle[len(s.idle):cap(s.idle)])
	if len(s.idle) > 0 {
		s.idleTimer.Reset(s.idle[0].since.Sub(cut))
	} else {
		s.idleTimer = nil
	}
	s.wmu.Unlock()
	for _, w := range old {
		w.ch <- nil
	}
}

// A worker runs handlers one after another on one goroutine, which keeps
// the stack the handlers grew.
type worker struct {
	srv   *Server
	ch    chan *stream
	since time.Time // idle since (while on the idle list)
}

// start runs st's handler on an idle worker, or on a new one.
func (s *Server) start(st *stream) {
	s.wmu.Lock()
	if n := len(s.idle); n > 0 {
		w := s.idle[n-1]
		s.idle[n-1] = nil
		s.idle = s.idle[:n-1]
		s.wmu.Unlock()
		w.ch <- st
		return
	}
	s.wmu.Unlock()
	w := &worker{srv: s, ch: make(chan *stream, 1)}
	go w.run(st)
}

func (w *worker) run(st *stream) {
	for st != nil {
		for st != nil {
			st = st.c.runHandler(st)
		}
		if !w.park() {
			return
		}
		st = <-w.ch
	}
}

// park puts w on the idle list; false means it should exit instead.
func (w *worker) park() bool {
	s := w.srv
	s.wmu.Lock()
	defer s.wmu.Unlock()
	if s.closed || len(s.idle) >= maxIdleWorkers {
		return false
	}
	w.since = time.Now()
	s.idle = append(s.idle, w)
	if s.idleTimer == nil {
		s.idleTimer = time.AfterFunc(s.workerIdle(), s.retireIdle)
	}
	return true
}
