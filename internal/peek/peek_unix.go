//go:build unix

package peek

import (
	"net"
	"syscall"
)

// Prober checks one connection.
type Prober struct {
	rc    syscall.RawConn
	fn    func(fd uintptr) bool // p.peek, bound once
	state State
	buf   [1]byte
}

// New returns a Prober for c, or nil when c has no file descriptor (a nil
// Prober reports Empty).
func New(c net.Conn) *Prober {
	sc, ok := c.(syscall.Conn)
	if !ok {
		return nil
	}
	rc, err := sc.SyscallConn()
	if err != nil {
		return nil
	}
	p := &Prober{rc: rc}
	p.fn = p.peek
	return p
}

func (p *Prober) peek(fd uintptr) bool {
	n, _, err := syscall.Recvfrom(int(fd), p.buf[:], syscall.MSG_PEEK|syscall.MSG_DONTWAIT)
	switch {
	case err == syscall.EAGAIN || err == syscall.EWOULDBLOCK:
		p.state = Empty
	case err == nil && n > 0:
		p.state = Data
	default: // 0 bytes without error is the peer's FIN; any other error is fatal
		p.state = Closed
	}
	return true
}

// Check peeks once.
func (p *Prober) Check() State {
	if p == nil {
		return Empty
	}
	p.state = Closed
	if err := p.rc.Read(p.fn); err != nil {
		return Closed
	}
	return p.state
}
