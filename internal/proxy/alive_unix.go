//go:build unix

package proxy

import (
	"net"
	"syscall"
)

// prober checks whether an idle connection can still carry a request: the
// peer has not closed it and sent nothing unsolicited (an idle-timeout 408,
// bytes past the end of the last response, a TLS close_notify). One
// non-blocking MSG_PEEK recv, nothing consumed. The RawConn and the callback
// are made once per connection, so a check allocates nothing.
type prober struct {
	rc   syscall.RawConn
	fn   func(fd uintptr) bool // p.peek, bound once
	live bool
	buf  [1]byte
}

// newProber returns nil when c has no file descriptor to peek at (then
// every check says alive).
func newProber(c net.Conn) *prober {
	sc, ok := c.(syscall.Conn)
	if !ok {
		return nil
	}
	rc, err := sc.SyscallConn()
	if err != nil {
		return nil
	}
	p := &prober{rc: rc}
	p.fn = p.peek
	return p
}

func (p *prober) peek(fd uintptr) bool {
	_, _, err := syscall.Recvfrom(int(fd), p.buf[:], syscall.MSG_PEEK|syscall.MSG_DONTWAIT)
	// EAGAIN: nothing to read, the healthy case. No error (a byte, or the
	// peer's FIN as 0 bytes) or any other error: not usable.
	p.live = err == syscall.EAGAIN || err == syscall.EWOULDBLOCK
	return true
}

// alive runs the check; it must not run concurrently with other reads of
// the connection (idle connections have none).
func (p *prober) alive() bool {
	if p == nil {
		return true
	}
	p.live = false
	err := p.rc.Read(p.fn)
	return p.live && err == nil
}

// alive checks c once (tests).
func alive(c net.Conn) bool { return newProber(c).alive() }
