package loopback

import (
	"io"
	"testing"
)

func TestPairIsConnected(t *testing.T) {
	d, a := Pair(t)
	if _, err := d.Write([]byte("ping")); err != nil {
		t.Fatal(err)
	}
	buf := make([]byte, 4)
	if _, err := io.ReadFull(a, buf); err != nil || string(buf) != "ping" {
		t.Fatalf("accepted end read %q, %v", buf, err)
	}
	if d.LocalAddr().String() != a.RemoteAddr().String() {
		t.Fatalf("ends do not match: %v vs %v", d.LocalAddr(), a.RemoteAddr())
	}
}
