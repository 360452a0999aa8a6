package auth

import (
	"strings"

	"github.com/rampart-gw/rampart/internal/framing"
)

// Error codes of the Bearer scheme's WWW-Authenticate challenge.
const (
	CodeInvalidRequest    = "invalid_request"    // RFC 6750 §3.1, with 400
	CodeInvalidToken      = "invalid_token"      // RFC 6750 §3.1, with 401
	CodeInsufficientScope = "insufficient_scope" // RFC 6750 §3.1, with 403
	// CodeInsufficientUserAuthentication asks the client to step up (RFC 9470 §3), with 401.
	CodeInsufficientUserAuthentication = "insufficient_user_authentication"
)

// SchemeBearer is the RFC 6750 authentication scheme.
const SchemeBearer = "Bearer"

// Challenge formats one WWW-Authenticate challenge (RFC 9110 §11.6.1): the
// scheme, then each name/value pair of params as name="value". Pairs with an
// empty value are left out (RFC 6750 §3: a request without credentials gets no
// error code). Values are sanitised for a quoted-string: '"' and '\' are
// escaped, and control and non-ASCII bytes are dropped, so nothing a client
// or config supplied can split or forge a header.
//
//	Challenge("Bearer", "realm", "api", "error", "invalid_token")
//	// Bearer realm="api", error="invalid_token"
func Challenge(scheme string, params ...string) string {
	var b strings.Builder
	b.Grow(len(scheme) + 16*len(params))
	b.WriteString(token(scheme))
	first := true
	for i := 0; i+1 < len(params); i += 2 {
		if params[i+1] == "" {
			continue
		}
		if first {
			b.WriteByte(' ')
			first = false
		} else {
			b.WriteString(", ")
		}
		b.WriteString(token(params[i]))
		b.WriteString(`="`)
		for j := 0; j < len(params[i+1]); j++ {
			c := params[i+1][j]
			switch {
			case c == '"' || c == '\\':
				b.WriteByte('\\')
				b.WriteByte(c)
			case c < 0x20 || c >= 0x7f:
				// dropped: CTLs split headers, and obs-text is not worth the risk
			default:
				b.WriteByte(c)
			}
		}
		b.WriteByte('"')
	}
	return b.String()
}

// BearerChallenge is Challenge for the Bearer scheme with the RFC 6750 and
// RFC 9470 parameters. Empty arguments are left out.
func BearerChallenge(realm, code, scope, acrValues string) string {
	return Challenge(SchemeBearer, "realm", realm, "error", code, "scope", scope, "acr_values", acrValues)
}

// token keeps only RFC 9110 tchar bytes of s: scheme and parameter names come
// from code, but a bad one must still not break the header.
func token(s string) string {
	for i := 0; i < len(s); i++ {
		if !framing.IsTokenChar(s[i]) {
			var b strings.Builder
			for j := 0; j < len(s); j++ {
				if framing.IsTokenChar(s[j]) {
					b.WriteByte(s[j])
				}
			}
			return b.String()
		}
	}
	return s
}
