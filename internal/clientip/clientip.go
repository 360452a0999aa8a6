// Package clientip finds the real client address of a request.
//
// X-Forwarded-For is only believed when the immediate peer is a trusted proxy,
// and then only up to the rightmost address that is not itself trusted: every
// address left of that was written by someone we cannot vouch for (a client can
// send any X-Forwarded-For it likes). This is the "rightmost untrusted" rule
// used by nginx's real_ip_recursive and Envoy's xff_num_trusted_hops.
package clientip

import (
	"net/netip"
	"strings"
)

// Resolver decides client addresses. The zero value trusts no proxy.
type Resolver struct {
	trusted []netip.Prefix
}

// New returns a Resolver trusting the given proxy ranges.
func New(trusted []netip.Prefix) *Resolver {
	return &Resolver{trusted: trusted}
}

// Trusted reports whether addr is a trusted proxy.
func (r *Resolver) Trusted(addr netip.Addr) bool {
	addr = addr.Unmap()
	for _, p := range r.trusted {
		if p.Contains(addr) {
			return true
		}
	}
	return false
}

// Peer parses a net/http RemoteAddr ("ip:port" or "[ip]:port").
func Peer(remoteAddr string) (netip.Addr, bool) {
	ap, err := netip.ParseAddrPort(remoteAddr)
	if err == nil {
		return ap.Addr().Unmap(), true
	}
	a, err := netip.ParseAddr(remoteAddr)
	if err != nil {
		return netip.Addr{}, false
	}
	return a.Unmap(), true
}

// Client returns the client address for a request from peer carrying the given
// X-Forwarded-For header values (possibly several lines), and the chain of
// addresses to forward upstream (believed hops, then the peer). A malformed entry
// stops the walk: the last address we could vouch for is the client.
func (r *Resolver) Client(peer netip.Addr, xff []string) (client netip.Addr, chain []netip.Addr) {
	chain = append(chain, peer)
	if len(xff) == 0 || !r.Trusted(peer) {
		return peer, chain
	}
	client = peer
	for i := len(xff) - 1; i >= 0; i-- {
		line := xff[i]
		for line != "" {
			var part string
			if j := strings.LastIndexByte(line, ','); j >= 0 {
				part, line = line[j+1:], line[:j]
			} else {
				part, line = line, ""
			}
			part = strings.TrimSpace(part)
			if part == "" {
				continue
			}
			a, err := netip.ParseAddr(part)
			if err != nil {
				return client, chain
			}
			a = a.Unmap()
			chain = append([]netip.Addr{a}, chain...)
			client = a
			if !r.Trusted(a) {
				return client, chain
			}
		}
	}
	return client, chain
}
