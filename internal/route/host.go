package route

import (
	"fmt"
	"github.com/rampart-gw/rampart/internal/framing"
	"strings"
)

// maxHostLen bounds host names (RFC 1035: 253 characters without the
// trailing dot). Longer request hosts cannot match any configured host.
const maxHostLen = 253

// normalizeSpecHost validates a configured host and returns its lookup key:
// lower-case, without brackets around IPv6 literals and without a trailing dot.
func normalizeSpecHost(h string) (string, string) {
	if h == "" {
		return "", ""
	}
	if strings.Contains(h, "*") {
		return "", fmt.Sprintf("host %q: wildcard hosts are not supported", h)
	}
	if h[0] == '[' {
		if len(h) < 3 || h[len(h)-1] != ']' {
			return "", fmt.Sprintf("host %q: malformed IPv6 literal (want \"[addr]\" without a port)", h)
		}
		in := h[1 : len(h)-1]
		for i := 0; i < len(in); i++ {
			if c := in[i]; !framing.IsHexDigit(c) && c != ':' && c != '.' {
				return "", fmt.Sprintf("host %q: invalid character %q in IPv6 literal (zones are not supported)", h, c)
			}
		}
		if !strings.Contains(in, ":") {
			return "", fmt.Sprintf("host %q: malformed IPv6 literal", h)
		}
		return strings.ToLower(in), ""
	}
	if strings.Contains(h, ":") {
		return "", fmt.Sprintf("host %q must not contain a port (ports are ignored when matching); write IPv6 literals in brackets", h)
	}
	name := strings.TrimSuffix(h, ".")
	if name == "" || len(name) > maxHostLen {
		return "", fmt.Sprintf("host %q: length must be 1..%d", h, maxHostLen)
	}
	for label := range strings.SplitSeq(name, ".") {
		if label == "" || len(label) > 63 {
			return "", fmt.Sprintf("host %q: empty or over-long (>63) label", h)
		}
		for i := 0; i < len(label); i++ {
			c := label[i]
			if !('a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9' || c == '-' || c == '_') {
				return "", fmt.Sprintf("host %q: invalid character %q (want ASCII letters, digits, '-', '_', '.'; use punycode for IDNs)", h, c)
			}
		}
	}
	return strings.ToLower(name), ""
}

// requestHostName strips the port (and IPv6 brackets) and one trailing dot
// from a request host. ok is false when the host is malformed, in which case
// no host-specific route can match.
func requestHostName(h string) (name string, ok bool) {
	if h == "" {
		return "", false
	}
	var port string
	if h[0] == '[' {
		end := strings.IndexByte(h, ']')
		if end < 0 {
			return "", false
		}
		name, port = h[1:end], h[end+1:]
		if strings.IndexByte(name, ':') < 0 {
			return "", false // "[example.com]" is not an IPv6 literal
		}
		if port != "" {
			if port[0] != ':' {
				return "", false
			}
			port = port[1:]
		}
	} else {
		i := strings.IndexByte(h, ':')
		if i < 0 {
			name = h
		} else {
			name, port = h[:i], h[i+1:]
			if strings.IndexByte(port, ':') >= 0 {
				return "", false // unbracketed IPv6 or garbage
			}
		}
		if n := len(name); n > 0 && name[n-1] == '.' {
			name = name[:n-1]
		}
	}
	for i := 0; i < len(port); i++ {
		if port[i] < '0' || port[i] > '9' {
			return "", false
		}
	}
	if name == "" || len(name) > maxHostLen {
		return "", false
	}
	return name, true
}

// hostTree returns the route tree for a request host, or nil. It lowercases
// into a stack buffer so that the lookup does not allocate.
func (r *table) hostTree(host string) *tree {
	if len(r.hosts) == 0 {
		return nil
	}
	name, ok := requestHostName(host)
	if !ok {
		return nil
	}
	var buf [maxHostLen]byte
	for i := 0; i < len(name); i++ {
		c := name[i]
		if 'A' <= c && c <= 'Z' {
			c += 'a' - 'A'
		}
		buf[i] = c
	}
	return r.hosts[string(buf[:len(name)])]
}
