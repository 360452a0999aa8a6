//go:build linux

package sockio

import (
	"bytes"
	"errors"
	"io"
	"net"
	"os"
	"syscall"
	"testing"
	"time"

	"github.com/rampart-gw/rampart/internal/loopback"
)

// pair is a connected loopback TCP pair: near wrapped, far plain.
func pair(t testing.TB) (near *Conn, far net.Conn) {
	t.Helper()
	c, far := loopback.Pair(t)
	w, ok := Wrap(c).(*Conn)
	if !ok {
		t.Fatalf("Wrap(%T) is not a *Conn", c)
	}
	return w, far
}

func TestReadWrite(t *testing.T) {
	near, far := pair(t)
	if _, err := far.Write([]byte("hello")); err != nil {
		t.Fatal(err)
	}
	buf := make([]byte, 16)
	n, err := near.Read(buf)
	if err != nil || string(buf[:n]) != "hello" {
		t.Fatalf("Read = %q, %v", buf[:n], err)
	}
	if n, err := near.Write([]byte("world")); n != 5 || err != nil {
		t.Fatalf("Write = %d, %v", n, err)
	}
	if _, err := io.ReadFull(far, buf[:5]); err != nil || string(buf[:5]) != "world" {
		t.Fatalf("peer read %q, %v", buf[:5], err)
	}
	if n, err := near.Read(nil); n != 0 || err != nil {
		t.Fatalf("empty Read = %d, %v", n, err)
	}
}

// A write larger than the socket buffers waits for room (the EAGAIN path)
// and delivers every byte in order, while the peer reads slowly.
func TestWriteWaitsForRoom(t *testing.T) {
	near, far := pair(t)
	want := make([]byte, 8<<20)
	for i := range want {
		want[i] = byte(i * 7)
	}
	got := make(chan []byte, 1)
	go func() {
		var b bytes.Buffer
		buf := make([]byte, 1000) // small reads: the writer fills the buffer and waits
		for b.Len() < len(want) {
			n, err := far.Read(buf)
			b.Write(buf[:n])
			if err != nil {
				break
			}
		}
		got <- b.Bytes()
	}()
	if n, err := near.Write(want); n != len(want) || err != nil {
		t.Fatalf("Write = %d, %v", n, err)
	}
	if !bytes.Equal(<-got, want) {
		t.Fatal("the peer read other bytes than were written")
	}
}

func TestEOF(t *testing.T) {
	near, far := pair(t)
	far.Close()
	n, err := near.Read(make([]byte, 4))
	if n != 0 || err != io.EOF {
		t.Fatalf("Read after the peer closed = %d, %v; want 0, io.EOF", n, err)
	}
}

func TestCloseWriteIsTheTCPConns(t *testing.T) {
	near, far := pair(t)
	if err := near.CloseWrite(); err != nil {
		t.Fatal(err)
	}
	if n, err := far.Read(make([]byte, 4)); n != 0 || err != io.EOF {
		t.Fatalf("peer Read after CloseWrite = %d, %v; want EOF", n, err)
	}
}

func TestDeadline(t *testing.T) {
	near, _ := pair(t)
	if err := near.SetReadDeadline(time.Now().Add(20 * time.Millisecond)); err != nil {
		t.Fatal(err)
	}
	_, err := near.Read(make([]byte, 4))
	var ne net.Error
	if !errors.Is(err, os.ErrDeadlineExceeded) || !errors.As(err, &ne) || !ne.Timeout() {
		t.Fatalf("Read past the deadline: %v", err)
	}
	var oe *net.OpError
	if !errors.As(err, &oe) || oe.Op != "read" {
		t.Fatalf("error %#v: want a *net.OpError with Op read", err)
	}
}

func TestClosed(t *testing.T) {
	near, _ := pair(t)
	near.Close()
	if _, err := near.Read(make([]byte, 4)); !errors.Is(err, net.ErrClosed) {
		t.Fatalf("Read after Close: %v", err)
	}
	if _, err := near.Write([]byte("x")); !errors.Is(err, net.ErrClosed) {
		t.Fatalf("Write after Close: %v", err)
	}
}

// Close from another goroutine wakes a Read waiting on the poller.
func TestCloseWakesRead(t *testing.T) {
	near, _ := pair(t)
	done := make(chan error, 1)
	go func() {
		_, err := near.Read(make([]byte, 4))
		done <- err
	}()
	// The read may or may not be waiting yet: either way it must end with
	// net.ErrClosed, never hang.
	near.Close()
	if err := <-done; !errors.Is(err, net.ErrClosed) {
		t.Fatalf("Read during Close: %v", err)
	}
}

