//go:build unix

package sockio

import (
	"io"
	"net"
	"os"
	"sync"
	"syscall"
)

// Read reads from the non-blocking socket fd into p: n > 0, or 0 with a nil
// error when the peer closed its side (EOF), or the errno (EAGAIN when
// nothing is there yet). EINTR is retried.
func Read(fd uintptr, p []byte) (int, syscall.Errno) { return retry(sysRead, fd, p) }

// Write writes to the non-blocking socket fd what of p the send buffer
// takes: n bytes, and the errno when it took none of them (EAGAIN when it
// is full). EINTR is retried.
func Write(fd uintptr, p []byte) (int, syscall.Errno) { return retry(sysWrite, fd, p) }

// Peek looks at what waits on fd without taking it and without waiting
// (recv with MSG_PEEK|MSG_DONTWAIT): n > 0 bytes are waiting, 0 with a nil
// errno is the peer's FIN, EAGAIN is nothing yet.
func Peek(fd uintptr, p []byte) (int, syscall.Errno) { return retry(sysPeek, fd, p) }

// retry makes call until it is not interrupted (EINTR); an empty p makes
// no call.
func retry(call func(uintptr, []byte) (uintptr, syscall.Errno), fd uintptr, p []byte) (int, syscall.Errno) {
	if len(p) == 0 {
		return 0, 0
	}
	for {
		n, e := call(fd, p)
		switch e {
		case 0:
			return int(n), 0
		case syscall.EINTR:
			continue
		}
		return 0, e
	}
}

// ordinary is an ordinary call's result as a raw call's.
func ordinary(n int, err error) (uintptr, syscall.Errno) {
	if err == nil {
		return uintptr(n), 0
	}
	if e, ok := err.(syscall.Errno); ok {
		return 0, e
	}
	return 0, syscall.EIO
}

// IO reads and writes one socket through its syscall.RawConn: the waits
// are the netpoller's (with the descriptor's deadlines), the calls raw.
// One Read and one Write may run at once, as on a net.Conn.
type IO struct {
	rc   syscall.RawConn
	r, w half
}

// half is one direction's scratch: RawConn takes a func(fd) bool, bound
// once here so that a call allocates nothing.
type half struct {
	mu  sync.Mutex
	p   []byte
	n   int
	err syscall.Errno
	fn  func(uintptr) bool
}

// NewIO returns an IO for the socket behind rc (non-blocking: see the
// package documentation).
func NewIO(rc syscall.RawConn) *IO {
	x := new(IO)
	x.init(rc)
	return x
}

func (x *IO) init(rc syscall.RawConn) {
	x.rc = rc
	x.r.fn, x.w.fn = x.read, x.write
}

func (x *IO) read(fd uintptr) bool {
	n, e := Read(fd, x.r.p)
	if e == syscall.EAGAIN {
		return false // wait for the poller
	}
	x.r.n, x.r.err = n, e
	return true
}

func (x *IO) write(fd uintptr) bool {
	for len(x.w.p) > 0 {
		n, e := Write(fd, x.w.p)
		if e == syscall.EAGAIN {
			return false
		}
		if e != 0 {
			x.w.err = e
			return true
		}
		x.w.n += n
		x.w.p = x.w.p[n:]
	}
	return true
}

// Read reads into p as a socket's read does: n > 0 and a nil error, or 0
// and io.EOF once the peer closed its side, or 0 and the error: an
// *os.SyscallError for the descriptor's, or what the poller returned
// (deadline passed, closed), as the RawConn gave it.
func (x *IO) Read(p []byte) (int, error) {
	if len(p) == 0 {
		return 0, nil
	}
	x.r.mu.Lock()
	defer x.r.mu.Unlock()
	x.r.p, x.r.n, x.r.err = p[:min(len(p), maxRW)], 0, 0
	err := x.rc.Read(x.r.fn)
	n, e := x.r.n, x.r.err
	x.r.p = nil
	switch {
	case err != nil:
		return 0, err
	case e != 0:
		return 0, os.NewSyscallError("read", e)
	case n == 0:
		return 0, io.EOF
	}
	return n, nil
}

// Write writes all of p, waiting for room as a socket's write does; on an
// error it reports how much was written.
func (x *IO) Write(p []byte) (int, error) {
	if len(p) == 0 {
		return 0, nil
	}
	x.w.mu.Lock()
	defer x.w.mu.Unlock()
	x.w.p, x.w.n, x.w.err = p, 0, 0
	err := x.rc.Write(x.w.fn)
	n, e := x.w.n, x.w.err
	x.w.p = nil
	if err == nil && e != 0 {
		err = os.NewSyscallError("write", e)
	}
	return n, err
}

// maxRW caps one read, as the runtime's poll package does (some kernels
// refuse larger ones).
const maxRW = 1 << 30

// Conn is a *net.TCPConn whose Read and Write are IO's. Everything else is
// the TCPConn's (deadlines, Close, CloseWrite, SyscallConn, and ReadFrom
// and WriteTo, which splice), and its errors look the same: *net.OpError,
// io.EOF, net.ErrClosed.
type Conn struct {
	*net.TCPConn
	io IO
}

// Wrap returns c as a *Conn when it is a *net.TCPConn (on Linux, where
// the calls are raw; elsewhere Conn would gain nothing), else c itself.
func Wrap(c net.Conn) net.Conn {
	tc, ok := c.(*net.TCPConn)
	if !ok || !wrapConns {
		return c
	}
	rc, err := tc.SyscallConn()
	if err != nil {
		return c
	}
	c2 := &Conn{TCPConn: tc}
	c2.io.init(rc)
	return c2
}

func (c *Conn) Read(p []byte) (int, error) {
	n, err := c.io.Read(p)
	if err != nil && err != io.EOF {
		err = c.opError("read", err)
	}
	return n, err
}

func (c *Conn) Write(p []byte) (int, error) {
	n, err := c.io.Write(p)
	if err != nil {
		err = c.opError("write", err)
	}
	return n, err
}

// opError is err as net.Conn's Read and Write return it.
func (c *Conn) opError(op string, err error) error {
	if oe, ok := err.(*net.OpError); ok { // the RawConn's "raw-read"/"raw-write"
		e := *oe
		e.Op = op
		return &e
	}
	return &net.OpError{Op: op, Net: "tcp", Source: c.LocalAddr(), Addr: c.RemoteAddr(), Err: err}
}
