//go:build unix

package proxy

import (
	"net"
	"syscall"
)

// newSender returns a sender for a plain TCP connection, or nil (a TLS
// connection, or a conn without a file descriptor), whose requests then go
// through conn.Write and conn.Read.
func newSender(c net.Conn) *sender {
	tc, ok := c.(*net.TCPConn)
	if !ok {
		return nil
	}
	rc, err := tc.SyscallConn()
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
			_, _, err := syscall.Recvfrom(int(fd), s.peekb[:], syscall.MSG_PEEK|syscall.MSG_DONTWAIT)
			if err != syscall.EAGAIN && err != syscall.EWOULDBLOCK {
				s.stale = true // bytes waiting, the peer's FIN (n == 0) or a failure
				return true
			}
		}
		for len(s.pending) > 0 {
			n, err := syscall.Write(int(fd), s.pending)
			if n > 0 {
				s.pending = s.pending[n:]
			}
			switch {
			case err == syscall.EINTR:
				continue
			case err == syscall.EAGAIN || err == syscall.EWOULDBLOCK:
				s.short = true // the send buffer is full: conn.Write waits for room
				return true
			case err != nil:
				s.err = err
				return true
			}
		}
		s.sent = true
		return false // the answer cannot be there yet: park
	}
	for {
		n, err := syscall.Read(int(fd), s.buf)
		switch {
		case err == syscall.EINTR:
			continue
		case err == syscall.EAGAIN || err == syscall.EWOULDBLOCK:
			return false
		case err != nil:
			s.err = err
			return true
		}
		s.n = n // 0: the upstream closed
		return true
	}
}
