package auth

import (
	"net/http"
	"strings"
	"unicode/utf8"

	"github.com/rampart-gw/rampart/internal/pipeline"
)

// Identity headers the gateway sets on the upstream request. Client-supplied
// copies are stripped by the proxy before SetHeaders runs, and SetHeaders
// deletes them again, so an upstream can trust them.
const (
	HeaderPrincipal = "X-Rampart-Principal" // "authenticator:subject"
	HeaderSubject   = "X-Rampart-Subject"
	HeaderScopes    = "X-Rampart-Scopes" // space-separated (RFC 6749 §3.3 scope syntax)
	HeaderRoles     = "X-Rampart-Roles"  // comma-separated
)

// MaxIdentityHeaderBytes bounds each identity header value.
const MaxIdentityHeaderBytes = 4096

// SetHeaders sets the identity headers for p on h (an upstream request's
// header), after deleting any present. A nil p leaves them all absent.
//
// Values are never altered, because an altered identity is a different
// identity: a subject that is empty, not valid UTF-8, longer than
// MaxIdentityHeaderBytes or containing a control byte (CR, LF, NUL, …) leaves
// X-Rampart-Principal and X-Rampart-Subject absent — the upstream then sees an
// anonymous request, which fails closed — instead of a truncated or cleaned
// subject that could name someone else. Scope and role items with such bytes,
// or containing the list separator, are left out (an upstream never sees one
// role split into two), and items past the length bound are dropped: the
// upstream sees fewer privileges, never different ones. Authenticators refuse
// such subjects before this point; this is the last line.
func SetHeaders(h http.Header, p *pipeline.Principal) {
	// The names are canonical: delete spares Del's canonicalization.
	delete(h, HeaderPrincipal)
	delete(h, HeaderSubject)
	delete(h, HeaderScopes)
	delete(h, HeaderRoles)
	if p == nil {
		return
	}
	// One backing array for the (at most four) values, instead of one
	// slice per field; the names are canonical already.
	vals := make([]string, 0, 4)
	set := func(k, v string) {
		vals = append(vals, v)
		h[k] = vals[len(vals)-1 : len(vals) : len(vals)] // len == cap: an append copies
	}
	if safeValue(p.Subject, "") && safeValue(p.Authenticator, ":") &&
		len(p.Authenticator)+1+len(p.Subject) <= MaxIdentityHeaderBytes {
		set(HeaderPrincipal, p.Authenticator+":"+p.Subject)
		set(HeaderSubject, p.Subject)
	}
	if v := joinSafe(p.Scopes, " "); v != "" {
		set(HeaderScopes, v)
	}
	if v := joinSafe(p.Roles, ","); v != "" {
		set(HeaderRoles, v)
	}
}

// safeValue reports whether v can be sent as a header value unchanged: not
// empty, valid UTF-8, at most MaxIdentityHeaderBytes, without control bytes,
// without leading or trailing spaces (which HTTP strips, changing the value)
// and without any byte of forbidden.
func safeValue(v, forbidden string) bool {
	if v == "" || len(v) > MaxIdentityHeaderBytes || !utf8.ValidString(v) {
		return false
	}
	if v[0] == ' ' || v[len(v)-1] == ' ' {
		return false
	}
	for i := 0; i < len(v); i++ {
		if c := v[i]; c < 0x20 || c == 0x7f {
			return false
		}
	}
	return forbidden == "" || !strings.ContainsAny(v, forbidden)
}

func joinSafe(items []string, sep string) string {
	if len(items) == 1 && safeValue(items[0], sep) {
		return items[0] // the common single scope or role: no copy
	}
	var b strings.Builder
	for _, it := range items {
		if !safeValue(it, sep) {
			continue
		}
		n := len(it)
		if b.Len() > 0 {
			n += len(sep)
		}
		if b.Len()+n > MaxIdentityHeaderBytes {
			break
		}
		if b.Len() > 0 {
			b.WriteString(sep)
		}
		b.WriteString(it)
	}
	return b.String()
}
