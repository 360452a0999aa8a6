package proxy

import (
	"io"
	"net"
	"testing"
	"time"
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
