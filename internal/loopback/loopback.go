// Package loopback gives tests both ends of a real TCP connection on
// 127.0.0.1, for code whose behaviour depends on a kernel socket (raw system
// calls, peeks, parking) and so cannot be tested over net.Pipe.
package loopback

import (
	"net"
	"testing"
)

// Pair returns the dialed and the accepted end of a new loopback TCP
// connection; both are closed when the test ends.
func Pair(t testing.TB) (dialed, accepted *net.TCPConn) {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	d, err := net.Dial("tcp", ln.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	// The kernel completes the handshake before Accept is called, so
	// accepting after dialing does not wait on the other goroutine.
	a, err := ln.Accept()
	if err != nil {
		d.Close()
		t.Fatal(err)
	}
	t.Cleanup(func() { d.Close(); a.Close() })
	return d.(*net.TCPConn), a.(*net.TCPConn)
}