// A write to a peer that reset the connection fails with the errno, in a
// *net.OpError with Op write, as net's does.
func TestWriteError(t *testing.T) {
	near, far := pair(t)
	far.(*net.TCPConn).SetLinger(0)
	far.Close() // RST
	var err error
	for i := 0; i < 100 && err == nil; i++ {
		_, err = near.Write(make([]byte, 1<<16))
	}
	var oe *net.OpError
	if !errors.As(err, &oe) || oe.Op != "write" || !(errors.Is(err, syscall.ECONNRESET) || errors.Is(err, syscall.EPIPE)) {
		t.Fatalf("Write to a reset peer: %#v", err)
	}
}

func TestConcurrentReadAndWrite(t *testing.T) {
	near, far := pair(t)
	go io.Copy(far, far) // echo
	const total = 4 << 20
	done := make(chan int64, 1)
	go func() {
		n, _ := io.CopyN(io.Discard, near, total)
		done <- n
	}()
	chunk := make([]byte, 32<<10)
	for sent := 0; sent < total; sent += len(chunk) {
		if _, err := near.Write(chunk); err != nil {
			t.Fatal(err)
		}
	}
	if n := <-done; n != total {
		t.Fatalf("echoed %d bytes, want %d", n, total)
	}
}

func TestNoAllocations(t *testing.T) {
	near, far := pair(t)
	msg := []byte("ping")
	buf := make([]byte, 8)
	if n := testing.AllocsPerRun(100, func() {
		if _, err := near.Write(msg); err != nil {
			t.Fatal(err)
		}
		if _, err := io.ReadFull(far, buf[:4]); err != nil {
			t.Fatal(err)
		}
		if _, err := far.Write(msg); err != nil {
			t.Fatal(err)
		}
		if _, err := near.Read(buf); err != nil {
			t.Fatal(err)
		}
	}); n > 0 {
		t.Errorf("a write and a read on Conn allocate %v times", n)
	}
}

func TestWrapLeavesOthers(t *testing.T) {
	a, b := net.Pipe()
	defer a.Close()
	defer b.Close()
	if Wrap(a) != a {
		t.Fatal("Wrap changed a net.Pipe conn")
	}
}

func TestPeek(t *testing.T) {
	near, far := pair(t)
	rc, err := near.SyscallConn()
	if err != nil {
		t.Fatal(err)
	}
	peek := func() (n int, e syscall.Errno) {
		if err := rc.Control(func(fd uintptr) { n, e = Peek(fd, make([]byte, 1)) }); err != nil {
			t.Fatal(err)
		}
		return
	}
	if n, e := peek(); e != syscall.EAGAIN {
		t.Fatalf("idle: Peek = %d, %v; want EAGAIN", n, e)
	}
	far.Write([]byte("x"))
	for {
		n, e := peek()
		if e == syscall.EAGAIN {
			continue // loopback delivers at once; loop only for safety
		}
		if n != 1 || e != 0 {
			t.Fatalf("bytes waiting: Peek = %d, %v", n, e)
		}
		break
	}
	buf := make([]byte, 4)
	if n, err := near.Read(buf); n != 1 || err != nil {
		t.Fatalf("the peeked byte was taken: Read = %d, %v", n, err)
	}
	far.Close()
	for {
		n, e := peek()
		if e == syscall.EAGAIN {
			continue
		}
		if n != 0 || e != 0 {
			t.Fatalf("FIN: Peek = %d, %v; want 0, 0", n, e)
		}
		break
	}
}

// BenchmarkPingPong: a 64-byte write and the peer's echo read back, on a
// Conn and on the *net.TCPConn it wraps (the same calls, ordinary).
func BenchmarkPingPong(b *testing.B) {
	for _, wrapped := range []bool{true, false} {
		name := "sockio.Conn"
		if !wrapped {
			name = "net.TCPConn"
		}
		b.Run(name, func(b *testing.B) {
			near, far := pair(b)
			var c net.Conn = near
			if !wrapped {
				c = near.TCPConn
			}
			go io.Copy(far, far)
			msg, buf := make([]byte, 64), make([]byte, 64)
			b.ReportAllocs()
			for b.Loop() {
				if _, err := c.Write(msg); err != nil {
					b.Fatal(err)
				}
				if _, err := io.ReadFull(c, buf); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
