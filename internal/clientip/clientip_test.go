package clientip

import (
	"net/netip"
	"testing"
)

func TestClient(t *testing.T) {
	r := New([]netip.Prefix{netip.MustParsePrefix("10.0.0.0/8"), netip.MustParsePrefix("::1/128")})
	tests := []struct {
		name      string
		peer      string
		xff       []string
		want      string
		wantChain string
	}{
		{"untrusted peer: X-Forwarded-For ignored", "203.0.113.9", []string{"1.2.3.4"}, "203.0.113.9", "203.0.113.9"},
		{"no header: peer is the client", "10.0.0.1", nil, "10.0.0.1", "10.0.0.1"},
		{"trusted peer: rightmost entry is the client", "10.0.0.1", []string{"1.2.3.4"}, "1.2.3.4", "1.2.3.4,10.0.0.1"},
		{"spoofed left entries are skipped", "10.0.0.1", []string{"6.6.6.6, 1.2.3.4"}, "1.2.3.4", "1.2.3.4,10.0.0.1"},
		{"trusted hops are walked through", "10.0.0.1", []string{"6.6.6.6, 1.2.3.4, 10.0.0.7"}, "1.2.3.4", "1.2.3.4,10.0.0.7,10.0.0.1"},
		{"several header lines are one list", "10.0.0.1", []string{"6.6.6.6", "1.2.3.4"}, "1.2.3.4", "1.2.3.4,10.0.0.1"},
		{"malformed entry stops the walk", "10.0.0.1", []string{"1.2.3.4, garbage"}, "10.0.0.1", "10.0.0.1"},
		{"all trusted: leftmost trusted is the client", "10.0.0.1", []string{"10.1.1.1"}, "10.1.1.1", "10.1.1.1,10.0.0.1"},
		{"ipv6 trusted peer", "::1", []string{"2001:db8::1"}, "2001:db8::1", "2001:db8::1,::1"},
		{"v4-mapped peer is unmapped", "::ffff:10.0.0.1", []string{"1.2.3.4"}, "1.2.3.4", "1.2.3.4,10.0.0.1"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, chain := r.Client(netip.MustParseAddr(tt.peer).Unmap(), tt.xff)
			if got.String() != tt.want {
				t.Errorf("client = %s, want %s", got, tt.want)
			}
			s := ""
			for i, a := range chain {
				if i > 0 {
					s += ","
				}
				s += a.String()
			}
			if s != tt.wantChain {
				t.Errorf("chain = %s, want %s", s, tt.wantChain)
			}
		})
	}
}

func TestPeer(t *testing.T) {
	for in, want := range map[string]string{"1.2.3.4:80": "1.2.3.4", "[::1]:9": "::1", "[::ffff:1.2.3.4]:1": "1.2.3.4"} {
		got, ok := Peer(in)
		if !ok || got.String() != want {
			t.Errorf("Peer(%q) = %v, %v; want %s", in, got, ok, want)
		}
	}
	if _, ok := Peer("nonsense"); ok {
		t.Error("Peer(nonsense) ok")
	}
}

func FuzzClient(f *testing.F) {
	r := New([]netip.Prefix{netip.MustParsePrefix("10.0.0.0/8")})
	f.Add("1.2.3.4, 10.0.0.2")
	f.Add(",,, ::1,")
	f.Fuzz(func(t *testing.T, xff string) {
		peer := netip.MustParseAddr("10.0.0.1")
		c, chain := r.Client(peer, []string{xff})
		if !c.IsValid() || len(chain) == 0 || chain[0] != c {
			t.Fatalf("client %v chain %v", c, chain)
		}
	})
}
