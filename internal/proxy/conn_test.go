package proxy

import (
	"io"
	"net"
	"testing"
	"time"

	"github.com/rampart-gw/rampart/internal/peek"
)

func TestConnPool(t *testing.T) {
	newPC := func() *pconn {
		a, b := net.Pipe()
		t.Cleanup(func() { a.Close(); b.Close() })
		return newPconn(a, a, nil)
	}
	isClosed := func(pc *pconn) bool {
		return pc.conn.SetReadDeadline(time.Time{}) == io.ErrClosedPipe
	}
	const now = int64(1e15)
	t.Run("LIFO: the warmest connection first", func(t *testing.T) {
		var p connPool
		a, b := newPC(), newPC()
		p.put(a, now)
		p.put(b, now+1)
		if p.get(now+2) != b || p.get(now+3) != a || p.get(now+4) != nil {
			t.Fatal("not LIFO")
		}
	})
	t.Run("expired connections closed when taken", func(t *testing.T) {
		var p connPool
		a, b := newPC(), newPC()
		p.put(a, now)
		p.put(b, now+1)
		if got := p.get(now + 1 + int64(idleTimeout) + 1); got != nil {
			t.Fatal("expired connection handed out")
		}
		if !isClosed(a) || !isClosed(b) || len(p.idle) != 0 {
			t.Fatal("expired connections left open")
		}
	})
	t.Run("expired connections closed when one is returned", func(t *testing.T) {
		var p connPool
		a, b := newPC(), newPC()
		p.put(a, now)
		p.put(b, now+int64(idleTimeout)+1)
		if !isClosed(a) || isClosed(b) || len(p.idle) != 1 {
			t.Fatalf("idle %d", len(p.idle))
		}
	})
	t.Run("bounded", func(t *testing.T) {
		var p connPool
		var last *pconn
		for i := 0; i < maxIdlePerTarget+10; i++ {
			last = newPC()
			p.put(last, now)
		}
		if len(p.idle) != maxIdlePerTarget || !isClosed(last) {
			t.Fatalf("idle %d", len(p.idle))
		}
	})
	t.Run("closed pool closes returned connections", func(t *testing.T) {
		var p connPool
		a, b := newPC(), newPC()
		p.put(a, now)
		p.closeAll(true)
		p.put(b, now)
		if !isClosed(a) || !isClosed(b) || p.get(now) != nil {
			t.Fatal("connections survived Close")
		}
	})
}

// The reuse check runs on every pooled request: it must not allocate.
func TestProbeAllocatesNothing(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	accepted := make(chan net.Conn, 1)
	go func() {
		c, err := ln.Accept()
		if err == nil {
			accepted <- c
		}
	}()
	c, err := net.Dial("tcp", ln.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	peer := <-accepted
	defer peer.Close()
	p := peek.New(c)
	if n := testing.AllocsPerRun(100, func() {
		if p.Check() != peek.Empty {
			t.Fatal("open idle connection reported dead")
		}
	}); n != 0 {
		t.Errorf("probe allocates %v times per check, want 0", n)
	}
}
