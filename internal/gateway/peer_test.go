package gateway

import (
	"testing"

	"github.com/rampart-gw/rampart/internal/clientip"
)

// peerString must say exactly what netip.Addr.String says, whatever shape
// RemoteAddr has, while taking the IPv4 text from RemoteAddr itself.
func TestPeerStringMatchesAddrString(t *testing.T) {
	for _, remote := range []string{
		"192.0.2.1:1234", "127.0.0.1:80", "[::1]:443", "[2001:db8::1]:8080",
		"[::ffff:192.0.2.7]:99", "[fe80::1%eth0]:1", "192.0.2.9", "not-an-address", "",
	} {
		peer, _ := clientip.Peer(remote)
		if got, want := peerString(remote, peer), peer.String(); got != want {
			t.Errorf("peerString(%q) = %q, want %q", remote, got, want)
		}
	}
}
