package ipfilter

import (
	"encoding/binary"
	"net/netip"
	"strconv"
	"testing"
)

// benchList builds n distinct, non-adjacent entries: half IPv4 /24s, half
// IPv6 /48s, so nothing merges and the search is as deep as n makes it.
func benchList(n int) *List {
	ps := make([]netip.Prefix, 0, n)
	for i := range n {
		if i%2 == 0 {
			var b [4]byte
			binary.BigEndian.PutUint32(b[:], uint32(i+1)<<9) // a /24 every other /24
			ps = append(ps, netip.PrefixFrom(netip.AddrFrom4(b), 24))
			continue
		}
		var b [16]byte
		b[0], b[1] = 0x20, 0x01
		binary.BigEndian.PutUint32(b[2:], uint32(i)<<1)
		ps = append(ps, netip.PrefixFrom(netip.AddrFrom16(b), 48))
	}
	return NewList(ps)
}

func BenchmarkContains(b *testing.B) {
	for _, n := range []int{10, 10000} {
		l := benchList(n)
		for _, c := range []struct{ name, addr string }{
			{"v4-miss", "203.0.113.9"},
			{"v4-hit", "0.0.2.7"}, // in the first /24
			{"v6-miss", "2001:db8::1"},
		} {
			a := netip.MustParseAddr(c.addr)
			b.Run(strconv.Itoa(n)+"/"+c.name, func(b *testing.B) {
				b.ReportAllocs()
				for b.Loop() {
					l.Contains(a)
				}
			})
		}
	}
}

func BenchmarkFilterAllows(b *testing.B) {
	f := &Filter{allow: benchList(10000), deny: mustList(b, "198.51.100.0/24", "2001:db8::/32"), allowlist: true}
	a := netip.MustParseAddr("0.0.2.7")
	b.ReportAllocs()
	for b.Loop() {
		if !f.Allows(a) {
			b.Fatal("refused")
		}
	}
}
