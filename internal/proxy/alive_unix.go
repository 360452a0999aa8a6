//go:build unix

package proxy

import (
	"net"
	"syscall"
)

// alive reports whether an idle connection can still carry a request: the
// peer has not closed it and sent nothing unsolicited (an idle-timeout 408, a
// TLS close_notify). One non-blocking MSG_PEEK recv, nothing consumed.
func alive(c net.Conn) bool {
	sc, ok := c.(syscall.Conn)
	if !ok {
		return true
	}
	rc, err := sc.SyscallConn()
	if err != nil {
		return true
	}
	var buf [1]byte
	live := true
	err = rc.Read(func(fd uintptr) bool {
		n, _, err := syscall.Recvfrom(int(fd), buf[:], syscall.MSG_PEEK|syscall.MSG_DONTWAIT)
		// EAGAIN: nothing to read, the healthy case. n == 0 without error is
		// the peer's FIN; any byte is unsolicited; any other error is fatal.
		live = err == syscall.EAGAIN || err == syscall.EWOULDBLOCK
		_ = n
		return true
	})
	return live && err == nil
}
