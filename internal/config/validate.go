package config

import (
	"fmt"
	"math"
	"net"
	"net/netip"
	"net/url"
	"strconv"
	"strings"

	"github.com/rampart-gw/rampart/internal/config/conf"
)

// listenProblem explains why addr is not a valid "host:port" listen address, or "".
// The host may be empty (all interfaces), an IP address or a host name; the port is a
// number 0-65535.
func listenProblem(addr string) string {
	host, port, err := net.SplitHostPort(addr)
	if err != nil {
		return "must be host:port, such as :8080, 127.0.0.1:8080 or [::1]:8080"
	}
	if !validPort(port, true) {
		return "must have a numeric port between 0 and 65535"
	}
	if host != "" && !validIPOrHostname(host) {
		return "must have an empty host, an IP address or a host name before the port"
	}
	return ""
}

func validPort(port string, zeroOK bool) bool {
	if port == "" || len(port) > 5 {
		return false
	}
	for i := 0; i < len(port); i++ {
		if port[i] < '0' || port[i] > '9' {
			return false
		}
	}
	n, _ := strconv.Atoi(port)
	return n <= 65535 && (zeroOK || n > 0)
}

func validIPOrHostname(host string) bool {
	if _, err := netip.ParseAddr(host); err == nil {
		return true
	}
	return validHostname(host)
}

// validHostname reports whether s is a host name: dot-separated labels of letters,
// digits, "-" (not at either end of a label) and "_" (found in container service
// names), 1-63 bytes each, at most 253 in all, without a trailing dot.
func validHostname(s string) bool {
	if s == "" || len(s) > 253 {
		return false
	}
	for _, label := range strings.Split(s, ".") {
		if label == "" || len(label) > 63 || label[0] == '-' || label[len(label)-1] == '-' {
			return false
		}
		for i := 0; i < len(label); i++ {
			c := label[i]
			if !(c == '-' || c == '_' || '0' <= c && c <= '9' || 'a' <= c && c <= 'z' || 'A' <= c && c <= 'Z') {
				return false
			}
		}
	}
	// An all-numeric name such as 1.2.3 is a malformed IP address, not a name.
	last := s[strings.LastIndexByte(s, '.')+1:]
	allDigits := true
	for i := 0; i < len(last); i++ {
		if last[i] < '0' || last[i] > '9' {
			allDigits = false
		}
	}
	return !allDigits
}

// listenersConflict reports whether two valid listen addresses would bind the same
// port on overlapping interfaces. Port 0 (pick any) never conflicts.
func listenersConflict(a, b string) bool {
	ha, pa, err1 := net.SplitHostPort(a)
	hb, pb, err2 := net.SplitHostPort(b)
	if err1 != nil || err2 != nil {
		return false
	}
	na, _ := strconv.Atoi(pa)
	nb, _ := strconv.Atoi(pb)
	if na != nb || na == 0 {
		return false
	}
	if isWildcardHost(ha) || isWildcardHost(hb) {
		return true
	}
	if x, err := netip.ParseAddr(ha); err == nil {
		if y, err := netip.ParseAddr(hb); err == nil {
			return x.Unmap() == y.Unmap()
		}
	}
	return strings.EqualFold(ha, hb)
}

func isWildcardHost(h string) bool {
	if h == "" {
		return true
	}
	a, err := netip.ParseAddr(h)
	return err == nil && a.IsUnspecified()
}

// placeholders are well-known example secrets, compared after lower-casing and removing
// "-", "_" and spaces.
var placeholders = map[string]bool{}

func init() {
	for _, s := range []string{
		"secret", "changeme", "changeit", "password", "passw0rd", "yoursecretkey",
		"yoursupersecretkey", "supersecret", "supersecretkey", "mysupersecretkey",
		"mysecret", "mysecretkey", "secretkey", "jwtsecret", "jwtsecretkey", "default",
		"example", "test", "testing", "admin", "placeholder", "replaceme", "todo", "fixme",
		"tbd", "xxx", "token", "apikey", "letmein", "qwerty", "123456", "12345678",
		"1234567890", "abc123", "dummy", "sample", "insecure", "notasecret", "topsecret",
		"s3cr3t", "foobar", "foo", "bar", "hunter2", "none", "null", "empty", "dev",
		"development", "secret123", "password123", "admin123", "rampart",
		// JWT secrets of Flask/PyJWT tutorials (Flask-JWT-Extended's docs use
		// "super-secret"; "random" is the deliberately vulnerable VAmPI's).
		"random", "thisissecret", "thisisasecret", "secretkey123", "jwtsecret123",
		// Published example values long enough to pass the length rule, copied
		// verbatim into applications: the FastAPI docs' OAuth2/JWT tutorial
		// SECRET_KEY; jwt.io's debugger defaults (old and current); the HS256
		// key of the Spring Security JWT tutorials (Baeldung, BezKoder).
		"09d25e094faa6ca2556c818166b7a9563b93f7099f6f0f4caa6cf63b88e8d3e7",
		"your256bitsecret", "astringsecretatleast256bitslong",
		"404e635266556a586e3272357538782f413f4428472b4b6250645367566b5970",
	} {
		placeholders[s] = true
	}
}

