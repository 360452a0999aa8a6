//go:build unix

package peek

import (
	"net"
	"syscall"

	"github.com/rampart-gw/rampart/internal/sockio"
)

// Prober checks one connection.
type Prober struct {
	rc    syscall.RawConn
	fn    func(fd uintptr) // p.peek, bound once
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

func (p *Prober) peek(fd uintptr) {
	n, e := sockio.Peek(fd, p.buf[:])
	switch {
	case e == syscall.EAGAIN:
		p.state = Empty
	case e == 0 && n > 0:
		p.state = Data
	default: // 0 bytes without error is the peer's FIN; any other error is fatal
		p.state = Closed
	}
}

// Check peeks once. It goes through Control, not Read: RawConn.Read fails
// without calling back once the connection's read deadline has passed
// (an HTTP/1 server leaves the head's deadline set while the handler runs),
// which would report a live client as gone.
func (p *Prober) Check() State {
	if p == nil {
		return Empty
	}
	p.state = Closed
	if err := p.rc.Control(p.fn); err != nil {
		return Closed
	}
	return p.state
}
