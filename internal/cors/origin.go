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

// entry is one compiled allow_origins value.
type entry struct {
	canon    string // as configured, which is how browsers serialize it
	wildcard bool   // host starts with "*."
}

// originProblem explains why s is not an allow_origins entry: "null", or
// scheme://host[:port] exactly as a browser serializes it (RFC 6454 §6.2:
// lower case, no default port, no path), where host is a DNS name, an IPv4
// address or a bracketed IPv6 address, and a DNS name may start with the
// label "*" followed by at least two more labels. Entries are compared
// byte for byte, so anything a browser would never send is refused rather
// than normalized. "" means s is fine; "*" is Validate's business.
func originProblem(s string) string {
	if s == "null" {
		return ""
	}
	const form = `must be "*", "null" or an origin scheme://host[:port] such as https://app.example.com`
	scheme, rest, ok := strings.Cut(s, "://")
	if !ok || !validScheme(scheme) {
		return form
	}
	if strings.ToLower(s) != s {
		return "must be lower case (browsers send origins in lower case and they are compared exactly)"
	}
	if k := strings.IndexAny(rest, "/?#\\"); k >= 0 {
		if rest[k:] == "/" {
			return "must not end with \"/\": an origin has no path"
		}
		return "must not have a path, query or fragment: an origin is scheme://host[:port]"
	}
	if strings.Contains(rest, "@") {
		return "must not contain user info"
	}
	host, port, hasPort := rest, "", false
	if strings.HasPrefix(rest, "[") {
		end := strings.IndexByte(rest, ']')
		if end < 0 {
			return form
		}
		if a, err := netip.ParseAddr(rest[1:end]); err != nil || !a.Is6() || a.Zone() != "" {
			return "has an invalid IPv6 address"
		}
		host, port = "", rest[end+1:]
		if port != "" && port[0] != ':' {
			return form
		}
		port, hasPort = strings.CutPrefix(port, ":")
	} else if i := strings.LastIndexByte(rest, ':'); i >= 0 {
		host, port, hasPort = rest[:i], rest[i+1:], true
	}
	if hasPort {
		n, err := strconv.Atoi(port)
		switch {
		case port == "":
			return "has an empty port"
		case err != nil || n < 1 || n > 65535 || port[0] < '0' || port[0] > '9':
			return "must have a port between 1 and 65535"
		case scheme == "https" && n == 443 || scheme == "http" && n == 80:
			return fmt.Sprintf("must not include the default port :%s (browsers omit it, so it would never match)", port)
		}
	}
	switch {
	case strings.HasPrefix(rest, "["):
	case host == "":
		return "has no host"
	case strings.HasPrefix(host, "*."):
		if base := host[2:]; !validHostname(base) || !strings.Contains(base, ".") {
			return "may use a wildcard only as the whole first label of a name with at least two more labels, such as https://*.example.com"
		}
	case strings.Contains(host, "*"):
		return "may use a wildcard only as the whole first label of a name with at least two more labels, such as https://*.example.com"
	case !validHostname(host):
		if _, err := netip.ParseAddr(host); err != nil {
			return "has an invalid host"
		}
	}
	return ""
}

// parseOrigin compiles an entry originProblem accepted.
func parseOrigin(s string) entry {
	_, rest, _ := strings.Cut(s, "://")
	return entry{canon: s, wildcard: strings.HasPrefix(rest, "*.")}
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
// (no "null", no wildcard, as WebSocket routes require) and returns it; it
// is then in the form Canonical gives a request's Origin.
func ExactOrigin(s string) (string, error) {
	if prob := originProblem(s); prob != "" {
		return "", fmt.Errorf("origin %q %s", s, prob)
	}
	if e := parseOrigin(s); e.wildcard || e.canon == "null" {
		return "", fmt.Errorf("origin %q: list exact origins (scheme://host[:port]), not \"null\" or a wildcard", s)
	}
	return s, nil
}
