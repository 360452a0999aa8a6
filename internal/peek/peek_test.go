package peek

import (
	"io"
	"net"
	"testing"
	"time"

	"github.com/rampart-gw/rampart/internal/loopback"
)

func pair(t *testing.T) (near, far net.Conn) {
	t.Helper()
	return loopback.Pair(t)
}

func TestCheck(t *testing.T) {
	t.Run("idle → Empty, and nothing allocated", func(t *testing.T) {
		near, _ := pair(t)
		p := New(near)
		if n := testing.AllocsPerRun(50, func() {
			if s := p.Check(); s != Empty {
				t.Fatalf("idle connection: %v", s)
			}
		}); n != 0 {
			t.Errorf("Check allocates %v times", n)
		}
	})
	t.Run("bytes waiting → Data, and they are still there", func(t *testing.T) {
		near, far := pair(t)
		if _, err := far.Write([]byte("x")); err != nil {
			t.Fatal(err)
		}
		p := New(near)
		for p.Check() == Empty { // loopback delivers at once; loop only for safety
		}
		if s := p.Check(); s != Data {
			t.Fatalf("state %v, want Data", s)
		}
		b := make([]byte, 1)
		if _, err := io.ReadFull(near, b); err != nil || b[0] != 'x' {
			t.Fatalf("the peeked byte was consumed: %q %v", b, err)
		}
	})
	t.Run("peer closed → Closed", func(t *testing.T) {
		near, far := pair(t)
		far.Close()
		if _, err := near.Read(make([]byte, 1)); err != io.EOF { // wait for the FIN
			t.Fatalf("read: %v", err)
		}
		if s := New(near).Check(); s != Closed {
			t.Fatalf("state %v, want Closed", s)
		}
	})
	t.Run("read deadline passed → still Empty", func(t *testing.T) {
		// A slow download outlived read_header_timeout: the proxy took
		// the client for gone and cut the response.
		near, _ := pair(t)
		if err := near.SetReadDeadline(time.Now().Add(-time.Second)); err != nil {
			t.Fatal(err)
		}
		if s := New(near).Check(); s != Empty {
			t.Fatalf("state %v, want Empty", s)
		}
	})
	t.Run("nil prober → Empty", func(t *testing.T) {
		var p *Prober
		if p.Check() != Empty {
			t.Fatal("nil prober must report Empty")
		}
	})
}
