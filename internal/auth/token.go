package auth

import (
	"net/http"
	"net/textproto"
	"strings"

	"github.com/rampart-gw/rampart/internal/pipeline"
)

// MaxTokenBytes bounds a bearer token. Real access tokens stay well under it
// (Entra ID tokens with group claims reach a few KiB); anything larger is
// refused before it is hashed, decoded or sent to an IdP.
const MaxTokenBytes = 8192

// TokenSource says where a bearer token travels. The zero value is the
// Authorization header with the Bearer scheme (RFC 6750 §2.1), which is the
// only place used unless configured otherwise: tokens are never read from the
// query string (RFC 6750 §2.3 and RFC 9700 §2.4.1: URLs end up in logs,
// Referer headers and browser history).
type TokenSource struct {
	// Header is the header carrying the token; "" means Authorization. For
	// Authorization the Bearer scheme is required (another scheme is not this
	// source's credential); for any other header the value is the token, with
	// an optional "Bearer " prefix.
	Header string
	// Cookie, when set, names the cookie carrying the token instead; Header is
	// then ignored. Browsers attach cookies to cross-site requests, so a route
	// that accepts cookie tokens needs CSRF protection (SameSite cookies, CORS).
	Cookie string
}

// Token returns the request's token from s. It returns ErrNoCredential when
// the request has none; a 400 *pipeline.Rejection when the place holds more
// than one value (two header fields, a comma-joined list, two cookies) or a
// value that is not an RFC 6750 b64token of at most MaxTokenBytes.
func (s TokenSource) Token(r *http.Request) (string, error) {
	if s.Cookie != "" {
		return s.cookie(r)
	}
	name := textproto.CanonicalMIMEHeaderKey(s.Header)
	if name == "" {
		name = "Authorization"
	}
	vs := r.Header[name]
	if len(vs) == 0 {
		return "", ErrNoCredential
	}
	if len(vs) > 1 {
		return "", ambiguous()
	}
	v := vs[0]
	if strings.IndexByte(v, ',') >= 0 {
		// RFC 9110 §5.3: a comma-joined value is a list of field values.
		return "", ambiguous()
	}
	v = strings.Trim(v, " \t")
	if name == "Authorization" {
		scheme, rest, _ := strings.Cut(v, " ")
		if !equalFoldASCII(scheme, SchemeBearer) {
			return "", ErrNoCredential // another scheme: another authenticator's credential
		}
		v = rest
	} else if len(v) > len(SchemeBearer) && v[len(SchemeBearer)] == ' ' && equalFoldASCII(v[:len(SchemeBearer)], SchemeBearer) {
		v = v[len(SchemeBearer)+1:]
	}
	v = strings.TrimLeft(v, " ")
	return checkToken(v)
}

func (s TokenSource) cookie(r *http.Request) (string, error) {
	var v string
	n := 0
	for _, c := range r.CookiesNamed(s.Cookie) {
		v = c.Value
		n++
	}
	switch {
	case n == 0:
		return "", ErrNoCredential
	case n > 1:
		return "", ambiguous()
	}
	return checkToken(v)
}

// checkToken accepts only the RFC 6750 §2.1 b64token syntax:
// 1*( ALPHA / DIGIT / "-" / "." / "_" / "~" / "+" / "/" ) *"=".
// This alone refuses JSON-serialized JWS/JWE (RFC 7515 §7.2), spaces, quotes
// and control bytes before any parser sees them.
func checkToken(v string) (string, error) {
	if v == "" {
		return "", malformed("The bearer token is empty.")
	}
	if len(v) > MaxTokenBytes {
		return "", malformed("The bearer token is too large.")
	}
	i := 0
	for ; i < len(v); i++ {
		c := v[i]
		if 'a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9' ||
			c == '-' || c == '.' || c == '_' || c == '~' || c == '+' || c == '/' {
			continue
		}
		break
	}
	if i == 0 {
		return "", malformed("The bearer token is malformed.")
	}
	for ; i < len(v); i++ {
		if v[i] != '=' {
			return "", malformed("The bearer token is malformed.")
		}
	}
	return v, nil
}

func ambiguous() *pipeline.Rejection {
	return pipeline.Reject(http.StatusBadRequest, TypeAmbiguousCredentials,
		"The request carries more than one credential of the same kind.")
}

func malformed(detail string) *pipeline.Rejection {
	return pipeline.Reject(http.StatusBadRequest, TypeMalformedCredentials, detail)
}
