package detect

import (
	"net/netip"
	"strings"
)

// Event is what the gateway tells the detectors about one finished request.
// It is a fixed-size value: strings share the request's memory, so
// feeding one allocates nothing.
type Event struct {
	Time   int64      // unix nanoseconds
	Client netip.Addr // resolved through trusted proxies
	// Authenticator and Principal name the authenticated caller ("" when
	// anonymous).
	Authenticator, Principal string
	// Username is the username a login: route's request body named ("" on
	// other routes); bounded and sanitised (see Username).
	Username string
	Path     string // canonical path ("" when it could not be normalised)
	// Refusal is the problem type of the gateway's refusal ("" when the
	// request was forwarded).
	Refusal        string
	Status         int // final status sent to the client
	UpstreamStatus int // the upstream's status, 0 when not forwarded
	Route          int // route index + 1; 0: no route took it
	Login          bool
}

// Refusal types the detectors read (stable problem types of other packages;
// repeated here so that detect depends on none of them).
var (
	authFailures = map[string]bool{"invalid-token": true, "invalid-api-key": true, "malformed-credentials": true,
		"ambiguous-credentials": true, "locked-out": true}
	contractTypes = map[string]bool{"request-invalid": true, "operation-not-documented": true,
		"unsupported-media-type": true, "object-not-owned": true, "claim-mismatch": true, "request-blocked": true}
)

// failedAuth: the gateway refused a presented credential, or the
// application's login route refused the login.
func (ev *Event) failedAuth() bool {
	if authFailures[ev.Refusal] {
		return true
	}
	return ev.Login && ev.Refusal == "" && (ev.UpstreamStatus == 401 || ev.UpstreamStatus == 403)
}

// miss: a request no route took, answered 400, 404 or 405.
func (ev *Event) miss() bool {
	return ev.Route == 0 && (ev.Status == 400 || ev.Status == 404 || ev.Status == 405)
}

// violation: a contract refusal, or a deny route's.
func (ev *Event) violation() bool {
	return contractTypes[ev.Refusal] || ev.Route != 0 && (ev.Refusal == "route-not-found" || ev.Refusal == "route-denied")
}

// sensitivePaths are path segments scanners probe for: secrets, VCS
// metadata, admin consoles and backups. A miss on a path with a segment
// starting with one of them counts sensitive_weight times. Kept short on
// purpose: docs/detect.md lists them.
var sensitivePaths = []string{
	".env", ".git", ".svn", ".hg", ".aws", ".ssh", ".htaccess", ".htpasswd", ".ds_store",
	"actuator", "wp-admin", "wp-login.php", "xmlrpc.php", "phpmyadmin", "server-status", "server-info",
	"config.json", "backup", "cgi-bin", "etc/passwd", "vendor/phpunit",
}

// Sensitive reports whether path probes for a well-known sensitive file or
// console.
func Sensitive(path string) bool {
	for i := 0; i < len(path); i++ {
		if path[i] != '/' {
			continue
		}
		seg := path[i+1:]
		for _, p := range sensitivePaths {
			if len(seg) >= len(p) && strings.EqualFold(seg[:len(p)], p) {
				return true
			}
		}
	}
	return false
}

// clientKey is the key a client is counted and blocked by: its address,
// or for IPv6 its /64 (what one subscriber usually holds, so rotating
// through it does not reset the counts).
func clientKey(a netip.Addr) netip.Prefix {
	if a.Is6() && !a.Is4In6() {
		p, _ := a.Prefix(64)
		return p
	}
	a = a.Unmap()
	return netip.PrefixFrom(a, a.BitLen())
}

// subjectText is a client key as text: a bare address for /32 and /128.
func subjectText(p netip.Prefix) string {
	if p.Bits() == p.Addr().BitLen() {
		return p.Addr().String()
	}
	return p.String()
}

// MaxUsername bounds the usernames kept.
const MaxUsername = 128

// Username bounds and sanitises a username read from a request: trimmed,
// lower-cased (attackers vary case; most logins ignore it), control
// characters dropped, at most MaxUsername bytes. "" when nothing is left.
func Username(s string) string {
	if len(s) > 4*MaxUsername {
		s = s[:4*MaxUsername]
	}
	s = strings.ToLower(strings.TrimSpace(s))
	s = strings.Map(func(r rune) rune {
		if r < 0x20 || r == 0x7f || r == 0xfffd {
			return -1
		}
		return r
	}, s)
	if len(s) > MaxUsername {
		s = strings.ToValidUTF8(s[:MaxUsername], "")
	}
	return s
}
