//go:build unix

package proxy

import (
	"net"
	"syscall"

	"github.com/rampart-gw/rampart/internal/sockio"
)

// newSender returns a sender for a plain TCP connection, or nil (a TLS
// connection, or a conn without a file descriptor), whose requests then go
// through conn.Write and conn.Read.
func newSender(c net.Conn) *sender {
	var rc syscall.RawConn
	var err error
	switch tc := c.(type) {
	case *sockio.Conn:
		rc, err = tc.SyscallConn()
	case *net.TCPConn:
		rc, err = tc.SyscallConn()
	default:
		return nil
	}
	if err != nil {
		return nil
	}
	s := &sender{rc: rc}
	s.fn = s.step
	return s
}

// step runs inside RawConn.Read, after the poller's readiness was reset:
// it reports true when the round is over, false to be parked until the
// connection is readable and called again.
func (s *sender) step(fd uintptr) bool {
	if !s.sent {
		if s.probe {
			s.probe = false
			if _, e := sockio.Peek(fd, s.peekb[:]); e != syscall.EAGAIN {
				s.stale = true // bytes waiting, the peer's FIN (n == 0) or a failure
				return true
			}
		}
		for len(s.pending) > 0 {
			n, e := sockio.Write(fd, s.pending)
			switch e {
			case 0:
				s.pending = s.pending[n:]
			case syscall.EAGAIN:
				s.short = true // the send buffer is full: conn.Write waits for room
				return true
			default:
				s.err = e
				return true
			}
		}
		s.sent = true
		return false // the answer cannot be there yet: park
	}
	n, e := sockio.Read(fd, s.buf)
	switch e {
	case 0:
		s.n = n // 0: the upstream closed
		return true
	case syscall.EAGAIN:
		return false
	}
	s.err = e
	return true
}