// secretProblem explains why s is not acceptable as a secret, or "". The explanation
// never contains s.
func secretProblem(s string) string {
	norm := strings.ToLower(strings.NewReplacer("-", "", "_", "", " ", "").Replace(s))
	if placeholders[norm] {
		return "is a well-known placeholder or published example, not a secret; generate a random value (for example: openssl rand -base64 48)"
	}
	if s != "" && strings.Count(s, s[:1]) == len(s) {
		return "is one character repeated, not a secret; generate a random value (for example: openssl rand -base64 48)"
	}
	for _, w := range []string{"changeme", "yoursecret", "replaceme", "example"} {
		if strings.Contains(norm, w) {
			return fmt.Sprintf("contains the placeholder word %q, so it looks like an example value; generate a random value (for example: openssl rand -base64 48)", w)
		}
	}
	if period(s) > 0 {
		return "is a short pattern repeated, not a secret; generate a random value (for example: openssl rand -base64 48)"
	}
	if len(s) < 32 {
		return fmt.Sprintf("is too short (%d bytes); secrets must be at least 32 bytes (for example: openssl rand -base64 48)", len(s))
	}
	return ""
}

// period returns the length (at most 8 bytes) of the shortest unit that s repeats at
// least twice, or 0.
func period(s string) int {
	for p := 1; p <= len(s)/2 && p <= 8; p++ {
		if len(s)%p != 0 {
			continue
		}
		if strings.Repeat(s[:p], len(s)/p) == s {
			return p
		}
	}
	return 0
}

// webURLProblem explains why s is not an absolute https URL (http allowed for loopback
// hosts only, for local identity providers), or "".
func webURLProblem(s string) string {
	u, err := url.Parse(s)
	if err != nil || !u.IsAbs() || u.Opaque != "" {
		return "must be an absolute https:// URL"
	}
	switch u.Scheme {
	case "https":
	case "http":
		if !conf.LoopbackHost(u.Hostname()) {
			return "must use https:// (http:// is allowed only for localhost and loopback addresses)"
		}
	default:
		return "must be an absolute https:// URL"
	}
	if u.Host == "" || !validIPOrHostname(u.Hostname()) {
		return "must have a valid host"
	}
	if p := u.Port(); p != "" && !validPort(p, false) {
		return "must have a port between 1 and 65535"
	}
	if u.User != nil {
		return "must not contain credentials (user:password@)"
	}
	if u.Fragment != "" || strings.Contains(s, "#") {
		return "must not have a fragment (#...)"
	}
	return ""
}

// parseSize parses a byte size: an integer number of bytes, or an integer followed by
// KB, MB, GB (powers of 1000) or KiB, MiB, GiB (powers of 1024), optionally separated
// by one space.
func parseSize(s string) (int64, string) {
	num := strings.TrimRightFunc(s, func(r rune) bool { return r < '0' || r > '9' })
	unit := strings.TrimPrefix(s[len(num):], " ")
	if num == "" || strings.TrimLeft(num, "0123456789") != "" {
		return 0, "must be a number of bytes or a size such as 16KiB or 10MB"
	}
	mult := map[string]int64{"": 1, "KB": 1e3, "MB": 1e6, "GB": 1e9, "KiB": 1 << 10, "MiB": 1 << 20, "GiB": 1 << 30}[unit]
	if mult == 0 {
		return 0, "has an unknown unit; use KB, MB, GB (1000-based) or KiB, MiB, GiB (1024-based)"
	}
	n, err := strconv.ParseInt(num, 10, 64)
	if err != nil || n > math.MaxInt64/mult {
		return 0, "is too large"
	}
	return n * mult, ""
}
