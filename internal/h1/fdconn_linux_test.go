//go:build linux

package h1

import (
	"errors"
	"io"
	"net"
	"os"
	"syscall"
	"testing"
	"time"

	"golang.org/x/sys/unix"

	"github.com/rampart-gw/rampart/internal/loopback"
)

// tcpPair returns both ends of a loopback TCP connection.
func tcpPair(t *testing.T) (server, client *net.TCPConn) {
	client, server = loopback.Pair(t)
	return server, client
}

// asFDConn turns the server end into an fdConn the way parking does: a
// duplicate of its descriptor, the net.Conn closed.
func asFDConn(t *testing.T, c *net.TCPConn) *fdConn {
	t.Helper()
	rc, err := c.SyscallConn()
	if err != nil {
		t.Fatal(err)
	}
	var fd int
	var derr error
	if err := rc.Control(func(s uintptr) { fd, derr = unix.FcntlInt(s, unix.F_DUPFD_CLOEXEC, 0) }); err != nil || derr != nil {
		t.Fatal(err, derr)
	}
	local, remote := addrPorts(c)
	c.Close()
	fc, err := newFDConn(fd, local, remote)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { fc.Close() })
	return fc
}

// An fdConn answers as the *net.TCPConn it replaces: same addresses, data
// both ways, io.EOF at the peer's FIN, a timeout error a net.Error with
// Timeout() and os.ErrDeadlineExceeded, net.ErrClosed once closed, and a
// half-close the peer reads as EOF.
func TestFDConnActsAsTCPConn(t *testing.T) {
	for _, kind := range []string{"tcp", "fd"} {
		t.Run(kind, func(t *testing.T) {
			tc, peer := tcpPair(t)
			wantLocal, wantRemote := tc.LocalAddr().String(), tc.RemoteAddr().String()
			var c net.Conn = tc
			if kind == "fd" {
				c = asFDConn(t, tc)
			}
			if c.LocalAddr().String() != wantLocal || c.RemoteAddr().String() != wantRemote {
				t.Fatalf("addresses %v %v, want %s %s", c.LocalAddr(), c.RemoteAddr(), wantLocal, wantRemote)
			}
			if _, ok := c.(syscall.Conn); !ok {
				t.Fatal("no SyscallConn")
			}

			// A read that times out.
			c.SetReadDeadline(time.Now().Add(20 * time.Millisecond))
			var buf [16]byte
			_, err := c.Read(buf[:])
			var ne net.Error
			if !errors.As(err, &ne) || !ne.Timeout() || !errors.Is(err, os.ErrDeadlineExceeded) {
				t.Fatalf("timed-out read: %v (%T)", err, err)
			}
			var oe *net.OpError
			if !errors.As(err, &oe) || oe.Op != "read" {
				t.Fatalf("timed-out read: not a read *net.OpError: %#v", err)
			}
			c.SetReadDeadline(time.Time{})

			// Data both ways.
			if _, err := peer.Write([]byte("ping")); err != nil {
				t.Fatal(err)
			}
			if n, err := io.ReadFull(c, buf[:4]); err != nil || string(buf[:n]) != "ping" {
				t.Fatalf("read %q, %v", buf[:n], err)
			}
			if _, err := c.Write([]byte("pong")); err != nil {
				t.Fatal(err)
			}
			if n, err := io.ReadFull(peer, buf[:4]); err != nil || string(buf[:n]) != "pong" {
				t.Fatalf("peer read %q, %v", buf[:n], err)
			}

			// A half-close: the peer reads EOF, and can still send.
			cw, ok := c.(interface{ CloseWrite() error })
			if !ok {
				t.Fatal("no CloseWrite")
			}
			if err := cw.CloseWrite(); err != nil {
				t.Fatal(err)
			}
			peer.SetReadDeadline(time.Now().Add(5 * time.Second))
			if n, err := peer.Read(buf[:]); n != 0 || err != io.EOF {
				t.Fatalf("peer after CloseWrite: %d, %v; want EOF", n, err)
			}
			peer.Write([]byte("x"))
			peer.CloseWrite()
			if n, err := io.ReadFull(c, buf[:1]); n != 1 || err != nil {
				t.Fatalf("read after own CloseWrite: %d, %v", n, err)
			}
			if n, err := c.Read(buf[:]); n != 0 || err != io.EOF {
				t.Fatalf("read at the peer's FIN: %d, %v; want EOF", n, err)
			}

			c.Close()
			if _, err := c.Read(buf[:]); !errors.Is(err, net.ErrClosed) {
				t.Fatalf("read after Close: %v, want net.ErrClosed", err)
			}
			if _, err := c.Write(buf[:]); !errors.Is(err, net.ErrClosed) {
				t.Fatalf("write after Close: %v, want net.ErrClosed", err)
			}
		})
	}
}
