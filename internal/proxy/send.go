package proxy

import (
	"errors"
	"io"
	"os"
	"syscall"
)

// sender sends a request on a plain TCP upstream connection and waits for
// the first bytes of its answer in one pass through the runtime's poller,
// which saves the read that would otherwise fail with EAGAIN.
//
// Go's conn.Read always tries a read before it parks the goroutine: the
// poller's readiness is reset on entry (internal/poll's prepareRead), so an
// edge seen before that reset is forgotten, and only a read can tell whether
// bytes are already there. Right after a request is written the upstream has
// had no time to answer, so that first read is wasted: one system call per
// request. syscall.RawConn.Read resets the readiness and then calls step,
// which sends the request from inside that call: any byte that arrives
// afterwards — the answer included — is an edge seen after the reset, so
// step may report "not ready" and let the poller park the goroutine without
// a read.
//
// What was on the connection before the request is the reuse probe's
// business (see probeIdleAfter), and it is run in the same place: after
// the reset and before the request goes out, so that nothing that arrived
// before the request can be missed by both the probe and the poller.
type sender struct {
	rc syscall.RawConn
	fn func(fd uintptr) bool // s.step, bound once

	// One round: probe and pending are set by attempt, the rest by
	// sendAndRead and step.
	probe   bool   // check that nothing is waiting before sending
	pending []byte // request bytes not written yet
	buf     []byte // where the answer's first bytes go
	n       int    // bytes read into buf
	err     error  // the write's or the read's failure (a system call's errno)
	stale   bool   // the probe found bytes, a FIN or an error: nothing was sent
	short   bool   // the socket took only part of the request: pending is the rest
	sent    bool   // the request is out: step now reads
	peekb   [1]byte
}

// errProbe: the reuse probe, run by a sender, found the pooled connection
// unusable (see probeIdleAfter). Nothing was sent: another connection is taken.
var errProbe = errors.New("proxy: pooled connection not clean")

// sendAndRead is patience.Read's first read when a sender carries the
// request: it sends it (after the probe, if asked) and reads the first
// bytes of the answer into b.
func (p *patience) sendAndRead(s *sender, b []byte) (int, error) {
	s.buf = b
	s.n, s.err, s.stale, s.short, s.sent = 0, nil, false, false, false
	err := s.rc.Read(s.fn)
	rest := s.pending
	s.buf, s.pending = nil, nil // no reference to the exchange's buffers
	switch {
	case s.stale:
		p.send = nil
		return 0, errProbe
	case s.short:
		p.send = nil
		if err := p.write(rest); err != nil {
			return 0, err
		}
		return p.pc.conn.Read(b)
	case s.err != nil:
		p.send = nil
		op := "read"
		if !s.sent {
			op = "write"
		}
		return 0, os.NewSyscallError(op, s.err)
	case s.sent:
		p.send = nil // the rest is read as usual
		if err != nil {
			return 0, err // a slice's deadline, or the connection was closed
		}
		if s.n == 0 {
			return 0, io.EOF
		}
		return s.n, nil
	}
	// step never ran (an expired deadline, a closed connection): the
	// request is still to be sent.
	s.pending = rest
	if err == nil {
		err = syscall.EINVAL // cannot happen: step ends the round only as above
	}
	return 0, err
}
