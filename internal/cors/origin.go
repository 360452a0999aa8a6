package cors

import (
	"fmt"
	"net/netip"
	"strconv"
	"strings"
)

// maxOriginLen bounds the Origin values worth looking at: a scheme, a 253-byte
// host name and a port fit well within it.
const maxOriginLen = 512

// matcher decides whether a request's Origin is on the allowlist and, if so,
// what Access-Control-Allow-Origin says. It never returns bytes of the
// request that it has not checked against a configured entry: exact entries
// answer with the configured string itself, wildcard entries with the
// canonical origin whose every byte is either from the pattern or a
// validated host label.
type matcher struct {
	exact map[string][]string // canonical origin → precomputed header value
	null  []string            // non-nil when "null" is listed
	wild  []wildcard
}

// wildcard is https://*.example.com[:port], split around the "*".
type wildcard struct {
	prefix string // "https://"
	suffix string // ".example.com" or ".example.com:8443"
}

// match returns the Access-Control-Allow-Origin value for origin, or nil.
func (m *matcher) match(origin string) []string {
	if origin == "null" {
		// The opaque origin (sandboxed iframes, file:, data: documents,
		// cross-origin redirects) serializes as exactly "null"; anyone can
		// produce it, so it matches only when listed and only byte-exact.
		return m.null
	}
	canon, ok := Canonical(origin)
	if !ok {
		return nil
	}
	if v, ok := m.exact[canon]; ok {
		return v
	}
	for _, w := range m.wild {
		if matchWildcard(canon, w) {
			return []string{canon}
		}
	}
	return nil
}

// matchWildcard reports whether canon is prefix + one host label + suffix.
func matchWildcard(canon string, w wildcard) bool {
	if len(canon) <= len(w.prefix)+len(w.suffix) || !strings.HasPrefix(canon, w.prefix) || !strings.HasSuffix(canon, w.suffix) {
		return false
	}
	return validLabel(canon[len(w.prefix) : len(canon)-len(w.suffix)])
}

// Canonical lower-cases the ASCII letters of an origin and drops a default
// port (:443 for https, :80 for http), which is how browsers serialize
// origins (RFC 6454 §6.2, WHATWG URL "origin serialization"). Bytes outside
// visible ASCII refuse the origin: browsers send host names in Punycode, and
// Unicode case mapping must never be applied (strings.ToLower turns the
// Kelvin sign U+212A into "k").
func Canonical(o string) (string, bool) {
	if len(o) == 0 || len(o) > maxOriginLen {
		return "", false
	}
	upper := false
	for i := 0; i < len(o); i++ {
		c := o[i]
		if c <= ' ' || c >= 0x7f {
			return "", false
		}
		if 'A' <= c && c <= 'Z' {
			upper = true
		}
	}
	if upper {
		b := []byte(o)
		for i, c := range b {
			if 'A' <= c && c <= 'Z' {
				b[i] = c + ('a' - 'A')
			}
		}
		o = string(b)
	}
	switch {
	case strings.HasPrefix(o, "https://") && strings.HasSuffix(o, ":443"):
		o = o[:len(o)-len(":443")]
	case strings.HasPrefix(o, "http://") && strings.HasSuffix(o, ":80"):
		o = o[:len(o)-len(":80")]
	}
	return o, true
}

// validLabel reports whether s is one LDH host label (RFC 1123 §2.1): 1 to 63
// lower-case letters, digits and hyphens, not starting or ending with a hyphen.
// No dot, colon, "@", "_" or anything else can hide in it.
func validLabel(s string) bool {
	if len(s) == 0 || len(s) > 63 || s[0] == '-' || s[len(s)-1] == '-' {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !('a' <= c && c <= 'z' || '0' <= c && c <= '9' || c == '-') {
			return false
		}
	}
	return true
}

// entry is one parsed allow_origins value.
type entry struct {
	canon    string // canonical form, as the header will carry it
	wildcard bool   // host starts with "*."
	scheme   string
}

