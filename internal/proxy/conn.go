package proxy

import (
	"context"
	"crypto/tls"
	"errors"
	"net"
	"sync"
	"sync/atomic"
	"time"

	"github.com/rampart-gw/rampart/internal/peek"
	"github.com/rampart-gw/rampart/internal/sockio"
)

const (
	// maxIdlePerTarget: HTTP/2 clients multiplex; 8 connections with 100
	// streams each keep ~800 upstream requests in flight, and a cap of 256
	// closed the connections coming back over it and dialled again (one
	// request in three opened a connection under h2load -c8 -m100, issue 21).
	// Idle connections cost a file descriptor and a few hundred bytes each;
	// they exist only after that many requests were in flight at once.
	maxIdlePerTarget = 1024
	idleTimeout      = 90 * time.Second
)

// probeIdleAfter: a pooled connection idle for longer is checked (one
// non-blocking MSG_PEEK recv) before it carries a request. It is 0: every
// reuse is checked, because the probe also catches bytes the upstream sent
// after a response had ended (an unsolicited 408, a body longer than its
// Content-Length, a desynchronised or hostile upstream). Without it those
// bytes would be read as the next request's response — another client's
// request (response queue poisoning). It also keeps a connection the
// upstream closed on its own idle timeout (Node's default is 5 s) from being
// handed a request that cannot be replayed. Measured cost: one syscall per
// reused connection, a small share of a proxied request (bench/RESULTS.md).
var probeIdleAfter time.Duration

// alive reports whether an idle connection can carry a request: nothing
// waiting on it, not closed by the peer.
func alive(c net.Conn) bool { return peek.New(c).Check() == peek.Empty }

// aLongTimeAgo is a deadline in the past: setting it wakes any blocked I/O.
var aLongTimeAgo = time.Unix(1, 0)

// pconn is one upstream connection. It is used by one request at a time.
type pconn struct {
	conn    net.Conn
	raw     net.Conn     // the TCP connection under TLS (conn itself for http)
	probe   *peek.Prober // checks raw before reuse
	send    *sender      // sends requests on a plain TCP connection (nil: through conn)
	pool    *connPool
	idleAt  int64 // unix nanos when it went idle
	reused  bool  // served a request before this one
	aborted atomic.Bool
	abortFn func()    // pc.abort, bound once so that context.AfterFunc costs no closure
	dl      time.Time // the deadline patience last set on both directions (zero: none yet)
}

func newPconn(c, raw net.Conn, p *connPool) *pconn {
	pc := &pconn{conn: c, raw: raw, probe: peek.New(raw), pool: p}
	if c == raw {
		pc.send = newSender(c)
	}
	pc.abortFn = pc.abort
	return pc
}

// abort runs (through context.AfterFunc) when the client goes away: it wakes
// the handler's blocked upstream read or write.
func (pc *pconn) abort() {
	pc.aborted.Store(true)
	_ = pc.conn.SetDeadline(aLongTimeAgo)
}

// connPool is one target's idle connections, most recently used last (LIFO:
// the warmest connection is reused, the coldest ones expire).
type connPool struct {
	mu     sync.Mutex
	idle   []*pconn
	closed bool
}

// get returns an idle connection or nil. Expired ones are closed.
func (p *connPool) get(now int64) *pconn {
	p.mu.Lock()
	n := len(p.idle)
	if n == 0 {
		p.mu.Unlock()
		return nil
	}
	pc := p.idle[n-1]
	p.idle[n-1] = nil
	p.idle = p.idle[:n-1]
	if now-pc.idleAt <= int64(idleTimeout) {
		p.mu.Unlock()
		return pc
	}
	// LIFO: everything below the top is older still.
	stale := append([]*pconn(nil), p.idle...)
	clear(p.idle)
	p.idle = p.idle[:0]
	p.mu.Unlock()
	_ = pc.conn.Close()
	for _, s := range stale {
		_ = s.conn.Close()
	}
	return nil
}

// reuse returns an idle connection that passed the reuse probe, or nil.
// With deferProbe, a connection that has a sender is returned unprobed and
// probe reports that its sender must run the probe (see sender): the
// request's first read then does it, where it costs no extra wait.
func (p *connPool) reuse(now int64, deferProbe bool) (pc *pconn, probe bool) {
	for {
		pc := p.get(now)
		if pc == nil {
			return nil, false
		}
		if now-pc.idleAt < int64(probeIdleAfter) {
			return pc, false
		}
		if deferProbe && pc.send != nil {
			return pc, true
		}
		if pc.probe.Check() == peek.Empty {
			return pc, false
		}
		_ = pc.conn.Close() // the next one down is older still: probed too
	}
}

// put returns a healthy connection to the pool (or closes it).
func (p *connPool) put(pc *pconn, now int64) {
	pc.idleAt = now
	pc.reused = true
	pc.aborted.Store(false)
	p.mu.Lock()
	if p.closed || len(p.idle) >= maxIdlePerTarget {
		p.mu.Unlock()
		_ = pc.conn.Close()
		return
	}
	// Expire from the bottom (the oldest).
	var expired []*pconn
	i := 0
	for i < len(p.idle) && now-p.idle[i].idleAt > int64(idleTimeout) {
		i++
	}
	if i > 0 {
		expired = append(expired, p.idle[:i]...)
		m := copy(p.idle, p.idle[i:])
		clear(p.idle[m:])
		p.idle = p.idle[:m]
	}
	p.idle = append(p.idle, pc)
	p.mu.Unlock()
	for _, e := range expired {
		_ = e.conn.Close()
	}
}

// closeAll closes the idle connections; with final, later puts close too.
func (p *connPool) closeAll(final bool) {
	p.mu.Lock()
	idle := p.idle
	p.idle = nil
	if final {
		p.closed = true
	}
	p.mu.Unlock()
	for _, pc := range idle {
		_ = pc.conn.Close()
	}
}

// dial opens a new connection to t (TLS for https targets). The handshake is
// bounded by the dial timeout, like http.Transport's TLSHandshakeTimeout.
func (u *Upstream) dial(ctx context.Context, t *target) (*pconn, error) {
	c, err := u.dialer.DialContext(ctx, "tcp", t.addr)
	if err != nil {
		return nil, err
	}
	c = sockio.Wrap(c)
	raw := c
	if t.tls != nil {
		_ = c.SetDeadline(time.Now().Add(u.dialer.Timeout))
		tc := tls.Client(c, t.tls)
		if err := tc.HandshakeContext(ctx); err != nil {
			_ = c.Close()
			return nil, &handshakeError{err}
		}
		if p := tc.ConnectionState().NegotiatedProtocol; p != "" && p != "http/1.1" {
			_ = c.Close()
			return nil, &handshakeError{errors.New("upstream negotiated " + p + ", want http/1.1")}
		}
		c = tc
	}
	return newPconn(c, raw, &t.pool), nil
}

// handshakeError is a failed TLS handshake: nothing was sent, like a dial error.
type handshakeError struct{ err error }

func (e *handshakeError) Error() string { return "tls handshake: " + e.err.Error() }
func (e *handshakeError) Unwrap() error { return e.err }