// parseOrigin checks a configured origin: "null", or scheme://host[:port]
// where host is a DNS name, an IPv4 address or a bracketed IPv6 address, and a
// DNS name may start with the label "*" followed by at least two more labels.
// The config package applies the same rules; this is the defence in depth
// for a Config built by code. Upper case and default ports are normalized.
func parseOrigin(s string) (entry, error) {
	if s == "null" {
		return entry{canon: s}, nil
	}
	scheme, rest, ok := strings.Cut(s, "://")
	if !ok || !validScheme(scheme) {
		return entry{}, fmt.Errorf("origin %q: want \"null\" or scheme://host[:port]", s)
	}
	scheme = strings.ToLower(scheme)
	if strings.ContainsAny(rest, "/?#@\\") {
		return entry{}, fmt.Errorf("origin %q: an origin has no path, query, fragment or user info", s)
	}
	host, port := rest, ""
	if strings.HasPrefix(rest, "[") {
		end := strings.IndexByte(rest, ']')
		if end < 0 {
			return entry{}, fmt.Errorf("origin %q: unterminated IPv6 address", s)
		}
		host, port = rest[:end+1], rest[end+1:]
		if a, err := netip.ParseAddr(host[1 : len(host)-1]); err != nil || !a.Is6() || a.Zone() != "" {
			return entry{}, fmt.Errorf("origin %q: invalid IPv6 address", s)
		}
	} else if i := strings.LastIndexByte(rest, ':'); i >= 0 {
		host, port = rest[:i], rest[i:]
	}
	if port != "" {
		n, err := strconv.Atoi(port[1:])
		if port[0] != ':' || err != nil || n < 1 || n > 65535 || port[1] == '0' || port[1] == '+' {
			return entry{}, fmt.Errorf("origin %q: invalid port", s)
		}
		if scheme == "https" && n == 443 || scheme == "http" && n == 80 {
			port = "" // browsers never send the default port
		}
	}
	e := entry{scheme: scheme}
	host = strings.ToLower(host)
	switch {
	case strings.HasPrefix(host, "["):
	case strings.HasPrefix(host, "*."):
		base := host[2:]
		if !validHostname(base) || !strings.Contains(base, ".") {
			return entry{}, fmt.Errorf("origin %q: a wildcard must be the whole first label of a name with at least two more labels, such as https://*.example.com", s)
		}
		e.wildcard = true
	case strings.Contains(host, "*"):
		return entry{}, fmt.Errorf("origin %q: a wildcard must be the whole first label, such as https://*.example.com", s)
	case validHostname(host):
	default:
		if _, err := netip.ParseAddr(host); err != nil {
			return entry{}, fmt.Errorf("origin %q: invalid host", s)
		}
	}
	e.canon = scheme + "://" + host + port
	return e, nil
}

func validScheme(s string) bool {
	if s == "" {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		letter := 'a' <= c && c <= 'z' || 'A' <= c && c <= 'Z'
		if !letter && (i == 0 || !('0' <= c && c <= '9' || c == '+' || c == '-' || c == '.')) {
			return false
		}
	}
	return true
}

func validHostname(h string) bool {
	if h == "" || len(h) > 253 {
		return false
	}
	for _, l := range strings.Split(h, ".") {
		if !validLabel(l) {
			return false
		}
	}
	return true
}

// ExactOrigin checks a configured origin that must name one site exactly
// (no "null", no wildcard, as WebSocket routes require) and returns it in
// the form Canonical gives a request's Origin.
func ExactOrigin(s string) (string, error) {
	e, err := parseOrigin(s)
	switch {
	case err != nil:
		return "", err
	case e.wildcard || e.canon == "null":
		return "", fmt.Errorf("origin %q: list exact origins (scheme://host[:port]), not \"null\" or a wildcard", s)
	}
	return e.canon, nil
}
